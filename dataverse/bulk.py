"""Bulk writes: $batch (with change sets) and CreateMultiple/UpdateMultiple/UpsertMultiple."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeAlias

from . import errors
from .batch import BatchRequest, BatchResponse, ChangeSet, build_batch, parse_batch
from .odata import as_uuid, format_key
from .records import RecordWrites
from .stats import ClientStats
from .transport import ConnectionSettings, logger
from .types import WriteResult

# One input record on its way: (its index in the input, the body to send, its key).
Prepared: TypeAlias = tuple[int, dict[str, Any], Any]

# Dataverse's limit of operations in one $batch (and what one bulk message is given).
MAX_BATCH_OPERATIONS = 1000


# Codes/statuses that say "this table does not have this bulk message", not "a record is bad".
_UNSUPPORTED_STATUSES = {405, 501}
_RECORD_NOT_FOUND_CODES = {"0x80040217", "0x80060891"}
_BULK_ACTIONS = {"create": "CreateMultiple", "update": "UpdateMultiple", "upsert": "UpsertMultiple"}


def _is_unsupported(exc: errors.DataverseError) -> bool:
    """Does this error say the table lacks the bulk message (rather than a record is bad)?"""
    if exc.status in _UNSUPPORTED_STATUSES:
        return True
    if exc.status == 404 and exc.code.lower() not in _RECORD_NOT_FOUND_CODES:
        return True
    message = exc.message.lower()
    return exc.code.lower() == "0x80040315" or (
        exc.status == 400 and ("not supported" in message and "multiple" in message)
    )


def _atomic_results(
    pending: list[Prepared], responses: list[BatchResponse]
) -> dict[int, WriteResult]:
    """Results of a change set: all written, or the failing one and the rest rolled back."""
    results: dict[int, WriteResult] = {}
    if len(responses) == len(pending) and all(r.ok for r in responses):
        for (index, _body, key), response in zip(pending, responses, strict=True):
            results[index] = WriteResult(
                index=index, id=response.entity_id or as_uuid(key), key=key
            )
        return results
    failed = next((r for r in responses if not r.ok), None)
    error = failed.error() if failed else errors.DataverseError("The change set failed.")
    bad_position: int | None = None
    if failed is not None and failed.content_id and failed.content_id.isdigit():
        bad_position = int(failed.content_id) - 1
    for position, (index, _, key) in enumerate(pending):
        if bad_position is None or position == bad_position:
            results[index] = WriteResult(index=index, error=error, key=key)
        else:
            rolled = errors.RolledBack(
                f"Not written: the change set was rolled back ({error.message})",
                status=error.status,
                code=error.code,
            )
            results[index] = WriteResult(index=index, error=rolled, key=key)
    return results


class BulkWrites(RecordWrites):
    """`execute_batch()` and `write_many()`: many rows in few requests.

    `write_many` prefers the bulk messages (CreateMultiple...), remembers per table which it
    lacks and falls back to $batch, which also finds the bad rows of a failed bulk request.
    """

    def __init__(self, settings: ConnectionSettings, *, stats: ClientStats | None = None) -> None:
        super().__init__(settings, stats=stats)
        # (entity set, message) pairs the server said it does not support: use $batch for them.
        self._no_bulk: set[tuple[str, str]] = set()

    def execute_batch(
        self, items: Sequence[BatchRequest | ChangeSet], *, continue_on_error: bool = False
    ) -> list[BatchResponse]:
        """Send one `$batch`; returns the operation responses in order (change sets flattened)."""
        operations = sum(len(i.requests) if isinstance(i, ChangeSet) else 1 for i in items)
        if operations > MAX_BATCH_OPERATIONS:
            raise errors.ValidationFailed(
                f"A $batch holds at most {MAX_BATCH_OPERATIONS} operations ({operations} given)."
            )
        content_type, body = build_batch(items, self.api_root)
        response = self.request(
            "POST",
            "$batch",
            data=body,
            content_type=content_type,
            prefer=["odata.continue-on-error"] if continue_on_error else (),
            accept_multipart_errors=True,
        )
        return parse_batch(response.headers.get("Content-Type"), response.content)

    def write_many(
        self,
        entity_set: str,
        records: Sequence[Mapping[str, Any]],
        operation: str = "create",
        chunk_size: int = 1000,
        parallelism: int | None = None,
        atomic: bool = False,
        *,
        keys: Sequence[Any] | None = None,
        method: str = "auto",
    ) -> list[WriteResult]:
        """Write many rows; one WriteResult per input record, in input order.

        `operation`: create (ids chosen here unless given), update (by primary key in the
        record or `keys`), upsert (by primary key or alternate key in `keys`).
        `method`: auto (CreateMultiple/UpdateMultiple/UpsertMultiple where the table supports
        them, else $batch), bulk, batch, or single (one request per record).
        """
        if operation not in _BULK_ACTIONS:
            raise ValueError(f"unknown operation {operation!r}")
        primary = self.primary_key(entity_set)
        prepared: list[Prepared] = []
        for index, record in enumerate(records):
            body = dict(record)
            key = keys[index] if keys is not None else None
            if operation == "create":
                body[primary] = str(uuid.UUID(str(body.get(primary) or key or uuid.uuid4())))
                key = body[primary]
            elif key is None:
                key = body.get(primary)
                if key is None:
                    raise ValueError(f"record {index} has no {primary} and no key was given")
            elif operation == "update" and primary not in body and as_uuid(key) is not None:
                body[primary] = str(key)  # UpdateMultiple names its targets by primary key
            prepared.append((index, body, key))
        workers = parallelism or self.settings.parallelism
        if self._dop_hint:
            workers = min(workers, self._dop_hint)
        size = max(1, min(int(chunk_size), MAX_BATCH_OPERATIONS))
        if method == "single":
            # One request per record: spread records over every worker, not one chunk each.
            size = max(1, min(size, -(-len(prepared) // max(1, workers))))
        chunks = [prepared[i : i + size] for i in range(0, len(prepared), size)]
        workers = max(1, min(workers, len(chunks) or 1))

        def run(chunk: list[Prepared]) -> list[WriteResult]:
            return self._write_chunk(entity_set, operation, chunk, atomic, method)

        results: list[WriteResult] = []
        if workers == 1:
            for chunk in chunks:
                results.extend(run(chunk))
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dataverse") as pool:
                for chunk_results in pool.map(run, chunks):
                    results.extend(chunk_results)
        results.sort(key=lambda r: r.index)
        return results

    def _write_chunk(
        self,
        entity_set: str,
        operation: str,
        chunk: list[Prepared],
        atomic: bool,
        method: str,
    ) -> list[WriteResult]:
        action = _BULK_ACTIONS[operation]
        if method == "single":
            return [self._write_one(entity_set, operation, item) for item in chunk]
        if method in ("auto", "bulk") and (entity_set, action) not in self._no_bulk:
            try:
                return self._bulk_message(entity_set, operation, chunk)
            except errors.UnsupportedMessage:
                logger.info("%s does not support %s: using $batch", entity_set, action)
                self._no_bulk.add((entity_set, action))
            except (errors.AuthenticationFailed, errors.ConnectionFailed, errors.Throttled):
                raise
            except errors.DataverseError as exc:
                # One bad target rolls back the whole request: find it (them) with $batch.
                logger.info(
                    "%s on %s failed (%s); retrying %d records with $batch to find the bad ones",
                    action,
                    entity_set,
                    exc,
                    len(chunk),
                )
        return self._batch_chunk(entity_set, operation, chunk, atomic)

    def _write_one(self, entity_set: str, operation: str, item: Prepared) -> WriteResult:
        index, body, key = item
        record_id: uuid.UUID | None
        try:
            if operation == "create":
                record_id = self.create(entity_set, body)
            elif operation == "update":
                self.update(entity_set, key, body)
                record_id = as_uuid(key)
            else:
                record_id = self.upsert(entity_set, key, body).id
        except errors.DataverseError as exc:
            return WriteResult(index=index, error=exc, key=key)
        return WriteResult(index=index, id=record_id, key=key)

    def _bulk_message(
        self, entity_set: str, operation: str, chunk: list[Prepared]
    ) -> list[WriteResult]:
        action = _BULK_ACTIONS[operation]
        logical, primary = self.table_info(entity_set)
        targets = []
        for _, body, key in chunk:
            target = {**body, "@odata.type": f"Microsoft.Dynamics.CRM.{logical}"}
            if operation == "upsert" and primary not in body:
                target["@odata.id"] = f"{entity_set}({format_key(key)})"
            targets.append(target)
        try:
            response = self.request(
                "POST",
                f"{entity_set}/Microsoft.Dynamics.CRM.{action}",
                json_body={"Targets": targets},
            )
        except errors.DataverseError as exc:
            if _is_unsupported(exc):
                raise errors.UnsupportedMessage(
                    exc.message, status=exc.status, code=exc.code
                ) from exc
            raise
        ids: list[Any] = []
        if operation == "create":
            ids = list((self._json(response) or {}).get("Ids") or [])
        results = []
        for position, (index, body, key) in enumerate(chunk):
            value = ids[position] if position < len(ids) else body.get(primary, key)
            results.append(WriteResult(index=index, id=as_uuid(value), key=key))
        return results

    def _batch_request(
        self, entity_set: str, operation: str, body: dict[str, Any], key: Any
    ) -> BatchRequest:
        if operation == "create":
            return BatchRequest("POST", entity_set, body)
        headers = {"If-Match": "*"} if operation == "update" else {}
        # The key is in the URL; the body carries only the columns to write.
        primary = self.primary_key(entity_set)
        data = {k: v for k, v in body.items() if k != primary}
        return BatchRequest("PATCH", f"{entity_set}({format_key(key)})", data, headers)

    def _batch_chunk(
        self,
        entity_set: str,
        operation: str,
        chunk: list[Prepared],
        atomic: bool,
    ) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        pending = list(chunk)
        while pending:
            requests_ = [self._batch_request(entity_set, operation, b, k) for _, b, k in pending]
            try:
                if atomic:
                    responses = self.execute_batch([ChangeSet(requests_)])
                else:
                    responses = self.execute_batch(requests_, continue_on_error=True)
            except errors.DataverseError as exc:
                for index, _, key in pending:
                    results[index] = WriteResult(index=index, error=exc, key=key)
                break
            if atomic:
                results.update(_atomic_results(pending, responses))
                break
            answered = min(len(responses), len(pending))
            for (index, body, key), response in zip(pending[:answered], responses, strict=False):
                results[index] = self._result_from_part(
                    entity_set, operation, index, body, key, response
                )
            if answered == 0:
                error = errors.DataverseError("The $batch response held no answers.")
                for index, _, key in pending:
                    results[index] = WriteResult(index=index, error=error, key=key)
                break
            # A server that stops at the first error leaves the rest unanswered: send them again.
            pending = pending[answered:]
        return [results[index] for index, _, _ in chunk]

    def _result_from_part(
        self,
        entity_set: str,
        operation: str,
        index: int,
        body: dict[str, Any],
        key: Any,
        response: BatchResponse,
    ) -> WriteResult:
        primary = self.primary_key(entity_set)
        if response.ok:
            record_id = response.entity_id or as_uuid(body.get(primary, key))
            return WriteResult(index=index, id=record_id, key=key)
        error = response.error()
        if operation == "create" and isinstance(error, errors.Duplicate):
            record_id = as_uuid(body.get(primary))
            if record_id is not None and self.exists(entity_set, record_id):
                return WriteResult(index=index, id=record_id, key=key)
        return WriteResult(index=index, error=error, key=key)
