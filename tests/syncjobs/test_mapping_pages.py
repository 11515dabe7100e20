"""The synchronization page and the mapping edit page: who may see and change what, editing a
mapping with its field mappings, and restoring the defaults."""

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from accounts import roles
from connection.models import CrmConnection
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.forms import FIELD_MAPPING_FIELDS, MAPPING_FIELDS
from syncjobs.models import IntegrationFieldMapping, IntegrationTableMapping, JobRun
from tests.factories.accounts import IntegrationAdminFactory, UserFactory
from tests.factories.syncjobs import FieldMappingFactory, JobRunFactory, MappingFactory

pytestmark = pytest.mark.django_db


def _connection(enabled: bool = True) -> CrmConnection:
    return CrmConnection.objects.create(
        pk=1,
        environment_url="https://x.crm.dynamics.com",
        token_url="https://l.example/t",
        client_id="c",
        is_enabled=enabled,
        sync_areas=ALL_AREAS,
    )


def _defaults() -> None:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))


def _client(*role_names: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(role_names)))
    return client


def _post_data(mapping: IntegrationTableMapping, **changes) -> dict[str, str]:
    """The edit page's form as the browser would send it back unchanged, plus `changes`
    ("direction", or "fields-<i>-<name>" for a field mapping)."""
    client = Client()
    client.force_login(IntegrationAdminFactory())
    response = client.get(f"/sync/mappings/{mapping.pk}/")
    form, formset = response.context["form"], response.context["formset"]
    data: dict[str, str] = {}

    def put(key: str, value: object) -> None:
        if value is True:
            data[key] = "on"
        elif value is not False and value is not None:
            data[key] = str(value)

    for name in MAPPING_FIELDS:
        put(name, form[name].value())
    prefix = formset.prefix
    management = formset.management_form
    for name in ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS"):
        data[f"{prefix}-{name}"] = str(management[name].value())
    for i, row in enumerate(formset.forms):
        if row.instance.pk:
            data[f"{prefix}-{i}-id"] = str(row.instance.pk)
        data[f"{prefix}-{i}-mapping"] = str(mapping.pk)
        for name in FIELD_MAPPING_FIELDS:
            put(f"{prefix}-{i}-{name}", row[name].value())
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(
    "role, status", [(roles.INTEGRATION_ADMIN, 200), (roles.SUPPORT, 200), (roles.SALESPERSON, 403)]
)
def test_who_sees_the_synchronization_page_and_a_mapping(role: str, status: int) -> None:
    _defaults()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    client = _client(role)

    assert client.get("/sync/").status_code == status
    assert client.get(f"/sync/mappings/{customer.pk}/").status_code == status


def test_support_reads_a_mapping_but_cannot_change_it() -> None:
    _defaults()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    client = _client(roles.SUPPORT)

    page = client.get(f"/sync/mappings/{customer.pk}/").content.decode()
    posted = client.post(f"/sync/mappings/{customer.pk}/", {"direction": "to_crm"})
    restore = client.post(f"/sync/mappings/{customer.pk}/defaults/", {"confirm": "yes"})

    assert "disabled" in page and 'type="submit" class="btn btn-primary"' not in page
    assert posted.status_code == 403 and restore.status_code == 403
    assert client.post("/sync/defaults/", {"confirm": "yes"}).status_code == 403
    assert IntegrationTableMapping.objects.get(pk=customer.pk).direction == "bidirectional"


def test_salesperson_cannot_edit_a_mapping() -> None:
    _defaults()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    response = _client(roles.SALESPERSON).post(f"/sync/mappings/{customer.pk}/", {})
    assert response.status_code == 403


def test_the_list_shows_state_conflicts_field_count_and_the_last_run() -> None:
    mapping = MappingFactory(name="MY CUSTOMERS", enabled=False)
    FieldMappingFactory.create_batch(2, mapping=mapping)
    JobRunFactory(mapping=mapping, status=JobRun.Status.FAILED, inserted=1, failed=3)
    latest = JobRunFactory(mapping=mapping, inserted=7, modified=5, skipped=2)

    html = _client(roles.SUPPORT).get("/sync/").content.decode()
    row = html.split('data-mapping="MY CUSTOMERS"')[1].split("</tr>")[0]

    assert "Disabled" in row
    assert "None: keep the conflict for a person" in row
    assert "<summary>2</summary>" in row
    assert latest.get_status_display() in row
    assert "inserted 7 · modified 5 · deleted 0 · unchanged 0 · skipped 2 · failed 0" in row


