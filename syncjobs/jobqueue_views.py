"""The job queue page (/sync/jobs/): every recurring and one-off integration job with its state,
filtered by status and mapping; pause, resume, run now, put on hold. Support staff and
integration administrators see it and act on it (the jobs are theirs to watch)."""

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import INTEGRATION_ADMIN, SUPPORT, has_role, role_required
from connection import selectors as connection_selectors

from . import jobqueue, selectors
from .models import IntegrationTableMapping, JobQueueEntry
from .templatetags.sync_ui import entry_label

ENTRIES_PER_PAGE = 50


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["GET"])
def entry_list(request: HttpRequest) -> HttpResponse:
    mappings = list(IntegrationTableMapping.objects.only("pk", "name").order_by("priority", "name"))
    mapping_id = _int_or_none(request.GET.get("mapping"))
    if mapping_id is not None and not any(m.pk == mapping_id for m in mappings):
        mapping_id = None
    status = request.GET.get("status", "")
    if status not in JobQueueEntry.Status.values:
        status = ""
    entries = jobqueue.entry_list(status=status, mapping_id=mapping_id)
    page = selectors.page_get(
        rows=entries, number=request.GET.get("page"), per_page=ENTRIES_PER_PAGE
    )
    connection = connection_selectors.crm_connection_get()
    return render(
        request,
        "syncjobs/job_queue.html",
        {
            "entries": page,
            "mappings": mappings,
            "entry_mapping": mapping_id,
            "entry_status": status,
            "statuses": JobQueueEntry.Status.choices,
            "filtered": bool(mapping_id or status),
            "held": jobqueue.entries_on_hold(),
            "integration_enabled": bool(connection and connection.is_enabled),
            "query": request.GET.urlencode(),
            # "Synchronize modified records" starts runs: integration administrators only.
            "can_synchronize": has_role(request.user, (INTEGRATION_ADMIN,)),
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    """Back to the list with the filters it had (only our own parameters)."""
    sent = QueryDict(request.POST.get("query", ""))
    kept = QueryDict(mutable=True)
    for name in ("status", "mapping", "page"):
        if sent.get(name):
            kept[name] = sent[name]
    url = reverse("syncjobs:job-queue")
    return redirect(f"{url}?{kept.urlencode()}" if kept else url)


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["POST"])
def entry_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    entry = jobqueue.entry_list().filter(pk=pk).first()
    if entry is None:
        raise Http404
    label = entry_label(entry)
    user = request.user.get_username()
    try:
        if action == "pause":
            jobqueue.entry_pause(entry=entry, by=user)
            message = _("%(job)s is paused: it does not run until it is resumed.")
        elif action == "resume":
            jobqueue.entry_resume(entry=entry)
            message = (
                _("%(job)s is resumed: it runs again at its interval.")
                if entry.recurring
                else _("%(job)s is resumed: it runs now.")
            )
        elif action == "hold":
            jobqueue.entry_hold(entry=entry, reason=request.POST.get("reason", ""), by=user)
            message = _("%(job)s is on hold: it does not run until it is resumed.")
        elif action == "run":
            jobqueue.entry_run_now(entry=entry)
            message = _(
                "%(job)s is queued to run now. Its line below and the job runs on the "
                "synchronization page show the result."
            )
        else:
            raise Http404
    except jobqueue.EntryActionRefused as exc:
        messages.error(request, f"{label}: {exc}")
    else:
        messages.success(request, message % {"job": label})
    return _back(request)
