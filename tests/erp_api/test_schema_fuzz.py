"""Schemathesis over every operation of the OpenAPI schema: no input answers with a 5xx.

Requests go to Django's WSGI application in this process (no network, no server), with an
integration administrator's token, inside the test's database transaction. The examples are
bounded and derandomized, so the run is the same every time and takes seconds.

One pytest test per operation, each driving Hypothesis over the operation's strategy, rather
than schemathesis's own pytest integration: its `from_fixture` and `parametrize` rename pytest
nodes through an attribute pytest 9 no longer has.
"""

import json
from collections.abc import Callable, Iterator

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.schemas import APIOperation

from accounts import roles
from accounts.services import api_token_issue
from tests.factories import erp as f

EXAMPLES_PER_OPERATION = 10


@pytest.fixture
def admin_token(make_user: Callable[..., User]) -> str:
    return api_token_issue(user=make_user("fuzzer", roles.INTEGRATION_ADMIN))


@pytest.fixture
def wsgi_app_in_test_transaction() -> Iterator[None]:
    """As Django's test client does: a request must not close the connection that holds the
    test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def some_records() -> None:
    # Records for the lists, searches and filters to find, and for references in written
    # bodies; reads and changes by id meet them when ids are small (SQLite rolls its id
    # counters back with each test).
    for _ in range(3):
        f.SalesPriceFactory()
        f.ContactFactory()
        f.CustomerFactory()
        f.ResourceFactory()


def _offline_schema() -> dict:
    """The schema /api/schema/ serves, built without a request: the tests are generated when
    the module is collected, before any database exists."""
    spec = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(spec))


OFFLINE_SCHEMA = _offline_schema()
schema = schemathesis.openapi.from_dict(OFFLINE_SCHEMA)
schema.app = get_wsgi_application()


def test_the_fuzzed_schema_is_the_served_one(admin_token: str) -> None:
    served = APIClient().get(
        "/api/schema/", {"format": "json"}, HTTP_AUTHORIZATION=f"Token {admin_token}"
    )

    assert served.status_code == 200
    assert json.loads(served.content) == OFFLINE_SCHEMA


OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda operation: operation.label)
def test_no_input_gives_a_server_error(
    operation: APIOperation,
    admin_token: str,
    some_records: None,
    wsgi_app_in_test_transaction: None,
) -> None:
    headers = {"Authorization": f"Token {admin_token}"}
    # Valid requests reach the database; invalid ones (wrong types, out-of-range numbers,
    # strings where numbers belong) test the refusals.
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases)
    def call(case: schemathesis.Case) -> None:
        # Each example starts from the same records and cannot leave the test's transaction
        # broken for the next (PostgreSQL aborts it after a refused statement).
        savepoint = transaction.savepoint()
        try:
            response = case.call(headers=headers)
        finally:
            transaction.savepoint_rollback(savepoint)
        case.validate_response(response, checks=[not_a_server_error])

    call()
