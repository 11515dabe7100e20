"""The sandbox's item availability function refuses clearly wherever it cannot ask the ERP: no
integration solution, no connection record, an address it may not call, an ERP that does not
answer, a unit of another unit group; and it never shows the key. (With the ERP answering:
tests/availability/test_crm_item_availability.py.)"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sandbox import seed
from sandbox.process import free_port
from setup_wizard.solution_package import solution_zip
from tests.sandbox.conftest import Crm

pytestmark = pytest.mark.sandbox

KEY = "Zk7-connection-record-key-Pq4"
PLUGIN_ERROR = "0x80040265"


def availability(session: Crm, product_id: str, parameters: str = "") -> Any:
    return session.get(
        f"products({product_id})/Microsoft.Dynamics.CRM.erpcrm_GetItemAvailability({parameters})"
    )


def import_solution(admin: Crm) -> None:
    body = {"CustomizationFile": base64.b64encode(solution_zip()).decode()}
    assert admin.post("ImportSolution", json=body).status_code == 204


def connection_record(admin: Crm, service_url: str) -> str:
    return admin.create(
        "erpcrm_connections",
        {
            "erpcrm_name": "ERP",
            "erpcrm_availabilityserviceurl": service_url,
            "erpcrm_availabilityusername": "crm-availability",
            "erpcrm_availabilitykey": KEY,
        },
    )


@pytest.fixture
def product(admin_session: Crm) -> str:
    return admin_session.create(
        "products",
        {
            "productnumber": "1000",
            "name": "Bicycle",
            "defaultuomscheduleid@odata.bind": f"/uomschedules({seed.UNIT_GROUP_ID})",
            "defaultuomid@odata.bind": f"/uoms({seed.UNIT_PIECE_ID})",
        },
    )


def assert_refused(response: Any, status: int, *phrases: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == PLUGIN_ERROR
    for phrase in phrases:
        assert phrase in error["message"]
    assert KEY not in response.text
    return str(error["message"])


def test_without_the_integration_solution_it_says_to_redeploy_it(
    admin_session: Crm, product: str
) -> None:
    assert_refused(
        availability(admin_session, product), 400, "solution is not imported", "/connection/"
    )


def test_without_a_connection_record_it_says_the_setup_writes_it(
    admin_session: Crm, product: str
) -> None:
    import_solution(admin_session)
    assert_refused(availability(admin_session, product), 400, "no ERP connection record")


def test_a_record_without_user_or_key_means_the_service_is_not_published(
    admin_session: Crm, product: str
) -> None:
    import_solution(admin_session)
    admin_session.create("erpcrm_connections", {"erpcrm_name": "ERP"})
    assert_refused(availability(admin_session, product), 400, "not published")


@pytest.mark.parametrize(
    "service_url",
    ["http://192.0.2.10/odata/", "http://erp.example.com/odata/", "http://127.0.0.2:8000/odata/"],
)
def test_it_calls_only_the_erp_hosts_it_is_allowed_to(
    admin_session: Crm, product: str, service_url: str
) -> None:
    import_solution(admin_session)
    connection_record(admin_session, service_url)
    assert_refused(availability(admin_session, product), 400, "may not call", "SANDBOX_ERP_HOSTS")


def test_the_erp_host_list_is_a_setting(fresh: Any, admin_session: Crm, product: str) -> None:
    port = free_port()
    import_solution(admin_session)
    connection_record(admin_session, f"http://127.0.0.2:{port}/odata/")
    fresh.control("config", {"erp_hosts": "127.0.0.2"})
    # allowed now, and nothing listens there
    assert_refused(availability(admin_session, product), 502, "cannot be reached")


def test_a_service_address_that_is_not_http_is_refused(admin_session: Crm, product: str) -> None:
    import_solution(admin_session)
    connection_record(admin_session, "file:///etc/passwd")
    assert_refused(availability(admin_session, product), 400, "not an http(s) address")
    admin_session.clear("erpcrm_connections", "erpcrm_connectionid")
    connection_record(admin_session, "http://erp:Secret-Pass-1@127.0.0.1:8000/odata/")
    message = assert_refused(availability(admin_session, product), 400, "not an http(s)")
    assert "Secret-Pass-1" not in message


def test_an_erp_that_does_not_answer_is_named_unreachable(admin_session: Crm, product: str) -> None:
    import_solution(admin_session)
    connection_record(admin_session, f"http://127.0.0.1:{free_port()}/odata/")
    assert_refused(availability(admin_session, product), 502, "cannot be reached")


def test_an_unknown_product_or_unit_is_not_found_and_a_foreign_unit_is_refused(
    admin_session: Crm, product: str
) -> None:
    missing = "00000000-0000-4000-8000-0000000000aa"
    assert availability(admin_session, missing).status_code == 404
    assert availability(admin_session, product, f"UomId={missing}").status_code == 404
    other_group = admin_session.create("uomschedules", {"name": "Weight", "baseuomname": "kg"})
    kilo = admin_session.create(
        "uoms",
        {"name": "kg", "quantity": 1, "uomscheduleid@odata.bind": f"/uomschedules({other_group})"},
    )
    in_kilos = admin_session.get(
        f"products({product})/Microsoft.Dynamics.CRM.erpcrm_GetItemAvailability(UomId=@u)",
        params={"@u": kilo},
    )
    assert_refused(in_kilos, 400, "not in the unit group")
    unknown_parameter = availability(admin_session, product, "Warehouse='MAIN'")
    assert unknown_parameter.status_code == 400


def test_a_user_without_the_availability_role_is_refused(fresh: Any, admin_session: Crm) -> None:
    """The integration user before the setup assigns its roles holds no role that grants
    reading the connection record (the solution's Product Availability User role does)."""
    import_solution(admin_session)
    connection_record(admin_session, "http://127.0.0.1:9/odata/")
    product = admin_session.create("products", {"productnumber": "1100", "name": "Wheel"})
    response = availability(Crm(fresh), product)
    assert response.status_code == 403
    assert "prvReaderpcrm_connection" in response.json()["error"]["message"]
