"""Limits on what a reader may put in a search or a filter, shared by the list pages and the API.

The databases have limits no user should reach: SQLite refuses a LIKE pattern over 50,000 bytes
("LIKE or GLOB pattern too complex") and PostgreSQL refuses NUL in any text parameter. Checking
the value first turns what would be a server error into a message the reader can act on.
"""

from dataclasses import dataclass, field

from django.utils.translation import gettext as _

# Far above any real search or code (the longest ERP field is 100 characters), far below what
# the databases choke on.
MAX_QUERY_LENGTH = 200
NUL = "\x00"


def query_value_problem(*, value: str) -> str | None:
    """Why `value` cannot be searched or filtered for, or None if it can."""
    if NUL in value:
        return _("A NUL character (\\0) is not allowed here; remove it and try again.")
    if len(value) > MAX_QUERY_LENGTH:
        return _(
            "Searches and filters are limited to at most %(limit)d characters "
            "(this one has %(length)d); shorten it and try again."
        ) % {"limit": MAX_QUERY_LENGTH, "length": len(value)}
    return None


@dataclass(frozen=True)
class ListQuery:
    """A list page's search and filters with the unusable values left out, and why."""

    search: str
    filters: dict[str, str]
    # (name of the input, message), in the order the inputs were given.
    problems: list[tuple[str, str]] = field(default_factory=list)


def list_query_clean(*, search: str, filters: dict[str, str]) -> ListQuery:
    """Drop the values the database cannot take; the page shows the rest and says why."""
    problems: list[tuple[str, str]] = []
    problem = query_value_problem(value=search)
    if problem is not None:
        problems.append(("q", problem))
        search = ""
    kept: dict[str, str] = {}
    for name, value in filters.items():
        problem = query_value_problem(value=value)
        if problem is None:
            kept[name] = value
        else:
            problems.append((name, problem))
            kept[name] = ""
    return ListQuery(search=search, filters=kept, problems=problems)