def test_admin_edits_a_mapping_and_its_field_mappings() -> None:
    _connection()
    _defaults()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    fields = list(customer.field_mappings.order_by("position", "id"))
    name_row = next(i for i, f in enumerate(fields) if f.crm_field == "name")
    fax_row = next(i for i, f in enumerate(fields) if f.crm_field == "fax")
    new = len(fields)
    data = _post_data(
        customer,
        interval_minutes="45",
        enabled=None,
        update_conflict_resolution="send_to_crm",
        **{
            f"fields-{name_row}-transformation": "trim",
            f"fields-{name_row}-value_map": '{"ACME": "Acme Inc."}',
            f"fields-{fax_row}-DELETE": "on",
            f"fields-{new}-erp_field": "company_contact__name",
            f"fields-{new}-crm_field": "description",
            f"fields-{new}-direction": "to_crm",
            f"fields-{new}-status": "enabled",
            f"fields-{new}-validate_field": "on",
            f"fields-{new}-value_map": "",
            f"fields-{new}-position": "",
            f"fields-{new}-match_priority": "0",
        },
    )
    client = Client()
    client.force_login(IntegrationAdminFactory())

    response = client.post(f"/sync/mappings/{customer.pk}/", data)

    assert response.status_code == 302, [e for e in response.context["formset"].errors if e] + [
        response.context["form"].errors,
        response.context["formset"].non_form_errors(),
    ]
    customer.refresh_from_db()
    assert customer.interval_minutes == 45 and not customer.enabled
    assert customer.update_conflict_resolution == "send_to_crm"
    assert not customer.field_mappings.filter(crm_field="fax").exists()
    name = customer.field_mappings.get(crm_field="name")
    assert name.transformation == "trim" and name.value_map == {"ACME": "Acme Inc."}
    added = customer.field_mappings.get(crm_field="description")
    assert added.erp_field == "company_contact__name" and added.position > name.position
    task = PeriodicTask.objects.get(pk=customer.periodic_task_id)
    assert task.interval.every == 45 and not task.enabled


def test_enabling_a_mapping_resumes_its_job_only_while_the_integration_is_enabled() -> None:
    connection = _connection(enabled=False)
    _defaults()
    currency = IntegrationTableMapping.objects.get(name="CURRENCY")
    currency.enabled = False
    currency.save()
    client = Client()
    client.force_login(IntegrationAdminFactory())

    client.post(f"/sync/mappings/{currency.pk}/", _post_data(currency, enabled="on"))
    assert not PeriodicTask.objects.get(pk=currency.periodic_task_id).enabled

    connection.is_enabled = True
    connection.save()
    client.post(f"/sync/mappings/{currency.pk}/", _post_data(currency, enabled="on"))
    assert PeriodicTask.objects.get(pk=currency.periodic_task_id).enabled


def test_a_refused_edit_shows_each_problem_at_its_field_and_saves_nothing() -> None:
    _defaults()
    currency = IntegrationTableMapping.objects.get(name="CURRENCY")
    code_row = next(
        i
        for i, f in enumerate(currency.field_mappings.order_by("position", "id"))
        if f.erp_field == "code"
    )
    data = _post_data(
        currency,
        update_conflict_resolution="get_from_crm",
        **{
            f"fields-{code_row}-erp_field": "codez",
            f"fields-{code_row}-not_null": "on",
            f"fields-{code_row}-clear_value_on_failed_sync": "on",
        },
    )
    client = Client()
    client.force_login(IntegrationAdminFactory())

    response = client.post(f"/sync/mappings/{currency.pk}/", data)

    assert response.status_code == 400
    row = response.context["formset"].forms[code_row]
    assert "has no field “codez”" in row.errors["erp_field"][0]
    assert "exclude each other" in row.errors["not_null"][0]
    assert "bidirectional" in response.context["form"].errors["update_conflict_resolution"][0]
    assert IntegrationFieldMapping.objects.filter(mapping=currency, erp_field="code").exists()
    currency.refresh_from_db()
    assert currency.update_conflict_resolution == "none"


def test_restoring_one_mapping_brings_back_its_defaults_and_keeps_its_job() -> None:
    _connection()
    _defaults()
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    task_id = customer.periodic_task_id
    run = JobRunFactory(mapping=customer)
    default_count = customer.field_mappings.count()
    customer.field_mappings.filter(crm_field="fax").delete()
    customer.field_mappings.filter(crm_field="name").update(direction="to_crm")
    customer.integration_table_filter = "statecode eq 1"
    customer.interval_minutes = 5
    customer.save()
    client = Client()
    client.force_login(IntegrationAdminFactory())

    confirm = client.get(f"/sync/mappings/{customer.pk}/defaults/").content.decode()
    response = client.post(f"/sync/mappings/{customer.pk}/defaults/", {"confirm": "yes"})

    assert "Changes you made to this mapping are lost" in confirm
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.field_mappings.count() == default_count
    assert customer.field_mappings.get(crm_field="name").direction == "bidirectional"
    assert customer.integration_table_filter == "statecode eq 0 and customertypecode eq 3"
    assert customer.periodic_task_id == task_id
    assert PeriodicTask.objects.get(pk=task_id).interval.every == 30
    assert JobRun.objects.get(pk=run.pk).mapping_id == customer.pk


def test_restoring_every_mapping_uses_the_connection_options() -> None:
    _connection()
    _defaults()
    IntegrationTableMapping.objects.filter(name="CURRENCY").delete()
    client = Client()
    client.force_login(IntegrationAdminFactory())

    assert "Changes you made to mappings are lost" in client.get("/sync/defaults/").content.decode()
    client.post("/sync/defaults/", {"confirm": "yes"})

    assert IntegrationTableMapping.objects.filter(name="CURRENCY").exists()


def test_restoring_every_mapping_without_a_connection_is_refused() -> None:
    _defaults()
    client = Client()
    client.force_login(IntegrationAdminFactory())
    response = client.post("/sync/defaults/", {"confirm": "yes"}, follow=True)
    assert "No CRM connection is set up yet" in response.content.decode()
