"""The coupling pages (issue #10; docs/reference/business-central.md §3, §5.6, §5.9): the
mappings with their counts, ERP and CRM records side by side, the coupling dialog with its
preview, create / uncouple / synchronize now / resolve a conflict, a record's history,
match-based coupling, actions on many records in the background and the synchronization
errors page. Views stay thin: reads in `pages.py` and `selectors.py`, writes in `services.py`
and `bulk.py`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts.roles import INTEGRATION_ADMIN, has_role, role_required
from connection.interactive import CrmReadProblem
from syncjobs import fullsync
from syncjobs import selectors as sync_selectors
from syncjobs import services as sync_services
from syncjobs.engine.crm import CrmUnavailable
from syncjobs.engine.erp import ErpTable
from syncjobs.engine.run import NoConnection
from syncjobs.models import (
    CrmCoupling,
    Direction,
    FullSyncLine,
    IntegrationTableMapping,
    RecordChange,
)

from . import bulk, pages, selectors, services
from .models import BulkAction, CouplingCandidate, CouplingRun
from .roles import COUPLERS, READERS, RETRIERS

ERRORS_PER_PAGE = 25
# Selected records up to this many are handled in the request; more go to the worker.
INLINE_LIMIT = 1

FAILURES = (services.CouplingError, CrmUnavailable, NoConnection, CrmReadProblem)


def _mapping(pk: int) -> IntegrationTableMapping:
    mapping = pages.page_mapping(pk)
    if mapping is None:
        raise Http404
    return mapping


def _coupling(cid: int) -> CrmCoupling:
    coupling = CrmCoupling.objects.filter(pk=cid).first()
    if coupling is None:
        raise Http404
    return coupling


def _uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _uuids(values: list[str]) -> list[uuid.UUID]:
    return [u for u in (_uuid(v) for v in values) if u is not None]


def _failure_text(exc: Exception) -> str:
    if isinstance(exc, services.CouplingError | CrmReadProblem):
        return exc.message
    if isinstance(exc, CrmUnavailable):
        return _("The CRM cannot be read right now: %(reason)s") % {"reason": exc}
    return str(exc)


def _back(request: HttpRequest, default: str) -> HttpResponse:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(default)


def _can(request: HttpRequest) -> dict[str, bool]:
    return {
        "can_couple": has_role(request.user, COUPLERS),
        "can_retry": has_role(request.user, RETRIERS),
    }


def _sync_message(request: HttpRequest, result: Any, done: str) -> None:
    """Say how a synchronization went (its jobs' messages when something failed)."""
    if result is None:
        messages.success(request, done)
        return
    problems = [j.message for j in result.jobs if j.status not in ("succeeded",) and j.message] or (
        [_("The synchronization reported failures; see the history.")] if result.failed else []
    )
    if problems or result.failed:
        messages.warning(request, done + " " + "; ".join(problems))
    else:
        messages.success(request, done)


# -- the index and the mapping page -------------------------------------------------------


@role_required(*READERS)
@require_http_methods(["GET"])
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "coupling/index.html",
        {"overview": pages.mapping_overview(), **_can(request)},
    )


@role_required(*READERS)
@require_http_methods(["GET"])
def mapping_page(request: HttpRequest, pk: int) -> HttpResponse:
    mapping = _mapping(pk)
    state = request.GET.get("state", "")
    if state not in pages.STATES:
        state = ""
    erp = pages.erp_page(
        mapping,
        search=request.GET.get("q", ""),
        state=state,
        sort=request.GET.get("sort", ""),
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        last=request.GET.get("last") == "1",
        crm_url=pages.crm_record_urls(),
    )
    crm_sort = request.GET.get("crm_sort", "")
    crm_sort = crm_sort if crm_sort in pages.CRM_SORTS else "name"
    crm_query = f"{crm_sort}\x00{request.GET.get('crm_q', '').strip()}"
    crm_at = pages.crm_trail_page(
        request.session,
        mapping=mapping,
        trail=request.GET.get("crm_trail", ""),
        number=request.GET.get("crm_page", ""),
        query=crm_query,
    )
    crm = pages.crm_page(
        mapping, search=request.GET.get("crm_q", ""), sort=crm_sort, link=crm_at.link
    )
    if not crm.problem:
        pages.crm_trail_remember(
            request.session, mapping=mapping, at=crm_at, query=crm_query, next_link=crm.next_link
        )
    return render(
        request,
        "coupling/mapping.html",
        {
            "mapping": mapping,
            "counts": pages.mapping_counts(mapping),
            "erp": erp,
            "crm": crm,
            "q": request.GET.get("q", ""),
            "crm_q": request.GET.get("crm_q", ""),
            "crm_sort": crm_sort,
            "crm_at": crm_at,
            "state": state,
            "states": [(s, pages.state_label(s)) for s in pages.STATES],
            "may_create_in_crm": pages.may_create_in_crm(mapping),
            "may_create_in_erp": pages.may_create_in_erp(mapping),
            **_can(request),
        },
    )


