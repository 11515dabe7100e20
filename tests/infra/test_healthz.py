"""/healthz: the status for anyone, the checks and their details for integration
administrators only, and failure details always in the log."""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts.roles import SALESPERSON, SUPPORT
from core.models import WorkerHeartbeat
from tests.factories.accounts import IntegrationAdminFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_heartbeat() -> None:
    WorkerHeartbeat.objects.create(hostname="celery@worker-7.internal", beat_at=timezone.now())


@pytest.fixture
def stale_heartbeat() -> None:
    WorkerHeartbeat.objects.create(
        hostname="celery@worker-7.internal", beat_at=timezone.now() - timedelta(hours=1)
    )


def test_anonymous_caller_gets_the_status_alone_when_healthy(
    client: Client, fresh_heartbeat: None
) -> None:
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_anonymous_caller_learns_nothing_about_the_installation_when_degraded(
    client: Client, stale_heartbeat: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core.health"):
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    body = response.content.decode()
    for revealing in ("worker-7", "sqlite", "postgresql", "filesystem", "redis", "stale"):
        assert revealing not in body
    # The operator still finds the reason, in the log.
    assert "worker" in caplog.text
    assert "celery@worker-7.internal" in caplog.text
    assert "stale" in caplog.text


@pytest.mark.parametrize("role", [SALESPERSON, SUPPORT])
def test_other_roles_get_the_status_alone(client: Client, stale_heartbeat: None, role) -> None:
    client.force_login(UserFactory(roles=[role]))

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}


def test_integration_administrator_gets_every_check_with_its_detail(
    client: Client, stale_heartbeat: None
) -> None:
    client.force_login(IntegrationAdminFactory())

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert set(body["checks"]) == {"database", "broker", "worker"}
    assert body["checks"]["database"] == {
        "ok": True,
        "detail": body["checks"]["database"]["detail"],
    }
    assert body["checks"]["database"]["detail"]  # the vendor
    assert body["checks"]["worker"]["ok"] is False
    assert "celery@worker-7.internal" in body["checks"]["worker"]["detail"]


def test_a_healthy_installation_logs_no_warning(
    client: Client, fresh_heartbeat: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="core.health"):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert not [r for r in caplog.records if r.name == "core.health"]
