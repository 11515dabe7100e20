"""Change tracking: what changed since the last run, via delta links or a modifiedon watermark.

A sync run stores the token of the last batch and passes it back next time. Tables without
change tracking fall back to polling `modifiedon` (deletions are then not visible), and an
expired delta link starts a full resync instead of failing the run.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from . import errors
from .batch import entity_id_from_url
from .odata import as_uuid
from .query import MAX_PAGE_SIZE, Queries
from .transport import logger
from .types import ChangeBatch, Page

# Prefix of the tokens of tables without change tracking: `watermark:<latest modifiedon>`.
WATERMARK_PREFIX = "watermark:"


def _parse_datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (TypeError, ValueError):
        return None


def _is_client_error(exc: errors.DataverseError) -> bool:
    """A 4xx that says "this link/query is unusable", not an auth, permission or limit problem."""
    return (
        exc.status is not None
        and 400 <= exc.status < 500
        and exc.status not in (401, 403, 429)
        and not isinstance(exc, (errors.AuthenticationFailed, errors.Throttled))
    )


def _deleted_id(row: Mapping[str, Any]) -> uuid.UUID | None:
    """The id of a deleted-row entry of a delta page (both published shapes), else None."""
    context = str(row.get("@odata.context") or "")
    if context.endswith("$deletedEntity") or row.get("reason") == "deleted":
        value = row.get("id")
        return as_uuid(value)
    removed = row.get("@removed")
    if isinstance(removed, Mapping):
        return entity_id_from_url(str(row.get("@id") or "")) or as_uuid(row.get("id"))
    return None


class ChangeTracking(Queries):
    """`changes()`: delta links where the table is change-tracked, a watermark elsewhere."""

    def changes(
        self,
        entity_set: str,
        select: Sequence[str],
        delta_link: str | None = None,
        *,
        page_size: int = MAX_PAGE_SIZE,
    ) -> Iterator[ChangeBatch]:
        """Changed rows and deleted ids since `delta_link`, page by page.

        The last batch carries the token for the next run in `delta_link`: a real deltaLink, or
        `watermark:<modifiedon>` where change tracking is off for the table. An expired or
        unusable deltaLink (any 4xx but auth/throttling) starts a full resync.
        """
        if delta_link and delta_link.startswith(WATERMARK_PREFIX):
            yield from self._watermark_changes(
                entity_set, select, delta_link[len(WATERMARK_PREFIX) :] or None, page_size, False
            )
            return
        full_resync = False
        if delta_link:
            try:
                page, _ = self._fetch_page(delta_link, page_size=page_size, track_changes=True)
            except errors.DataverseError as exc:
                if not _is_client_error(exc):
                    raise
                logger.info(
                    "delta link for %s no longer usable (%s %s): full resync",
                    entity_set,
                    exc.status,
                    exc.code,
                )
                full_resync = True
            else:
                yield from self._delta_batches(page, page_size, False)
                return
        try:
            page, response = self._fetch_page(
                entity_set, select=select, page_size=page_size, track_changes=True
            )
        except errors.DataverseError as exc:
            if not _is_client_error(exc) or isinstance(exc, errors.NotFound):
                raise
            logger.info(
                "change tracking refused for %s (%s %s): modifiedon watermark",
                entity_set,
                exc.status,
                exc.code,
            )
            yield from self._watermark_changes(entity_set, select, None, page_size, full_resync)
            return
        applied = response.headers.get("Preference-Applied", "")
        if "odata.track-changes" not in applied and not page.delta_link:
            logger.info("%s is not change-tracked: modifiedon watermark", entity_set)
            yield from self._watermark_changes(entity_set, select, None, page_size, full_resync)
            return
        yield from self._delta_batches(page, page_size, full_resync)

    def _delta_batches(
        self, page: Page, page_size: int, full_resync: bool
    ) -> Iterator[ChangeBatch]:
        while True:
            upserts: list[dict[str, Any]] = []
            deleted: list[uuid.UUID] = []
            for row in page.rows:
                deleted_id = _deleted_id(row)
                if deleted_id is not None:
                    deleted.append(deleted_id)
                else:
                    upserts.append(row)
            if page.next_link:
                yield ChangeBatch(upserts, deleted, None, "delta", full_resync)
                # Same preferences on every follow-up request, as the paging rules ask.
                page, _ = self._fetch_page(page.next_link, page_size=page_size, track_changes=True)
                continue
            if not page.delta_link:
                raise errors.DataverseError("The last page of changes carried no @odata.deltaLink.")
            yield ChangeBatch(upserts, deleted, page.delta_link, "delta", full_resync)
            return

    def _watermark_changes(
        self,
        entity_set: str,
        select: Sequence[str],
        since: str | None,
        page_size: int,
        full_resync: bool,
    ) -> Iterator[ChangeBatch]:
        primary = self.primary_key(entity_set)
        columns = list(dict.fromkeys([*select, "modifiedon", primary]))
        latest_text = since
        latest = _parse_datetime(since) if since else None
        for page in self.iter_pages(
            entity_set,
            select=columns,
            filter=f"modifiedon ge {since}" if since else None,
            orderby=f"modifiedon asc,{primary} asc",
            page_size=page_size,
        ):
            for row in page.rows:
                stamp_text = row.get("modifiedon")
                stamp = _parse_datetime(stamp_text) if stamp_text else None
                if stamp is not None and (latest is None or stamp > latest):
                    latest, latest_text = stamp, stamp_text
            token = None if page.next_link else WATERMARK_PREFIX + (latest_text or "")
            yield ChangeBatch(list(page.rows), [], token, "watermark", full_resync)
