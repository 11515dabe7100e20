"""What the lead-to-cash integration keeps of its own.

The pull (CRM orders to ERP orders, bc-integration.md §7.1): one `CrmOrderImport` per CRM order
the ERP tried to take over, with what came of it, and the one-row `SalesOrderSetup` that says
which item or resource a write-in CRM product line becomes (Business Central's Sales &
Receivables "Write-in Product Type" / "Write-in Product No.").

The push (bc-integration.md §7.1, §7.4): what the integration already told the CRM about ERP
orders and customers (`OrderStatusSent`, `CustomerStatisticsSent`), so that every run of the
order status and statistics jobs sends only what is new (idempotent, safe to retry)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from erp.models import Item, Resource, SalesOrder


class SalesOrderSetup(models.Model):
    """The sales order integration's ERP-side settings (primary key 1)."""

    SINGLETON_ID = 1

    class WriteInType(models.TextChoices):
        ITEM = "item", _("Item")
        RESOURCE = "resource", _("Resource")

    write_in_type = models.CharField(
        _("write-in product type"),
        max_length=10,
        choices=WriteInType.choices,
        default=WriteInType.ITEM,
    )
    write_in_item = models.ForeignKey(
        Item,
        verbose_name=_("write-in item"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The item a CRM order line without a product (a write-in) becomes."),
    )
    write_in_resource = models.ForeignKey(
        Resource,
        verbose_name=_("write-in resource"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("The resource a write-in line becomes when the type is Resource."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("sales order integration setup")
        verbose_name_plural = _("sales order integration setup")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)


class CrmOrderImport(models.Model):
    """One submitted CRM order the ERP tried to create: created (with its ERP order) or failed
    with the reason a person can act on; a failed one is offered for retry."""

    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        FAILED = "failed", _("Failed")

    crm_order_id = models.UUIDField(_("CRM order id"), unique=True)
    crm_order_number = models.CharField(_("CRM order number"), max_length=100, blank=True)
    crm_order_name = models.CharField(_("CRM order name"), max_length=300, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    reason = models.TextField(_("reason"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    erp_order = models.ForeignKey(
        SalesOrder,
        verbose_name=_("ERP sales order"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The number as created: the list still says which order it was after the order is gone.
    erp_order_no = models.CharField(_("ERP sales order no."), max_length=20, blank=True)
    # The CRM user chosen in the setup to process CRM orders, when this one was taken over.
    taken_over_by = models.CharField(_("taken over by"), max_length=200, blank=True)
    first_attempt_at = models.DateTimeField(_("first attempt"), default=timezone.now)
    last_attempt_at = models.DateTimeField(_("last attempt"), default=timezone.now)

    class Meta:
        ordering = ["-last_attempt_at", "-id"]
        indexes = [models.Index(fields=["status", "-last_attempt_at"], name="so_import_status")]
        verbose_name = _("CRM order import")
        verbose_name_plural = _("CRM order imports")

    def __str__(self) -> str:
        return self.crm_order_number or str(self.crm_order_id)


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
