"""Reads for the synchronization setup."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django_celery_beat.models import PeriodicTask

from .models import IntegrationFieldMapping, IntegrationTableMapping, JobRun
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
    for m in mappings:
        m.last_run = runs.get(m.last_run_id)  # type: ignore[attr-defined]
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
