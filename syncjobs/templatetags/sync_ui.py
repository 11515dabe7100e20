"""Small display helpers of the synchronization pages."""

import json
from typing import Any

from django import template
from django.core.paginator import Page
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from syncjobs.models import Direction, JobQueueEntry, JobRun

register = template.Library()


@register.filter
def run_direction(run: JobRun) -> str:
    """ "ERP → CRM" / "CRM → ERP": a run's direction as the data moved."""
    if run.direction == Direction.TO_CRM:
        return _("ERP → CRM")
    if run.direction == Direction.FROM_CRM:
        return _("CRM → ERP")
    if run.direction == Direction.BIDIRECTIONAL:
        return _("ERP ↔ CRM")
    return "—"


@register.filter
def run_duration(run: JobRun) -> str:
    """How long a finished run took: "4.2 s" under a minute, "1:05:07" (h:mm:ss) beyond."""
    if run.finished_at is None or run.started_at is None:
        return "—"
    seconds = max((run.finished_at - run.started_at).total_seconds(), 0.0)
    if seconds < 60:
        return f"{number_format(seconds, decimal_pos=1)} s"
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


@register.filter
def change_value(value: Any) -> str:
    """A field's old or new value as recorded (JSON): blank shows as "—", text as it is."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


@register.filter
def elided_pages(page: Page) -> list[int | str]:
    """The page numbers to offer around the current one (the paginator's ellipsis between)."""
    return list(page.paginator.get_elided_page_range(page.number, on_each_side=2))


@register.simple_tag(takes_context=True)
def page_query(context: template.Context, param: str, number: int) -> str:
    """The current query string with `param` set to `number` (other lists keep their page)."""
    query = context["request"].GET.copy()
    query[param] = str(number)
    return "?" + query.urlencode()


@register.filter
def entry_label(entry: JobQueueEntry) -> str:
    """What a job queue entry runs, in the reader's language ("CUSTOMER: synchronization job",
    "CUSTOMER: full synchronization, run once", "Item availability")."""
    Job = JobQueueEntry.Job
    if entry.job == Job.MAPPING:
        name = entry.mapping.name if entry.mapping is not None else "—"
        if entry.recurring:
            return _("%(name)s: synchronization job") % {"name": name}
        if entry.full:
            return _("%(name)s: full synchronization, run once") % {"name": name}
        return _("%(name)s: synchronization of modified records, run once") % {"name": name}
    label = str(Job(entry.job).label)
    return label if entry.recurring else _("%(job)s, run once") % {"job": label}


@register.filter
def entry_interval(entry: JobQueueEntry) -> str:
    """ "every 30 min", or "every 120 min (idle; base 30 min)" while backed off."""
    if not entry.recurring:
        return "—"
    if entry.current_interval_minutes > entry.interval_minutes:
        return _("every %(current)s min (idle; base %(base)s min)") % {
            "current": entry.current_interval_minutes,
            "base": entry.interval_minutes,
        }
    return _("every %(n)s min") % {"n": entry.interval_minutes}