@role_required(*READERS)
@require_http_methods(["GET"])
def crm_search(request: HttpRequest, pk: int) -> JsonResponse:
    """Search as you type in the coupling dialog: CRM rows in scope whose name contains q."""
    mapping = _mapping(pk)
    try:
        rows = pages.crm_search(mapping, request.GET.get("q", ""))
    except CrmReadProblem as exc:
        return JsonResponse({"error": exc.message, "results": []}, status=503)
    return JsonResponse(
        {
            "results": [
                {
                    "id": str(r.id),
                    "name": r.name,
                    "detail": r.detail,
                    "coupled_to": r.erp_label,
                }
                for r in rows
            ]
        }
    )


# -- the coupling dialog -----------------------------------------------------------------------


@role_required(*COUPLERS)
@require_http_methods(["GET", "POST"])
def couple(request: HttpRequest, pk: int, erp_uuid: uuid.UUID) -> HttpResponse:
    """Set up coupling (§3.3): pick the CRM row, see what each choice overwrites, couple."""
    mapping = _mapping(pk)
    model = pages.model_of(mapping)
    record = model._default_manager.filter(uuid=erp_uuid).first()
    if record is None:
        raise Http404
    page_url = reverse("coupling:mapping", kwargs={"pk": mapping.pk})
    if request.method == "POST":
        crm_id = _uuid(request.POST.get("crm_id"))
        after = request.POST.get("after", "none")
        if crm_id is None or after not in ("erp", "crm", "none"):
            messages.error(request, _("Choose a CRM record and what to do after coupling."))
            return redirect(request.path)
        try:
            result = services.couple(
                mapping=mapping,
                erp_uuid=erp_uuid,
                crm_id=crm_id,
                after=after,  # type: ignore[arg-type]
            )
        except FAILURES as exc:
            messages.error(request, _failure_text(exc))
            return redirect(f"{request.path}?crm={crm_id}")
        _sync_message(
            request,
            result.sync,
            _("%(record)s is coupled to the CRM record.") % {"record": record},
        )
        return _back(request, page_url)
    search = request.GET.get("crm_q", "")
    results: list[pages.CrmItem] = []
    problem = ""
    crm_id = _uuid(request.GET.get("crm"))
    preview = None
    if search:
        try:
            results = pages.crm_search(mapping, search)
        except CrmReadProblem as exc:
            problem = exc.message
    if crm_id is not None:
        try:
            preview = services.coupling_preview(mapping=mapping, erp_uuid=erp_uuid, crm_id=crm_id)
        except FAILURES as exc:
            problem = _failure_text(exc)
    return render(
        request,
        "coupling/couple.html",
        {
            "mapping": mapping,
            "record": record,
            "erp_uuid": erp_uuid,
            "crm_q": search,
            "results": results,
            "problem": problem,
            "preview": preview,
            "crm_id": crm_id,
            "may_send": pages.may_create_in_crm(mapping),
            "may_take": pages.may_create_in_erp(mapping),
            "next": request.GET.get("next", ""),
        },
    )


# -- actions on one or many records --------------------------------------------------------


