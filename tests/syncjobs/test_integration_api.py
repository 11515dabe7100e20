"""/api/integration/: mappings and field mappings (support reads, administrators change, the
same validation as the page), job runs with their errors and changes."""

import pytest
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from accounts import roles
from connection.models import CrmConnection
from syncjobs import services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import IntegrationFieldMapping, IntegrationTableMapping
from tests.factories.accounts import UserFactory
from tests.factories.syncjobs import (
    FieldMappingFactory,
    JobRunFactory,
    MappingFactory,
    RecordChangeFactory,
    SyncErrorFactory,
)

pytestmark = pytest.mark.django_db

MAPPINGS = "/api/integration/mappings/"
FIELDS = "/api/integration/field-mappings/"
JOBS = "/api/integration/jobs/"


def api(*role_names: str) -> APIClient:
    client = APIClient()
    client.force_login(UserFactory(roles=list(role_names)))
    return client


@pytest.fixture
def defaults() -> None:
    CrmConnection.objects.create(
        pk=1,
        environment_url="https://x.crm.dynamics.com",
        token_url="https://l.example/t",
        client_id="c",
        is_enabled=True,
    )
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS))


def test_support_lists_mappings_with_state_counts_and_last_run(defaults: None) -> None:
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    JobRunFactory(mapping=customer, inserted=4, failed=1)

    response = api(roles.SUPPORT).get(MAPPINGS, {"page_size": 100})

    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()["results"]}
    row = rows["CUSTOMER"]
    assert row["direction"] == "bidirectional" and row["enabled"] is True
    assert row["scheduled_job_active"] is True
    assert row["field_count"] == customer.field_mappings.count()
    assert row["last_run"]["inserted"] == 4 and row["last_run"]["failed"] == 1
    assert rows["CURRENCY"]["last_run"] is None


def test_salesperson_cannot_read_mappings(defaults: None) -> None:
    assert api(roles.SALESPERSON).get(MAPPINGS).status_code == 403
    assert api(roles.SALESPERSON).get(JOBS).status_code == 403


def test_support_cannot_change_a_mapping(defaults: None) -> None:
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    response = api(roles.SUPPORT).patch(f"{MAPPINGS}{customer.pk}/", {"enabled": False})
    assert response.status_code == 403


