from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import INTEGRATION_ADMIN, SUPPORT, has_role, role_required
from connection import selectors as connection_selectors
from connection.errors import ConnectionProblem

from . import jobqueue, selectors, services
from .forms import FieldMappingForm, FieldMappingFormSet, MappingForm, forms_disable
from .models import (
    JOB_COUNTERS,
    Direction,
    IntegrationFieldMapping,
    IntegrationTableMapping,
    JobRun,
)
from .templatetags.sync_ui import run_direction
from .validation import MappingInvalid, MappingProblems

COUNTERS = JOB_COUNTERS
_COUNTER_LABELS = {f.name: f.verbose_name for f in JobRun._meta.fields if f.name in COUNTERS}


RUNS_PER_PAGE = 25
LOG_ROWS_PER_PAGE = 50


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["GET"])
def mapping_list(request: HttpRequest) -> HttpResponse:
    """The mappings, the scheduled jobs and the job runs (filtered by mapping and status)."""
    mappings = selectors.mapping_overview()
    mapping_id = _int_or_none(request.GET.get("mapping"))
    if mapping_id is not None and not any(m.pk == mapping_id for m in mappings):
        mapping_id = None
    status = request.GET.get("status", "")
    if status not in JobRun.Status.values:
        status = ""
    runs = selectors.job_run_filtered(mapping_id=mapping_id, status=status)
    page = selectors.page_get(rows=runs, number=request.GET.get("page"), per_page=RUNS_PER_PAGE)
    return render(
        request,
        "syncjobs/mapping_list.html",
        {
            "mappings": mappings,
            "jobs": selectors.integration_jobs(),
            "job_count": selectors.integration_jobs_count(),
            "runs": page,
            "run_mapping": mapping_id,
            "run_status": status,
            "statuses": JobRun.Status.choices,
            "filtered": bool(mapping_id or status),
            "can_edit": has_role(request.user, (INTEGRATION_ADMIN,)),
            "held": jobqueue.entries_on_hold(),
        },
    )


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["GET"])
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One job run: its counters and message, its errors and the changes it made (or, for a
    dry run, would have made)."""
    run = selectors.job_run_get(pk=pk)
    if run is None:
        raise Http404
    errors = selectors.page_get(
        rows=selectors.job_run_errors(run=run),
        number=request.GET.get("errors_page"),
        per_page=LOG_ROWS_PER_PAGE,
    )
    changes = selectors.page_get(
        rows=selectors.job_run_changes(run=run),
        number=request.GET.get("changes_page"),
        per_page=LOG_ROWS_PER_PAGE,
    )
    return render(
        request,
        "syncjobs/run_detail.html",
        {
            "run": run,
            "is_dry_run": run.kind == JobRun.Kind.DRY_RUN,
            "previous_run": selectors.job_run_neighbour(run=run, later=False),
            "next_run": selectors.job_run_neighbour(run=run, later=True),
            "errors": errors,
            "changes": changes,
            "counters": [(_COUNTER_LABELS[name], getattr(run, name)) for name in COUNTERS],
        },
    )


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["POST"])
def mappings_synchronize(request: HttpRequest) -> HttpResponse:
    """ "Synchronize modified records" of every enabled mapping, in priority order."""
    try:
        mappings = services.all_mappings_synchronize_enqueue()
    except services.IntegrationDisabled as exc:
        messages.error(request, str(exc))
    else:
        if mappings:
            messages.success(
                request,
                _(
                    "Synchronization of modified records is scheduled for %(count)s mappings, "
                    "in this order: %(names)s. Their job queue entries and job runs show the "
                    "results."
                )
                % {"count": len(mappings), "names": ", ".join(m.name for m in mappings)},
            )
        else:
            messages.warning(request, _("No mapping is enabled: nothing was scheduled."))
    if request.POST.get("next") == "jobs":
        return redirect("syncjobs:job-queue")
    return redirect("syncjobs:mapping-list")


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["POST"])
def mapping_synchronize(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Synchronize modified records" of one mapping, in the worker."""
    mapping = _mapping_or_404(pk)
    if not mapping.enabled:
        messages.error(
            request, _("%(name)s is disabled: enable it first.") % {"name": mapping.name}
        )
        return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    try:
        services.mapping_synchronize_enqueue(mapping=mapping)
    except services.IntegrationDisabled as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _(
                "Synchronization of the modified records of %(name)s is scheduled. "
                "Its job runs below show the result."
            )
            % {"name": mapping.name},
        )
    return redirect("syncjobs:mapping-edit", pk=mapping.pk)


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def mapping_full_synchronize(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Run full synchronization" of one mapping, after a confirmation page (§5.9)."""
    mapping = _mapping_or_404(pk)
    if not mapping.enabled:
        messages.error(
            request, _("%(name)s is disabled: enable it first.") % {"name": mapping.name}
        )
        return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            services.mapping_synchronize_enqueue(mapping=mapping, full=True)
        except services.IntegrationDisabled as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _(
                    "A full synchronization of %(name)s is scheduled. "
                    "Its job runs below show the result."
                )
                % {"name": mapping.name},
            )
        return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    return render(
        request,
        "syncjobs/full_sync_confirm.html",
        {
            "mapping": mapping,
            "to_crm": mapping.direction in (Direction.TO_CRM, Direction.BIDIRECTIONAL),
            "from_crm": mapping.direction in (Direction.FROM_CRM, Direction.BIDIRECTIONAL),
        },
    )


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["POST"])
def mapping_dry_run(request: HttpRequest, pk: int) -> HttpResponse:
    """A dry run of one mapping, now: both sides are read, nothing is written; then its run."""
    mapping = _mapping_or_404(pk)
    result = services.mapping_dry_run(mapping=mapping, full=request.POST.get("full") == "on")
    if not result.jobs:
        messages.warning(request, _("The dry run had nothing to do."))
        return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    for run in result.jobs[1:]:
        messages.info(
            request,
            _("The dry run also read %(direction)s: that is run %(id)s, the next run of %(name)s.")
            % {"direction": run_direction(run), "id": run.pk, "name": mapping.name},
        )
    return redirect("syncjobs:run-detail", pk=result.jobs[0].pk)


