"""Integration table mappings, their field mappings, and the record of each job run.

The scheduled jobs themselves are django_celery_beat PeriodicTasks (one per mapping, plus
non-mapping jobs such as item availability); a mapping points at its task.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    BIDIRECTIONAL = "bidirectional", _("Bidirectional")
    TO_CRM = "to_crm", _("To CRM")
    FROM_CRM = "from_crm", _("From CRM")


class UpdateConflictResolution(models.TextChoices):
    """What to do with a pair changed on both sides since its last synchronization
    (docs/reference/business-central.md §5.5)."""

    NONE = "none", _("None: keep the conflict for a person")
    SEND_TO_CRM = "send_to_crm", _("Send the ERP data to the CRM (ERP wins)")
    GET_FROM_CRM = "get_from_crm", _("Get the CRM data into the ERP (CRM wins)")


class DeletionConflictResolution(models.TextChoices):
    """What to do when a coupled record was deleted on one side (§5.5)."""

    NONE = "none", _("None: report it")
    RESTORE = "restore", _("Restore the deleted record from the other side")
    REMOVE_COUPLING = "remove_coupling", _("Remove the coupling")


class UidType(models.TextChoices):
    GUID = "guid", _("Row id")
    OPTION = "option", _("Option set value")


class IntegrationTableMapping(models.Model):
    name = models.CharField(_("name"), max_length=30, unique=True)
    erp_table = models.CharField(_("ERP table"), max_length=100)
    crm_entity = models.CharField(_("CRM table"), max_length=100)
    crm_entity_set = models.CharField(_("CRM entity set"), max_length=100)
    crm_uid_field = models.CharField(_("CRM key column"), max_length=100)
    crm_modified_on_field = models.CharField(
        _("CRM modified-on column"), max_length=100, blank=True
    )
    direction = models.CharField(_("direction"), max_length=20, choices=Direction.choices)
    table_filter = models.JSONField(_("ERP table filter"), default=dict, blank=True)
    integration_table_filter = models.TextField(_("CRM table filter (OData $filter)"), blank=True)
    sync_only_coupled = models.BooleanField(_("synchronize only coupled records"), default=True)
    dependency_filter = models.CharField(_("dependency filter"), max_length=250, blank=True)
    interval_minutes = models.PositiveIntegerField(_("interval (minutes)"), default=30)
    inactivity_timeout_minutes = models.PositiveIntegerField(
        _("inactivity timeout (minutes)"), default=720
    )
    has_scheduled_job = models.BooleanField(_("has a recurring job"), default=True)
    priority = models.PositiveIntegerField(_("priority"), default=100)
    user_defined = models.BooleanField(_("user defined"), default=False)
    enabled = models.BooleanField(_("enabled"), default=True)
    crm_uid_type = models.CharField(
        _("CRM key type"), max_length=10, choices=UidType.choices, default=UidType.GUID
    )
    update_conflict_resolution = models.CharField(
        _("update-conflict resolution"),
        max_length=20,
        choices=UpdateConflictResolution.choices,
        default=UpdateConflictResolution.NONE,
    )
    deletion_conflict_resolution = models.CharField(
        _("deletion-conflict resolution"),
        max_length=20,
        choices=DeletionConflictResolution.choices,
        default=DeletionConflictResolution.NONE,
    )
    synch_after_match_coupling = models.BooleanField(
        _("synchronize after match-based coupling"), default=False
    )
    create_new_if_no_match = models.BooleanField(
        _("create a new record when nothing matches"), default=False
    )
    # Where the incremental passes resume. ERP -> CRM: rows with modified_at >= this instant
    # (minus a safety overlap, settings.SYNC_WATERMARK_OVERLAP_SECONDS). CRM -> ERP: the delta
    # link (or "watermark:<modifiedon>") the client returned at the end of the last pass.
    erp_watermark_at = models.DateTimeField(_("ERP watermark"), null=True, blank=True)
    crm_sync_token = models.TextField(_("CRM change token"), blank=True, editable=False)
    # One run of a mapping at a time: a run takes the mapping by moving this into the future
    # with a conditional UPDATE, and gives it back when it ends (a crashed run's lease expires).
    running_until = models.DateTimeField(_("running until"), null=True, blank=True, editable=False)
    # "<host>:<pid>" of the process holding the lease: a process that died on this host (kill -9)
    # gives its lease up at once instead of when it expires.
    running_by = models.CharField(_("running in"), max_length=300, blank=True, editable=False)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        verbose_name=_("scheduled job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="integration_table_mapping",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["priority", "name"]
        verbose_name = _("integration table mapping")
        verbose_name_plural = _("integration table mappings")

    def __str__(self) -> str:
        return self.name

    @property
    def dependencies(self) -> list[str]:
        return [d for d in self.dependency_filter.split("|") if d]


class Transformation(models.TextChoices):
    NONE = "", _("None")
    TRIM = "trim", _("Trim spaces")
    UPPER = "upper", _("Upper case")
    LOWER = "lower", _("Lower case")
    TITLE = "title", _("Title case")


class IntegrationFieldMapping(models.Model):
    class Status(models.TextChoices):
        ENABLED = "enabled", _("Enabled")
        DISABLED = "disabled", _("Disabled")

    mapping = models.ForeignKey(
        IntegrationTableMapping,
        verbose_name=_("mapping"),
        on_delete=models.CASCADE,
        related_name="field_mappings",
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    erp_field = models.CharField(_("ERP field"), max_length=100, blank=True)
    crm_field = models.CharField(_("CRM column"), max_length=100, blank=True)
    direction = models.CharField(_("direction"), max_length=20, choices=Direction.choices)
    constant_value = models.CharField(_("constant value"), max_length=100, blank=True)
    validate_field = models.BooleanField(_("validate ERP field"), default=True)
    clear_value_on_failed_sync = models.BooleanField(_("clear value on failed sync"), default=False)
    not_null = models.BooleanField(_("not null"), default=False)
    use_for_match_based_coupling = models.BooleanField(
        _("use for match-based coupling"), default=False
    )
    case_sensitive_match = models.BooleanField(_("case-sensitive matching"), default=False)
    match_priority = models.PositiveIntegerField(_("match priority"), default=0)
    crm_lookup_entity = models.CharField(
        _("CRM lookup target"),
        max_length=100,
        blank=True,
        help_text=_(
            "For a lookup column: the CRM table it points to (the value goes through the "
            "coupling of the ERP record the ERP field refers to)."
        ),
    )
    option_mapping = models.CharField(
        _("option mapping"),
        max_length=30,
        blank=True,
        help_text=_(
            "For an option set column: the option mapping whose couplings translate ERP codes "
            "to option values (for example PAYMENT TERMS)."
        ),
    )
    transformation = models.CharField(
        _("transformation"),
        max_length=10,
        choices=Transformation.choices,
        default=Transformation.NONE,
        blank=True,
    )
    value_map = models.JSONField(
        _("value map"),
        default=dict,
        blank=True,
        help_text=_("ERP value → CRM value; applied in reverse from the CRM."),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ENABLED
    )

    class Meta:
        ordering = ["mapping", "position", "id"]
        verbose_name = _("integration field mapping")
        verbose_name_plural = _("integration field mappings")

    def __str__(self) -> str:
        return f"{self.mapping.name}: {self.erp_field or self.constant_value} / {self.crm_field}"


class JobRun(models.Model):
    """One run of a scheduled integration job, with an honest outcome."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        WAITING = "waiting", _("Waiting")
        SKIPPED = "skipped", _("Skipped")

    class Kind(models.TextChoices):
        SYNCHRONIZATION = "sync", _("Synchronization")
        DRY_RUN = "dry_run", _("Dry run")
        COUPLING = "coupling", _("Coupling")
        UNCOUPLING = "uncoupling", _("Uncoupling")
        JOB = "job", _("Job")

    job_name = models.CharField(_("job"), max_length=100, db_index=True)
    kind = models.CharField(_("type"), max_length=10, choices=Kind.choices, default=Kind.JOB)
    direction = models.CharField(
        _("direction"), max_length=20, choices=Direction.choices, blank=True
    )
    full = models.BooleanField(_("full synchronization"), default=False)
    mapping = models.ForeignKey(
        IntegrationTableMapping,
        verbose_name=_("mapping"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="runs",
    )
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.RUNNING
    )
    message = models.TextField(_("message"), blank=True)
    inserted = models.PositiveIntegerField(_("inserted"), default=0)
    modified = models.PositiveIntegerField(_("modified"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    deleted = models.PositiveIntegerField(_("deleted"), default=0)
    unchanged = models.PositiveIntegerField(_("unchanged"), default=0)
    coupled = models.PositiveIntegerField(_("coupled"), default=0)
    uncoupled = models.PositiveIntegerField(_("uncoupled"), default=0)
    conflicts = models.PositiveIntegerField(_("conflicts"), default=0)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")

    def __str__(self) -> str:
        return f"{self.job_name} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


# What a job run counts, in the order pages and commands show them.
JOB_COUNTERS = (
    "inserted",
    "modified",
    "deleted",
    "unchanged",
    "skipped",
    "failed",
    "coupled",
    "uncoupled",
    "conflicts",
)


class SyncError(models.Model):
    """One record a job could not synchronize, with why (docs/reference/business-central.md
    §5.7, "Integration Synch. Job Errors")."""

    job = models.ForeignKey(
        JobRun, verbose_name=_("job"), on_delete=models.CASCADE, related_name="errors"
    )
    erp_table = models.CharField(_("ERP table"), max_length=100, blank=True)
    erp_uuid = models.UUIDField(_("ERP record UUID"), null=True, blank=True)
    crm_entity = models.CharField(_("CRM table"), max_length=100, blank=True)
    crm_id = models.UUIDField(_("CRM row id"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=250, blank=True)
    destination = models.CharField(_("destination"), max_length=250, blank=True)
    message = models.TextField(_("message"))
    detail = models.TextField(_("detail"), blank=True)
    created_at = models.DateTimeField(_("date/time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("synchronization error")
        verbose_name_plural = _("synchronization errors")
        indexes = [models.Index(fields=["erp_table", "erp_uuid"], name="syncerror_erp_record")]

    def __str__(self) -> str:
        return f"{self.source}: {self.message[:80]}"


class RecordChange(models.Model):
    """What one job did to one record: the fields it changed with their old and new values.

    The reference cannot tell anyone what a run changed; this can. A dry run writes these rows
    too (its job's kind says so) and nothing else.
    """

    class Action(models.TextChoices):
        INSERT = "insert", _("Inserted")
        MODIFY = "modify", _("Modified")
        DELETE = "delete", _("Deleted")
        COUPLE = "couple", _("Coupled")
        UNCOUPLE = "uncouple", _("Uncoupled")
        CONFLICT = "conflict", _("Conflict")
        FAIL = "fail", _("Failed")

    job = models.ForeignKey(
        JobRun, verbose_name=_("job"), on_delete=models.CASCADE, related_name="changes"
    )
    action = models.CharField(_("action"), max_length=10, choices=Action.choices)
    erp_table = models.CharField(_("ERP table"), max_length=100)
    erp_uuid = models.UUIDField(_("ERP record UUID"), null=True, blank=True)
    crm_entity = models.CharField(_("CRM table"), max_length=100)
    crm_id = models.UUIDField(_("CRM row id"), null=True, blank=True)
    record = models.CharField(_("record"), max_length=250, blank=True)
    # [{"erp_field": ..., "crm_field": ..., "old": ..., "new": ...}, ...] (values as JSON).
    fields = models.JSONField(_("changed fields"), default=list, blank=True)
    created_at = models.DateTimeField(_("date/time"), auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("record change")
        verbose_name_plural = _("record changes")
        indexes = [
            models.Index(fields=["erp_table", "erp_uuid"], name="recordchange_erp_record"),
            models.Index(fields=["crm_entity", "crm_id"], name="recordchange_crm_row"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.record}"


# --- Couplings -----------------------------------------------------------------------------
# Couplings between ERP records and CRM rows (docs/reference/business-central.md §3.1, and more).
#
# One row per coupled pair, unique on both sides. Besides the pair it holds what the engine
# needs to never duplicate and never overwrite silently:
#
# - `state`: PENDING while the CRM row with the already chosen `crm_id` is being created from
#   the ERP record; a retry after a crash or timeout writes that same id again (an upsert), so
#   the CRM never gets a second row. PENDING_ERP likewise for an ERP record being created from a
#   CRM row. COUPLED once the other side exists.
# - `snapshot`: the values of the mapped fields as they were after the last synchronization
#   (the common ancestor). A side whose values differ from it has changed; both sides changed
#   in the same field to different values is a conflict. It also stops echoes: a CRM row the
#   engine wrote itself equals the snapshot and is not synchronized back.
# - each side's modified time and row version at the last synchronization, the last result and
#   job per direction, the last error, and the skip / wait / conflict state.
#
# erp_table values are model labels in lower case ("erp.customer"), crm_entity values Dataverse
# logical names ("account"). The coupling pages (coupling/) sit on top of these.

ERP_ITEM = "erp.item"
CRM_PRODUCT = "product"


class SyncResult(models.TextChoices):
    NONE = "", _("Not synchronized")
    SUCCESS = "success", _("Success")
    FAILURE = "failure", _("Failure")


class CrmCoupling(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Being created in the CRM")
        PENDING_ERP = "pending_erp", _("Being created in the ERP")
        COUPLED = "coupled", _("Coupled")

    erp_table = models.CharField(_("ERP table"), max_length=100)
    erp_uuid = models.UUIDField(_("ERP record UUID"))
    crm_entity = models.CharField(_("CRM table"), max_length=100)
    crm_id = models.UUIDField(_("CRM row id"))
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.COUPLED
    )
    coupled_at = models.DateTimeField(_("coupled at"), default=timezone.now)
    last_synced_at = models.DateTimeField(_("last synchronized at"), null=True, blank=True)
    erp_modified_at = models.DateTimeField(
        _("ERP modified at, last synchronization"), null=True, blank=True
    )
    crm_modified_on = models.DateTimeField(
        _("CRM modified on, last synchronization"), null=True, blank=True
    )
    crm_version = models.BigIntegerField(_("CRM row version"), null=True, blank=True)
    snapshot = models.JSONField(_("values at the last synchronization"), default=dict)
    last_result_to_crm = models.CharField(
        _("last result to the CRM"), max_length=10, choices=SyncResult.choices, blank=True
    )
    last_result_from_crm = models.CharField(
        _("last result from the CRM"), max_length=10, choices=SyncResult.choices, blank=True
    )
    # Job ids (JobRun) as plain integers: job logs are deleted after their retention period,
    # the coupling stays.
    last_job_to_crm = models.BigIntegerField(_("last job to the CRM"), null=True, blank=True)
    last_job_from_crm = models.BigIntegerField(_("last job from the CRM"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_error_at = models.DateTimeField(_("failed on"), null=True, blank=True)
    # The source's modified stamps when the last failed attempt read it: a skipped record is
    # taken up again as soon as either side changes after that.
    erp_attempted_at = models.DateTimeField(
        _("ERP modified at, last failure"), null=True, blank=True
    )
    crm_attempted_on = models.DateTimeField(
        _("CRM modified on, last failure"), null=True, blank=True
    )
    failure_count = models.PositiveIntegerField(_("consecutive failures"), default=0)
    skipped = models.BooleanField(_("skipped"), default=False, db_index=True)
    # The name of the mapping this record waits for (its salesperson is not coupled yet, say):
    # retried automatically when that mapping has synchronized, never skipped for it.
    waiting_for = models.CharField(_("waiting for"), max_length=30, blank=True)
    conflict = models.BooleanField(_("conflict"), default=False, db_index=True)
    # [{"erp_field", "crm_field", "base", "erp", "crm"}] for a person to resolve.
    conflict_fields = models.JSONField(_("conflicting fields"), default=list, blank=True)

    class Meta:
        # Created by the coupling app before the engine owned couplings; the table kept its name.
        db_table = "coupling_crmcoupling"
        verbose_name = _("CRM coupling")
        verbose_name_plural = _("CRM couplings")
        constraints = [
            models.UniqueConstraint(
                fields=["erp_table", "erp_uuid"], name="coupling_unique_erp_record"
            ),
            models.UniqueConstraint(
                fields=["crm_entity", "crm_id"], name="coupling_unique_crm_row"
            ),
        ]
        indexes = [
            models.Index(fields=["erp_table", "last_result_to_crm"], name="coupling_to_crm_result"),
            models.Index(
                fields=["crm_entity", "last_result_from_crm"], name="coupling_from_crm_result"
            ),
            # Every column the coupling pages' state counts read: one pass over this index
            # counts a mapping's couplings per state (coupling.selectors.coupling_state_counts).
            models.Index(
                fields=[
                    "erp_table",
                    "crm_entity",
                    "conflict",
                    "skipped",
                    "waiting_for",
                    "last_result_to_crm",
                    "last_result_from_crm",
                ],
                name="coupling_states",
            ),
            # The records that failed, and those waiting for another mapping: a few rows each,
            # so the coupling pages' filters start from them (the engine's result indexes are
            # per direction and do not say "either direction failed").
            models.Index(
                fields=["erp_table", "erp_uuid"],
                condition=Q(last_result_to_crm=SyncResult.FAILURE)
                | Q(last_result_from_crm=SyncResult.FAILURE),
                name="coupling_failed",
            ),
            models.Index(
                fields=["erp_table", "erp_uuid"],
                condition=~Q(waiting_for=""),
                name="coupling_waiting",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.erp_table} {self.erp_uuid} ↔ {self.crm_entity} {self.crm_id}"


class CrmOptionCoupling(models.Model):
    """An ERP code record (payment terms, say) coupled to a CRM option set value
    (docs/reference/business-central.md §2.3, "CRM Option Mapping")."""

    erp_table = models.CharField(_("ERP table"), max_length=100)
    erp_uuid = models.UUIDField(_("ERP record UUID"))
    crm_entity = models.CharField(_("CRM table"), max_length=100)
    crm_attribute = models.CharField(_("CRM column"), max_length=100)
    option_value = models.IntegerField(_("option value"))
    label = models.CharField(_("option label"), max_length=250, blank=True)
    coupled_at = models.DateTimeField(_("coupled at"), default=timezone.now)

    class Meta:
        db_table = "coupling_crmoptioncoupling"
        verbose_name = _("CRM option coupling")
        verbose_name_plural = _("CRM option couplings")
        constraints = [
            models.UniqueConstraint(
                fields=["erp_table", "erp_uuid", "crm_attribute"],
                name="option_coupling_unique_erp_record",
            ),
            models.UniqueConstraint(
                fields=["crm_entity", "crm_attribute", "option_value"],
                name="option_coupling_unique_option",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.erp_table} {self.erp_uuid} ↔ {self.crm_attribute}={self.option_value}"


# --- Full synchronization ------------------------------------------------------------------
# "CRM Full Synch. Review" (docs/reference/business-central.md §4): one run at a time, one line
# per mapping in scope; the lines run on Celery workers in dependency order
# (syncjobs/fullsync.py).


class FullSyncRun(models.Model):
    class Status(models.TextChoices):
        READY = "ready", _("Ready")
        RUNNING = "running", _("Running")
        FINISHED = "finished", _("Finished")
        ERROR = "error", _("Error")

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.READY
    )
    created_at = models.DateTimeField(_("prepared at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    started_by = models.ForeignKey(
        "auth.User",
        verbose_name=_("started by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("full synchronization")
        verbose_name_plural = _("full synchronizations")
        constraints = [
            # One full synchronization at a time, whoever starts it (page, API, command): the
            # database refuses a second running row.
            models.UniqueConstraint(
                fields=["status"],
                condition=models.Q(status="running"),
                name="fullsync_one_running",
            ),
        ]

    def __str__(self) -> str:
        return f"{_('full synchronization')} {self.pk} {self.status}"


class Recommendation(models.TextChoices):
    """Initial synchronization recommendation (docs/reference/business-central.md §4.5)."""

    UNKNOWN = "", _("Unknown")
    FULL_SYNC = "full_sync", _("Full synchronization")
    COUPLE = "couple", _("Couple records first")
    NO_RECORDS = "no_records", _("No records to synchronize now")


class FullSyncLine(models.Model):
    class Status(models.TextChoices):
        NOT_STARTED = "", _("Not started")
        READY = "ready", _("Ready")
        IN_PROCESS = "in_process", _("In process")
        FINISHED = "finished", _("Finished")
        ERROR = "error", _("Error")
        ON_HOLD = "on_hold", _("On hold")

    run = models.ForeignKey(
        FullSyncRun, verbose_name=_("full synchronization"), on_delete=models.CASCADE,
        related_name="lines",
    )  # fmt: skip
    mapping = models.ForeignKey(
        IntegrationTableMapping, verbose_name=_("mapping"), null=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    name = models.CharField(_("name"), max_length=30)
    position = models.PositiveIntegerField(_("position"), default=0)
    # The mapping's dependencies that are lines of the same run ("SALESPEOPLE|CURRENCY").
    dependency_filter = models.CharField(_("dependency filter"), max_length=250, blank=True)
    direction = models.CharField(_("direction"), max_length=20, choices=Direction.choices)
    erp_count = models.PositiveIntegerField(_("ERP records"), null=True, blank=True)
    crm_count = models.PositiveIntegerField(_("CRM rows"), null=True, blank=True)
    # Dataverse counts no further than 5000 rows: more is "at least".
    crm_count_capped = models.BooleanField(_("CRM count capped"), default=False)
    count_error = models.TextField(_("count error"), blank=True)
    recommendation = models.CharField(
        _("recommendation"), max_length=12, choices=Recommendation.choices, blank=True
    )
    status = models.CharField(
        _("job queue entry status"), max_length=12, choices=Status.choices, blank=True
    )
    # Why an on-hold line waits ("CUSTOMER failed"), or the last error / retry note.
    message = models.TextField(_("message"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    to_crm_job = models.ForeignKey(
        JobRun, verbose_name=_("to-CRM job"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    from_crm_job = models.ForeignKey(
        JobRun, verbose_name=_("from-CRM job"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    # "<host>:<pid>" of the worker process running the line: a task delivered again after that
    # process died takes the line over, a duplicate delivery while it lives does not.
    running_by = models.CharField(_("running in"), max_length=300, blank=True)
    # Accepting a "couple records first" recommendation runs match-based coupling of the
    # line's mapping (coupling/): its job run, whose status and counters the line shows.
    coupling_job = models.ForeignKey(
        JobRun, verbose_name=_("coupling job"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    # An administrator chose a full synchronization over the "couple records first" advice.
    recommendation_overridden = models.BooleanField(_("recommendation overridden"), default=False)

    class Meta:
        ordering = ["run", "position", "name"]
        verbose_name = _("full synchronization line")
        verbose_name_plural = _("full synchronization lines")
        constraints = [
            models.UniqueConstraint(fields=["run", "name"], name="fullsync_line_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.status}"

    @property
    def dependencies(self) -> list[str]:
        return [d for d in self.dependency_filter.split("|") if d]


class FullSyncChunk(models.Model):
    """A slice of a large table's to-CRM pass in a full synchronization
    (syncjobs/fullsync_chunks.py): ERP records with `after_pk` < pk <= `upto_pk` (None:
    unbounded), run as a task of its own so that several workers share one table. A chunk whose
    worker died is claimed again and redone from its start; the engine's pending couplings make
    the redo write no second CRM row."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    line = models.ForeignKey(
        FullSyncLine, verbose_name=_("full synchronization line"), on_delete=models.CASCADE,
        related_name="chunks",
    )  # fmt: skip
    position = models.PositiveIntegerField(_("position"))
    after_pk = models.BigIntegerField(_("after ERP id"), null=True, blank=True)
    upto_pk = models.BigIntegerField(_("up to ERP id"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    # "<host>:<pid>" of the worker process running it, and until when its claim holds unless
    # renewed (the engine renews it after every chunk of records it writes).
    claimed_by = models.CharField(_("running in"), max_length=300, blank=True)
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    # The job run of the current attempt; once done its counters are added to the line's
    # to-CRM job run and this one is merged into it.
    job = models.ForeignKey(
        JobRun, verbose_name=_("job"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    records = models.PositiveIntegerField(_("records"), default=0)
    message = models.TextField(_("message"), blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["line", "position"]
        verbose_name = _("full synchronization chunk")
        verbose_name_plural = _("full synchronization chunks")
        constraints = [
            models.UniqueConstraint(
                fields=["line", "position"], name="fullsync_chunk_unique_position"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line_id}/{self.position} {self.status}"


# --- Near-real-time synchronization (syncjobs/nrt.py) -------------------------------------


class PendingChange(models.Model):
    """A coupled ERP record changed since its mapping's near-real-time task last ran. One row
    per mapping and record: a second change before the task runs adds nothing."""

    mapping = models.ForeignKey(
        IntegrationTableMapping, on_delete=models.CASCADE, related_name="pending_changes"
    )
    erp_uuid = models.UUIDField(_("ERP record UUID"))
    changed_at = models.DateTimeField(_("changed at"))

    class Meta:
        verbose_name = _("pending change")
        verbose_name_plural = _("pending changes")
        constraints = [
            models.UniqueConstraint(fields=["mapping", "erp_uuid"], name="pendingchange_unique")
        ]

    def __str__(self) -> str:
        return f"{self.mapping_id} {self.erp_uuid}"


class NearRealTimeSlot(models.Model):
    """A mapping's near-real-time task is queued until `due_at`: changes meanwhile join it
    instead of queueing another (claimed with a conditional UPDATE)."""

    mapping = models.OneToOneField(
        IntegrationTableMapping, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    due_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.mapping_id} {self.due_at}"


class ChangeLag(models.Model):
    """How long one change took to reach the other side: from its modified time on the source
    (ERP modified_at, CRM modifiedon) to the moment the engine recorded the write there."""

    mapping = models.ForeignKey(
        IntegrationTableMapping, on_delete=models.CASCADE, related_name="change_lags"
    )
    direction = models.CharField(_("direction"), max_length=20, choices=Direction.choices)
    changed_at = models.DateTimeField(_("changed at"))
    synced_at = models.DateTimeField(_("synchronized at"))
    seconds = models.FloatField(_("lag (seconds)"))

    class Meta:
        verbose_name = _("change lag")
        verbose_name_plural = _("change lags")
        indexes = [models.Index(fields=["mapping", "direction", "-id"], name="changelag_recent")]

    def __str__(self) -> str:
        return f"{self.mapping_id} {self.direction} {self.seconds:.1f}s"


# --- Job queue entries (syncjobs/jobqueue.py) ----------------------------------------------


class JobQueueEntry(models.Model):
    """One job the workers run, recurring or one-off (docs/reference/business-central.md §5.8):
    what support staff see and control on /sync/jobs/.

    A recurring entry with a `periodic_task` is scheduled by Celery beat through that task
    (jobqueue.entry_task_apply keeps the two in step: paused, on hold or in error disables it;
    its interval is the entry's current, backed-off one). The CRM pull and the log cleanup are
    scheduled by settings.CELERY_BEAT_SCHEDULE: their entries gate and record their runs.
    """

    class Job(models.TextChoices):
        MAPPING = "mapping", _("Synchronization of a mapping")
        ITEM_AVAILABILITY = "item_availability", _("Item availability")
        AUTO_CREATE_SALES_ORDERS = "auto_create_orders", _("Create sales orders from the CRM")
        ORDER_STATUS = "order_status", _("Sales order status to the CRM")
        CUSTOMER_STATISTICS = "customer_statistics", _("Customer statistics to the CRM")
        CRM_PULL = "crm_pull", _("Pull of CRM changes")
        LOG_CLEANUP = "log_cleanup", _("Cleanup of old job logs")

    class Status(models.TextChoices):
        READY = "ready", _("Ready")
        IN_PROCESS = "in_process", _("In process")
        FINISHED = "finished", _("Finished")
        ERROR = "error", _("Error")
        ON_HOLD = "on_hold", _("On hold")

    class Hold(models.TextChoices):
        NONE = "", _("Not on hold")
        PAUSED = "paused", _("Paused")
        MANUAL = "manual", _("Put on hold")
        AUTOMATIC = "automatic", _("Put on hold automatically")

    job = models.CharField(_("job"), max_length=20, choices=Job.choices)
    mapping = models.ForeignKey(
        IntegrationTableMapping, verbose_name=_("mapping"), null=True, blank=True,
        on_delete=models.CASCADE, related_name="queue_entries",
    )  # fmt: skip
    recurring = models.BooleanField(_("recurring"), default=True)
    # A one-off entry of a mapping: "Run full synchronization" rather than modified records.
    full = models.BooleanField(_("full synchronization"), default=False)
    description = models.CharField(_("description"), max_length=250, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.READY
    )
    # Failed runs in a row (a success starts again from 0); at max_attempts the entry is in
    # error and stops until someone resumes it.
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    max_attempts = models.PositiveIntegerField(_("maximum attempts"), default=10)
    earliest_start_at = models.DateTimeField(_("earliest start"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    interval_minutes = models.PositiveIntegerField(_("interval (minutes)"), default=30)
    # 0: no idle backoff.
    inactivity_timeout_minutes = models.PositiveIntegerField(
        _("inactivity timeout (minutes)"), default=0
    )
    current_interval_minutes = models.PositiveIntegerField(
        _("current interval (minutes)"), default=30
    )
    last_started_at = models.DateTimeField(_("last run started"), null=True, blank=True)
    last_finished_at = models.DateTimeField(_("last run ended"), null=True, blank=True)
    next_run_at = models.DateTimeField(_("next run"), null=True, blank=True)
    hold = models.CharField(
        _("held by"), max_length=10, choices=Hold.choices, default=Hold.NONE, blank=True
    )
    on_hold_reason = models.TextField(_("on-hold reason"), blank=True)
    # The automatic hold counts the mapping's runs from here (set on resume): a resumed entry
    # gets a fresh window instead of going back on hold at its next failure.
    failures_counted_from = models.DateTimeField(_("failures counted from"), null=True, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", verbose_name=_("scheduled job"), null=True,
        blank=True, on_delete=models.SET_NULL, related_name="job_queue_entry",
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-recurring", "mapping__priority", "job", "-created_at", "-id"]
        verbose_name = _("job queue entry")
        verbose_name_plural = _("job queue entries")
        constraints = [
            # One recurring entry per mapping, and per non-mapping job.
            models.UniqueConstraint(
                fields=["mapping"],
                condition=Q(recurring=True, mapping__isnull=False),
                name="jobqueue_one_recurring_per_mapping",
            ),
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(recurring=True, mapping__isnull=True),
                name="jobqueue_one_recurring_per_job",
            ),
        ]
        indexes = [models.Index(fields=["status", "recurring"], name="jobqueue_status")]

    def __str__(self) -> str:
        return self.description or f"{self.job} {self.pk}"


class FullSyncSample(models.Model):
    """Records a full synchronization had done at a moment: the review page's chart of
    records per second over the run is drawn from consecutive samples. Written while the
    engine flushes a full pass's counters (at most every FULLSYNC_SAMPLE_SECONDS)."""

    run = models.ForeignKey(
        FullSyncRun, verbose_name=_("full synchronization"), on_delete=models.CASCADE,
        related_name="samples",
    )  # fmt: skip
    at = models.DateTimeField(_("at"))
    done = models.PositiveIntegerField(_("records done"))

    class Meta:
        ordering = ["run", "at", "id"]
        verbose_name = _("full synchronization sample")
        verbose_name_plural = _("full synchronization samples")
        indexes = [models.Index(fields=["run", "at"], name="fullsync_sample_run_at")]

    def __str__(self) -> str:
        return f"{self.run_id} {self.at:%H:%M:%S} {self.done}"
