from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import INTEGRATION_ADMIN, SUPPORT, role_required

from . import selectors


@role_required(INTEGRATION_ADMIN, SUPPORT)
def mapping_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "syncjobs/mapping_list.html",
        {
            "mappings": selectors.mapping_list(),
            "jobs": selectors.integration_jobs(),
            "job_count": selectors.integration_jobs_count(),
            "runs": selectors.job_run_list(limit=20),
        },
    )
