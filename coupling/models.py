"""Couplings between ERP records and CRM rows (minimal for now; the coupling issue extends it)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# erp_table values are model labels in lower case, crm_entity values Dataverse logical names.
ERP_ITEM = "erp.item"
CRM_PRODUCT = "product"


class CrmCoupling(models.Model):
    erp_table = models.CharField(_("ERP table"), max_length=100)
    erp_uuid = models.UUIDField(_("ERP record UUID"))
    crm_entity = models.CharField(_("CRM table"), max_length=100)
    crm_id = models.UUIDField(_("CRM row id"))
    coupled_at = models.DateTimeField(_("coupled at"), default=timezone.now)
    last_synced_at = models.DateTimeField(_("last synchronized at"), null=True, blank=True)

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

    def __str__(self) -> str:
        return f"{self.erp_table} {self.erp_uuid} ↔ {self.crm_entity} {self.crm_id}"
