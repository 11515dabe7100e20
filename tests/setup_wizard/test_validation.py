"""Setup validated once: the rules of `setup_wizard.validation`, and where the CRM is asked."""

import pytest
import requests

from accounts import services as account_services
from connection.selectors import CrmUser
from setup_wizard import validation
from setup_wizard.validation import SetupInput, SetupInvalid
from tests.factories.accounts import UserFactory

from .wizard_steps import post_step, walk_to

OWNER = CrmUser(
    id=__import__("uuid").UUID("2f1e0c9a-0000-4000-8000-0000000000aa"), name="Ann", email=""
)
LOCAL_SECTIONS = [validation.AREAS, validation.AVAILABILITY, validation.SALES_ORDERS]


def test_every_connection_field_problem_is_reported_at_once() -> None:
    with pytest.raises(SetupInvalid) as info:
        validation.connection_verify(
            data=SetupInput(
                environment_url="ftp://sandbox_crm", token_url="http://remote.example/t"
            )
        )
    problems = info.value.problems
    assert set(problems) == {"environment_url", "token_url", "client_id", "client_secret"}
    assert "https" in problems["environment_url"][0]
    assert "secure connection" in problems["token_url"][0]


@pytest.mark.django_db
def test_every_other_section_problem_is_reported_at_once() -> None:
    stranger = UserFactory(username="not-allowed")
    data = SetupInput(
        areas=["customers", "spaceships"],
        owner_mode="default",
        default_owner_id="",
        availability_enabled=True,
        availability_user=stranger,
        sales_order_integration=True,
        order_processor_id="7a7a7a7a-0000-4000-8000-000000000000",
    )
    with pytest.raises(SetupInvalid) as info:
        validation.setup_validate(
            data=data, verified=None, crm_users=[OWNER], sections=LOCAL_SECTIONS
        )
    problems = info.value.problems
    assert "spaceships" in problems["areas"][0]
    assert "Choose the CRM user" in problems["default_owner_id"][0]
    assert "may not use the item availability service" in problems["availability_user"][0]
    assert "enabled CRM user" in problems["order_processor_id"][0]


@pytest.mark.django_db
def test_a_valid_input_is_returned_ready_to_apply() -> None:
    erp_user = UserFactory(username="odata")
    account_services.availability_access_set(user=erp_user, allowed=True)
    setup = validation.setup_validate(
        data=SetupInput(
            areas=["items", "customers"],
            owner_mode="default",
            default_owner_id=str(OWNER.id).upper(),
            availability_enabled=True,
            availability_username="odata",
            availability_key_action=validation.KEY_GENERATE,
            sales_order_integration=True,
            order_processor_id=str(OWNER.id),
        ),
        verified=None,
        crm_users=[OWNER],
        sections=LOCAL_SECTIONS,
    )
    assert setup.areas == ["customers", "items"]  # in the order of the default mappings
    assert setup.default_owner_id == OWNER.id and setup.default_owner_name == "Ann"
    assert setup.availability_user == erp_user and setup.availability_generate_key
    assert setup.order_processor_id == OWNER.id


@pytest.mark.django_db
def test_a_wrong_existing_key_is_refused_without_naming_the_key() -> None:
    erp_user = UserFactory(username="odata-key")
    account_services.availability_access_set(user=erp_user, allowed=True)
    real_key = account_services.webservice_key_generate(user=erp_user)
    with pytest.raises(SetupInvalid) as info:
        validation.setup_validate(
            data=SetupInput(
                availability_enabled=True,
                availability_user=erp_user,
                availability_key_action=validation.KEY_EXISTING,
                availability_key="guess",
            ),
            verified=None,
            sections=[validation.AVAILABILITY],
        )
    assert "not the current web service access key" in info.value.problems["availability_key"][0]
    assert real_key not in str(info.value)


def _crm_requests(sandbox) -> int:
    return requests.get(f"{sandbox.url}/_sandbox/stats", timeout=10).json()["requests"]


@pytest.mark.sandbox
@pytest.mark.django_db
def test_wizard_steps_after_the_connection_step_do_not_ask_the_crm(
    integration_admin_client,
    sandbox_crm,
    sandbox,
) -> None:
    walk_to(integration_admin_client, sandbox_crm, "areas")
    before = _crm_requests(sandbox)
    for step, data in [
        ("areas", {"areas": ["customers"], "owner_mode": "salesperson"}),
        ("availability", {"publish": ""}),
        ("sales-orders", {"enabled": "on", "processor": "integration"}),
    ]:
        integration_admin_client.get(f"/setup/{step}/")
        assert post_step(integration_admin_client, step, data).status_code == 302
    integration_admin_client.get("/setup/finish/")
    assert _crm_requests(sandbox) == before


@pytest.mark.sandbox
@pytest.mark.django_db
def test_the_connection_page_shows_without_asking_the_crm_and_refreshes_users_on_request(
    integration_admin_client,
    saved_connection,
    sandbox,
) -> None:
    before = _crm_requests(sandbox)
    page = integration_admin_client.get("/connection/").content.decode()
    assert _crm_requests(sandbox) == before
    assert "users, read" in page
    response = integration_admin_client.post(
        "/connection/", {"action": "refresh_users"}, follow=True
    )
    assert "The CRM user list is read again" in response.content.decode()
    assert _crm_requests(sandbox) > before
