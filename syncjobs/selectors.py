"""Reads for the synchronization setup."""

from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
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


def job_run_list(*, limit: int = 50) -> QuerySet[JobRun]:
    return JobRun.objects.select_related("mapping")[:limit]
