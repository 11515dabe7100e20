"""Job queue entries: made by the default setup, paused, held, resumed and run now from
/sync/jobs/ and /api/integration/job-queue/, their PeriodicTask following them."""

import json

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask
from rest_framework.test import APIClient

from accounts import roles
from connection import services as connection_services
from connection.models import CrmConnection
from syncjobs import jobqueue, services
from syncjobs.defaults import ALL_AREAS
from syncjobs.models import IntegrationTableMapping, JobQueueEntry
from tests.factories.accounts import UserFactory

pytestmark = pytest.mark.django_db

Status = JobQueueEntry.Status
JOBS = "/sync/jobs/"
API = "/api/integration/job-queue/"


def _connection(enabled: bool = True) -> CrmConnection:
    return CrmConnection.objects.create(
        pk=1,
        environment_url="https://x.crm.dynamics.com",
        token_url="https://l.example/t",
        client_id="c",
        is_enabled=enabled,
        sync_areas=ALL_AREAS,
    )


def _defaults(**options) -> None:
    services.default_setup_reset(options=services.DefaultSetupOptions(areas=ALL_AREAS, **options))


def _client(*role_names: str) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(role_names)))
    return client


def _api(*role_names: str) -> APIClient:
    client = APIClient()
    client.force_login(UserFactory(roles=list(role_names)))
    return client


def _entry(name: str) -> JobQueueEntry:
    return JobQueueEntry.objects.select_related("periodic_task").get(
        mapping__name=name, recurring=True
    )


def test_the_default_setup_makes_one_recurring_entry_per_scheduled_job() -> None:
    _connection()
    _defaults(item_availability=True)
    scheduled = IntegrationTableMapping.objects.filter(has_scheduled_job=True)
    assert scheduled.exists()
    for mapping in scheduled:
        entry = _entry(mapping.name)
        assert entry.status == Status.READY
        assert (entry.interval_minutes, entry.current_interval_minutes) == (30, 30)
        assert entry.inactivity_timeout_minutes == mapping.inactivity_timeout_minutes
        # Beat's task is the mapping's, and its runs go through the entry.
        assert entry.periodic_task_id == mapping.periodic_task_id
        assert json.loads(entry.periodic_task.kwargs) == {"entry": entry.pk}
        assert entry.periodic_task.enabled
    availability = JobQueueEntry.objects.get(job=JobQueueEntry.Job.ITEM_AVAILABILITY)
    assert availability.periodic_task.task == "syncjobs.item_availability"
    # A second reset replaces them: still one recurring entry per mapping (and one per other
    # job: the customers' statistics come with the customers).
    _defaults()
    assert (
        JobQueueEntry.objects.filter(recurring=True, mapping__isnull=False).count()
        == scheduled.count()
    )
    assert (
        JobQueueEntry.objects.filter(
            recurring=True, job=JobQueueEntry.Job.CUSTOMER_STATISTICS
        ).count()
        == 1
    )


def test_the_interval_of_new_jobs_comes_from_the_setting(settings) -> None:
    settings.SYNC_JOB_INTERVAL_MINUTES = 10
    _connection()
    _defaults()
    entry = _entry("CUSTOMER")
    assert entry.interval_minutes == 10 and entry.periodic_task.interval.every == 10


def test_pause_and_resume_switch_the_periodic_task() -> None:
    _connection()
    _defaults()
    entry = _entry("CUSTOMER")

    jobqueue.entry_pause(entry=entry, by="ana")
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD and entry.on_hold_reason == "Paused by ana."
    assert not PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled

    # Enabling the integration again leaves a paused job paused.
    connection_services.integration_jobs_set_enabled(enabled=False)
    connection_services.integration_jobs_set_enabled(enabled=True)
    assert not PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled
    assert PeriodicTask.objects.get(pk=_entry("CURRENCY").periodic_task_id).enabled

    jobqueue.entry_resume(entry=entry)
    entry.refresh_from_db()
    assert entry.status == Status.READY and not entry.on_hold_reason
    assert PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled


