from django.test import Client

from erp.tables import TABLES
from tests.factories.erp import ContactFactory, CustomerFactory, SalesPriceFactory


def test_admin_lists_searches_and_opens_every_erp_table(admin_client: Client) -> None:
    CustomerFactory(name="Admin Visible Ltd.", primary_contact=ContactFactory())
    SalesPriceFactory()

    for table in TABLES:
        url = f"/admin/erp/{table.model._meta.model_name}/"
        assert admin_client.get(url).status_code == 200, table.slug
        assert admin_client.get(url, {"q": "x"}).status_code == 200, table.slug
        assert admin_client.get(f"{url}add/").status_code == 200, table.slug

    html = admin_client.get("/admin/erp/customer/", {"q": "visible"}).content.decode()
    assert "Admin Visible Ltd." in html


def test_admin_shows_uuid_and_modified_at_read_only(admin_client: Client) -> None:
    customer = CustomerFactory()

    html = admin_client.get(f"/admin/erp/customer/{customer.pk}/change/").content.decode()

    assert str(customer.uuid) in html
    assert 'name="uuid"' not in html and 'name="modified_at"' not in html
    # A customer's primary contact is typed as an id, not chosen from every contact.
    assert 'class="vForeignKeyRawIdAdminField"' in html
