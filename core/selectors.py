"""Health checks: database, broker and worker heartbeat."""

import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from core.models import WorkerHeartbeat
from erpcrm.celery import app

logger = logging.getLogger("core.health")

# Beat sends a heartbeat every HEARTBEAT_INTERVAL seconds; a worker is "up" if one arrived
# within three intervals (one missed beat is not an outage).
HEARTBEAT_INTERVAL = 15
HEARTBEAT_STALE_AFTER = timedelta(seconds=HEARTBEAT_INTERVAL * 3)


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class HealthReport:
    checks: dict[str, Check]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())

    @property
    def status(self) -> str:
        return "ok" if self.ok else "degraded"


def health_report() -> HealthReport:
    """Every check, run now. A failing check's detail always goes to the log: the page shows
    it only to integration administrators (it names hosts, vendors and exception texts)."""
    report = HealthReport(
        checks={
            "database": health_database(),
            "broker": health_broker(),
            "worker": health_worker(),
        }
    )
    for name, check in report.checks.items():
        if not check.ok:
            logger.warning("Health check %s failed: %s", name, check.detail)
    return report


def health_database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return Check(True, connection.vendor)
    except Exception as exc:  # noqa: BLE001 - report, don't raise
        return Check(False, f"{type(exc).__name__}: {exc}")


def health_broker() -> Check:
    url = settings.CELERY_BROKER_URL
    scheme = url.split("://", 1)[0]
    if scheme == "filesystem":
        # The file-system transport "connects" to anything; what matters is the folder.
        folder = str(settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("data_folder_in", ""))
        if not os.access(folder, os.W_OK):
            return Check(False, f"filesystem: broker folder {folder} is missing or read-only")
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return Check(True, scheme)
    except Exception as exc:  # noqa: BLE001
        return Check(False, f"{scheme}: {type(exc).__name__}: {exc}")


def health_worker() -> Check:
    try:
        latest = WorkerHeartbeat.objects.order_by("-beat_at").first()
    except Exception as exc:  # noqa: BLE001
        return Check(False, f"{type(exc).__name__}: {exc}")
    if latest is None:
        return Check(False, "no worker heartbeat received yet: is the Celery worker running?")
    age = timezone.now() - latest.beat_at
    ok = age <= HEARTBEAT_STALE_AFTER
    detail = f"{latest.hostname}, last heartbeat {int(age.total_seconds())} s ago"
    if not ok:
        detail += " (stale: are the Celery worker and beat running?)"
    return Check(ok, detail)
