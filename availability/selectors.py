"""Reads for the item availability service: items with the id of their coupled CRM product."""

from django.db.models import F, OuterRef, QuerySet, Subquery

from erp.models import Item
from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling


def product_item_availability_queryset() -> QuerySet[Item]:
    """Every item, blocked ones included (the `Blocked` property tells them apart), with
    `uom_code` and `crm_product_id` (None when the item is not coupled) annotated."""
    coupled = CrmCoupling.objects.filter(
        erp_table=ERP_ITEM, crm_entity=CRM_PRODUCT, erp_uuid=OuterRef("uuid")
    )
    return Item.objects.annotate(
        uom_code=F("base_unit_of_measure__code"),
        crm_product_id=Subquery(coupled.values("crm_id")[:1]),
    )
