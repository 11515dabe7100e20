"""Property-based tests of the item availability service (issue #8): generated query options and
$filter expressions, well-formed and hostile, sent with valid credentials through the test
client. Whatever they are, the answer is a result or an OData error, never a 500 (the test client
re-raises a view's exception, so one fails the example) and never a traceback."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from django.http import HttpResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SET = "/odata/ProductItemAvailability"

# Bounded so the module runs in seconds in CI. No example database: nothing is written into the
# working tree, and a failure prints the example that caused it. The fixtures (user, items) are
# made once per test and only read by the examples, so sharing them across examples is safe.
BOUNDED = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# --- well-formed $filter expressions ----------------------------------------------------------

# Text without NUL (refused by design) and without surrogates (not encodable in a URL).
safe_text = st.text(
    st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=12
)
string_literals = safe_text.map(lambda text: "'" + text.replace("'", "''") + "'")
small_integers = st.integers(min_value=-(10**6), max_value=10**6).map(str)
decimals = st.decimals(
    min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=2, allow_nan=False
).map(lambda d: str(d.normalize()) if d == d.to_integral() else str(d))
numbers = small_integers | decimals
guids = st.uuids().map(str)
comparators = st.sampled_from(["eq", "ne", "gt", "ge", "lt", "le"])

string_values = st.sampled_from(["ItemNo", "Description", "BaseUnitOfMeasure"]) | st.builds(
    lambda function, prop: f"{function}({prop})",
    st.sampled_from(["tolower", "toupper", "trim"]),
    st.sampled_from(["ItemNo", "Description"]),
)
number_values = st.sampled_from(["Inventory", "UnitPrice"]) | st.builds(
    lambda function, prop: f"{function}({prop})",
    st.sampled_from(["length", "round", "floor", "ceiling"]),
    st.sampled_from(["Description", "Inventory"]),
).filter(lambda call: ("length" in call) == ("Description" in call))

comparisons = st.one_of(
    st.builds("{} {} {}".format, string_values, comparators, string_literals),
    st.builds("{} {} {}".format, number_values, comparators, numbers),
    st.builds(
        "{} {} {} {}".format,
        st.sampled_from(["Inventory add", "Inventory sub", "UnitPrice mul"]),
        small_integers,
        comparators,
        numbers,
    ),
    st.builds(
        "Blocked {} {}".format, st.sampled_from(["eq", "ne"]), st.sampled_from(["true", "false"])
    ),
    st.builds("CrmProductId {} {}".format, st.sampled_from(["eq", "ne"]), guids | st.just("null")),
    st.builds(
        "{}({}, {})".format,
        st.sampled_from(["contains", "startswith", "endswith"]),
        st.sampled_from(["ItemNo", "Description"]),
        string_literals,
    ),
    st.builds(
        "substring(Description, {}) eq {}".format,
        st.integers(min_value=0, max_value=50),
        string_literals,
    ),
    st.just("Blocked"),
    st.just("null eq CrmProductId"),
)

valid_filters = st.recursive(
    comparisons,
    lambda inner: st.one_of(
        st.builds("{} and {}".format, inner, inner),
        st.builds("{} or {}".format, inner, inner),
        st.builds("not ({})".format, inner),
        st.builds("({})".format, inner),
    ),
    max_leaves=8,
)

# --- hostile $filter expressions --------------------------------------------------------------

HOSTILE_TOKENS = [
    *["ItemNo", "Description", "Inventory", "UnitPrice", "Blocked", "CrmProductId"],
    *["Colour", "Secret", "ItemNo/Lines", "Lines/any(l:l eq 1)", "$it", "ns.Prop"],
    *["eq", "ne", "gt", "ge", "lt", "le", "and", "or", "not", "has", "in"],
    *["add", "sub", "mul", "div", "mod", "-", "+", "*", "/", ",", ":", "="],
    *["(", ")", "((", "))", "'", "''", "'abc'", "'unterminated", '"', "\\"],
    *["null", "true", "false", "0", "1", "-1", "1.5", "1e400", "-1e-400", "9" * 38],
    *["99999999999999999999", "9223372036854775807", "-9223372036854775808", "0x10"],
    *["²", "\u0663", "\u0663\u0663", "\uff11", "\x00", "'\x00'", "\ufeff", "\u202e"],
    *["2020-01-01", "2020-13-45", "12:00:00", "2020-01-01T00:00:00Z", "duration'P1D'"],
    *["01234567-89ab-cdef-0123-456789abcdef", "\u0663" * 8 + "-aaaa-aaaa-aaaa-" + "a" * 12],
    *["year(", "month(", "now()", "contains(", "startswith(", "substring(", "length("],
    *["matchesPattern(", "geo.distance(", "geography'POINT(0 0)'", "foo(", "concat("],
    *["tolower(", "indexof(", "round(", "hassubset(", "cast(", "isof("],
]
hostile_tokens = st.sampled_from(HOSTILE_TOKENS) | st.text(max_size=6).filter(
    lambda text: not any(0xD800 <= ord(c) <= 0xDFFF for c in text)
)
token_soup = st.builds(
    lambda tokens, separator: separator.join(tokens),
    st.lists(hostile_tokens, max_size=25),
    st.sampled_from([" ", "", "  ", "\t"]),
)
deep = st.integers(min_value=1, max_value=3000)
deep_filters = st.one_of(
    st.builds(lambda n, expr: "(" * n + expr + ")" * n, deep, valid_filters),
    st.builds(lambda n, m, expr: "(" * n + expr + ")" * m, deep, deep, comparisons),
    st.builds(lambda n, expr: "not " * n + f"({expr})", deep, comparisons),
    st.builds(lambda n, expr: " or ".join([expr] * n), deep, comparisons),
    st.builds(lambda n: "-" * n + "Inventory gt 1", deep),
    st.builds(lambda n: "length(" * n + "ItemNo" + ")" * n + " gt 1", deep),
)
# A valid expression with one token swapped in: close to what the service accepts.
mutated_filters = st.builds(
    lambda expr, at, token: " ".join(
        [*expr.split(" ")[: at % (expr.count(" ") + 1)], token, *expr.split(" ")[at % 7 :]]
    ),
    valid_filters,
    st.integers(min_value=0, max_value=50),
    hostile_tokens,
)
hostile_filters = st.one_of(token_soup, deep_filters, mutated_filters, st.text(max_size=40))
any_filter = valid_filters | hostile_filters

# --- the other query options ------------------------------------------------------------------

number_texts = st.one_of(
    st.integers(min_value=-5, max_value=2**70).map(str),
    st.text("0123456789²³\u0663\u0661\uff11\x00 +-e.", max_size=25),
    st.text(max_size=8),
)
property_names = st.sampled_from(
    ["ItemNo", "Description", "Inventory", "UnitPrice", "Blocked", "CrmProductId", "Secret", ""]
)
query_options = st.fixed_dictionaries(
    {},
    optional={
        "$filter": any_filter,
        "$top": number_texts,
        "$skip": number_texts,
        "$skiptoken": number_texts,
        "$select": st.lists(property_names | st.text(max_size=6), max_size=4).map(",".join),
        "$orderby": st.lists(
            st.builds(
                "{}{}".format,
                property_names,
                st.sampled_from(["", " asc", " desc", " up", " desc desc"]),
            ),
            max_size=3,
        ).map(",".join),
        "$count": st.sampled_from(["true", "false", "TRUE", "yes", ""]) | st.text(max_size=4),
        "$format": st.sampled_from(["json", "application/json;odata.metadata=minimal", "xml"])
        | st.text(max_size=6),
        "$expand": st.text(max_size=6),
        "custom\x00": st.text(max_size=4),
        "note": st.text(max_size=6),
    },
)
prefer_headers = st.one_of(
    st.none(),
    number_texts.map("odata.maxpagesize={}".format),
    st.builds("odata.maxpagesize={}, odata.track-changes".format, number_texts),
    st.text(max_size=20),
)


def without_surrogates(value: Any) -> bool:
    texts = value.items() if isinstance(value, dict) else [value]
    flat = "".join(str(part) for part in texts)
    return not any(0xD800 <= ord(c) <= 0xDFFF for c in flat)


def assert_answer(response: HttpResponse, *, allowed: tuple[int, ...] = (200, 400)) -> None:
    assert response.status_code in allowed, (response.status_code, response.content)
    body = response.content.decode()
    assert "Traceback" not in body and 'File "' not in body
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"]


@pytest.mark.django_db
@BOUNDED
@given(expression=valid_filters, path=st.sampled_from([SET, f"{SET}/$count"]))
def test_well_formed_filters_are_answered(
    service: Callable[..., HttpResponse],
    expression: str,
    path: str,
) -> None:
    response = service(path, {"$filter": expression})
    assert response.status_code == 200, (expression, response.content)


@pytest.mark.django_db
@BOUNDED
@given(expression=any_filter.filter(without_surrogates), count=st.booleans())
def test_any_filter_is_a_result_or_an_odata_error(
    service: Callable[..., HttpResponse],
    expression: str,
    count: bool,
) -> None:
    assert_answer(service(f"{SET}/$count" if count else SET, {"$filter": expression}))


@pytest.mark.django_db
@BOUNDED
@given(options=query_options.filter(without_surrogates), prefer=prefer_headers)
def test_any_query_options_are_a_result_or_an_odata_error(
    service: Callable[..., HttpResponse],
    options: dict[str, str],
    prefer: str | None,
) -> None:
    if prefer is not None and not without_surrogates(prefer):
        prefer = None
    headers = {} if prefer is None else {"HTTP_PREFER": prefer}
    response = service(SET, options, **headers)
    assert_answer(response)
    if response.status_code == 200:
        assert isinstance(response.json()["value"], list)


@pytest.mark.django_db
@BOUNDED
@given(key=st.text(max_size=30).filter(without_surrogates), select=property_names)
def test_any_entity_key_is_an_entity_or_an_odata_error(
    service: Callable[..., HttpResponse],
    key: str,
    select: str,
) -> None:
    literal = key.replace("'", "''")
    path = f"{SET}('{quote(literal, safe='')}')"
    assert_answer(service(path, {"$select": select}), allowed=(200, 400, 404))
