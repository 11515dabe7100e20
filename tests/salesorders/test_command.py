"""`python manage.py salesorders pull`: what an operator or a script sees."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from connection.models import CrmConnection
from erp.models import SalesOrder
from salesorders import pull
from salesorders.models import SalesOrderSetup
from tests.factories.erp import ItemFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


def _pull(*args: str) -> str:
    out = io.StringIO()
    call_command("salesorders", "pull", *args, stdout=out)
    return out.getvalue()


def test_pull_prints_created_and_failed_orders_and_exits_non_zero_on_a_failure(
    order_world,
) -> None:
    world = order_world
    item_line = {"product": world.crm_id(world.item), "quantity": 1, "priceperunit": 12}
    world.submit("ORD-7001", [item_line])
    bad = world.submit("ORD-7002", [item_line, {"productdescription": "Freight", "quantity": 1}])

    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("salesorders", "pull", stdout=out)

    assert failure.value.returncode == 1
    assert "1 CRM order(s) could not be created" in str(failure.value)
    erp_no = SalesOrder.objects.get(your_reference="ORD-7001").no
    lines = out.getvalue().splitlines()
    assert f"created  ORD-7001  ->  {erp_no}" in lines
    assert any(
        line.startswith("failed   ORD-7002:") and "write-in product (Freight)" in line
        for line in lines
    ), lines
    assert lines[-1] == "1 created, 1 failed."

    # The failed order stays waiting and is tried at every run until someone fixes it.
    with pytest.raises(CommandError):
        _pull()
    wrap = ItemFactory(no="WRAP", description="Write-in product")
    pull.sales_order_setup_save(
        write_in_type=SalesOrderSetup.WriteInType.ITEM, write_in_item=wrap, write_in_resource=None
    )
    retried = _pull("--order", bad).splitlines()
    assert retried[0].startswith("created  ORD-7002  ->  SO")
    assert retried[-1] == "1 created, 0 failed."
    assert _pull().splitlines() == ["0 created, 0 failed."]


def test_pull_says_why_it_cannot_run(order_world) -> None:
    CrmConnection.objects.update(is_enabled=False)
    with pytest.raises(CommandError, match="The integration is disabled"):
        _pull()
    with pytest.raises(CommandError, match="Not a CRM order id"):
        _pull("--order", "ORD-1")
