"""The read-only OData v4 item availability service at /odata/.

GET /odata/                                   service document
GET /odata/$metadata                          CSDL (XML)
GET /odata/ProductItemAvailability            collection: $filter $select $orderby $top $skip
                                              $count, server-driven paging ($skiptoken)
GET /odata/ProductItemAvailability/$count     number of (filtered) rows, text/plain
GET /odata/ProductItemAvailability('1000')    one item by its number
"""

import json
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from django.db import DataError, IntegrityError, ProgrammingError, transaction
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from availability import auth, odata
from availability.selectors import product_item_availability_queryset

JSON_TYPE = "application/json;odata.metadata=minimal"
# Matched with fullmatch: "$" would also match before a trailing newline.
_KEY_PATTERN = re.compile(rf"{odata.ENTITY_SET}\((?:{odata.KEY_PROPERTY}=)?'((?:[^']|'')*)'\)")


def _respond(
    body: str | bytes,
    *,
    status: int = 200,
    content_type: str = JSON_TYPE,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type=content_type)
    response["OData-Version"] = "4.0"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _json(data: dict[str, Any], **headers: str) -> HttpResponse:
    return _respond(json.dumps(data, ensure_ascii=False), headers=headers)


def _error(error: odata.ODataError) -> HttpResponse:
    response = _json({"error": {"code": error.code, "message": error.message}})
    response.status_code = error.status
    for name, value in error.headers.items():
        response[name] = value
    return response


def odata_endpoint(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """GET only, Basic auth (no session, so no CSRF), errors as OData error bodies."""

    @csrf_exempt
    @never_cache
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            if request.method not in ("GET", "HEAD"):
                raise odata.ODataError(
                    405,
                    "MethodNotAllowed",
                    _("The item availability service is read-only."),
                    {"Allow": "GET"},
                )
            auth.authenticate(request)
            odata.reject_nul(
                request.path,
                request.META.get("HTTP_PREFER", ""),
                *(text for name, values in request.GET.lists() for text in (name, *values)),
            )
            return view(request, *args, **kwargs)
        except odata.ODataError as error:
            return _error(error)

    return wrapped


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/odata/")


@odata_endpoint
def service_document(request: HttpRequest) -> HttpResponse:
    return _json(
        {
            "@odata.context": f"{_base_url(request)}$metadata",
            "value": [{"name": odata.ENTITY_SET, "kind": "EntitySet", "url": odata.ENTITY_SET}],
        }
    )


@odata_endpoint
def metadata(request: HttpRequest) -> HttpResponse:
    return _respond(odata.metadata_xml(), content_type="application/xml")


def _context(request: HttpRequest, select: list[str], suffix: str = "") -> str:
    selected = "" if select == list(odata.PROPERTIES) else f"({','.join(select)})"
    return f"{_base_url(request)}$metadata#{odata.ENTITY_SET}{selected}{suffix}"


# Besides odata.py's, what the database says about a query that passed the checks but still does
# not fit (e.g. a division by zero on PostgreSQL): the client's query, so a 400.
# OperationalError is not here: it means the database is unwell, not the query.
_QUERY_ERRORS: tuple[type[BaseException], ...] = (
    *odata.FILTER_ERRORS,
    DataError,
    IntegrityError,
    ProgrammingError,
)


def _evaluate(build: Callable[[], Any]) -> Any:
    # A filter can parse and still be wrong for the column; Django or the database notices only
    # when the query runs. The savepoint keeps a surrounding transaction usable after a database
    # error (PostgreSQL refuses every later statement in a failed transaction).
    try:
        with transaction.atomic():
            return build()
    except _QUERY_ERRORS as exc:
        raise odata.bad_request(
            _("Invalid $filter: the values do not fit the properties.")
        ) from exc


@odata_endpoint
def resource(request: HttpRequest, path: str) -> HttpResponse:
    if path == odata.ENTITY_SET:
        return _collection(request)
    if path == f"{odata.ENTITY_SET}/$count":
        options = odata.parse_options(request.GET.dict())
        queryset = odata.apply_filter(product_item_availability_queryset(), options.filter)
        return _respond(str(_evaluate(queryset.count)), content_type="text/plain")
    match = _KEY_PATTERN.fullmatch(path)
    if match:
        return _entity(request, match.group(1).replace("''", "'"))
    raise odata.ODataError(404, "NotFound", _("Resource not found: '%(path)s'.") % {"path": path})


def _entity(request: HttpRequest, item_no: str) -> HttpResponse:
    select = odata.parse_select(request.GET.get("$select"))
    item = product_item_availability_queryset().filter(no=item_no).first()
    if item is None:
        raise odata.ODataError(
            404,
            "NotFound",
            _("No %(set)s with key '%(key)s'.") % {"set": odata.ENTITY_SET, "key": item_no},
        )
    return _json(
        {"@odata.context": _context(request, select, "/$entity"), **odata.entity_json(item, select)}
    )


def _collection(request: HttpRequest) -> HttpResponse:
    params = request.GET.dict()
    options = odata.parse_options(params)
    queryset = odata.apply_filter(product_item_availability_queryset(), options.filter)
    preferred = odata.preferred_page_size(request.META.get("HTTP_PREFER", ""))
    page_size = min(preferred or odata.MAX_PAGE_SIZE, odata.MAX_PAGE_SIZE)

    # $skiptoken counts the rows already delivered after $skip; $top caps the total.
    delivered = options.skiptoken
    remaining = None if options.top is None else max(options.top - delivered, 0)
    take = page_size if remaining is None else min(page_size, remaining)
    start = options.skip + delivered
    ordered = queryset.order_by(*options.orderby)
    # Past what a database can count to (where OFFSET would overflow) there is nothing left.
    rows: list[Any] = []
    if start + take + 1 <= odata.MAX_INTEGER:
        rows = _evaluate(lambda: list(ordered[start : start + take + 1]))
    more = len(rows) > take and (remaining is None or remaining > take)
    rows = rows[:take]

    body: dict[str, Any] = {"@odata.context": _context(request, options.select)}
    if options.count:
        body["@odata.count"] = _evaluate(queryset.count)
    body["value"] = [odata.entity_json(item, options.select) for item in rows]
    if more:
        next_params = {k: v for k, v in params.items() if k != "$skiptoken"}
        next_params["$skiptoken"] = str(delivered + len(rows))
        body["@odata.nextLink"] = (
            request.build_absolute_uri(request.path)
            + "?"
            + urlencode(next_params, quote_via=quote, safe="$,'()")
        )
    headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if preferred else {}
    return _json(body, **headers)