def _mapping_or_404(pk: int) -> IntegrationTableMapping:
    mapping = selectors.mapping_get(pk=pk)
    if mapping is None:
        raise Http404
    return mapping


def _kept_rows(
    formset: "BaseInlineFormSet[IntegrationFieldMapping, IntegrationTableMapping, Any]",
) -> tuple[list[FieldMappingForm], list[IntegrationFieldMapping]]:
    """The formset's rows the mapping keeps (blank extra rows left out), and those to delete."""
    kept: list[FieldMappingForm] = []
    deleted: list[IntegrationFieldMapping] = []
    last = max((f.instance.position for f in formset.forms if f.instance.pk), default=0)
    for form in formset.forms:
        if formset.can_delete and formset._should_delete_form(form):  # type: ignore[attr-defined]
            if form.instance.pk:
                deleted.append(form.instance)
            continue
        if form.instance.pk or form.has_changed():
            if not form.instance.pk and not form.instance.position:
                last += 1
                form.instance.position = last  # a new row goes last unless placed
            kept.append(form)
    return kept, deleted


def _problems_show(
    problems: MappingProblems, form: MappingForm, rows: list[FieldMappingForm]
) -> None:
    for name, msgs in problems.errors.items():
        for message in msgs:
            form.add_error(name if name in form.fields else None, message)
    for index, by_field in problems.field_errors.items():
        row = rows[index]
        for name, msgs in by_field.items():
            for message in msgs:
                row.add_error(name if name in row.fields else None, message)


@role_required(INTEGRATION_ADMIN, SUPPORT)
@require_http_methods(["GET", "POST"])
def mapping_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """A mapping with its field mappings: integration administrators change them, support
    reads them."""
    mapping = _mapping_or_404(pk)
    can_edit = has_role(request.user, (INTEGRATION_ADMIN,))
    if request.method == "POST" and not can_edit:
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    form = MappingForm(data, instance=mapping)
    queryset = IntegrationFieldMapping.objects.filter(mapping=mapping).order_by("position", "id")
    formset = FieldMappingFormSet(data, instance=mapping, queryset=queryset, prefix="fields")
    if data is not None and form.is_valid() and formset.is_valid():
        rows, deleted = _kept_rows(formset)
        try:
            warnings = services.mapping_update(
                mapping=form.instance,
                field_mappings=[row.instance for row in rows],
                deleted=deleted,
            )
        except MappingInvalid as exc:
            _problems_show(exc.problems, form, rows)
        else:
            messages.success(request, _("%(name)s was saved.") % {"name": mapping.name})
            for warning in warnings:
                messages.warning(request, warning)
            return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    if not can_edit:
        forms_disable(form, *formset.forms)
    return render(
        request,
        "syncjobs/mapping_edit.html",
        {
            "mapping": mapping,
            "form": form,
            "formset": formset,
            "can_edit": can_edit,
            "runs": selectors.mapping_runs(mapping=mapping),
            "has_default": services.default_definition(name=mapping.name) is not None,
        },
        status=400 if data is not None else 200,
    )


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def mapping_restore_default(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Use default synchronization setup" for one mapping, after a confirmation page."""
    mapping = _mapping_or_404(pk)
    if services.default_definition(name=mapping.name) is None:
        messages.error(
            request,
            _("%(name)s is a mapping of your own: there is no default to restore.")
            % {"name": mapping.name},
        )
        return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        services.mapping_default_restore(mapping=mapping)
        messages.success(
            request,
            _("The default setup of %(name)s was restored.") % {"name": mapping.name},
        )
        return redirect("syncjobs:mapping-edit", pk=mapping.pk)
    return render(
        request,
        "syncjobs/restore_confirm.html",
        {"mapping": mapping, "field_count": mapping.field_mappings.count()},
    )


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["GET", "POST"])
def mappings_restore_defaults(request: HttpRequest) -> HttpResponse:
    """ "Use default synchronization setup" for every mapping, with the connection's options."""
    if connection_selectors.crm_connection_get() is None:
        messages.error(request, _("No CRM connection is set up yet. Run the assisted setup first."))
        return redirect("syncjobs:mapping-list")
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            count = services.default_setup_restore_all(actor=request.user)
        except ConnectionProblem as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("The default synchronization setup was restored: %(count)s mappings.")
                % {"count": count},
            )
        return redirect("syncjobs:mapping-list")
    return render(
        request,
        "syncjobs/restore_confirm.html",
        {"mapping": None, "mappings": selectors.mapping_list()},
    )
