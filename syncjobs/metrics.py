"""`/metrics`: the synchronization's figures in the Prometheus text format (version 0.0.4),
written by hand (no client library needed for a handful of families).

Everything comes from the database and the broker at scrape time, so every web process answers
the same: the record counters are sums over the job runs kept (SYNC_LOG_RETENTION_DAYS; when
old runs are deleted a counter goes down, which Prometheus reads as a counter reset), the run
durations a histogram over the same runs, the change lag a summary over the last
CHANGE_LAG_SAMPLES changes per mapping and direction.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from datetime import timedelta
from typing import Any, cast

from celery import current_app
from django.conf import settings
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from accounts.forms import client_address
from connection.clients import client_get
from connection.selectors import crm_connection_settings

from . import nrt
from .models import IntegrationTableMapping, JobRun, PendingChange

logger = logging.getLogger("syncjobs.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DURATION_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)
RECORD_OUTCOMES = ("inserted", "modified", "deleted", "coupled", "uncoupled", "failed")


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


def _number(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Family:
    def __init__(self, name: str, kind: str, help_text: str) -> None:
        self.name, self.kind, self.help = name, kind, help_text
        self.samples: list[tuple[str, dict[str, str], float]] = []

    def add(self, value: float, suffix: str = "", **labels: str) -> None:
        self.samples.append((self.name + suffix, labels, value))

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        lines += [f"{n}{_labels(lb)} {_number(v)}" for n, lb, v in self.samples]
        return lines


def _sync_runs() -> QuerySet[JobRun]:
    return JobRun.objects.filter(
        mapping__isnull=False,
        kind=JobRun.Kind.SYNCHRONIZATION,
        direction__in=["to_crm", "from_crm"],
    )


def records_family() -> Family:
    family = Family(
        "erpcrm_sync_records_total",
        "counter",
        "Records synchronized per mapping, direction and outcome (sums of the job runs kept).",
    )
    rows = (
        _sync_runs()
        .values("job_name", "direction")
        .annotate(**{f"s_{o}": Sum(o) for o in RECORD_OUTCOMES})
        .order_by("job_name", "direction")
    )
    for row in cast("list[dict[str, Any]]", list(rows)):
        for outcome in RECORD_OUTCOMES:
            family.add(
                row[f"s_{outcome}"] or 0,
                mapping=row["job_name"],
                direction=row["direction"],
                outcome=outcome,
            )
    return family


def runs_family() -> Family:
    family = Family(
        "erpcrm_sync_runs_total", "counter", "Job runs per mapping, direction and status."
    )
    rows = (
        _sync_runs()
        .values("job_name", "direction", "status")
        .annotate(n=Count("id"))
        .order_by("job_name", "direction", "status")
    )
    for row in rows:
        family.add(
            row["n"], mapping=row["job_name"], direction=row["direction"], status=row["status"]
        )
    return family


def durations_family() -> Family:
    family = Family(
        "erpcrm_sync_run_duration_seconds",
        "histogram",
        "Duration of the finished job runs per mapping and direction.",
    )
    duration = ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())
    buckets = {
        f"le_{i}": Count("id", filter=Q(duration__lte=timedelta(seconds=b)))
        for i, b in enumerate(DURATION_BUCKETS)
    }
    rows = (
        _sync_runs()
        .filter(finished_at__isnull=False)
        .annotate(duration=duration)
        .values("job_name", "direction")
        .annotate(total=Sum("duration"), n=Count("id"), **buckets)
        .order_by("job_name", "direction")
    )
    for row in cast("list[dict[str, Any]]", list(rows)):
        labels = {"mapping": row["job_name"], "direction": row["direction"]}
        for i, bound in enumerate(DURATION_BUCKETS):
            family.add(row[f"le_{i}"], "_bucket", **labels, le=_number(bound))
        family.add(row["n"], "_bucket", **labels, le="+Inf")
        total = row["total"]
        seconds = total.total_seconds() if isinstance(total, timedelta) else (total or 0) / 1e6
        family.add(seconds, "_sum", **labels)
        family.add(row["n"], "_count", **labels)
    return family


def lag_family() -> Family:
    family = Family(
        "erpcrm_sync_change_lag_seconds",
        "summary",
        "Time from a change on one side to its write on the other, per mapping and direction "
        "(over the last CHANGE_LAG_SAMPLES changes).",
    )
    names = dict(IntegrationTableMapping.objects.values_list("pk", "name"))
    for (mapping_id, direction), figures in sorted(nrt.lag_summary().items()):
        labels = {"mapping": names.get(mapping_id, str(mapping_id)), "direction": direction}
        family.add(figures["p50"], **labels, quantile="0.5")
        family.add(figures["p95"], **labels, quantile="0.95")
        family.add(figures["sum"], "_sum", **labels)
        family.add(figures["count"], "_count", **labels)
    return family


def pending_family() -> Family:
    family = Family(
        "erpcrm_sync_pending_changes",
        "gauge",
        "Changed coupled ERP records waiting for their near-real-time pass, per mapping.",
    )
    rows = PendingChange.objects.values("mapping__name").annotate(n=Count("id")).order_by("mapping")
    for row in rows:
        family.add(row["n"], mapping=row["mapping__name"])
    return family


def queue_family() -> Family | None:
    """Messages waiting in the Celery queue (the file-system broker counts its files, Redis
    answers LLEN). None when the broker cannot be asked: the family is left out."""
    family = Family("erpcrm_celery_queue_length", "gauge", "Messages waiting in a Celery queue.")
    queue = current_app.conf.task_default_queue or "celery"
    try:
        with current_app.connection_for_read(connect_timeout=2) as conn:
            try:
                count = conn.default_channel.queue_declare(queue=queue, passive=True).message_count
            except Exception:  # Redis: a queue never used does not exist yet
                if not conn.connected:
                    raise
                count = 0
    except Exception as exc:  # noqa: BLE001 - a scrape must answer even with the broker down
        logger.warning("queue length unavailable: %s", exc)
        return None
    family.add(count, queue=queue)
    return family


def throttle_families() -> list[Family]:
    """The CRM throttle gate (shared by every process through CRM_THROTTLE_DIR or Redis): how
    long callers must still wait; and this process's client statistics (each process keeps its
    own: the workers' waits are not visible here, the gate is)."""
    blocked = Family(
        "erpcrm_crm_throttle_blocked_seconds",
        "gauge",
        "Seconds until the CRM user's shared throttle gate opens (0: open).",
    )
    waits = Family(
        "erpcrm_crm_throttle_wait_seconds_total",
        "counter",
        "Seconds this web process's CRM client waited for throttling.",
    )
    throttled = Family(
        "erpcrm_crm_throttled_total",
        "counter",
        "429 answers this web process's CRM client received.",
    )
    try:
        connection = crm_connection_settings()
    except Exception as exc:  # noqa: BLE001 - e.g. a secret that no longer decrypts
        logger.warning("connection settings unavailable: %s", exc)
        connection = None
    if connection is None:
        return [blocked]
    client = client_get(settings=connection)
    try:
        remaining = max(0.0, client.gate.blocked_until() - time.time())
    except Exception as exc:  # noqa: BLE001 - a gate store that cannot be read
        logger.warning("throttle gate unavailable: %s", exc)
        return []
    blocked.add(round(remaining, 3))
    waits.add(round(client.stats.throttle_wait_seconds, 3), process="web")
    throttled.add(client.stats.throttled, process="web")
    return [blocked, waits, throttled]


def metrics_text() -> str:
    families: list[Family | None] = [
        records_family(),
        runs_family(),
        durations_family(),
        lag_family(),
        pending_family(),
        queue_family(),
        *throttle_families(),
    ]
    lines: list[str] = []
    for family in families:
        if family is not None:
            lines += family.render()
    return "\n".join(lines) + "\n"


# --- access ---------------------------------------------------------------------------------


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def metrics_allowed(request: HttpRequest) -> bool:
    """From loopback (the client's address, behind TRUSTED_PROXY_COUNT proxies the one they
    name), or with `Authorization: Bearer <METRICS_TOKEN>` when the token is set."""
    token = settings.METRICS_TOKEN
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if token and header.startswith("Bearer "):
        given = header.removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), token.encode()):
            return True
    return _is_loopback(client_address(request))


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        response = HttpResponse("forbidden\n", status=403, content_type="text/plain")
        if settings.METRICS_TOKEN:
            response.status_code = 401
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE)
