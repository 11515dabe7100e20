"""OData text: literals, keys, query strings and the annotations of the rows that come back.

Pure functions with no I/O, shared by every part of the client. Keys and query strings are
percent-encoded here once, so that the transport can send URLs verbatim (server-given nextLinks
and deltaLinks must never be re-encoded).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

# Characters left as they are in query values and in keys: OData's own syntax ($, quotes,
# parentheses, commas...) must reach the server literally.
_QUERY_SAFE = "$,'()/:@*!~-._"
_KEY_SAFE = "=',()-._~:@!$*+"
GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)


def odata_literal(value: Any) -> str:
    """An OData URL literal: strings quoted with '' escaping, GUIDs/numbers/booleans bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, uuid.UUID)):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    text = str(value)
    return "'" + text.replace("'", "''") + "'"


def format_key(key: Any) -> str:
    """The text between the parentheses of `set(<key>)`: a GUID or `col=value,...` pairs."""
    if isinstance(key, uuid.UUID):
        return str(key)
    if isinstance(key, Mapping):
        text = ",".join(f"{name}={odata_literal(value)}" for name, value in key.items())
        return quote(text, safe=_KEY_SAFE)
    text = str(key)
    if GUID_RE.match(text):
        return text.lower()
    return quote(text, safe=_KEY_SAFE)


def bind(entity_set: str, key: Any) -> str:
    """A value for `<navigation property>@odata.bind`: `/accounts(<guid>)`."""
    return f"/{entity_set}({format_key(key)})"


def build_query(params: Mapping[str, Any]) -> str:
    """Query string with OData option names kept literal (`$select`) and spaces as %20."""
    parts: list[str] = []
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        parts.append(f"{name}={quote(str(value), safe=_QUERY_SAFE)}")
    return "&".join(parts)


FORMATTED_VALUE = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL_NAME = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAVIGATION_PROPERTY = "Microsoft.Dynamics.CRM.associatednavigationproperty"


def formatted_value(row: Mapping[str, Any], column: str) -> str | None:
    """The display label of a column (choice label, currency text, lookup name...)."""
    label: str | None = row.get(f"{column}@{FORMATTED_VALUE}")
    return label


def lookup_target(row: Mapping[str, Any], column: str) -> tuple[str | None, str | None]:
    """(logical name of the referenced table, navigation property) of a `_x_value` column."""
    logical_name: str | None = row.get(f"{column}@{LOOKUP_LOGICAL_NAME}")
    navigation: str | None = row.get(f"{column}@{ASSOCIATED_NAVIGATION_PROPERTY}")
    return logical_name, navigation


def annotations_preference(annotations: bool | str) -> str:
    """The `Prefer` value that asks for annotations: all (`True`) or a pattern; "" for none."""
    if not annotations:
        return ""
    value = "*" if annotations is True else str(annotations)
    return f'odata.include-annotations="{value}"'


def as_uuid(value: Any) -> uuid.UUID | None:
    """A UUID from whatever the server or the caller gave (text, UUID), or None."""
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None