def _bulk_or_inline(
    request: HttpRequest,
    mapping: IntegrationTableMapping,
    kind: str,
    items: list[Any],
    direction: str = "",
) -> HttpResponse:
    page_url = reverse("coupling:mapping", kwargs={"pk": mapping.pk})
    if not items:
        messages.error(request, _("Select at least one record."))
        return _back(request, page_url)
    if len(items) > INLINE_LIMIT:
        try:
            action = bulk.bulk_start(
                kind=kind,
                mapping=mapping,
                items=items,
                direction=direction,
                requested_by=request.user.get_username(),
            )
        except services.CouplingError as exc:
            messages.error(request, exc.message)
            return _back(request, page_url)
        messages.success(
            request,
            _("The action is scheduled for %(count)s records.") % {"count": len(items)},
        )
        return redirect("coupling:action", aid=action.pk)
    try:
        if kind == BulkAction.Kind.CREATE_IN_CRM:
            created = services.create_in_crm(mapping=mapping, erp_uuids=items)
            if created.already_coupled:
                messages.warning(request, _("The record is already coupled."))
            else:
                _sync_message(request, created.sync, _("The record was created in the CRM."))
        elif kind == BulkAction.Kind.CREATE_IN_ERP:
            created = services.create_in_erp(mapping=mapping, crm_ids=items)
            if created.already_coupled:
                messages.warning(request, _("The record is already coupled."))
            else:
                _sync_message(request, created.sync, _("The record was created in the ERP."))
        elif kind == BulkAction.Kind.UNCOUPLE:
            services.uncouple(coupling=_coupling(int(items[0])))
            messages.success(request, _("The records are uncoupled."))
        elif kind == BulkAction.Kind.SYNCHRONIZE:
            return _synchronize_one(request, _coupling(int(items[0])), direction)
    except FAILURES as exc:
        messages.error(request, _failure_text(exc))
    return _back(request, page_url)


@role_required(*COUPLERS)
@require_http_methods(["POST"])
def bulk_action(request: HttpRequest, pk: int) -> HttpResponse:
    """The buttons of the mapping page on the selected rows: create in the CRM, create in the
    ERP, uncouple, synchronize, couple by match."""
    mapping = _mapping(pk)
    action = request.POST.get("action", "")
    erp_uuids = _uuids(request.POST.getlist("erp"))
    crm_ids = _uuids(request.POST.getlist("crm"))
    if action == "match":
        if not erp_uuids:
            messages.error(request, _("Select at least one record."))
            return _back(request, reverse("coupling:mapping", kwargs={"pk": mapping.pk}))
        query = "&".join(f"erp={u}" for u in erp_uuids)
        return redirect(reverse("coupling:match", kwargs={"pk": mapping.pk}) + "?" + query)
    if action == BulkAction.Kind.CREATE_IN_CRM:
        return _bulk_or_inline(request, mapping, action, erp_uuids)
    if action == BulkAction.Kind.CREATE_IN_ERP:
        return _bulk_or_inline(request, mapping, action, crm_ids)
    if action in (BulkAction.Kind.UNCOUPLE, BulkAction.Kind.SYNCHRONIZE):
        label = ErpTable(mapping.erp_table).label
        ids = list(
            CrmCoupling.objects.filter(erp_table=label, erp_uuid__in=erp_uuids).values_list(
                "pk", flat=True
            )
        ) + list(
            CrmCoupling.objects.filter(
                crm_entity=mapping.crm_entity, crm_id__in=crm_ids
            ).values_list("pk", flat=True)
        )
        ids = list(dict.fromkeys(ids))
        if not ids:
            messages.error(request, _("None of the selected records is coupled."))
            return _back(request, reverse("coupling:mapping", kwargs={"pk": mapping.pk}))
        direction = request.POST.get("direction", "")
        if direction not in ("", Direction.TO_CRM, Direction.FROM_CRM):
            direction = ""
        return _bulk_or_inline(request, mapping, action, ids, direction)
    messages.error(request, _("Choose an action."))
    return _back(request, reverse("coupling:mapping", kwargs={"pk": mapping.pk}))


@role_required(*READERS)
@require_http_methods(["GET"])
def action_progress(request: HttpRequest, aid: int) -> HttpResponse:
    action = BulkAction.objects.select_related("mapping").filter(pk=aid).first()
    if action is None:
        raise Http404
    return render(request, "coupling/action.html", {"action": action})


