"""Single-record writes: create, update, upsert, delete, associate and disassociate."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from . import errors
from .batch import entity_id_from_url
from .odata import GUID_RE, format_key
from .query import Queries
from .transport import logger
from .types import UpsertResult


class RecordWrites(Queries):
    """One row per request: create, update, upsert, delete and navigation references.

    Every write is safe to retry: creates carry a client-chosen id, so a retried create whose
    first attempt committed is recognised as done instead of making a second record.
    """

    def create(
        self,
        entity_set: str,
        data: Mapping[str, Any],
        id: Any = None,
    ) -> uuid.UUID:
        """Create a row with a client-chosen primary key; returns it.

        A retried create whose first attempt was committed comes back as a duplicate of the
        same id: that is success, never a second record.
        """
        primary = self.primary_key(entity_set)
        record_id = uuid.UUID(str(id or data.get(primary) or uuid.uuid4()))
        body = {**data, primary: str(record_id)}
        try:
            response = self.request("POST", entity_set, json_body=body)
        except errors.Duplicate:
            if self.exists(entity_set, record_id):
                logger.info("create %s(%s): already there, treated as done", entity_set, record_id)
                return record_id
            raise
        return entity_id_from_url(response.headers.get("OData-EntityId")) or record_id

    def create_returning(
        self,
        entity_set: str,
        data: Mapping[str, Any],
        *,
        select: Sequence[str] | None = None,
        expand: str | None = None,
        id: Any = None,
    ) -> dict[str, Any]:
        """Create with `Prefer: return=representation`; returns the created row (201)."""
        primary = self.primary_key(entity_set)
        record_id = uuid.UUID(str(id or data.get(primary) or uuid.uuid4()))
        response = self.request(
            "POST",
            entity_set,
            query={"$select": select or None, "$expand": expand},
            json_body={**data, primary: str(record_id)},
            prefer=["return=representation"],
        )
        return self._json(response) or {primary: str(record_id)}

    def exists(self, entity_set: str, key: Any) -> bool:
        try:
            self.request(
                "GET",
                f"{entity_set}({format_key(key)})",
                query={"$select": self.primary_key(entity_set)},
            )
        except errors.NotFound:
            return False
        return True

    def update(
        self,
        entity_set: str,
        key: Any,
        data: Mapping[str, Any],
        if_match: str | None = "*",
        *,
        return_select: Sequence[str] | None = None,
    ) -> dict[str, Any] | None:
        """PATCH an existing row (If-Match `*` or an ETag: never creates).

        With `return_select` the updated row comes back (`return=representation`).
        """
        headers = {"If-Match": if_match} if if_match else None
        response = self.request(
            "PATCH",
            f"{entity_set}({format_key(key)})",
            query={"$select": return_select} if return_select else None,
            json_body=dict(data),
            headers=headers,
            prefer=["return=representation"] if return_select else (),
        )
        return self._json(response) if return_select else None

    def upsert(
        self,
        entity_set: str,
        key: Any,
        data: Mapping[str, Any],
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
        return_representation: bool = False,
    ) -> UpsertResult:
        """PATCH by id or alternate key: create or update (conditions restrict it)."""
        headers: dict[str, str] = {}
        if if_match:
            headers["If-Match"] = if_match
        if if_none_match:
            headers["If-None-Match"] = if_none_match
        query = None
        prefer: list[str] = []
        if return_representation:
            query = {"$select": self.primary_key(entity_set)}
            prefer.append("return=representation")
        response = self.request(
            "PATCH",
            f"{entity_set}({format_key(key)})",
            query=query,
            json_body=dict(data),
            headers=headers,
            prefer=prefer,
        )
        entity_url = response.headers.get("OData-EntityId")
        record_id = entity_id_from_url(entity_url)
        created: bool | None = None
        if return_representation and response.status_code in (200, 201):
            created = response.status_code == 201
            body = self._json(response) or {}
            value = body.get(self.primary_key(entity_set))
            if value:
                record_id = uuid.UUID(str(value))
        if record_id is None and isinstance(key, (uuid.UUID, str)) and GUID_RE.match(str(key)):
            record_id = uuid.UUID(str(key))
        return UpsertResult(id=record_id, created=created, entity_url=entity_url)

    def delete(self, entity_set: str, key: Any, if_match: str | None = None) -> None:
        """Delete a row. NotFound only if it was never there (not after a committed retry)."""
        headers = {"If-Match": if_match} if if_match else None
        try:
            self.request("DELETE", f"{entity_set}({format_key(key)})", headers=headers)
        except errors.NotFound as exc:
            if not exc.retried:
                raise
            logger.info("delete %s(%s): gone after a retry, treated as done", entity_set, key)

    def associate(
        self,
        entity_set: str,
        id: Any,
        navigation: str,
        target_set: str,
        target_id: Any,
    ) -> None:
        """Add a row to a collection-valued navigation property (1:N or N:N) with `$ref`.

        An N:N link that already exists (also after a retried call that had committed) is
        success.
        """
        try:
            self.request(
                "POST",
                f"{entity_set}({format_key(id)})/{navigation}/$ref",
                json_body={"@odata.id": f"{self.api_root}{target_set}({format_key(target_id)})"},
            )
        except errors.Duplicate:
            logger.info("%s(%s)/%s already holds %s", entity_set, id, navigation, target_id)

    def set_reference(
        self,
        entity_set: str,
        id: Any,
        navigation: str,
        target_set: str,
        target_id: Any,
    ) -> None:
        """Point a single-valued navigation property at a row (PUT `$ref`)."""
        self.request(
            "PUT",
            f"{entity_set}({format_key(id)})/{navigation}/$ref",
            json_body={"@odata.id": f"{self.api_root}{target_set}({format_key(target_id)})"},
        )

    def disassociate(
        self,
        entity_set: str,
        id: Any,
        navigation: str,
        target_set: str | None = None,
        target_id: Any = None,
    ) -> None:
        """Remove a collection member (with `target_id`) or clear a single-valued reference."""
        if target_id is not None:
            path = f"{entity_set}({format_key(id)})/{navigation}({format_key(target_id)})/$ref"
        else:
            path = f"{entity_set}({format_key(id)})/{navigation}/$ref"
        self.request("DELETE", path)
