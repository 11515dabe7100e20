"""Records per second over a full synchronization (issue #11 item 5): samples of the records a
running run has done, written while the engine flushes a full pass's counters, and the chart
the review page draws from them (inline SVG, rendered on the server).

A sample is written when a full synchronization job run is saved (the engine saves its
counters every chunk, and once more when the pass ends) and the run's last sample is older than
FULLSYNC_SAMPLE_SECONDS, so several workers write about one sample per interval between them.
The chart's first point is the run's start (nothing done), its last the records done now (or
when the run finished), so a run shorter than the interval still has a rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.utils import timezone

from . import fullsync
from .models import FullSyncRun, FullSyncSample, JobRun

# Points the chart draws at most: a long run's samples are thinned to this many (the rate
# between two kept samples is the average over the samples left out).
MAX_POINTS = 60
WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 64, 12, 12, 28


def _running_run_id() -> int | None:
    return (
        FullSyncRun.objects.filter(status=FullSyncRun.Status.RUNNING)
        .values_list("pk", flat=True)
        .first()
    )


def sample_record(*, run_id: int, done: int | None = None, force: bool = False) -> bool:
    """Write a sample of the run (records done now, from its lines' job runs) unless its
    last sample is younger than FULLSYNC_SAMPLE_SECONDS. True when one was written."""
    now = timezone.now()
    if not force:
        interval = timedelta(seconds=max(0.0, float(settings.FULLSYNC_SAMPLE_SECONDS)))
        last = (
            FullSyncSample.objects.filter(run_id=run_id)
            .order_by("-at")
            .values_list("at", flat=True)
            .first()
        )
        if last is not None and now - last < interval:
            return False
    if done is None:
        run = FullSyncRun.objects.filter(pk=run_id).first()
        if run is None:
            return False
        done = int(fullsync.fullsync_status(run=run)["done"])
    FullSyncSample.objects.create(run_id=run_id, at=now, done=done)
    return True


def _on_job_saved(sender: type[JobRun], instance: JobRun, **kwargs: Any) -> None:
    if not instance.full or instance.kind != JobRun.Kind.SYNCHRONIZATION:
        return
    run_id = _running_run_id()
    if run_id is not None:
        sample_record(run_id=run_id)


def connect() -> None:
    post_save.connect(_on_job_saved, sender=JobRun, dispatch_uid="fullsync_samples")


# --- selectors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatePoint:
    at: datetime
    done: int
    rate: float  # records per second since the previous point
    x: float = 0.0
    y: float = 0.0


def _thin(points: list[tuple[datetime, int]]) -> list[tuple[datetime, int]]:
    if len(points) <= MAX_POINTS:
        return points
    step = (len(points) - 1) / (MAX_POINTS - 1)
    return [points[round(i * step)] for i in range(MAX_POINTS)]


def rate_points(*, run: FullSyncRun, done: int | None = None) -> list[RatePoint]:
    """The run's records per second over time: one point per sample (thinned to MAX_POINTS),
    starting at the run's start; `done` (the records done now) adds the current point."""
    if run.started_at is None:
        return []
    raw: list[tuple[datetime, int]] = [(run.started_at, 0)]
    raw += [
        (at, n)
        for at, n in run.samples.filter(at__gt=run.started_at)
        .order_by("at", "id")
        .values_list("at", "done")
    ]
    if done is not None:
        end = run.finished_at or timezone.now()
        if end > raw[-1][0]:
            raw.append((end, done))
    points = []
    previous = None
    for at, n in _thin(raw):
        if previous is None:
            points.append(RatePoint(at=at, done=n, rate=0.0))
        else:
            seconds = (at - previous[0]).total_seconds()
            if seconds <= 0:
                continue
            # A restarted line starts its counters again: no negative rate.
            points.append(RatePoint(at=at, done=n, rate=max(0.0, (n - previous[1]) / seconds)))
        previous = (at, n)
    return points


@dataclass(frozen=True)
class RateChart:
    points: list[RatePoint]
    polyline: str
    peak: float
    seconds: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    bottom: int = HEIGHT - BOTTOM


def rate_chart(*, run: FullSyncRun, done: int | None = None) -> RateChart | None:
    """The chart of records per second: coordinates computed here, drawn by
    templates/syncjobs/_fullsync_chart.html. None before the run has started."""
    points = rate_points(run=run, done=done)
    if not points:
        return None
    start = points[0].at
    seconds = max(1.0, (points[-1].at - start).total_seconds())
    peak = max((p.rate for p in points), default=0.0) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    placed = [
        RatePoint(
            at=p.at,
            done=p.done,
            rate=round(p.rate, 1),
            x=round(LEFT + (p.at - start).total_seconds() / seconds * plot_w, 1),
            y=round(TOP + plot_h - p.rate / peak * plot_h, 1),
        )
        for p in points
    ]
    return RateChart(
        points=placed,
        polyline=" ".join(f"{p.x},{p.y}" for p in placed),
        peak=round(peak, 1),
        seconds=int(seconds),
    )