@role_required(*READERS)
@require_http_methods(["GET"])
def action_status(request: HttpRequest, aid: int) -> JsonResponse:
    action = BulkAction.objects.filter(pk=aid).first()
    if action is None:
        raise Http404
    return JsonResponse(
        {
            "status": action.status,
            "finished": action.status in (CouplingRun.Status.SUCCEEDED, CouplingRun.Status.FAILED),
            "total": action.total,
            "done": action.done,
            "succeeded": action.succeeded,
            "failed": action.failed,
            "skipped": action.skipped,
            "message": action.message,
        }
    )


# -- one coupling ------------------------------------------------------------------------------


@role_required(*COUPLERS)
@require_http_methods(["POST"])
def uncouple(request: HttpRequest, cid: int) -> HttpResponse:
    coupling = _coupling(cid)
    mapping = selectors.mapping_of_coupling(coupling)
    services.uncouple(coupling=coupling)
    messages.success(request, _("The records are uncoupled."))
    default = reverse("coupling:mapping", kwargs={"pk": mapping.pk}) if mapping else "/coupling/"
    return _back(request, default)


def _synchronize_one(request: HttpRequest, coupling: CrmCoupling, direction: str) -> HttpResponse:
    mapping = selectors.mapping_of_coupling(coupling)
    if mapping is None:
        raise Http404
    default = reverse("coupling:mapping", kwargs={"pk": mapping.pk})
    try:
        result = services.synchronize_now(
            mapping=mapping, erp_uuid=coupling.erp_uuid, direction=direction or None
        )
    except services.DirectionRequired as exc:
        return render(
            request,
            "coupling/synchronize.html",
            {
                "coupling": coupling,
                "mapping": mapping,
                "warning": exc.message,
                "next": request.POST.get("next", ""),
            },
        )
    except FAILURES as exc:
        messages.error(request, _failure_text(exc))
        return _back(request, default)
    _sync_message(request, result, _("The record is synchronized."))
    return _back(request, default)


@role_required(*COUPLERS)
@require_http_methods(["POST"])
def synchronize(request: HttpRequest, cid: int) -> HttpResponse:
    """Synchronize now (§5.9); when both sides changed, ask for the direction with a warning."""
    coupling = _coupling(cid)
    direction = request.POST.get("direction", "")
    if direction not in ("", Direction.TO_CRM, Direction.FROM_CRM):
        direction = ""
    return _synchronize_one(request, coupling, direction)


@role_required(*COUPLERS)
@require_http_methods(["GET", "POST"])
def resolve(request: HttpRequest, cid: int) -> HttpResponse:
    """Resolve a conflict: keep the ERP's values, take the CRM's, or choose per field."""
    coupling = _coupling(cid)
    mapping = selectors.mapping_of_coupling(coupling)
    default = reverse("coupling:mapping", kwargs={"pk": mapping.pk}) if mapping else "/coupling/"
    fields = list(coupling.conflict_fields)
    if request.method == "POST":
        everything = request.POST.get("all", "")
        if everything in ("erp", "crm"):
            choices = {f["key"]: everything for f in fields}
        else:
            choices = {f["key"]: request.POST.get(f"field-{f['key']}", "") for f in fields}
        try:
            result = sync_services.conflict_resolve(coupling=coupling, choices=choices)
        except sync_services.ConflictChoiceInvalid as exc:
            messages.error(request, str(exc))
            return redirect(request.path)
        except (CrmUnavailable, NoConnection) as exc:
            messages.error(request, _failure_text(exc))
            return redirect(request.path)
        _sync_message(request, result, _("The conflict is resolved."))
        return _back(request, default)
    record = selectors.erp_records(coupling.erp_table, [coupling.erp_uuid]).get(coupling.erp_uuid)
    return render(
        request,
        "coupling/resolve.html",
        {
            "coupling": coupling,
            "mapping": mapping,
            "record": record,
            "fields": fields,
            "next": request.GET.get("next", ""),
        },
    )


@role_required(*COUPLERS)
@require_http_methods(["POST"])
def restore(request: HttpRequest, cid: int) -> HttpResponse:
    coupling = _coupling(cid)
    try:
        result = services.restore_deleted(coupling=coupling)
    except FAILURES as exc:
        messages.error(request, _failure_text(exc))
    else:
        _sync_message(request, result, _("The deleted record is restored."))
    return _back(request, reverse("coupling:errors"))


