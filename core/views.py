from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.roles import ERP_READERS, INTEGRATION_ADMIN, has_role
from connection import selectors as connection_selectors
from core import selectors
from erp import selectors as erp_selectors


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The status for anyone (load balancers, container health checks); the checks and their
    details, which name the database vendor, hosts and exception texts, only for integration
    administrators."""
    report = selectors.health_report()
    body: dict[str, object] = {"status": report.status}
    if has_role(request.user, (INTEGRATION_ADMIN,)):
        body["checks"] = {
            name: {"ok": check.ok, "detail": check.detail} for name, check in report.checks.items()
        }
    return JsonResponse(body, status=200 if report.ok else 503)


def home(request: HttpRequest) -> HttpResponse:
    """One home page, with the panels of each role the user holds."""
    counts = erp_selectors.table_counts() if has_role(request.user, ERP_READERS) else []
    connection = (
        connection_selectors.crm_connection_get()
        if has_role(request.user, (INTEGRATION_ADMIN,))
        else None
    )
    return render(request, "core/home.html", {"counts": counts, "connection": connection})
