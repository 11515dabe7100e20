"""Writes: the default synchronization setup, the scheduled jobs and job runs."""

import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from celery import current_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_celery_beat.models import PeriodicTask

from connection import selectors as connection_selectors
from connection import services as connection_services
from connection.clients import client_get
from connection.models import ConnectionChange, CrmConnection, OwnerMode
from connection.services import JOB_NAME_PREFIX, Actor, integration_jobs_set_enabled
from dataverse import errors as dv
from erp.models import Item
from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling

from . import engine, jobqueue, nrt
from .defaults import (
    AUTO_CREATE_ORDERS_JOB,
    CUSTOMER_STATISTICS_JOB,
    DEFAULT_MAPPINGS,
    ITEM_AVAILABILITY_JOB,
    ORDER_STATUS_JOB,
    SALES_ORDER_MAPPING,
    Area,
    JobDef,
    MappingDef,
)
from .engine.run import MappingBusy, NoConnection
from .models import (
    Direction,
    IntegrationFieldMapping,
    IntegrationTableMapping,
    JobQueueEntry,
    JobRun,
    UpdateConflictResolution,
)
from .validation import MappingInvalid, mapping_validate

logger = logging.getLogger(__name__)

# The non-mapping jobs of the default setup, as job queue entries.
NON_MAPPING_JOBS = {
    ITEM_AVAILABILITY_JOB.name: JobQueueEntry.Job.ITEM_AVAILABILITY,
    AUTO_CREATE_ORDERS_JOB.name: JobQueueEntry.Job.AUTO_CREATE_SALES_ORDERS,
    ORDER_STATUS_JOB.name: JobQueueEntry.Job.ORDER_STATUS,
    CUSTOMER_STATISTICS_JOB.name: JobQueueEntry.Job.CUSTOMER_STATISTICS,
}


@dataclass(frozen=True)
class DefaultSetupOptions:
    areas: list[str]
    owner_is_salesperson: bool = True
    default_owner_id: str = ""
    sales_order_integration: bool = False
    item_availability: bool = False
    auto_create_sales_orders: bool = False
    enabled: bool = True


def default_setup_options(*, connection: CrmConnection) -> DefaultSetupOptions:
    """The options of the default setup as the saved connection chose them."""
    return DefaultSetupOptions(
        areas=list(connection.sync_areas),
        owner_is_salesperson=connection.owner_mode == OwnerMode.SALESPERSON,
        default_owner_id=str(connection.default_owner_id or ""),
        sales_order_integration=connection.sales_order_integration,
        item_availability=connection.availability_enabled,
        auto_create_sales_orders=connection.auto_create_sales_orders,
        enabled=connection.is_enabled,
    )


def _job_name(name: str) -> str:
    return jobqueue.job_name(name)


def _mapping_values(*, definition: MappingDef, options: DefaultSetupOptions) -> dict[str, Any]:
    """The default settings of a mapping, as its model fields (the schedule's too)."""
    dependencies = definition.dependency_filter
    if not options.owner_is_salesperson:
        # Without salesperson ownership SALESPEOPLE is not a prerequisite
        # (docs/reference/business-central.md §2.4).
        dependencies = "|".join(d for d in dependencies.split("|") if d and d != "SALESPEOPLE")
    return {
        "erp_table": definition.erp_table,
        "crm_entity": definition.crm_entity,
        "crm_entity_set": definition.crm_entity_set,
        "crm_uid_field": definition.crm_uid_field,
        "crm_modified_on_field": "" if definition.crm_uid_type == "option" else "modifiedon",
        "direction": definition.direction,
        "table_filter": definition.table_filter,
        "integration_table_filter": definition.integration_table_filter,
        "sync_only_coupled": definition.sync_only_coupled,
        "dependency_filter": dependencies,
        "crm_uid_type": definition.crm_uid_type,
        "synch_after_match_coupling": definition.synch_after_match_coupling,
        "create_new_if_no_match": definition.create_new_if_no_match,
        "update_conflict_resolution": UpdateConflictResolution.NONE,
        "deletion_conflict_resolution": definition.deletion_conflict_resolution,
        "inactivity_timeout_minutes": definition.inactivity_timeout_minutes,
        "interval_minutes": jobqueue.default_interval_minutes(),
        "has_scheduled_job": definition.has_scheduled_job,
        "priority": definition.priority,
        "user_defined": False,
        "enabled": True,
    }