@role_required(*COUPLERS)
@require_http_methods(["POST"])
def delete_coupling(request: HttpRequest, cid: int) -> HttpResponse:
    services.delete_coupling(coupling=_coupling(cid))
    messages.success(request, _("The coupling is deleted."))
    return _back(request, reverse("coupling:errors"))


@role_required(*READERS)
@require_http_methods(["GET"])
def history(request: HttpRequest, pk: int) -> HttpResponse:
    """A record's synchronization history: every change and error, newest first."""
    mapping = _mapping(pk)
    erp_uuid = _uuid(request.GET.get("erp"))
    crm_id = _uuid(request.GET.get("crm"))
    label = ErpTable(mapping.erp_table).label
    coupling = None
    if erp_uuid is not None:
        coupling = CrmCoupling.objects.filter(erp_table=label, erp_uuid=erp_uuid).first()
    elif crm_id is not None:
        coupling = CrmCoupling.objects.filter(crm_entity=mapping.crm_entity, crm_id=crm_id).first()
    if coupling is not None:
        erp_uuid, crm_id = coupling.erp_uuid, coupling.crm_id
    rows = sync_selectors.record_history(
        erp_table=label,
        erp_uuid=erp_uuid,
        crm_entity=mapping.crm_entity if crm_id is not None else "",
        crm_id=crm_id,
    )
    record = (
        pages.model_of(mapping)._default_manager.filter(uuid=erp_uuid).first() if erp_uuid else None
    )
    entries = [
        {
            "row": row,
            "is_change": isinstance(row, RecordChange),
            "fields": row.fields if isinstance(row, RecordChange) else [],
        }
        for row in rows
    ]
    return render(
        request,
        "coupling/history.html",
        {
            "mapping": mapping,
            "record": record,
            "coupling": coupling,
            "crm_id": crm_id,
            "entries": entries,
        },
    )


# -- match-based coupling ------------------------------------------------------------------


@role_required(*COUPLERS)
@require_http_methods(["GET", "POST"])
def match(request: HttpRequest, pk: int) -> HttpResponse:
    """Match-based coupling (§3.4): the match fields, synchronize after, create new."""
    mapping = _mapping(pk)
    defaults = {f.erp_field: f for f in services.default_match_fields(mapping=mapping)}
    fields: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for fm in mapping.field_mappings.order_by("position", "id"):
        if not fm.erp_field or not fm.crm_field or fm.constant_value or fm.status != "enabled":
            continue
        if (fm.erp_field, fm.crm_field) in seen:
            continue
        seen.add((fm.erp_field, fm.crm_field))
        chosen = defaults.get(fm.erp_field)
        chosen = chosen if chosen is not None and chosen.crm_field == fm.crm_field else None
        fields.append(
            {
                "key": f"{fm.erp_field}|{fm.crm_field}",
                "erp_field": fm.erp_field,
                "crm_field": fm.crm_field,
                "use": chosen is not None,
                "case_sensitive": chosen.case_sensitive if chosen else False,
                "priority": chosen.priority if chosen else 0,
            }
        )
    for d in defaults.values():
        if (d.erp_field, d.crm_field) not in seen:
            seen.add((d.erp_field, d.crm_field))
            fields.append(
                {
                    "key": f"{d.erp_field}|{d.crm_field}",
                    "erp_field": d.erp_field,
                    "crm_field": d.crm_field,
                    "use": True,
                    "case_sensitive": d.case_sensitive,
                    "priority": d.priority,
                }
            )
    erp_uuids = _uuids(request.GET.getlist("erp") or request.POST.getlist("erp"))
    if request.method == "POST":
        chosen_fields = []
        for f in fields:
            if request.POST.get(f"use-{f['key']}"):
                try:
                    priority = int(request.POST.get(f"priority-{f['key']}") or 0)
                except ValueError:
                    priority = 0
                chosen_fields.append(
                    services.MatchField(
                        str(f["erp_field"]),
                        str(f["crm_field"]),
                        bool(request.POST.get(f"case-{f['key']}")),
                        priority,
                    )
                )
        try:
            run = services.match_couple(
                mapping=mapping,
                erp_uuids=erp_uuids or None,
                match_fields=chosen_fields,
                synch_after=bool(request.POST.get("synch_after")),
                create_new=bool(request.POST.get("create_new")),
            )
        except services.CouplingError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Match-based coupling is scheduled."))
            return redirect("coupling:match-run", run_id=run.pk)
    return render(
        request,
        "coupling/match.html",
        {
            "mapping": mapping,
            "fields": fields,
            "erp_uuids": erp_uuids,
            "synch_after": mapping.synch_after_match_coupling,
            "create_new": mapping.create_new_if_no_match,
            "may_create": pages.may_create_in_crm(mapping),
            "runs": selectors.coupling_runs(mapping=mapping)[:10],
        },
    )


