"""The sandbox's browse pages need no sign-in: they never show a credential, in particular the
web service key the setup writes into the ERP connection record."""

from __future__ import annotations

import base64

import pytest
import requests

from sandbox.browse import MASK, is_secret_column
from setup_wizard.solution_package import solution_zip
from tests.sandbox.conftest import Crm

pytestmark = pytest.mark.sandbox

LIVE_KEY = "Xq3-live-web-service-key-7Hc9"


def test_the_connection_records_web_service_key_is_masked(admin_session: Crm) -> None:
    body = {"CustomizationFile": base64.b64encode(solution_zip()).decode()}
    assert admin_session.post("ImportSolution", json=body).status_code == 204
    admin_session.create(
        "erpcrm_connections",
        {
            "erpcrm_name": "ERP",
            "erpcrm_availabilityusername": "crm-availability",
            "erpcrm_availabilitykey": LIVE_KEY,
            "erpcrm_availabilityserviceurl": "http://127.0.0.1:8000/odata/",
        },
    )

    page = requests.get(f"{admin_session.url}/browse/erpcrm_connections/", timeout=10)

    assert page.status_code == 200
    assert LIVE_KEY not in page.text
    assert MASK in page.text
    # What is not a secret is still there to look at.
    assert "erpcrm_availabilitykey" in page.text
    assert "crm-availability" in page.text
    assert "http://127.0.0.1:8000/odata/" in page.text


@pytest.mark.parametrize(
    "column",
    ["erpcrm_availabilitykey", "client_secret", "adminPassword", "access_token", "ApiKey"],
)
def test_columns_named_like_a_credential_are_secret(column: str) -> None:
    assert is_secret_column(column)


@pytest.mark.parametrize("column", ["name", "accountnumber", "erpcrm_availabilityusername"])
def test_ordinary_columns_are_shown(column: str) -> None:
    assert not is_secret_column(column)