def _field_rows(
    *, mapping: IntegrationTableMapping, definition: MappingDef, options: DefaultSetupOptions
) -> list[IntegrationFieldMapping]:
    rows = []
    for position, f in enumerate(definition.fields):
        constant = f.constant_value
        erp_field = f.erp_field
        if f.owner and not options.owner_is_salesperson:
            if f.crm_field != "ownerid":
                continue
            # A fixed owner replaces the salesperson lookup.
            erp_field, constant = "", f"/systemusers({options.default_owner_id})"
        rows.append(
            IntegrationFieldMapping(
                mapping=mapping,
                position=position,
                erp_field=erp_field,
                crm_field=f.crm_field,
                direction=f.direction,
                constant_value=constant,
                validate_field=f.validate_field,
                clear_value_on_failed_sync=f.clear_value_on_failed_sync,
                not_null=f.not_null,
                use_for_match_based_coupling=f.match,
                match_priority=f.match_priority,
                crm_lookup_entity=f.lookup if erp_field else "",
                option_mapping=f.option,
                transformation=f.transformation,
                value_map=dict(f.value_map),
                status=(
                    IntegrationFieldMapping.Status.ENABLED
                    if f.enabled
                    else IntegrationFieldMapping.Status.DISABLED
                ),
            )
        )
    return rows


def _mapping_create(
    *, definition: MappingDef, options: DefaultSetupOptions
) -> IntegrationTableMapping:
    mapping = IntegrationTableMapping.objects.create(
        name=definition.name, **_mapping_values(definition=definition, options=options)
    )
    IntegrationFieldMapping.objects.bulk_create(
        _field_rows(mapping=mapping, definition=definition, options=options)
    )
    return mapping


def job_interval_minutes(*, job: JobDef) -> int:
    """The job's interval: its setting when it has one (README "Configuration")."""
    if job.interval_setting:
        return int(getattr(settings, job.interval_setting, job.interval_minutes))
    return job.interval_minutes


def _non_mapping_job_create(*, job: JobDef, enabled: bool) -> JobQueueEntry:
    return jobqueue.recurring_entry_create(
        job=NON_MAPPING_JOBS[job.name],
        name=job.name,
        task=job.task,
        description=job.description,
        interval_minutes=job_interval_minutes(job=job),
        enabled=enabled,
    )


@transaction.atomic
def default_setup_reset(*, options: DefaultSetupOptions) -> list[IntegrationTableMapping]:
    """Delete every mapping and integration job, then create the defaults for the chosen areas."""
    integration_setup_delete()
    definitions = [d for d in DEFAULT_MAPPINGS if d.area in options.areas]
    if options.sales_order_integration:
        definitions.append(SALES_ORDER_MAPPING)
    if not options.owner_is_salesperson:
        definitions = [d for d in definitions if d.name != "SALESPEOPLE"]
    mappings = []
    for definition in definitions:
        mapping = _mapping_create(definition=definition, options=options)
        if mapping.has_scheduled_job:
            jobqueue.mapping_entry_create(mapping=mapping, enabled=options.enabled)
        mappings.append(mapping)
    for job, want in _non_mapping_jobs_wanted(options=options):
        if want:
            _non_mapping_job_create(job=job, enabled=options.enabled)
    return mappings


def _non_mapping_jobs_wanted(*, options: DefaultSetupOptions) -> list[tuple[JobDef, bool]]:
    """Each job that is not a mapping's, and whether the options want it (§2.5): item
    availability when published; the order status job with sales order integration (its
    orders are the coupled ones); statistics whenever customers are synchronized."""
    return [
        (ITEM_AVAILABILITY_JOB, options.item_availability),
        (
            AUTO_CREATE_ORDERS_JOB,
            options.sales_order_integration and options.auto_create_sales_orders,
        ),
        (ORDER_STATUS_JOB, options.sales_order_integration),
        (CUSTOMER_STATISTICS_JOB, Area.CUSTOMERS in options.areas),
    ]