def _run_or_404(run_id: int) -> CouplingRun:
    run = selectors.coupling_run_get(pk=run_id)
    if run is None:
        raise Http404
    return run


@role_required(*READERS)
@require_http_methods(["GET"])
def match_run(request: HttpRequest, run_id: int) -> HttpResponse:
    """A match-based coupling run: progress, results, and the records it could not decide,
    side by side with their candidates for a person to pick."""
    run = _run_or_404(run_id)
    candidates = list(selectors.coupling_candidates(run=run)[:100])
    wanted = [uuid.UUID(i) for c in candidates for i in c.crm_ids][:50]
    problem = ""
    rows: dict[uuid.UUID, pages.CrmItem] = {}
    try:
        rows = pages.crm_rows(run.mapping, wanted)
    except CrmReadProblem as exc:
        problem = exc.message
    records = selectors.erp_records(run.mapping.erp_table, [c.erp_uuid for c in candidates])
    listed = [
        {
            "candidate": c,
            "record": records.get(c.erp_uuid),
            "url": pages.erp_url(records[c.erp_uuid]) if c.erp_uuid in records else "",
            "options": [
                rows.get(uuid.UUID(i))
                or pages.CrmItem(id=uuid.UUID(i), name=i, detail="", modified_on="", coupling=None)
                for i in c.crm_ids
            ],
        }
        for c in candidates
    ]
    return render(
        request,
        "coupling/match_run.html",
        {
            "run": run,
            "candidates": listed,
            "problem": problem,
            "finished": run.status in (CouplingRun.Status.SUCCEEDED, CouplingRun.Status.FAILED),
            **_can(request),
        },
    )


@role_required(*READERS)
@require_http_methods(["GET"])
def match_run_status(request: HttpRequest, run_id: int) -> JsonResponse:
    run = _run_or_404(run_id)
    return JsonResponse(
        {
            "status": run.status,
            "finished": run.status in (CouplingRun.Status.SUCCEEDED, CouplingRun.Status.FAILED),
            "total": run.total,
            "done": run.done,
            "coupled": run.coupled,
            "created": run.created,
            "no_match": run.no_match,
            "ambiguous": run.ambiguous,
            "failed": run.failed,
            "message": run.message,
        }
    )


@role_required(*COUPLERS)
@require_http_methods(["POST"])
def candidate_couple(request: HttpRequest, cid: int) -> HttpResponse:
    candidate = CouplingCandidate.objects.select_related("run__mapping").filter(pk=cid).first()
    if candidate is None:
        raise Http404
    run_id = candidate.run_id
    crm_id = _uuid(request.POST.get("crm_id"))
    if crm_id is None:
        messages.error(request, _("Choose a CRM record."))
    else:
        try:
            services.candidate_couple(candidate=candidate, crm_id=crm_id)
        except FAILURES as exc:
            messages.error(request, _failure_text(exc))
        else:
            messages.success(request, _("%(record)s is coupled.") % {"record": candidate.record})
    return redirect("coupling:match-run", run_id=run_id)


# -- the synchronization errors page (§5.6) ------------------------------------------------


def _error_filters(request: HttpRequest) -> tuple[IntegrationTableMapping | None, str]:
    data = request.POST if request.method == "POST" else request.GET
    mapping = None
    try:
        mapping = pages.page_mapping(int(data.get("mapping") or 0))
    except ValueError:
        mapping = None
    state = data.get("state", "")
    if state not in selectors.ErrorState.CHOICES:
        state = ""
    return mapping, state


