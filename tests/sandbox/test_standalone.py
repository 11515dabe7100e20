"""The sandbox is a stand-alone Dataverse double: it runs without any other app of ours, and
its seeded demo organization still overlaps the ERP demo data through a file it owns."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

BASE_DIR = Path(__file__).resolve().parents[2]
SANDBOX_DIR = BASE_DIR / "sandbox"
OUR_APPS = (
    "erp", "dataverse", "setup_wizard", "syncjobs", "coupling", "availability", "connection",
    "accounts", "core",
)  # fmt: skip


def _script() -> ModuleType:
    path = BASE_DIR / "scripts" / "sandbox_demo_data.py"
    spec = importlib.util.spec_from_file_location("sandbox_demo_data", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_demo_data_matches_the_erp_demo_data() -> None:
    script = _script()
    committed = (SANDBOX_DIR / "data" / "demo_overlap.json").read_text(encoding="utf-8")
    assert committed == script.render(script.build()), (
        "sandbox/data/demo_overlap.json is out of date: run "
        ".venv/bin/python scripts/sandbox_demo_data.py and commit the result"
    )


def test_demo_data_overlaps_the_erp_numbers() -> None:
    data = json.loads((SANDBOX_DIR / "data" / "demo_overlap.json").read_text(encoding="utf-8"))
    assert data["customers"][0]["no"] == "C000001" and len(data["customers"]) == 40
    assert data["contacts"][0]["no"] == "CP000001" and len(data["contacts"]) == 40
    assert all(p["login"] and " " not in p["login"] for p in data["salespeople"])


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_sandbox_module_imports_another_app_of_ours() -> None:
    offenders = {
        f"{path.relative_to(BASE_DIR)}: {name}"
        for path in SANDBOX_DIR.rglob("*.py")
        for name in _imported_modules(path)
        if name.split(".")[0] in OUR_APPS
    }
    assert not offenders


def test_sandbox_seeds_and_serves_with_none_of_our_apps_loaded(tmp_path: Path) -> None:
    # a fresh interpreter: build the app (which seeds the demo organization), answer a request,
    # and list which of our apps ended up in sys.modules
    code = f"""
import io, json, sys
from sandbox.app import SandboxApp
app = SandboxApp({str(tmp_path / "sb.sqlite3")!r})
status = []
body = b"".join(app({{"REQUEST_METHOD": "GET", "PATH_INFO": "/_sandbox/health",
                     "REMOTE_ADDR": "127.0.0.1", "wsgi.input": io.BytesIO()}},
                    lambda s, h: status.append(s)))
accounts = app.store.count("accounts")
loaded = sorted({{m.split(".")[0] for m in sys.modules}} & set({OUR_APPS!r}))
print(json.dumps({{"status": status[0], "accounts": accounts, "loaded": loaded}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"].startswith("200")
    assert report["accounts"] > 20  # the ERP overlap customers plus the CRM-only ones
    assert report["loaded"] == []
