"""Item availability inside the CRM, end to end: the setup writes the ERP connection record into
the sandbox CRM (setup_connection, as the wizard does), and the sandbox's availability function
calls this ERP's live OData service with that record's user and key."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import WebServiceKey
from accounts.services import webservice_key_generate
from sandbox import seed
from tests.availability.conftest import CrmWithErp
from tests.support.sandbox import Crm

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def test_the_crm_shows_the_erp_quantity_using_the_key_the_setup_wrote(
    crm_with_erp: CrmWithErp,
) -> None:
    record = crm_with_erp.crm.all_rows("erpcrm_connections")[0]
    assert record["erpcrm_availabilityusername"] == crm_with_erp.username

    response = crm_with_erp.availability("1200")

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ItemNo"] == "1200" and answer["ItemDescription"] == "Back Wheel"
    assert Decimal(str(answer["AvailableQuantity"])) == Decimal("12.5")
    assert answer["BaseUnitOfMeasure"] == "PCS" and answer["Blocked"] is False
    assert crm_with_erp.key not in response.text


def test_the_quantity_is_converted_to_the_unit_asked_for(crm_with_erp: CrmWithErp) -> None:
    crm = crm_with_erp.crm
    box = crm.create(
        "uoms",
        {
            "name": "Box of 4",
            "quantity": 4,
            "uomscheduleid@odata.bind": f"/uomschedules({seed.UNIT_GROUP_ID})",
            "baseuom@odata.bind": f"/uoms({seed.UNIT_PIECE_ID})",
        },
    )
    answer = crm_with_erp.availability("1000", f"UomId={box}").json()
    # 5 pieces are 1.25 boxes of 4
    assert Decimal(str(answer["AvailableQuantity"])) == Decimal("1.25")
    assert answer["UomName"] == "Box of 4" and Decimal(str(answer["BaseQuantity"])) == 5


def test_the_integration_user_may_look_up_availability_too(
    crm_with_erp: CrmWithErp, sandbox: Any
) -> None:
    """It holds the solution's Integration User role, which reads the connection record."""
    response = crm_with_erp.availability("1000")
    integration = Crm(sandbox).get(response.url)
    assert integration.status_code == 200 and integration.json()["AvailableQuantity"] == 5


def test_a_product_not_coupled_to_an_erp_item_is_named(crm_with_erp: CrmWithErp) -> None:
    response = crm_with_erp.availability("1100")
    assert response.status_code == 404
    assert "not coupled to an ERP item" in response.json()["error"]["message"]


def test_a_replaced_key_is_refused_with_what_to_do(crm_with_erp: CrmWithErp) -> None:
    user = WebServiceKey.objects.get().user
    webservice_key_generate(user=user)  # the key in the CRM's record is dead at once

    response = crm_with_erp.availability("1000")

    assert response.status_code == 502
    message = response.json()["error"]["message"]
    assert "refused the item availability web service key" in message
    assert crm_with_erp.username in message and "/connection/" in message
    assert crm_with_erp.key not in response.text


def test_an_expired_key_is_refused_the_same_way(crm_with_erp: CrmWithErp) -> None:
    WebServiceKey.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    response = crm_with_erp.availability("1000")

    assert response.status_code == 502
    assert "wrong or has expired" in response.json()["error"]["message"]


def test_without_the_connection_record_it_says_so(crm_with_erp: CrmWithErp) -> None:
    crm_with_erp.crm.clear("erpcrm_connections", "erpcrm_connectionid")

    response = crm_with_erp.availability("1000")

    assert response.status_code == 400
    assert "no ERP connection record" in response.json()["error"]["message"]