def test_the_job_queue_page_lists_entries_and_filters_them() -> None:
    _connection()
    _defaults()
    jobqueue.entry_hold(entry=_entry("CURRENCY"), reason="CRM maintenance", by="ana")

    page = _client(roles.SUPPORT).get(JOBS)
    assert page.status_code == 200
    text = page.content.decode()
    assert "CUSTOMER: synchronization job" in text
    assert "CRM maintenance (ana)" in text
    assert 'id="synchronize-all"' not in text  # support does not start runs

    held = _client(roles.SUPPORT).get(JOBS, {"status": "on_hold"})
    assert [e.mapping.name for e in held.context["entries"]] == ["CURRENCY"]
    customer = IntegrationTableMapping.objects.get(name="CUSTOMER")
    one = _client(roles.SUPPORT).get(JOBS, {"mapping": customer.pk})
    assert [e.mapping.name for e in one.context["entries"]] == ["CUSTOMER"]


def test_the_page_is_for_support_and_administrators_only() -> None:
    _connection()
    _defaults()
    entry = _entry("CUSTOMER")
    assert _client(roles.SALESPERSON).get(JOBS).status_code == 403
    assert _client(roles.SALESPERSON).post(f"{JOBS}{entry.pk}/pause/").status_code == 403
    assert Client().get(JOBS).status_code == 302  # to the sign-in page
    entry.refresh_from_db()
    assert entry.status == Status.READY
    assert _client(roles.INTEGRATION_ADMIN).get(JOBS).status_code == 200


def test_support_pauses_holds_resumes_and_runs_now_from_the_page() -> None:
    _connection()
    _defaults()
    entry = _entry("CUSTOMER")
    client = _client(roles.SUPPORT)

    response = client.post(f"{JOBS}{entry.pk}/pause/", {"query": "status=ready"}, follow=True)
    assert response.redirect_chain[-1][0] == f"{JOBS}?status=ready"
    assert "CUSTOMER: synchronization job is paused" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD
    assert not PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled

    response = client.post(f"{JOBS}{entry.pk}/resume/", follow=True)
    assert "is resumed" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.READY

    response = client.post(f"{JOBS}{entry.pk}/hold/", {"reason": "  "}, follow=True)
    assert "Say why the job is put on hold." in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.READY

    response = client.post(f"{JOBS}{entry.pk}/hold/", {"reason": "Bad data"}, follow=True)
    assert "is on hold" in response.content.decode()
    entry.refresh_from_db()
    assert entry.status == Status.ON_HOLD and entry.on_hold_reason.startswith("Bad data")

    response = client.post(f"{JOBS}{entry.pk}/run/", follow=True)
    assert "is queued to run now" in response.content.decode()
    one_off = JobQueueEntry.objects.get(recurring=False)
    assert (one_off.mapping.name, one_off.status, one_off.max_attempts) == (
        "CUSTOMER",
        Status.READY,
        2,
    )
    # Asked again while it waits: the same entry.
    client.post(f"{JOBS}{entry.pk}/run/")
    assert JobQueueEntry.objects.filter(recurring=False).count() == 1


def test_run_now_is_refused_with_a_message_while_the_integration_is_disabled() -> None:
    _connection(enabled=False)
    _defaults(enabled=False)
    entry = _entry("CUSTOMER")
    response = _client(roles.SUPPORT).post(f"{JOBS}{entry.pk}/run/", follow=True)
    text = response.content.decode()
    assert "The integration is disabled: enable it on the connection page first." in text
    assert "The integration is disabled: no job runs until it is enabled" in text
    assert not JobQueueEntry.objects.filter(recurring=False).exists()


