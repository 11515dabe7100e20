"""The coupling on the ERP's own pages (docs/reference/business-central.md §3.2): a "Coupled to
Dynamics 365 Sales" column and filter on the list page of every mapped table, and a "Dynamics
365 Sales" panel on its card pages with the coupling, the last synchronization per direction
and the coupling pages' actions.

`erp/` knows nothing of the integration, so the ERP pages do not call this module: it
registers its column and panel with `erp.extensions` when the app is ready (`apps.py`). A
table is mapped when a row-coupling mapping (not an option mapping) names it; the column and
the panel cost one query for the mapping, and the column one more for the page's couplings.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import models
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from accounts.roles import has_role
from erp.extensions import ColumnOption, ListColumn
from erp.tables import Table
from syncjobs.models import CrmCoupling, IntegrationTableMapping, UidType

from . import pages, selectors
from .roles import COUPLERS, READERS

# The query parameter of the list pages' filter.
FILTER_NAME = "coupling"
FILTER_STATES = ("coupled", "not_coupled", "failed", "skipped", "conflict")


def table_mapping(table: Table) -> IntegrationTableMapping | None:
    """The mapping that couples the records of `table` (the first by priority if several)."""
    return (
        IntegrationTableMapping.objects.filter(
            erp_table__iexact=table.model._meta.label, crm_uid_type=UidType.GUID
        )
        .order_by("priority", "pk")
        .first()
    )


def column_label(state: str) -> str:
    """What the list column says: yes / no / failed / skipped / conflict (and waiting)."""
    if state == "coupled":
        return _("Yes")
    if state == "not_coupled":
        return _("No")
    return pages.state_label(state)


def _condition(label: str, value: str) -> Q:
    if value not in FILTER_STATES:
        # An unknown value narrows the list to nothing rather than silently showing all.
        return Q(pk__in=[])
    return pages.state_condition(label, value)


def _cells(label: str, rows: Sequence[models.Model]) -> list[SafeString]:
    uuids = [row.uuid for row in rows]  # type: ignore[attr-defined]
    couplings = {
        c.erp_uuid: c
        for c in CrmCoupling.objects.filter(erp_table=label, erp_uuid__in=uuids).only(
            "erp_uuid",
            "conflict",
            "skipped",
            "waiting_for",
            "last_result_to_crm",
            "last_result_from_crm",
        )
    }
    cells = []
    for row in rows:
        state = pages.coupling_state(couplings.get(row.uuid))  # type: ignore[attr-defined]
        tone = "badge-ok" if state == "coupled" else "" if state == "not_coupled" else "badge-warn"
        cells.append(
            format_html(
                '<td data-coupling="{}"><span class="badge badge-state-{} {}">{}</span></td>',
                state,
                state,
                tone,
                column_label(state),
            )
        )
    return cells


def list_column(table: Table, request: HttpRequest) -> ListColumn | None:
    """The "Coupled to Dynamics 365 Sales" column of a mapped table's list page."""
    if not has_role(request.user, READERS):
        return None
    mapping = table_mapping(table)
    if mapping is None:
        return None
    label = table.model._meta.label_lower

    def condition(value: str) -> Q:
        return _condition(label, value)

    def cells(rows: Sequence[models.Model]) -> list[SafeString]:
        return _cells(label, rows)

    return ListColumn(
        name=FILTER_NAME,
        label=_("Coupled to Dynamics 365 Sales"),
        filter_label=_("Coupled to Dynamics 365 Sales"),
        options=tuple(ColumnOption(s, pages.state_label(s)) for s in FILTER_STATES),
        condition=condition,
        cells=cells,
        fields=("uuid",),
    )


def card_panel(table: Table, obj: models.Model, request: HttpRequest) -> SafeString | None:
    """The "Dynamics 365 Sales" panel of a mapped table's card page."""
    if not has_role(request.user, READERS):
        return None
    erp_uuid = getattr(obj, "uuid", None)
    if erp_uuid is None:
        return None
    label = table.model._meta.label_lower
    coupling = CrmCoupling.objects.filter(erp_table=label, erp_uuid=erp_uuid).first()
    mapping = selectors.mapping_of_coupling(coupling) if coupling is not None else None
    mapping = mapping or table_mapping(table)
    if mapping is None:
        return None
    state = pages.coupling_state(coupling)
    context: dict[str, Any] = {
        "mapping": mapping,
        "record": obj,
        "coupling": coupling,
        "state": state,
        "state_label": pages.state_label(state),
        "crm_url": pages.crm_record_url(coupling.crm_entity, coupling.crm_id) if coupling else "",
        "can_couple": has_role(request.user, COUPLERS),
        "may_create_in_crm": pages.may_create_in_crm(mapping),
        "mapping_url": reverse("coupling:mapping", kwargs={"pk": mapping.pk}),
        "next": request.get_full_path(),
    }
    return render_to_string("coupling/_erp_panel.html", context, request=request)
