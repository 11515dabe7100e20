"""factory-boy and Faker are test-only: the production image (Dockerfile) does not install them,
so no module of the installed apps may import them, at import time or lazily in a function."""

import ast
import os
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

from sandbox.process import BASE_DIR

TEST_ONLY = ("factory", "faker")


def pyproject() -> dict:
    return tomllib.loads((BASE_DIR / "pyproject.toml").read_text())


def production_packages() -> list[str]:
    """Top-level packages the wheel ships (pyproject's `packages.find` include patterns)."""
    patterns = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted(p.rstrip("*") for p in patterns)


def production_sources() -> list[Path]:
    return sorted(
        path for package in production_packages() for path in (BASE_DIR / package).rglob("*.py")
    )


def imported_top_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_test_only_libraries_are_not_production_dependencies() -> None:
    project = pyproject()["project"]
    runtime = " ".join(project["dependencies"]).lower()
    dev = " ".join(project["optional-dependencies"]["dev"]).lower()

    assert "factory-boy" not in runtime and "faker" not in runtime
    assert "factory-boy" in dev and "faker" in dev
    # The image installs the runtime dependencies alone, never the dev extra.
    dockerfile = (BASE_DIR / "Dockerfile").read_text()
    assert "['project']['dependencies']" in dockerfile
    assert "[dev]" not in dockerfile and "optional-dependencies" not in dockerfile


def test_no_production_module_imports_a_test_only_library() -> None:
    sources = production_sources()
    assert len(sources) > 50  # the scan found the apps

    offenders = [
        f"{path.relative_to(BASE_DIR)} imports {name}"
        for path in sources
        for name in sorted(imported_top_names(path) & set(TEST_ONLY))
    ]

    assert offenders == []


def test_every_production_module_imports_without_the_test_only_libraries() -> None:
    # As in the production image: `factory` and `faker` cannot be imported at all.
    script = textwrap.dedent(
        """
        import importlib, importlib.abc, pkgutil, sys

        class Missing(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
                return None

        sys.meta_path.insert(0, Missing())
        import django
        django.setup()
        failed = []
        for top in {packages!r}:
            package = importlib.import_module(top)
            for info in pkgutil.walk_packages(package.__path__, top + "."):
                # Other settings modules configure another environment (production refuses
                # to load without its secrets); the test settings are already loaded.
                if info.name.startswith("erpcrm.settings."):
                    continue
                try:
                    importlib.import_module(info.name)
                except ModuleNotFoundError as exc:
                    if exc.name and exc.name.split(".")[0] in {blocked!r}:
                        failed.append(f"{{info.name}}: {{exc}}")
                    else:
                        raise
        print("\\n".join(failed) or "ok")
        """
    ).format(blocked=set(TEST_ONLY), packages=production_packages())

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "erpcrm.settings.test"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok", result.stdout
