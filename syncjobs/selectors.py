"""Reads for the synchronization setup and its logs."""

import uuid
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django_celery_beat.models import PeriodicTask

from . import nrt
from .models import (
    Direction,
    IntegrationFieldMapping,
    IntegrationTableMapping,
    JobRun,
    RecordChange,
    SyncError,
)
from .services import JOB_NAME_PREFIX


@dataclass(frozen=True)
class JobCount:
    active: int
    total: int


def integration_jobs() -> QuerySet[PeriodicTask]:
    return (
        PeriodicTask.objects.filter(name__startswith=JOB_NAME_PREFIX)
        .select_related("interval")
        .order_by("name")
    )


def integration_jobs_count() -> JobCount:
    jobs = integration_jobs()
    return JobCount(active=jobs.filter(enabled=True).count(), total=jobs.count())


def mapping_list() -> QuerySet[IntegrationTableMapping]:
    return IntegrationTableMapping.objects.select_related(
        "periodic_task__interval"
    ).prefetch_related(
        Prefetch(
            "field_mappings", queryset=IntegrationFieldMapping.objects.order_by("position", "id")
        )
    )


def mapping_overview() -> list[IntegrationTableMapping]:
    """The mappings with their field-mapping counts (`field_count`, `enabled_field_count`) and
    their latest job run (`last_run`, or None): three queries whatever the number of mappings."""
    latest = JobRun.objects.filter(mapping=OuterRef("pk")).order_by("-started_at", "-id")
    mappings = list(
        mapping_list().annotate(
            last_run_id=Subquery(latest.values("pk")[:1]),
            field_count=Count("field_mappings", distinct=True),
            enabled_field_count=Count(
                "field_mappings",
                filter=Q(field_mappings__status=IntegrationFieldMapping.Status.ENABLED),
                distinct=True,
            ),
        )
    )
    runs = JobRun.objects.in_bulk([m.last_run_id for m in mappings if m.last_run_id])
    lags = nrt.lag_summary()
    for m in mappings:
        m.last_run = runs.get(m.last_run_id)  # type: ignore[attr-defined]
        # [(direction label, {"p50", "p95", "count"}), ...] of the recent change lag.
        m.lags = [  # type: ignore[attr-defined]
            (Direction(d).label, lags[(m.pk, d)])
            for d in (Direction.TO_CRM, Direction.FROM_CRM)
            if (m.pk, d) in lags
        ]
    return list(mappings)


def mapping_get(*, pk: int) -> IntegrationTableMapping | None:
    return (
        IntegrationTableMapping.objects.select_related("periodic_task__interval")
        .filter(pk=pk)
        .first()
    )


def mapping_runs(*, mapping: IntegrationTableMapping, limit: int = 10) -> QuerySet[JobRun]:
    return JobRun.objects.filter(mapping=mapping)[:limit]


def job_run_list(*, limit: int = 50) -> QuerySet[JobRun]:
    return JobRun.objects.select_related("mapping")[:limit]


def job_run_filtered(*, mapping_id: int | None = None, status: str = "") -> QuerySet[JobRun]:
    """The job runs, newest first, of one mapping and/or with one status (blank: all)."""
    runs = JobRun.objects.select_related("mapping").order_by("-started_at", "-id")
    if mapping_id is not None:
        runs = runs.filter(mapping_id=mapping_id)
    if status:
        runs = runs.filter(status=status)
    return runs


def page_get(*, rows: QuerySet, number: str | int | None, per_page: int) -> Page:
    """One page of rows; a page number out of range or not a number gives the nearest page."""
    return Paginator(rows, per_page).get_page(number)


def job_run_get(*, pk: int) -> JobRun | None:
    return JobRun.objects.select_related("mapping").filter(pk=pk).first()


def job_run_neighbour(*, run: JobRun, later: bool) -> JobRun | None:
    """The run of the same mapping just before (or after) this one, or None."""
    if run.mapping_id is None:
        return None
    runs = JobRun.objects.filter(mapping_id=run.mapping_id)
    if later:
        return runs.filter(pk__gt=run.pk).order_by("pk").first()
    return runs.filter(pk__lt=run.pk).order_by("-pk").first()


def job_run_errors(*, run: JobRun) -> QuerySet[SyncError]:
    return SyncError.objects.filter(job=run).order_by("created_at", "id")


def job_run_changes(*, run: JobRun) -> QuerySet[RecordChange]:
    return RecordChange.objects.filter(job=run).order_by("id")


def record_history(
    *,
    erp_table: str,
    erp_uuid: uuid.UUID | None = None,
    crm_entity: str = "",
    crm_id: uuid.UUID | None = None,
    limit: int = 500,
) -> list[RecordChange | SyncError]:
    """What the synchronization did to one record and where it failed: its RecordChange and
    SyncError rows (each with its `job`), newest first, at most `limit`.

    The record is the ERP record (`erp_table`, a model label such as "erp.customer", and
    `erp_uuid`), its CRM row (`crm_entity` and `crm_id`), or both: a row written before the pair
    was coupled carries only one of the two keys.
    """
    keys = Q(pk__in=[])
    if erp_uuid is not None:
        keys |= Q(erp_table=erp_table.lower(), erp_uuid=erp_uuid)
    if crm_entity and crm_id is not None:
        keys |= Q(crm_entity=crm_entity, crm_id=crm_id)
    if erp_uuid is None and crm_id is None:
        return []
    changes = RecordChange.objects.filter(keys).select_related("job__mapping")
    errors = SyncError.objects.filter(keys).select_related("job__mapping")
    rows: list[RecordChange | SyncError] = [
        *changes.order_by("-created_at", "-id")[:limit],
        *errors.order_by("-created_at", "-id")[:limit],
    ]
    rows.sort(key=lambda row: (row.created_at, row.job_id, row.pk), reverse=True)
    return rows[:limit]
