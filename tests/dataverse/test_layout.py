"""The shape of the client package: its public names, and that it stays independent of the apps.

The client is split into one module per concern; other code imports only `dataverse.client`.
These tests keep that import surface and the package's independence from the rest of the
project (it must run in any process that has the settings of a CRM connection, and nothing
else).
"""

from __future__ import annotations

import ast
from pathlib import Path

import dataverse.client
from dataverse.client import DataverseClient

PACKAGE = Path(dataverse.client.__file__).resolve().parent
# Apps of this project: the client must not know them (nor their models).
PROJECT_APPS = {
    "accounts",
    "availability",
    "connection",
    "core",
    "coupling",
    "erp",
    "erpcrm",
    "sandbox",
    "setup_wizard",
    "syncjobs",
}
# Django management commands are entry points, not the client; crm_ping moves to its own app.
NOT_THE_CLIENT = {PACKAGE / "management"}


def _client_sources() -> list[Path]:
    return [
        path
        for path in sorted(PACKAGE.rglob("*.py"))
        if not any(path.is_relative_to(other) for other in NOT_THE_CLIENT)
    ]


def test_public_names_still_come_from_dataverse_client() -> None:
    for name in dataverse.client.__all__:
        assert hasattr(dataverse.client, name), name
    for name in ("ConnectionSettings", "DataverseClient", "bind", "formatted_value"):
        assert name in dataverse.client.__all__


def test_client_offers_every_concern() -> None:
    for method in (
        "request",  # transport
        "get_page",  # query
        "create",  # single writes
        "changes",  # change tracking
        "write_many",  # bulk
        "import_solution",  # solutions
        "option_set",  # metadata
    ):
        assert callable(getattr(DataverseClient, method)), method


def test_the_client_imports_no_app_of_the_project() -> None:
    offenders = []
    for path in _client_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            offenders += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in PROJECT_APPS or name.startswith("django.db")
            ]
    assert offenders == []


def test_no_client_module_is_longer_than_600_lines() -> None:
    lengths = {
        path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in _client_sources()
    }
    assert {name: n for name, n in lengths.items() if n > 600} == {}
