"""Background work of the coupling pages. Tasks take ids, call a service, and are idempotent
(a redelivered message goes on where the run stopped)."""

from celery import shared_task

from . import bulk, services


@shared_task(name=services.MATCH_TASK, ignore_result=True, acks_late=True)  # type: ignore[untyped-decorator]
def match_couple(run_id: int) -> None:
    services.match_couple_run(run_id=run_id)


@shared_task(name=bulk.BULK_TASK, ignore_result=True, acks_late=True)  # type: ignore[untyped-decorator]
def bulk_action(action_id: int) -> None:
    bulk.bulk_run(action_id=action_id)
