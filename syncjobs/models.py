"""Integration table mappings, their field mappings, and the record of each job run.

The scheduled jobs themselves are django_celery_beat PeriodicTasks (one per mapping, plus
non-mapping jobs such as item availability); a mapping points at its task.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Direction(models.TextChoices):
    BIDIRECTIONAL = "bidirectional", _("Bidirectional")
    TO_CRM = "to_crm", _("To CRM")
    FROM_CRM = "from_crm", _("From CRM")


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

    job_name = models.CharField(_("job"), max_length=100, db_index=True)
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

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")

    def __str__(self) -> str:
        return f"{self.job_name} {self.started_at:%Y-%m-%d %H:%M} {self.status}"
