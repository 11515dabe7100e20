"""What the integration already told the CRM about ERP orders and customers, so that every
run of the order status and statistics jobs sends only what is new (idempotent, safe to
retry)."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderStage(models.TextChoices):
    """The steps of an ERP order the CRM order hears about (the reference's status posts,
    docs/reference/business-central.md §7.1), in their order."""

    RELEASED = "released", _("Released")
    SHIPPED = "shipped", _("Shipped")
    INVOICED = "invoiced", _("Invoiced")


class OrderStatusSent(models.Model):
    """One step of one coupled ERP order, sent to its CRM order (a post on the order's wall,
    and for shipped / invoiced the order's new state). Written after the CRM accepted it: a
    step without a row is sent again by the next run."""

    erp_uuid = models.UUIDField(_("ERP order UUID"))
    crm_id = models.UUIDField(_("CRM order id"))
    stage = models.CharField(_("step"), max_length=10, choices=OrderStage.choices)
    sent_at = models.DateTimeField(_("sent at"), auto_now_add=True)

    class Meta:
        verbose_name = _("order status sent")
        verbose_name_plural = _("order statuses sent")
        constraints = [
            models.UniqueConstraint(fields=["erp_uuid", "stage"], name="orderstatus_once"),
        ]

    def __str__(self) -> str:
        return f"{self.erp_uuid} {self.stage}"


class CustomerStatisticsSent(models.Model):
    """The statistics last written to a coupled customer's CRM account statistics: a run
    writes a customer again only when they changed ("Statistics Uploaded", §7.4)."""

    erp_uuid = models.UUIDField(_("ERP customer UUID"), unique=True)
    crm_id = models.UUIDField(_("CRM account id"))
    values = models.JSONField(_("statistics"), default=dict)
    sent_at = models.DateTimeField(_("sent at"))

    class Meta:
        verbose_name = _("customer statistics sent")
        verbose_name_plural = _("customer statistics sent")

    def __str__(self) -> str:
        return f"{self.erp_uuid} {self.sent_at:%Y-%m-%d %H:%M}"
