"""Couplings between ERP records and CRM rows (docs/reference/business-central.md §3.1, and more).

One row per coupled pair, unique on both sides. Besides the pair it holds what the engine
needs to never duplicate and never overwrite silently:

- `state`: PENDING while the CRM row with the already chosen `crm_id` is being created from
  the ERP record; a retry after a crash or timeout writes that same id again (an upsert), so
  the CRM never gets a second row. COUPLED once the CRM answered.
- `snapshot`: the values of the mapped fields as they were after the last synchronization
  (the common ancestor). A side whose values differ from it has changed; both sides changed
  in the same field to different values is a conflict. It also stops echoes: a CRM row the
  engine wrote itself equals the snapshot and is not synchronized back.
- each side's modified time and row version at the last synchronization, the last result and
  job per direction, the last error, and the skip / wait / conflict state.

erp_table values are model labels in lower case ("erp.customer"), crm_entity values Dataverse
logical names ("account").
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

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
    # Job ids (syncjobs.JobRun) as plain integers: this app sits below syncjobs.
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