def test_synchronize_modified_records_queues_one_entry_per_mapping_in_priority_order() -> None:
    _connection()
    _defaults()
    response = _client(roles.INTEGRATION_ADMIN).post(
        "/sync/synchronize/", {"next": "jobs"}, follow=True
    )
    assert response.redirect_chain[-1][0] == JOBS
    one_offs = list(JobQueueEntry.objects.filter(recurring=False).order_by("pk"))
    expected = list(
        IntegrationTableMapping.objects.filter(enabled=True).order_by("priority", "name")
    )
    assert [e.mapping for e in one_offs] == expected
    assert expected[0].name == "SALESPEOPLE" and expected[1].name == "CURRENCY"


def test_the_overview_links_the_job_queue_and_names_held_jobs() -> None:
    _connection()
    _defaults()
    jobqueue.entry_hold(entry=_entry("CONTACT"), reason="Waiting for a fix", by="ana")
    text = _client(roles.SUPPORT).get("/sync/").content.decode()
    assert 'href="/sync/jobs/"' in text
    assert "CONTACT: synchronization job" in text and "Waiting for a fix (ana)" in text


def test_the_api_lists_filters_and_acts() -> None:
    _connection()
    _defaults()
    entry = _entry("CUSTOMER")
    client = _api(roles.SUPPORT)

    listed = client.get(API, {"status": "ready", "recurring": "true"})
    assert listed.status_code == 200
    names = [row["mapping_name"] for row in listed.json()["results"]]
    assert "CUSTOMER" in names

    paused = client.post(f"{API}{entry.pk}/pause/")
    assert paused.status_code == 200
    assert (paused.json()["status"], paused.json()["on_hold_reason"]) == (
        "on_hold",
        f"Paused by {paused.wsgi_request.user.get_username()}.",
    )
    assert not PeriodicTask.objects.get(pk=entry.periodic_task_id).enabled
    again = client.post(f"{API}{entry.pk}/pause/")
    assert again.status_code == 409 and again.json()["detail"] == "This job is on hold already."

    assert client.post(f"{API}{entry.pk}/resume/").json()["status"] == "ready"
    refused = client.post(f"{API}{entry.pk}/hold/", {}, format="json")
    assert refused.status_code == 400 and "reason" in refused.json()
    held = client.post(f"{API}{entry.pk}/hold/", {"reason": "Audit"}, format="json")
    assert held.json()["status"] == "on_hold"

    ran = client.post(f"{API}{entry.pk}/run/")
    assert ran.status_code == 200
    assert JobQueueEntry.objects.filter(recurring=False, mapping=entry.mapping).exists()

    assert _api(roles.SALESPERSON).get(API).status_code == 403
    assert _api(roles.SALESPERSON).post(f"{API}{entry.pk}/resume/").status_code == 403
    assert APIClient().get(API).status_code == 401


def test_a_mapping_job_made_before_entries_existed_gets_its_entry_when_its_mapping_changes() -> (
    None
):
    _connection()
    _defaults()
    entry = _entry("CUSTOMER")
    task_id = entry.periodic_task_id
    entry.delete()
    mapping = IntegrationTableMapping.objects.get(name="CUSTOMER")
    mapping.interval_minutes = 20
    services.mapping_schedule_apply(mapping=mapping)
    entry = _entry("CUSTOMER")
    assert entry.periodic_task_id == task_id and entry.interval_minutes == 20
    assert json.loads(entry.periodic_task.kwargs) == {"entry": entry.pk}
    assert entry.periodic_task.interval.every == 20


def test_the_page_speaks_spanish() -> None:
    _connection()
    _defaults()
    jobqueue.entry_pause(entry=_entry("CUSTOMER"), by="ana")
    client = _client(roles.SUPPORT)
    client.post("/i18n/setlang/", {"language": "es", "next": "/"})
    text = client.get(JOBS).content.decode()
    assert "Entradas de la cola de trabajos" in text and "Job queue entries" not in text
    assert "CUSTOMER: trabajo de sincronización" in text
    assert "En espera" in text and "Reanudar" in text
