import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client

from accounts.services import availability_access_set, webservice_key_generate
from sandbox import seed
from syncjobs.models import CRM_PRODUCT, ERP_ITEM, CrmCoupling
from tests.factories.erp import ItemFactory, UnitOfMeasureFactory
from tests.plugins.crm_setup import CrmCredentials
from tests.support.sandbox import ADMIN_USER, Crm


@pytest.fixture
def make_service_user(db: None) -> Callable[..., tuple[str, str]]:
    def make(username: str = "crm-availability", *, allowed: bool = True) -> tuple[str, str]:
        user = get_user_model().objects.create_user(username=username, password="Not-used-1!")
        if allowed:
            availability_access_set(user=user, allowed=True)
        return username, webservice_key_generate(user=user)

    return make


@pytest.fixture
def odata(live_server, make_service_user) -> Callable[..., requests.Response]:
    """GET a path below /odata/ as a permitted service user."""
    session = requests.Session()
    session.auth = make_service_user()
    base = f"{live_server.url}/odata/"

    def get(path: str = "", **kwargs) -> requests.Response:
        return session.get(base + path, timeout=10, **kwargs)

    get.base = base  # type: ignore[attr-defined]
    get.session = session  # type: ignore[attr-defined]
    return get


@pytest.fixture
def items(db: None) -> list:
    pcs = UnitOfMeasureFactory(code="PCS", description="Piece")
    box = UnitOfMeasureFactory(code="BOX", description="Box")
    return [
        ItemFactory(
            no="1000",
            description="Bicycle",
            base_unit_of_measure=pcs,
            inventory=Decimal("5"),
            unit_price=Decimal("4000.00"),
        ),
        ItemFactory(
            no="1100",
            description="Front Wheel",
            base_unit_of_measure=pcs,
            inventory=Decimal("0"),
            unit_price=Decimal("65.50"),
        ),
        ItemFactory(
            no="1200",
            description="Back Wheel",
            base_unit_of_measure=pcs,
            inventory=Decimal("12.5"),
            unit_price=Decimal("70.00"),
        ),
        ItemFactory(
            no="70000",
            description="Side Panel",
            base_unit_of_measure=box,
            inventory=Decimal("40"),
            unit_price=Decimal("12.25"),
            blocked=True,
        ),
        ItemFactory(
            no="1300 A",
            description="Chair O'Brien",
            base_unit_of_measure=pcs,
            inventory=Decimal("1"),
            unit_price=Decimal("99.00"),
        ),
    ]


def basic(username: str, key: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{username}:{key}".encode()).decode("ascii")


@pytest.fixture
def service(
    client: Client, make_service_user: Callable[..., tuple[str, str]], items: list[Any]
) -> Callable[..., HttpResponse]:
    """GET below /odata/ through the test client as a permitted service user, with `items`."""
    authorization = basic(*make_service_user())

    def get(
        path: str = "/odata/ProductItemAvailability",
        params: dict[str, str] | None = None,
        **headers: str,
    ) -> HttpResponse:
        return client.get(path, params or {}, HTTP_AUTHORIZATION=authorization, **headers)

    return get


@dataclass
class CrmWithErp:
    crm: Crm  # the sandbox administrator, acting as a salesperson
    username: str
    key: str
    products: dict[str, str]  # ERP item number -> CRM product id

    def availability(self, item_no: str, parameters: str = "", **kwargs: Any) -> Any:
        product = self.products[item_no]
        return self.crm.get(
            f"products({product})/Microsoft.Dynamics.CRM.erpcrm_GetItemAvailability({parameters})",
            **kwargs,
        )


def crm_product(crm: Crm, number: str, name: str) -> str:
    """An active product (published, as salespeople can only sell those) in pieces."""
    product = crm.create(
        "products",
        {
            "productnumber": number,
            "name": name,
            "defaultuomscheduleid@odata.bind": f"/uomschedules({seed.UNIT_GROUP_ID})",
            "defaultuomid@odata.bind": f"/uoms({seed.UNIT_PIECE_ID})",
        },
    )
    published = crm.post(f"products({product})/Microsoft.Dynamics.CRM.PublishProductHierarchy")
    assert published.status_code == 204, published.text
    return product


@pytest.fixture
def crm_with_erp(
    sandbox_crm: CrmCredentials,
    sandbox: Any,
    live_server: Any,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    make_service_user: Callable[..., tuple[str, str]],
    items: list[Any],
) -> CrmWithErp:
    """The sandbox set up by setup_connection with this ERP's item availability user and key,
    the ERP's items 1000 and 1200 coupled to CRM products, item 1100 not."""
    settings.ERP_PUBLIC_URL = live_server.url
    username, key = make_service_user()
    crm = sandbox_crm
    monkeypatch.setenv("CRM_CLIENT_SECRET", crm.client_secret)
    monkeypatch.setenv("CRM_ADMIN_PASSWORD", crm.admin_password)
    monkeypatch.setenv("ERP_AVAILABILITY_KEY", key)
    call_command(
        "setup_connection",
        "--environment-url", crm.url, "--token-url", crm.token_url, "--client-id", crm.client_id,
        "--admin-username", crm.admin_username, "--availability-user", username,
        stdout=io.StringIO(),
    )  # fmt: skip
    admin = Crm(sandbox, ADMIN_USER)
    by_no = {item.no: item for item in items}
    products = {}
    for no in ("1000", "1100", "1200"):
        products[no] = crm_product(admin, no, by_no[no].description)
        if no != "1100":
            CrmCoupling.objects.create(
                erp_table=ERP_ITEM,
                erp_uuid=by_no[no].uuid,
                crm_entity=CRM_PRODUCT,
                crm_id=products[no],
            )
    return CrmWithErp(admin, username, key, products)
