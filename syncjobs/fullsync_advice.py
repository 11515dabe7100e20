"""Accepting or overriding a review line's "couple records first" recommendation
(docs/reference/business-central.md §4.3, §4.6; issue #11 item 1).

Accepting runs match-based coupling of the line's mapping with its default match settings.
That lives in coupling/, above this layer: coupling's service checks the line here
(`coupling_acceptable`), queues its run, and tells the line which job run it is
(`line_coupling_started`) and how it ended (`line_coupling_finished`); the review page shows
that job's progress and, once the records are coupled, recommends the full synchronization.

Overriding ("Recommend Full Synchronization") records the administrator's choice and, when the
line has run already, starts its full synchronization again.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from . import fullsync
from .fullsync import FullSyncError
from .models import FullSyncLine, FullSyncRun, JobRun, Recommendation, UidType

ACTIVE = (FullSyncLine.Status.READY, FullSyncLine.Status.IN_PROCESS)


def _require_couple_advice(line: FullSyncLine) -> None:
    if line.recommendation != Recommendation.COUPLE:
        raise FullSyncError(
            _("%(name)s is not recommended to couple records first.") % {"name": line.name}
        )
    if line.status in ACTIVE:
        raise FullSyncError(
            _("%(name)s is being synchronized; wait until it has finished.") % {"name": line.name}
        )


def coupling_acceptable(*, line: FullSyncLine) -> None:
    """Raise FullSyncError (with the reason) unless match-based coupling may run for the line
    now: its recommendation is "couple records first", it is not running, its mapping couples
    rows (not option values) and no coupling it started is still going."""
    line.refresh_from_db()
    _require_couple_advice(line)
    mapping = line.mapping
    if mapping is None:
        raise FullSyncError(_("The mapping of %(name)s was deleted.") % {"name": line.name})
    if mapping.crm_uid_type != UidType.GUID:
        raise FullSyncError(
            _("%(name)s couples option values; couple them on the mapping's option page.")
            % {"name": line.name}
        )
    job = line.coupling_job
    if job is not None and job.status == JobRun.Status.RUNNING:
        raise FullSyncError(
            _("The match-based coupling of %(name)s is running already.") % {"name": line.name}
        )


def line_coupling_started(*, line: FullSyncLine, job: JobRun) -> None:
    """The line shows this match-based coupling job (queued, running, its result)."""
    FullSyncLine.objects.filter(pk=line.pk).update(coupling_job=job)


def line_coupling_finished(*, job: JobRun) -> int:
    """A match-based coupling job ended: the lines that started it are recommended a full
    synchronization when it succeeded (the records that matched are coupled; the full
    synchronization creates the others). A failed one leaves the advice as it was. Returns the
    lines changed."""
    if job.status != JobRun.Status.SUCCEEDED:
        return 0
    return FullSyncLine.objects.filter(
        coupling_job=job, recommendation=Recommendation.COUPLE
    ).update(recommendation=Recommendation.FULL_SYNC)


@transaction.atomic
def line_override(*, line: FullSyncLine) -> bool:
    """Choose the full synchronization over the "couple records first" advice. A line that has
    run (finished or failed) runs again now; otherwise the run's Start runs it. True when the
    line was started."""
    line.refresh_from_db()
    _require_couple_advice(line)
    FullSyncLine.objects.filter(pk=line.pk).update(
        recommendation=Recommendation.FULL_SYNC, recommendation_overridden=True
    )
    if line.run.status == FullSyncRun.Status.READY or line.status not in (
        FullSyncLine.Status.ERROR,
        FullSyncLine.Status.FINISHED,
    ):
        return False
    fullsync.line_restart(line=line)
    return True
