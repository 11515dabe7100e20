"""The full synchronization review page (/sync/full/): integration administrators prepare,
start, restart and reset; support reads. The page polls `status.json` every 2 s
(static/js/fullsync.js) while a run is going."""

from django.contrib import messages
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import INTEGRATION_ADMIN, SUPPORT, has_role, role_required

from . import fullsync, fullsync_advice, fullsync_samples
from .models import FullSyncLine, FullSyncRun


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["GET"])
def review(request: HttpRequest) -> HttpResponse:
    run = fullsync.fullsync_current()
    lines = fullsync.fullsync_lines(run=run) if run else []
    status = fullsync.fullsync_status(run=run) if run else None
    by_id = {row["id"]: row for row in status["lines"]} if status else {}
    return render(
        request,
        "syncjobs/fullsync.html",
        {
            "run": run,
            "rows": [(line, by_id[line.pk]) for line in lines],
            "status": status,
            "can_edit": has_role(request.user, (INTEGRATION_ADMIN,)),
            "both_sides": [
                line
                for line in lines
                if line.erp_count and line.crm_count and not line.recommendation_overridden
            ],
            "restartable": (FullSyncLine.Status.ERROR, FullSyncLine.Status.FINISHED),
            "chart": fullsync_samples.rate_chart(run=run, done=status["done"])
            if run and status
            else None,
            "run_status": run.status if run else "",
        },
    )


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["GET"])
def status_json(request: HttpRequest) -> JsonResponse:
    """The status, plus the parts of the page drawn on the server (the chart of records per
    second, each line's recommendation cell) for the poller to put in place."""
    run = fullsync.fullsync_current()
    data = fullsync.fullsync_status(run=run)
    if run is not None:
        can_edit = has_role(request.user, (INTEGRATION_ADMIN,))
        lines = {line.pk: line for line in fullsync.fullsync_lines(run=run)}
        for row in data["lines"]:
            line = lines.get(row["id"])
            if line is not None:
                row["recommendation_html"] = render_to_string(
                    "syncjobs/_fullsync_recommendation.html",
                    {"line": line, "can_edit": can_edit, "run_status": run.status},
                    request=request,
                )
        data["chart_html"] = render_to_string(
            "syncjobs/_fullsync_chart.html",
            {"chart": fullsync_samples.rate_chart(run=run, done=data["done"])},
            request=request,
        )
    return JsonResponse(data, encoder=DjangoJSONEncoder)


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["POST"])
def prepare(request: HttpRequest) -> HttpResponse:
    """Build the lines again with fresh counts ("Reset"); `next=start` goes on to the
    confirmation (the assisted setup's last step)."""
    try:
        fullsync.fullsync_prepare()
    except fullsync.FullSyncError as exc:
        messages.error(request, exc.message)
        return redirect("syncjobs:fullsync")
    if request.POST.get("next") == "start":
        return redirect("syncjobs:fullsync-start")
    messages.success(request, _("The lines were built again with fresh counts."))
    return redirect("syncjobs:fullsync")


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """Start, after a confirmation that names the lines with data on both sides."""
    run = FullSyncRun.objects.filter(status=FullSyncRun.Status.READY).first()
    running = fullsync.fullsync_running()
    if running is not None:
        messages.error(request, fullsync.busy_message(running))
        return redirect("syncjobs:fullsync")
    if run is None:
        messages.error(request, _("Prepare the full synchronization first (Reset)."))
        return redirect("syncjobs:fullsync")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            fullsync.fullsync_start(run=run, user=request.user)
        except fullsync.FullSyncError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                _(
                    "The full synchronization has started in the background. This page shows "
                    "how far it is as it goes."
                ),
            )
        return redirect("syncjobs:fullsync")
    lines = fullsync.fullsync_lines(run=run)
    return render(
        request,
        "syncjobs/fullsync_confirm.html",
        {
            "run": run,
            "lines": lines,
            "both_sides": [line for line in lines if line.erp_count and line.crm_count],
        },
    )


def _line_or_404(pk: int) -> FullSyncLine:
    line = FullSyncLine.objects.select_related("run").filter(pk=pk).first()
    if line is None:
        raise Http404
    return line


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["POST"])
def line_restart(request: HttpRequest, pk: int) -> HttpResponse:
    line = _line_or_404(pk)
    try:
        fullsync.line_restart(line=line)
    except fullsync.FullSyncError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(name)s is restarted.") % {"name": line.name})
    return redirect("syncjobs:fullsync")


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def line_override(request: HttpRequest, pk: int) -> HttpResponse:
    """Override a "couple records first" recommendation ("Recommend Full Synchronization",
    §4.6) after a confirmation that explains the risk of duplicates."""
    line = _line_or_404(pk)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            started = fullsync_advice.line_override(line=line)
        except fullsync.FullSyncError as exc:
            messages.error(request, exc.message)
        else:
            if started:
                text = _("%(name)s runs its full synchronization again.")
            else:
                text = _("%(name)s is recommended a full synchronization; Start runs it.")
            messages.success(request, text % {"name": line.name})
        return redirect("syncjobs:fullsync")
    return render(request, "syncjobs/fullsync_override_confirm.html", {"line": line})