@transaction.atomic
def default_setup_create_if_missing(*, options: DefaultSetupOptions) -> bool:
    """Create the default setup only when no mapping exists yet
    (docs/reference/business-central.md §1.6 step 5)."""
    if IntegrationTableMapping.objects.exists():
        non_mapping_jobs_reconcile(options=options)
        integration_jobs_set_enabled(enabled=options.enabled)
        return False
    default_setup_reset(options=options)
    return True


@transaction.atomic
def non_mapping_jobs_reconcile(*, options: DefaultSetupOptions) -> None:
    """Create or delete the jobs that are not a mapping's so that they match
    the connection's options (switching a feature on later must schedule it; off, unschedule)."""
    for job, want in _non_mapping_jobs_wanted(options=options):
        existing = PeriodicTask.objects.filter(name=_job_name(job.name))
        if want and not existing.exists():
            _non_mapping_job_create(job=job, enabled=options.enabled)
        elif not want:
            existing.delete()
            JobQueueEntry.objects.filter(
                job=NON_MAPPING_JOBS[job.name], recurring=True, mapping=None
            ).delete()


def integration_setup_delete() -> None:
    PeriodicTask.objects.filter(name__startswith=JOB_NAME_PREFIX).delete()
    # The mappings' entries go with them; the CRM pull's and log cleanup's stay.
    JobQueueEntry.objects.filter(job__in=list(NON_MAPPING_JOBS.values())).delete()
    IntegrationTableMapping.objects.all().delete()


def job_run_start(
    *,
    job_name: str,
    mapping: IntegrationTableMapping | None = None,
    kind: str = JobRun.Kind.JOB,
    full: bool = False,
) -> JobRun:
    return JobRun.objects.create(
        job_name=job_name, mapping=mapping, kind=kind, full=full, status=JobRun.Status.RUNNING
    )


def job_run_finish(*, run: JobRun, status: str, message: str = "") -> JobRun:
    run.status = status
    run.message = message
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "finished_at"])
    return run


ITEM_AVAILABILITY = "ITEM AVAILABILITY"


def item_availability_push(*, run: JobRun) -> JobRun:
    """Write the inventory of coupled items changed since the last successful run to the CRM
    products' quantityonhand (negative as 0), as BC18+'s item availability job does
    (docs/reference/business-central.md §6.2)."""
    last = (
        JobRun.objects.filter(job_name=ITEM_AVAILABILITY, status=JobRun.Status.SUCCEEDED)
        .exclude(pk=run.pk)
        .order_by("-started_at")
        .first()
    )
    couplings = dict(
        CrmCoupling.objects.filter(erp_table=ERP_ITEM, crm_entity=CRM_PRODUCT).values_list(
            "erp_uuid", "crm_id"
        )
    )
    items = Item.objects.filter(uuid__in=list(couplings))
    if last is not None:
        # The watermark is the previous run's start, so changes made during that run are not lost.
        items = items.filter(modified_at__gte=last.started_at)
    connection = connection_selectors.crm_connection_settings()
    if connection is None:
        return job_run_finish(
            run=run, status=JobRun.Status.SKIPPED, message="no CRM connection is set up"
        )
    client = client_get(settings=connection)
    errors: list[str] = []
    try:
        for item in items.only("uuid", "no", "inventory"):
            quantity = max(item.inventory, Decimal("0"))
            try:
                client.update("products", couplings[item.uuid], {"quantityonhand": float(quantity)})
                run.modified += 1
            except dv.NotFound:
                run.skipped += 1
                errors.append(f"{item.no}: the coupled CRM product no longer exists")
            except dv.Forbidden as exc:
                run.failed += 1
                run.save(update_fields=["modified", "skipped", "failed"])
                connection_services.connection_disable_for_error(error=exc)
                return job_run_finish(run=run, status=JobRun.Status.FAILED, message=str(exc))
            except (dv.AuthenticationFailed, dv.ConnectionFailed, dv.Throttled) as exc:
                # The next item would meet the same wall (after its own retries): stop here;
                # the watermark stays, so the next run pushes these items again.
                run.failed += 1
                run.save(update_fields=["modified", "skipped", "failed"])
                return job_run_finish(run=run, status=JobRun.Status.FAILED, message=str(exc))
            except dv.DataverseError as exc:
                run.failed += 1
                errors.append(f"{item.no}: {exc}")
    except BaseException as exc:
        # A time limit or a worker shutdown: the run must not stay "running" forever.
        run.save(update_fields=["modified", "skipped", "failed"])
        job_run_finish(run=run, status=JobRun.Status.FAILED, message=f"interrupted: {exc!r}")
        raise
    run.save(update_fields=["modified", "skipped", "failed"])
    message = f"{run.modified} product(s) updated" + (
        ": " + "; ".join(errors[:20]) if errors else ""
    )
    status = JobRun.Status.FAILED if run.failed else JobRun.Status.SUCCEEDED
    return job_run_finish(run=run, status=status, message=message)


