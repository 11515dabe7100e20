"""The Django admin applies the same mapping rules; the mapping pages speak Spanish."""

import pytest
from django.test import Client

from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import IntegrationTableMapping
from tests.factories.accounts import IntegrationAdminFactory

pytestmark = pytest.mark.django_db


def _admin_post_data(client: Client, url: str, **changes: str) -> dict[str, str]:
    response = client.get(url)
    data: dict[str, str] = {}

    def put(key: str, value: object) -> None:
        if value is True:
            data[key] = "on"
        elif value is not False and value is not None:
            data[key] = str(value)

    form = response.context["adminform"].form
    for name in form.fields:
        put(name, form[name].value())
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name in formset.management_form.fields:
            put(f"{formset.prefix}-{name}", formset.management_form[name].value())
        for row in formset.forms:
            for name in row.fields:
                put(row[name].html_name, row[name].value())
    data.update(changes)
    return data


def test_the_admin_refuses_a_mapping_the_rules_refuse(admin_client: Client) -> None:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    currency = IntegrationTableMapping.objects.get(name="CURRENCY")
    url = f"/admin/syncjobs/integrationtablemapping/{currency.pk}/change/"

    refused = admin_client.post(url, _admin_post_data(admin_client, url, direction="from_crm"))
    accepted = admin_client.post(url, _admin_post_data(admin_client, url, interval_minutes="40"))

    assert refused.status_code == 200
    assert "Set at least one enabled field mapping to From CRM" in refused.content.decode()
    assert accepted.status_code == 302
    currency.refresh_from_db()
    assert currency.direction == "to_crm" and currency.interval_minutes == 40
    assert currency.periodic_task.interval.every == 40


def test_the_mapping_pages_speak_spanish() -> None:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    client = Client()
    client.force_login(IntegrationAdminFactory())
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})

    listing = client.get("/sync/").content.decode()
    edit = client.get(f"/sync/mappings/{customer.pk}/").content.decode()
    confirm = client.get(f"/sync/mappings/{customer.pk}/defaults/").content.decode()

    assert "Última ejecución" in listing and "Last run" not in listing
    assert "Asignaciones de campos" in edit and "Field mappings" not in edit
    assert "Ninguna: dejar el conflicto a una persona" in edit
    assert "Se pierden los cambios" in confirm