@role_required(*READERS)
@require_http_methods(["GET"])
def errors(request: HttpRequest) -> HttpResponse:
    """Coupled data synchronization errors across all mappings, filtered and paginated."""
    mapping, state = _error_filters(request)
    qs = selectors.coupling_errors(mapping=mapping, state=state or None)
    page = Paginator(qs, ERRORS_PER_PAGE).get_page(request.GET.get("page"))
    problem = ""
    sides: list[selectors.CouplingSides] = []
    try:
        sides = selectors.coupling_sides(page.object_list)
    except (CrmUnavailable, NoConnection) as exc:
        problem = _failure_text(exc)
        records = {}
        for c in page.object_list:
            records.update(
                {
                    (c.erp_table, k): v
                    for k, v in selectors.erp_records(c.erp_table, [c.erp_uuid]).items()
                }
            )
        sides = [
            selectors.CouplingSides(
                coupling=c, erp_record=records.get((c.erp_table, c.erp_uuid)), crm_exists=True
            )
            for c in page.object_list
        ]
    mappings = {(m.erp_table.lower(), m.crm_entity): m for m in pages.page_mappings()}
    crm_url = pages.crm_record_urls()
    rows = [
        {
            "sides": s,
            "state": pages.coupling_state(s.coupling),
            "state_label": pages.state_label(pages.coupling_state(s.coupling)),
            "mapping": mappings.get((s.coupling.erp_table, s.coupling.crm_entity)),
            "erp_url": pages.erp_url(s.erp_record) if s.erp_record is not None else "",
            "crm_url": crm_url(s.coupling.crm_entity, s.coupling.crm_id),
        }
        for s in sides
    ]
    return render(
        request,
        "coupling/errors.html",
        {
            "page": page,
            "rows": rows,
            "problem": problem,
            "mappings": pages.page_mappings(),
            "mapping": mapping,
            "state": state,
            "states": [(s, pages.state_label(s)) for s in selectors.ErrorState.CHOICES],
            **_can(request),
        },
    )


@role_required(*RETRIERS)
@require_http_methods(["POST"])
def errors_retry(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("coupling") if i.isdigit()]
    couplings = CrmCoupling.objects.filter(pk__in=ids)
    if not ids:
        messages.error(request, _("Select at least one record."))
        return _back(request, reverse("coupling:errors"))
    try:
        result = services.retry(couplings=couplings)
    except FAILURES as exc:
        messages.error(request, _failure_text(exc))
    else:
        if result.failed:
            messages.warning(
                request,
                _("%(count)s records were retried; %(failed)s failed again.")
                % {"count": result.retried, "failed": result.failed},
            )
        else:
            messages.success(
                request,
                _("%(count)s records were retried.") % {"count": result.retried},
            )
    return _back(request, reverse("coupling:errors"))


@role_required(*RETRIERS)
@require_http_methods(["POST"])
def errors_retry_all(request: HttpRequest) -> HttpResponse:
    """Retry every record the page lists with its filters, in the background."""
    mapping, state = _error_filters(request)
    action = bulk.bulk_start(
        kind=BulkAction.Kind.RETRY_ALL,
        mapping=mapping,
        state=state,
        requested_by=request.user.get_username(),
    )
    messages.success(request, _("Retry all is scheduled."))
    return redirect("coupling:action", aid=action.pk)


@role_required(INTEGRATION_ADMIN)
@require_http_methods(["POST"])
def fullsync_line_couple(request: HttpRequest, pk: int) -> HttpResponse:
    """The full synchronization review's "Couple by match now": accept a line's "couple
    records first" recommendation; the review page follows the run."""
    line = FullSyncLine.objects.select_related("mapping").filter(pk=pk).first()
    if line is None:
        raise Http404
    try:
        services.fullsync_line_couple(line=line)
    except fullsync.FullSyncError as exc:
        messages.error(request, exc.message)
    except services.CouplingError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _(
                "Match-based coupling of %(name)s is scheduled with its default match "
                "settings. This line shows how it goes, then recommends the full synchronization."
            )
            % {"name": line.name},
        )
    return redirect("syncjobs:fullsync")
