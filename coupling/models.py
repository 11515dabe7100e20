"""Couplings are the synchronization engine's data and live in syncjobs.models; the coupling
pages of this app (above the engine) use them from there. Re-exported for readers of this app.

This app's own models are the runs of match-based coupling (docs/reference/business-central.md
§3.4): a background job per request with its progress, and the records it could not decide for
a person to look at.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _

from syncjobs.models import (
    CRM_PRODUCT,
    ERP_ITEM,
    CrmCoupling,
    CrmOptionCoupling,
    IntegrationTableMapping,
    JobRun,
    SyncResult,
)

__all__ = [
    "CRM_PRODUCT",
    "ERP_ITEM",
    "CouplingCandidate",
    "CouplingRun",
    "CrmCoupling",
    "CrmOptionCoupling",
    "SyncResult",
]


class CouplingRun(models.Model):
    """One match-based coupling request of one mapping, run in the background."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    mapping = models.ForeignKey(
        IntegrationTableMapping,
        verbose_name=_("mapping"),
        on_delete=models.CASCADE,
        related_name="coupling_runs",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # The ERP records to couple (uuids as strings); null until the run has listed every
    # uncoupled record in scope (fixed then, so that a retried run works on the same list).
    erp_uuids = models.JSONField(_("ERP records"), null=True, blank=True)
    # [[erp_field, crm_field, case_sensitive, priority], ...]
    match_fields = models.JSONField(_("match fields"), default=list)
    synch_after = models.BooleanField(_("synchronize after coupling"), default=False)
    create_new = models.BooleanField(_("create a new record when nothing matches"), default=False)
    total = models.PositiveIntegerField(_("records"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    coupled = models.PositiveIntegerField(_("coupled"), default=0)
    created = models.PositiveIntegerField(_("created"), default=0)
    no_match = models.PositiveIntegerField(_("no match"), default=0)
    ambiguous = models.PositiveIntegerField(_("several matches"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    job = models.ForeignKey(
        JobRun,
        verbose_name=_("job"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    message = models.TextField(_("message"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("match-based coupling run")
        verbose_name_plural = _("match-based coupling runs")

    def __str__(self) -> str:
        return f"{self.mapping} coupling {self.created_at:%Y-%m-%d %H:%M} {self.status}"


class CouplingCandidate(models.Model):
    """A record a match-based coupling run could not couple by itself: nothing matched, or
    several CRM rows did (their ids, for a person to choose from)."""

    class Outcome(models.TextChoices):
        NO_MATCH = "no_match", _("No match")
        AMBIGUOUS = "ambiguous", _("Several matches")

    run = models.ForeignKey(
        CouplingRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="candidates"
    )
    erp_table = models.CharField(_("ERP table"), max_length=100)
    erp_uuid = models.UUIDField(_("ERP record UUID"))
    record = models.CharField(_("record"), max_length=250, blank=True)
    outcome = models.CharField(_("outcome"), max_length=10, choices=Outcome.choices)
    crm_entity = models.CharField(_("CRM table"), max_length=100)
    crm_ids = models.JSONField(_("candidate CRM rows"), default=list, blank=True)

    class Meta:
        ordering = ["run", "id"]
        verbose_name = _("coupling candidate")
        verbose_name_plural = _("coupling candidates")
        constraints = [
            models.UniqueConstraint(fields=["run", "erp_uuid"], name="candidate_unique_record")
        ]

    def __str__(self) -> str:
        return f"{self.record or self.erp_uuid}: {self.outcome}"


class BulkAction(models.Model):
    """A coupling action on records a person selected (create, uncouple, synchronize) or on
    every record the errors page lists (retry all), run in the background with its progress:
    the reference's one-off job queue entries of §3.2, §5.6 and §5.9."""

    class Kind(models.TextChoices):
        CREATE_IN_CRM = "create_crm", _("Create in the CRM")
        CREATE_IN_ERP = "create_erp", _("Create in the ERP")
        UNCOUPLE = "uncouple", _("Uncouple")
        SYNCHRONIZE = "synchronize", _("Synchronize")
        RETRY_ALL = "retry_all", _("Retry all")

    kind = models.CharField(_("action"), max_length=12, choices=Kind.choices)
    mapping = models.ForeignKey(
        IntegrationTableMapping,
        verbose_name=_("mapping"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="bulk_actions",
    )
    # The records: ERP uuids (create in the CRM), CRM ids (create in the ERP) or coupling ids
    # (uncouple, synchronize), as strings; fixed when the action is requested.
    items = models.JSONField(_("records"), default=list, blank=True)
    direction = models.CharField(_("direction"), max_length=20, blank=True)
    state = models.CharField(_("state"), max_length=10, blank=True)  # retry all: the filter
    status = models.CharField(
        _("status"),
        max_length=10,
        choices=CouplingRun.Status.choices,
        default=CouplingRun.Status.QUEUED,
    )
    total = models.PositiveIntegerField(_("records"), default=0)
    done = models.PositiveIntegerField(_("done"), default=0)
    succeeded = models.PositiveIntegerField(_("succeeded"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    skipped = models.PositiveIntegerField(_("skipped"), default=0)
    message = models.TextField(_("message"), blank=True)
    requested_by = models.CharField(_("requested by"), max_length=150, blank=True)
    created_at = models.DateTimeField(_("requested at"), auto_now_add=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("coupling action")
        verbose_name_plural = _("coupling actions")

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.created_at:%Y-%m-%d %H:%M} {self.status}"
