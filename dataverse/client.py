"""The Dataverse Web API client: the only code that talks to the CRM.

`DataverseClient` is assembled from one layer per concern, each in its own module:

- `transport`: sign-in, pooled sessions, retries, throttling (Retry-After), error mapping;
- `query`: OData query building, paging and reads (`odata` holds the pure text helpers);
- `records`: single-record writes;
- `changes`: change tracking (delta links, or a modifiedon watermark);
- `bulk`: $batch and CreateMultiple/UpdateMultiple/UpsertMultiple;
- `solutions`: ImportSolution and the import job's outcome;
- `metadata`: column definitions: the options of Choice columns, InsertOptionValue.

Each layer builds on the ones below it (`Queries` on `Transport`, `BulkWrites` on
`RecordWrites`...), so every method keeps one definition and the type checker sees what each
layer may call. Other code imports only from this module, which re-exports the names it has
always offered.
"""

from __future__ import annotations

from .batch import BatchRequest, BatchResponse, ChangeSet
from .bulk import MAX_BATCH_OPERATIONS, BulkWrites
from .changes import WATERMARK_PREFIX, ChangeTracking
from .metadata import Metadata
from .odata import (
    ASSOCIATED_NAVIGATION_PROPERTY,
    FORMATTED_VALUE,
    LOOKUP_LOGICAL_NAME,
    bind,
    build_query,
    format_key,
    formatted_value,
    lookup_target,
    odata_literal,
)
from .query import ACTIVITY_TABLES, KNOWN_TABLES, MAX_PAGE_SIZE
from .solutions import SolutionImport
from .stats import ClientStats
from .transport import ConnectionSettings, connection_error, logger
from .types import (
    BaseCurrency,
    ChangeBatch,
    ImportJobResult,
    Page,
    UpsertResult,
    WhoAmI,
    WriteResult,
)

__all__ = [
    "ACTIVITY_TABLES",
    "ASSOCIATED_NAVIGATION_PROPERTY",
    "FORMATTED_VALUE",
    "KNOWN_TABLES",
    "LOOKUP_LOGICAL_NAME",
    "MAX_BATCH_OPERATIONS",
    "MAX_PAGE_SIZE",
    "WATERMARK_PREFIX",
    "BaseCurrency",
    "BatchRequest",
    "BatchResponse",
    "ChangeBatch",
    "ChangeSet",
    "ClientStats",
    "ConnectionSettings",
    "DataverseClient",
    "ImportJobResult",
    "Page",
    "UpsertResult",
    "WhoAmI",
    "WriteResult",
    "bind",
    "build_query",
    "connection_error",
    "format_key",
    "formatted_value",
    "logger",
    "lookup_target",
    "odata_literal",
]


class DataverseClient(ChangeTracking, BulkWrites, SolutionImport, Metadata):
    """A client of one Dataverse environment as one user (see docs/contracts.md).

    Thread-safe: one pooled HTTP session per thread; tokens, table metadata and the throttle
    gate are shared.
    """

    def __repr__(self) -> str:
        return f"DataverseClient({self.settings.base_url!r}, client_id={self.settings.client_id!r})"