# -- running the engine -------------------------------------------------------------------


def mapping_synchronize(
    *,
    mapping: IntegrationTableMapping,
    direction: str | None = None,
    full: bool = False,
    dry_run: bool = False,
    erp_uuids: Iterable[uuid.UUID] | None = None,
    crm_ids: Iterable[uuid.UUID] | None = None,
    force: bool | None = None,
) -> engine.EngineResult:
    """Synchronize one mapping now and wake the mappings whose records waited for it.

    A disabled mapping or one already running records a skipped run instead. `force` as in
    `engine.synchronize` (None: forced when records are named). The change lag of what an
    incremental run wrote is recorded (`nrt.lags_record`).
    """
    kind = JobRun.Kind.DRY_RUN if dry_run else JobRun.Kind.SYNCHRONIZATION
    if not mapping.enabled:
        run = job_run_start(job_name=mapping.name, mapping=mapping, kind=kind, full=full)
        job_run_finish(run=run, status=JobRun.Status.SKIPPED, message="the mapping is disabled")
        return engine.EngineResult(jobs=[run])
    try:
        result = engine.synchronize(
            mapping,
            direction=direction,
            full=full,
            dry_run=dry_run,
            erp_uuids=erp_uuids,
            crm_ids=crm_ids,
            force=force,
        )
    except (MappingBusy, NoConnection) as exc:
        run = job_run_start(job_name=mapping.name, mapping=mapping, kind=kind, full=full)
        job_run_finish(run=run, status=JobRun.Status.SKIPPED, message=str(exc))
        return engine.EngineResult(jobs=[run])
    if not dry_run and any(j.status == JobRun.Status.FAILED for j in result.jobs):
        jobqueue.mapping_failures_check(mapping=mapping)
    if not dry_run and not full:
        nrt.lags_record(jobs=result.jobs)
    if not dry_run and any(j.inserted or j.coupled or j.modified for j in result.jobs):
        dependants_wake(mapping=mapping)
    if not dry_run and direction in (None, Direction.TO_CRM):
        for child in children_synchronize(mapping=mapping, full=full):
            result.jobs.extend(child.jobs)
    return result


def mapping_children(*, mapping: IntegrationTableMapping) -> list[IntegrationTableMapping]:
    """The enabled child mappings of a mapping: no recurring job of their own, and this
    mapping their only dependency (POSTEDSALESLINE-INV of POSTEDSALESINV-INV, §2.2)."""
    return [
        child
        for child in IntegrationTableMapping.objects.filter(
            enabled=True, has_scheduled_job=False, dependency_filter=mapping.name
        ).exclude(pk=mapping.pk)
    ]


def children_synchronize(
    *, mapping: IntegrationTableMapping, full: bool = False
) -> list[engine.EngineResult]:
    """Synchronize the child mappings right after their header, as the reference creates an
    invoice's lines right after the invoice (§2.3): the lines of a header synchronized just
    now find it coupled. A child already running (the header ran twice at once) is left to
    that run."""
    results = []
    for child in mapping_children(mapping=mapping):
        try:
            results.append(engine.synchronize(child, direction=Direction.TO_CRM, full=full))
        except (MappingBusy, NoConnection) as exc:
            logger.info("%s: child %s not synchronized: %s", mapping.name, child.name, exc)
    return results