def test_admin_patches_a_mapping_and_its_job_follows(defaults: None) -> None:
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")

    response = api(roles.INTEGRATION_ADMIN).patch(
        f"{MAPPINGS}{customer.pk}/",
        {"interval_minutes": 15, "enabled": False, "update_conflict_resolution": "get_from_crm"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert customer.update_conflict_resolution == "get_from_crm"
    task = PeriodicTask.objects.get(pk=customer.periodic_task_id)
    assert task.interval.every == 15 and not task.enabled
    assert response.json()["scheduled_job_active"] is False


def test_a_refused_patch_says_why_and_saves_nothing(defaults: None) -> None:
    currency = IntegrationTableMapping.objects.get(name="CURRENCY")

    response = api(roles.INTEGRATION_ADMIN).patch(
        f"{MAPPINGS}{currency.pk}/",
        {"direction": "from_crm", "update_conflict_resolution": "send_to_crm"},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert "bidirectional" in body["update_conflict_resolution"][0]
    assert "From CRM" in body["direction"][0]
    # Every field mapping of CURRENCY goes to the CRM: each is named.
    assert len(body["field_mappings"]) == currency.field_mappings.count()
    currency.refresh_from_db()
    assert currency.direction == "to_crm"


def test_a_patch_that_only_warns_is_saved_with_the_warning(defaults: None) -> None:
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    response = api(roles.INTEGRATION_ADMIN).patch(
        f"{MAPPINGS}{customer.pk}/",
        {"deletion_conflict_resolution": "remove_coupling", "sync_only_coupled": False},
        format="json",
    )
    assert response.status_code == 200
    assert "may create the record again" in response.json()["warnings"][0]


def test_field_mappings_are_listed_by_mapping_created_changed_and_deleted() -> None:
    mapping = MappingFactory()
    keep = FieldMappingFactory(mapping=mapping)
    other = FieldMappingFactory()
    admin = api(roles.INTEGRATION_ADMIN)

    listed = admin.get(FIELDS, {"mapping": mapping.pk}).json()["results"]
    created = admin.post(
        FIELDS,
        {"mapping": mapping.pk, "erp_field": "email", "crm_field": "emailaddress1",
         "direction": "to_crm", "value_map": {"a": "b"}},
        format="json",
    )  # fmt: skip
    changed = admin.patch(f"{FIELDS}{keep.pk}/", {"transformation": "upper"}, format="json")
    deleted = admin.delete(f"{FIELDS}{created.json()['id']}/")

    assert [row["id"] for row in listed] == [keep.pk]
    assert created.status_code == 201, created.json()
    assert changed.status_code == 200 and changed.json()["transformation"] == "upper"
    assert deleted.status_code == 204
    assert list(mapping.field_mappings.values_list("pk", flat=True)) == [keep.pk]
    assert IntegrationFieldMapping.objects.filter(pk=other.pk).exists()


def test_field_mapping_writes_are_validated_with_their_mapping() -> None:
    mapping = MappingFactory()
    only = FieldMappingFactory(mapping=mapping)
    admin = api(roles.INTEGRATION_ADMIN)

    wrong_way = admin.post(
        FIELDS,
        {"mapping": mapping.pk, "erp_field": "nope", "crm_field": "x", "direction": "from_crm",
         "value_map": [1]},
        format="json",
    )  # fmt: skip
    last_one = admin.delete(f"{FIELDS}{only.pk}/")
    both = admin.patch(
        f"{FIELDS}{only.pk}/", {"not_null": True, "clear_value_on_failed_sync": True}, format="json"
    )

    assert wrong_way.status_code == 400
    assert set(wrong_way.json()) >= {"direction", "erp_field", "value_map"}
    assert last_one.status_code == 400 and "direction" in last_one.json()
    assert both.status_code == 400 and "exclude each other" in both.json()["not_null"][0]
    assert mapping.field_mappings.count() == 1
    assert support_cannot_write(mapping.pk)


def support_cannot_write(mapping_pk: int) -> bool:
    response = api(roles.SUPPORT).post(FIELDS, {"mapping": mapping_pk}, format="json")
    return response.status_code == 403


def test_jobs_filter_by_mapping_direction_and_status_with_errors_and_changes() -> None:
    mapping = MappingFactory()
    run = JobRunFactory(mapping=mapping, status="failed", direction="from_crm", failed=2)
    JobRunFactory(mapping=mapping, status="succeeded", direction="to_crm")
    JobRunFactory()
    SyncErrorFactory.create_batch(2, job=run)
    RecordChangeFactory(job=run)
    support = api(roles.SUPPORT)

    by_mapping = support.get(JOBS, {"mapping": mapping.pk}).json()
    filtered = support.get(
        JOBS, {"mapping": mapping.pk, "direction": "from_crm", "status": "failed"}
    ).json()
    errors = support.get(f"{JOBS}{run.pk}/errors/").json()
    changes = support.get(f"{JOBS}{run.pk}/changes/").json()

    assert by_mapping["count"] == 2
    assert [r["id"] for r in filtered["results"]] == [run.pk]
    assert filtered["results"][0]["failed"] == 2
    assert filtered["results"][0]["mapping_name"] == mapping.name
    assert errors["count"] == 2 and errors["results"][0]["message"].startswith("Problem")
    assert changes["results"][0]["fields"][0]["new"] == "B"
    assert support.get(f"{JOBS}999999/errors/").status_code == 404
    assert api(roles.INTEGRATION_ADMIN).post(JOBS, {}).status_code == 405


def test_the_integration_api_is_in_the_schema() -> None:
    schema = api(roles.SUPPORT).get("/api/schema/", {"format": "json"}).json()
    for path in (MAPPINGS, f"{MAPPINGS}{{id}}/", FIELDS, f"{FIELDS}{{id}}/", JOBS):
        assert path in schema["paths"]
    assert f"{JOBS}{{job_pk}}/errors/" in schema["paths"]
    assert "patch" in schema["paths"][f"{MAPPINGS}{{id}}/"]
    assert "put" not in schema["paths"][f"{MAPPINGS}{{id}}/"]
