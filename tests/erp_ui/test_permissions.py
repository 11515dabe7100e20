import pytest
from django.test import Client

from connection.models import CrmConnection
from erp.models import Customer
from tests.factories.erp import CustomerFactory


def test_anonymous_visitor_is_sent_to_the_login_page(client: Client, db: None) -> None:
    response = client.get("/erp/customers/")

    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=/erp/customers/")


def test_support_can_read_but_sees_no_edit_buttons(support_client: Client) -> None:
    customer = CustomerFactory(name="Read Only Ltd.")

    list_html = support_client.get("/erp/customers/").content.decode()
    card_html = support_client.get(f"/erp/customers/{customer.pk}/").content.decode()

    assert "Read Only Ltd." in list_html and "Read Only Ltd." in card_html
    assert "/erp/customers/new/" not in list_html
    assert f"/erp/customers/{customer.pk}/edit/" not in card_html
    assert f"/erp/customers/{customer.pk}/delete/" not in card_html


@pytest.mark.parametrize("suffix", ["new/", "{pk}/edit/", "{pk}/delete/"])
def test_support_gets_403_on_changes(support_client: Client, suffix: str) -> None:
    customer = CustomerFactory(name="Kept")
    url = "/erp/customers/" + suffix.format(pk=customer.pk)

    response = support_client.get(url)
    assert response.status_code == 403
    assert "Your role does not allow this page or action." in response.content.decode()
    assert support_client.post(url, {"no": "CU9", "name": "Changed"}).status_code == 403
    assert Customer.objects.get().name == "Kept"


def test_user_without_a_role_cannot_read_erp_pages(make_user, client: Client) -> None:
    client.force_login(make_user("nobody"))

    assert client.get("/erp/customers/").status_code == 403


def test_superuser_can_edit(admin_client: Client) -> None:
    customer = CustomerFactory(no="CU000001")

    admin_client.post(
        f"/erp/customers/{customer.pk}/edit/",
        {"no": "CU000001", "name": "By admin", "credit_limit": "0"},
    )

    customer.refresh_from_db()
    assert customer.name == "By admin"


def test_home_shows_panels_for_the_users_roles_and_record_counts(
    sales_client: Client, support_client: Client
) -> None:
    CustomerFactory.create_batch(3)

    sales_home = sales_client.get("/").content.decode()
    support_home = support_client.get("/").content.decode()

    assert 'id="panel-sales"' in sales_home and 'id="panel-admin"' not in sales_home
    assert 'id="panel-support"' in support_home and 'id="panel-sales"' not in support_home
    assert '<td class="num">3</td>' in sales_home


def test_admin_home_links_setup_connection_and_sync(admin_client: Client) -> None:
    html = admin_client.get("/").content.decode()

    assert 'id="panel-admin"' in html
    assert "Not set up" in html
    assert 'href="/setup/connection/"' in html and 'href="/sync/"' in html


def test_admin_home_shows_the_saved_connection(admin_client: Client) -> None:
    connection = CrmConnection(
        pk=CrmConnection.SINGLETON_ID,
        environment_url="https://contoso.crm.dynamics.com",
        token_url="https://login.example/token",
        client_id="abc",
        is_enabled=False,
        disable_reason="Stopped for maintenance",
    )
    connection.client_secret = "s3cret-value"
    connection.save()

    html = admin_client.get("/").content.decode()

    assert "https://contoso.crm.dynamics.com" in html
    assert "Stopped for maintenance" in html
    assert "s3cret-value" not in html