def dependants_wake(*, mapping: IntegrationTableMapping) -> list[str]:
    """Queue a run of every mapping with records waiting for this one (their salesperson was
    not coupled yet, say), after the current transaction commits."""
    waiting = set(
        CrmCoupling.objects.filter(waiting_for=mapping.name, skipped=False).values_list(
            "erp_table", "crm_entity"
        )
    )
    names = []
    for candidate in IntegrationTableMapping.objects.filter(enabled=True).exclude(pk=mapping.pk):
        if (candidate.erp_table.lower(), candidate.crm_entity) in waiting:
            names.append(candidate.name)
            transaction.on_commit(partial(_mapping_job_send, candidate.pk))
    if names:
        logger.info("%s synchronized: waking %s", mapping.name, ", ".join(names))
    return names


def _mapping_job_send(mapping_id: int, full: bool = False) -> None:
    # By name, as beat sends it: tasks imports this module, so importing tasks here would be a
    # cycle.
    kwargs = {"full": True} if full else {}
    current_app.send_task("syncjobs.synchronize_mapping", args=[mapping_id], kwargs=kwargs)


class IntegrationDisabled(Exception):
    """A synchronization was asked for while the integration is off: its job would only
    record a skipped run."""


def _enqueue_allowed() -> None:
    if not connection_selectors.integration_enabled():
        raise IntegrationDisabled(
            _("The integration is disabled: enable it on the connection page first.")
        )


def mapping_synchronize_enqueue(
    *, mapping: IntegrationTableMapping, full: bool = False
) -> JobQueueEntry:
    """ "Synchronize modified records" (or, `full`, "Run full synchronization") of one mapping
    in the worker: a one-off job queue entry, sent once the current transaction commits (§5.9).

    Raises IntegrationDisabled when the integration is off.
    """
    _enqueue_allowed()
    return jobqueue.one_off_create(job=JobQueueEntry.Job.MAPPING, mapping=mapping, full=full)


def all_mappings_synchronize_enqueue() -> list[IntegrationTableMapping]:
    """ "Synchronize modified records" of every enabled mapping: one one-off job queue entry per
    mapping, queued in priority order (docs/reference/business-central.md §2.6, §5.9). Returns
    the mappings.

    Raises IntegrationDisabled when the integration is off.
    """
    _enqueue_allowed()
    mappings = list(
        IntegrationTableMapping.objects.filter(enabled=True).order_by("priority", "name")
    )
    for mapping in mappings:
        jobqueue.one_off_create(job=JobQueueEntry.Job.MAPPING, mapping=mapping)
    return mappings


# -- job queue entries: what a run of one does ---------------------------------------------


def disabled_run_record(
    *, job_name: str, mapping: IntegrationTableMapping | None = None
) -> JobRun | None:
    """While the integration is disabled, a job records a skipped run and does nothing: that
    run; None when the integration is enabled."""
    if connection_selectors.integration_enabled():
        return None
    run = job_run_start(job_name=job_name, mapping=mapping)
    return job_run_finish(
        run=run, status=JobRun.Status.SKIPPED, message=_("The integration is disabled.")
    )


def item_availability_run() -> JobRun:
    """One run of the item availability job (a skipped run when it does not apply)."""
    skipped = disabled_run_record(job_name=ITEM_AVAILABILITY)
    if skipped is not None:
        return skipped
    run = job_run_start(job_name=ITEM_AVAILABILITY)
    connection = connection_selectors.crm_connection_get()
    if connection is None or not connection.availability_enabled:
        return job_run_finish(
            run=run,
            status=JobRun.Status.SKIPPED,
            message=_("Item availability is not published to the CRM."),
        )
    return item_availability_push(run=run)


def _entry_work(entry: JobQueueEntry) -> jobqueue.Outcome:
    Job = JobQueueEntry.Job
    if entry.job == Job.MAPPING:
        if entry.mapping is None:
            return jobqueue.Outcome(not_run="the mapping no longer exists")
        skipped = disabled_run_record(job_name=entry.mapping.name, mapping=entry.mapping)
        if skipped is not None:
            return jobqueue.Outcome(not_run=skipped.message)
        result = mapping_synchronize(mapping=entry.mapping, full=entry.full)
        return jobqueue.outcome_of(result.jobs)
    if entry.job == Job.ITEM_AVAILABILITY:
        return jobqueue.outcome_of([item_availability_run()])
    runner = jobqueue.job_runner(entry.job)
    if runner is not None:
        return jobqueue.outcome_of([runner()])
    if entry.job == Job.CRM_PULL:
        nrt.crm_pull()
        return jobqueue.Outcome()
    if entry.job == Job.LOG_CLEANUP:
        sync_log_cleanup()
        return jobqueue.Outcome()
    return jobqueue.Outcome(not_run=_("No application runs this job; is it installed?"))


