"""Price lists (customer price groups and their sales prices, through the price-list and product
lookups) and field transformations (trim, case, value map), against the live sandbox."""

from decimal import Decimal

import pytest

from syncjobs.engine import synchronize
from syncjobs.models import CrmCoupling, IntegrationFieldMapping
from tests.factories.erp import (
    CustomerFactory,
    CustomerPriceGroupFactory,
    ItemFactory,
    SalesPriceFactory,
    UnitOfMeasureFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.sandbox]


def _errors(job):
    return list(job.errors.values_list("message", flat=True))


def test_a_sales_price_becomes_a_price_list_item_of_its_groups_price_list(sync_setup) -> None:
    unit = UnitOfMeasureFactory(code="SET", description="Set")
    item = ItemFactory(description="LONDON Swivel Chair", base_unit_of_measure=unit)
    group = CustomerPriceGroupFactory(code="RETAIL", description="Retail")
    price = SalesPriceFactory(item=item, price_group=group, unit_price=Decimal("123.45"))
    for name in ("UNIT OF MEASURE", "ITEM-PRODUCT", "CUSTPRCGRP-PRICE"):
        job = synchronize(sync_setup.mapping(name), direction="to_crm", full=True).jobs[0]
        assert job.failed == 0, (name, _errors(job))
    job = synchronize(sync_setup.mapping("SALESPRC-PRODPRICE"), full=True).jobs[0]
    assert (job.inserted, job.failed) == (1, 0), _errors(job)
    row = sync_setup.crm.row(
        "productpricelevels", str(CrmCoupling.objects.get(erp_uuid=price.uuid).crm_id)
    )
    assert row["_pricelevelid_value"] == str(CrmCoupling.objects.get(erp_uuid=group.uuid).crm_id)
    assert row["_productid_value"] == str(CrmCoupling.objects.get(erp_uuid=item.uuid).crm_id)
    assert (Decimal(str(row["amount"])), row["pricingmethodcode"]) == (Decimal("123.45"), 1)
    pricelist = sync_setup.crm.row(
        "pricelevels", str(CrmCoupling.objects.get(erp_uuid=group.uuid).crm_id)
    )
    assert pricelist["name"] == "RETAIL"


def test_transformations_and_value_maps_apply_both_ways(sync_setup, crm_salesperson) -> None:
    mapping = sync_setup.mapping("CUSTOMER")
    IntegrationFieldMapping.objects.filter(mapping=mapping, crm_field="address1_city").update(
        transformation="upper"
    )
    IntegrationFieldMapping.objects.filter(mapping=mapping, crm_field="name").update(
        transformation="trim"
    )
    IntegrationFieldMapping.objects.filter(mapping=mapping, crm_field="address1_country").update(
        value_map={"DE": "Germany", "US": "United States"}
    )
    customer = CustomerFactory(
        name="  Spaced Out GmbH ",
        city="Berlin",
        country_code="DE",
        salesperson=crm_salesperson,
    )
    job = synchronize(mapping, direction="to_crm", full=True).jobs[0]
    assert job.failed == 0, _errors(job)
    account_id = CrmCoupling.objects.get(erp_uuid=customer.uuid).crm_id
    row = sync_setup.crm.row("accounts", str(account_id))
    assert (row["name"], row["address1_city"], row["address1_country"]) == (
        "Spaced Out GmbH",
        "BERLIN",
        "Germany",
    )
    # Back from the CRM, the value map runs in reverse.
    response = sync_setup.crm.patch(
        f"accounts({account_id})", json={"address1_country": "United States"}
    )
    assert response.status_code == 204, response.text
    synchronize(mapping, crm_ids=[account_id], force=False)
    customer.refresh_from_db()
    assert customer.country_code == "US"
