"""Extension points of the ERP pages: list columns (with their filter) and card panels that
apps above `erp` add.

`erp/` knows nothing of the integration (docs/architecture.md): it imports no app above it.
An app that has something to say about ERP records (the coupling app: is this customer coupled
to the CRM, and what can be done about it) registers a source here from its
`AppConfig.ready()`. For each request the list and card views ask every source whether it has a
column or a panel for the table; a source answers None for a table it does not concern. With
nothing registered, the pages are the bare ERP pages.

A column's filter is a condition on the list's queryset, so that keyset pages, the last page
and the count all see the filtered list; its cells are built for the whole page at once, so a
column costs one query per page, not one per row.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.db import models
from django.db.models import Q
from django.http import HttpRequest
from django.utils.safestring import SafeString

from erp.tables import Table


@dataclass(frozen=True)
class ColumnOption:
    value: str
    label: str


@dataclass(frozen=True)
class ListColumn:
    """A column and its filter on one table's list page, for one request."""

    # The filter's query parameter; must not clash with the table's own filters.
    name: str
    label: str
    filter_label: str
    options: tuple[ColumnOption, ...]
    # The rows a filter value keeps, as part of the list's query (an Exists subquery, say).
    condition: Callable[[str], Q]
    # One cell (a `<td>`) per row of the page, in order; read with one query for the page.
    cells: Callable[[Sequence[models.Model]], list[SafeString]]
    # Fields the cells read on each row, loaded with the page (lists load only their columns).
    fields: tuple[str, ...] = field(default=())


ListColumnSource = Callable[[Table, HttpRequest], ListColumn | None]
CardPanelSource = Callable[[Table, models.Model, HttpRequest], SafeString | None]

_list_column_sources: list[ListColumnSource] = []
_card_panel_sources: list[CardPanelSource] = []


def list_column_register(source: ListColumnSource) -> None:
    """Add a column source (once: registering it again does nothing)."""
    if source not in _list_column_sources:
        _list_column_sources.append(source)


def card_panel_register(source: CardPanelSource) -> None:
    """Add a card panel source (once: registering it again does nothing)."""
    if source not in _card_panel_sources:
        _card_panel_sources.append(source)


def list_columns(*, table: Table, request: HttpRequest) -> list[ListColumn]:
    """The extra columns of `table`'s list page for this request."""
    found = []
    for source in _list_column_sources:
        column = source(table, request)
        if column is not None and column.name not in table.filters:
            found.append(column)
    return found


def card_panels(*, table: Table, obj: models.Model, request: HttpRequest) -> list[SafeString]:
    """The extra panels (HTML) of a record's card page for this request."""
    return [p for p in (source(table, obj, request) for source in _card_panel_sources) if p]