def queue_entry_run(*, entry_id: int) -> JobQueueEntry | None:
    """Run one job queue entry if it is ready (a paused, held, finished or running one is left
    alone: a duplicate delivery does nothing) and record how it went. Returns the entry, or
    None when it did not run."""
    entry = jobqueue.entry_claim(entry_id=entry_id)
    if entry is None:
        return None
    try:
        outcome = _entry_work(entry)
    except BaseException as exc:
        # A time limit or a worker shutdown: the entry must not stay "in process".
        jobqueue.entry_finish(entry=entry, outcome=jobqueue.Outcome(error=f"interrupted: {exc!r}"))
        raise
    return jobqueue.entry_finish(entry=entry, outcome=outcome)


def recurring_job_run(*, job: str) -> None:
    """A non-mapping job beat sent (item availability, the CRM pull, ...): through its job queue
    entry (made for the CRM pull and the log cleanup when missing), or directly when it has
    none (a job of an older setup)."""
    Job = JobQueueEntry.Job
    if job in (Job.CRM_PULL, Job.LOG_CLEANUP):
        entry: JobQueueEntry | None = jobqueue.system_entry(job)
    else:
        entry = jobqueue.recurring_job_entry(job)
    if entry is not None:
        queue_entry_run(entry_id=entry.pk)
        return
    _entry_work(JobQueueEntry(job=job))


def mapping_dry_run(*, mapping: IntegrationTableMapping, full: bool = False) -> engine.EngineResult:
    """Run the mapping now without writing anything on either side: the engine reads both
    sides and records what it would do under job runs of kind "dry run". `full` previews a
    full synchronization (every record, uncoupled ones too)."""
    return mapping_synchronize(mapping=mapping, full=full, dry_run=True)


def sync_log_cleanup(*, days: int | None = None) -> int:
    """Delete job runs (with their errors and field changes) older than the retention."""
    keep = settings.SYNC_LOG_RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=keep)
    deleted, _ = (
        JobRun.objects.filter(started_at__lt=cutoff).exclude(status=JobRun.Status.RUNNING).delete()
    )
    jobqueue.entries_old_delete(before=cutoff)
    return deleted


class ConflictChoiceInvalid(ValueError):
    pass


def conflict_resolve(*, coupling: CrmCoupling, choices: dict[str, str]) -> engine.EngineResult:
    """Resolve a pair changed on both sides: per conflicting field keep the ERP's value ("erp")
    or take the CRM's ("crm"), then synchronize the pair now.

    The choice is recorded as the common ancestor: keeping the ERP's value makes the CRM's look
    unchanged (so the ERP's is sent), taking the CRM's makes the ERP's look unchanged.
    """
    fields = {entry["key"]: entry for entry in coupling.conflict_fields}
    if not fields:
        raise ConflictChoiceInvalid("This record has no conflict to resolve.")
    missing = sorted(set(fields) - set(choices))
    if missing:
        raise ConflictChoiceInvalid(f"Choose a side for every field: {', '.join(missing)}.")
    wrong = sorted(k for k, v in choices.items() if v not in ("erp", "crm"))
    if wrong:
        raise ConflictChoiceInvalid(f"Choose erp or crm for {', '.join(wrong)}.")
    snapshot = dict(coupling.snapshot)
    for key, entry in fields.items():
        snapshot[key] = entry["crm"] if choices[key] == "erp" else entry["erp"]
    coupling.snapshot = snapshot
    coupling.conflict = False
    coupling.conflict_fields = []
    coupling.last_error = ""
    coupling.save(update_fields=["snapshot", "conflict", "conflict_fields", "last_error"])
    mapping = IntegrationTableMapping.objects.filter(
        erp_table__iexact=coupling.erp_table, crm_entity=coupling.crm_entity
    ).first()
    if mapping is None:
        return engine.EngineResult()
    return engine.synchronize(
        mapping, erp_uuids=[coupling.erp_uuid], crm_ids=[coupling.crm_id], force=False
    )


