"""Query building and reads: $select/$filter/$orderby/$expand/$top/$count and paging.

Paging follows the server: `Prefer: odata.maxpagesize` asks for a page size and every
@odata.nextLink is followed verbatim. Rows are streamed page by page, never a whole table in
memory.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import requests

from . import errors
from .odata import annotations_preference, format_key, odata_literal
from .stats import ClientStats
from .transport import ConnectionSettings, Transport
from .types import BaseCurrency, Page, WhoAmI

# The largest page Dataverse serves (odata.maxpagesize is capped to it).
MAX_PAGE_SIZE = 5000


# Entity set -> logical name for the tables the integration uses. Others are looked up in the
# metadata (EntityDefinitions) or derived from the set name.
KNOWN_TABLES: dict[str, str] = {
    "accounts": "account",
    "contacts": "contact",
    "systemusers": "systemuser",
    "transactioncurrencies": "transactioncurrency",
    "uomschedules": "uomschedule",
    "uoms": "uom",
    "products": "product",
    "pricelevels": "pricelevel",
    "productpricelevels": "productpricelevel",
    "salesorders": "salesorder",
    "salesorderdetails": "salesorderdetail",
    "roles": "role",
    "businessunits": "businessunit",
    "organizations": "organization",
    "teams": "team",
    "importjobs": "importjob",
    "opportunities": "opportunity",
    "leads": "lead",
    "erpcrm_connections": "erpcrm_connection",
}
# Activity tables share one primary key column, activityid, not <logical name>id.
ACTIVITY_TABLES = {"task", "email", "phonecall", "appointment", "letter", "fax"}


class Queries(Transport):
    """Reads: table metadata, single rows, pages and streams of rows, counts.

    Also the table registry (entity set -> logical name and primary key) that the write layers
    use to put client-chosen ids and `@odata.type` into bodies.
    """

    def __init__(self, settings: ConnectionSettings, *, stats: ClientStats | None = None) -> None:
        super().__init__(settings, stats=stats)
        self._tables: dict[str, tuple[str, str]] = {}  # set -> (logical name, primary key)

    # --- metadata helpers --------------------------------------------------------------------

    def register_table(
        self, entity_set: str, logical_name: str, primary_key: str | None = None
    ) -> None:
        """Tell the client a table's logical name and primary key (skips the lookup)."""
        self._tables[entity_set] = (logical_name, primary_key or f"{logical_name}id")

    def table_info(self, entity_set: str) -> tuple[str, str]:
        """(logical name, primary key column) of an entity set."""
        info = self._tables.get(entity_set)
        if info:
            return info
        logical = KNOWN_TABLES.get(entity_set)
        primary = None
        if logical is None:
            try:
                response = self.request(
                    "GET",
                    "EntityDefinitions",
                    query={
                        "$select": "LogicalName,PrimaryIdAttribute",
                        "$filter": f"EntitySetName eq {odata_literal(entity_set)}",
                    },
                    max_attempts=1,
                )
                rows = (self._json(response) or {}).get("value") or []
                if rows:
                    logical = rows[0].get("LogicalName")
                    primary = rows[0].get("PrimaryIdAttribute")
            except errors.DataverseError:
                logical = None
        if not logical:
            logical = re.sub(r"ies$", "y", entity_set)
            if logical == entity_set:
                logical = re.sub(r"s$", "", entity_set)
        if not primary:
            primary = "activityid" if logical in ACTIVITY_TABLES else f"{logical}id"
        self._tables[entity_set] = (logical, primary)
        return logical, primary

    def primary_key(self, entity_set: str) -> str:
        return self.table_info(entity_set)[1]

    # --- reads --------------------------------------------------------------------------------

    def whoami(self) -> WhoAmI:
        body = self._json(self.request("GET", "WhoAmI"))
        try:
            return WhoAmI(
                user_id=uuid.UUID(body["UserId"]),
                business_unit_id=uuid.UUID(body["BusinessUnitId"]),
                organization_id=uuid.UUID(body["OrganizationId"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.DataverseError("WhoAmI answered without the three ids.") from exc

    def organization_base_currency(self) -> BaseCurrency:
        page = self.get_page("organizations", select=["_basecurrencyid_value"])
        if not page.rows or not page.rows[0].get("_basecurrencyid_value"):
            raise errors.NotFound("The organization has no base currency.")
        currency_id = page.rows[0]["_basecurrencyid_value"]
        row = self.get(
            "transactioncurrencies",
            currency_id,
            select=["isocurrencycode", "currencyname", "currencysymbol", "currencyprecision"],
        )
        if row is None:  # a 200 without a body: nothing to read the currency from
            raise errors.DataverseError("The base currency came back without its columns.")
        precision = row.get("currencyprecision")
        return BaseCurrency(
            id=uuid.UUID(str(currency_id)),
            iso_code=row.get("isocurrencycode") or "",
            name=row.get("currencyname") or "",
            symbol=row.get("currencysymbol") or "",
            precision=int(precision) if precision is not None else None,
        )

    def get(
        self,
        entity_set: str,
        key: Any,
        *,
        select: Sequence[str] | None = None,
        expand: str | None = None,
        annotations: bool | str = False,
        if_none_match: str | None = None,
    ) -> dict[str, Any] | None:
        """One row. With `if_none_match` (an ETag) returns None when unchanged (304)."""
        headers = {"If-None-Match": if_none_match} if if_none_match else None
        response = self.request(
            "GET",
            f"{entity_set}({format_key(key)})",
            query={"$select": select or None, "$expand": expand},
            headers=headers,
            prefer=[annotations_preference(annotations)],
            accept_statuses=(304,),
        )
        if response.status_code == 304:
            return None
        row: dict[str, Any] | None = self._json(response)
        return row

    def get_page(
        self,
        entity_set_or_url: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        count: bool = False,
        page_size: int | None = None,
        annotations: bool | str = False,
        track_changes: bool = False,
    ) -> Page:
        """One page: the first of a query, or the page behind a nextLink/deltaLink."""
        page, _ = self._fetch_page(
            entity_set_or_url,
            select=select,
            filter=filter,
            orderby=orderby,
            expand=expand,
            top=top,
            count=count,
            page_size=page_size,
            annotations=annotations,
            track_changes=track_changes,
        )
        return page

    def _fetch_page(
        self,
        entity_set_or_url: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        expand: str | None = None,
        top: int | None = None,
        count: bool = False,
        page_size: int | None = None,
        annotations: bool | str = False,
        track_changes: bool = False,
    ) -> tuple[Page, requests.Response]:
        is_link = entity_set_or_url.startswith(("http://", "https://"))
        query = None
        if not is_link:
            query = {
                "$select": select or None,
                "$filter": filter,
                "$orderby": orderby,
                "$expand": expand,
                "$top": top,
                "$count": "true" if count else None,
            }
        prefer = [annotations_preference(annotations)]
        if page_size:
            prefer.append(f"odata.maxpagesize={min(int(page_size), MAX_PAGE_SIZE)}")
        if track_changes:
            prefer.append("odata.track-changes")
        response = self.request("GET", entity_set_or_url, query=query, prefer=prefer)
        body = self._json(response) or {}
        page = Page(
            rows=list(body.get("value") or []),
            next_link=body.get("@odata.nextLink"),
            delta_link=body.get("@odata.deltaLink"),
            count=body.get("@odata.count"),
            total_record_count=body.get("@Microsoft.Dynamics.CRM.totalrecordcount"),
            total_record_count_limit_exceeded=body.get(
                "@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"
            ),
        )
        return page, response

    def iter_pages(
        self,
        entity_set: str,
        *,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        expand: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        annotations: bool | str = False,
        count: bool = False,
    ) -> Iterator[Page]:
        """Pages of a query, fetched lazily; follows @odata.nextLink verbatim."""
        page = self.get_page(
            entity_set,
            select=select,
            filter=filter,
            orderby=orderby,
            expand=expand,
            page_size=page_size,
            annotations=annotations,
            count=count,
        )
        while True:
            yield page
            if not page.next_link:
                return
            page = self.get_page(page.next_link, page_size=page_size, annotations=annotations)

    def iter_rows(
        self,
        entity_set: str,
        select: Sequence[str] | None = None,
        filter: str | None = None,
        orderby: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
        *,
        expand: str | None = None,
        annotations: bool | str = False,
    ) -> Iterator[dict[str, Any]]:
        """Rows of a query, streamed page by page (never the whole table in memory)."""
        for page in self.iter_pages(
            entity_set,
            select=select,
            filter=filter,
            orderby=orderby,
            expand=expand,
            page_size=page_size,
            annotations=annotations,
        ):
            yield from page.rows

    def entity_sets(self) -> list[str]:
        """Entity set names from the service document (to check a table exists)."""
        body = self._json(self.request("GET", "")) or {}
        return [
            item.get("url") or item.get("name")
            for item in body.get("value") or []
            if item.get("kind", "EntitySet") == "EntitySet"
        ]

    def count(self, entity_set: str) -> int:
        response = self.request("GET", f"{entity_set}/$count")
        return int(response.text.strip().lstrip("\ufeff"))