# --- Editing mappings --------------------------------------------------------------------------


def default_definition(*, name: str) -> MappingDef | None:
    """The default of the mapping called `name`, or None for a mapping of the user's own."""
    for definition in [*DEFAULT_MAPPINGS, SALES_ORDER_MAPPING]:
        if definition.name == name:
            return definition
    return None


def mapping_schedule_apply(*, mapping: IntegrationTableMapping) -> None:
    """Make the mapping's job queue entry and scheduled job follow its interval and its enabled
    switch (a job also stays paused while the integration is disabled, or its entry on hold)."""
    jobqueue.mapping_entry_apply(mapping=mapping)


@transaction.atomic
def mapping_update(
    *,
    mapping: IntegrationTableMapping,
    field_mappings: Sequence[IntegrationFieldMapping],
    deleted: Sequence[IntegrationFieldMapping] = (),
) -> list[str]:
    """Save a changed mapping with the field mappings it now has (`deleted` ones are removed).

    Raises MappingInvalid (nothing saved) when the result breaks a rule of `validation`; returns
    the warnings otherwise.
    """
    problems = mapping_validate(mapping=mapping, field_mappings=field_mappings)
    if problems:
        raise MappingInvalid(problems)
    mapping.save()
    for fm in deleted:
        if fm.pk:
            fm.delete()
    for fm in field_mappings:
        fm.mapping = mapping
        fm.save()
    mapping_schedule_apply(mapping=mapping)
    return problems.warnings


def _current_fields(mapping: IntegrationTableMapping) -> list[IntegrationFieldMapping]:
    return list(mapping.field_mappings.order_by("position", "id"))


def field_mapping_save(*, field_mapping: IntegrationFieldMapping) -> list[str]:
    """Add or change one field mapping, validated with the rest of its mapping."""
    mapping = field_mapping.mapping
    others = [fm for fm in _current_fields(mapping) if fm.pk != field_mapping.pk]
    return mapping_update(mapping=mapping, field_mappings=[*others, field_mapping])


def field_mapping_delete(*, field_mapping: IntegrationFieldMapping) -> list[str]:
    mapping = field_mapping.mapping
    others = [fm for fm in _current_fields(mapping) if fm.pk != field_mapping.pk]
    return mapping_update(mapping=mapping, field_mappings=others, deleted=[field_mapping])


class NoDefault(Exception):
    """The mapping is the user's own: there is no default to restore."""


@transaction.atomic
def mapping_default_restore(*, mapping: IntegrationTableMapping) -> IntegrationTableMapping:
    """ "Use default synchronization setup" for one mapping: its settings and field mappings
    as syncjobs.defaults has them, with the connection's owner choice; its scheduled job stays
    (with the default interval), and so do its runs and its watermarks."""
    definition = default_definition(name=mapping.name)
    if definition is None:
        raise NoDefault(mapping.name)
    connection = connection_selectors.crm_connection_get()
    options = (
        default_setup_options(connection=connection)
        if connection is not None
        else DefaultSetupOptions(areas=[])
    )
    for name, value in _mapping_values(definition=definition, options=options).items():
        setattr(mapping, name, value)
    mapping.save()
    mapping.field_mappings.all().delete()
    IntegrationFieldMapping.objects.bulk_create(
        _field_rows(mapping=mapping, definition=definition, options=options)
    )
    if mapping.has_scheduled_job and mapping.periodic_task is None:
        jobqueue.mapping_entry_create(mapping=mapping, enabled=options.enabled)
    mapping_schedule_apply(mapping=mapping)
    return mapping


@transaction.atomic
def default_setup_restore_all(*, actor: Actor, source: str = ConnectionChange.Source.PAGE) -> int:
    """ "Use default synchronization setup" for every mapping, with the saved connection's
    options; recorded in the connection's history. Returns how many mappings there are now."""
    connection = connection_services.connection_required()
    mappings = default_setup_reset(options=default_setup_options(connection=connection))
    connection_services.connection_event_record(
        field="synchronization_setup",
        new_value=_("reset to default (%(count)s mappings)") % {"count": len(mappings)},
        actor=actor,
        source=source,
    )
    return len(mappings)
