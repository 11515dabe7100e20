# erpcrm: `make run` starts everything, `make test` runs the whole test suite.
# Both create the virtualenv (.venv) on first use; a later run reinstalls only when
# pyproject.toml has changed.

VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# Extra arguments for pytest, e.g. `make test PYTEST_ARGS="-x tests/infra"`.
PYTEST_ARGS ?=
# Test processes (pytest-xdist; each test file stays in one process; 3 on 2 cores because many
# tests wait on real processes). 0: a single process.
PYTEST_WORKERS ?= 3
# Extra arguments for seed_demo, e.g. `make run SEED_ARGS="--customers 200"`.
SEED_ARGS ?=
WEB_PORT ?= 8000

# The first Python >= 3.11 on PATH (python3, then python3.13/3.12/3.11). Only evaluated when
# the virtualenv has to be created.
FIND_PYTHON = $(shell for p in python3 python3.13 python3.12 python3.11; do \
	command -v $$p >/dev/null 2>&1 && \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 && \
	{ echo $$p; break; }; done)

.PHONY: run test lint format migrate seed admin clean venv

$(PY):
	@py="$(FIND_PYTHON)"; \
	if [ -z "$$py" ]; then \
		echo "erpcrm needs Python 3.11 or newer (python3, python3.13, python3.12 or python3.11)." >&2; \
		exit 1; \
	fi; \
	echo "Creating $(VENV) with $$py ($$($$py --version))"; \
	$$py -m venv $(VENV) || { rm -rf $(VENV); echo "Could not create $(VENV); on Debian/Ubuntu install python3-venv." >&2; exit 1; }

# Stamp files: reinstall only when pyproject.toml is newer than the last install.
$(VENV)/.installed-run: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed-run

venv: $(VENV)/.installed-run

.env: | $(VENV)/.installed-run
	$(PY) scripts/write_env.py .env

migrate: $(VENV)/.installed-run .env
	$(PY) manage.py migrate --noinput

admin: migrate
	$(PY) manage.py ensure_admin

# seed_demo only fills an empty database, so a second `make run` keeps your changes.
seed: migrate
	@if [ -f erp/management/commands/seed_demo.py ]; then \
		$(PY) manage.py seed_demo --if-empty $(SEED_ARGS); \
	else \
		echo "seed_demo is not available; no demo data loaded."; \
	fi

run: admin seed
	@echo "Starting erpcrm on http://127.0.0.1:$(WEB_PORT) (Ctrl-C stops everything)"
	$(PY) scripts/run_all.py --web-port $(WEB_PORT)

test: $(VENV)/.installed-dev
	$(VENV)/bin/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The checks CI runs before the tests (and pre-commit runs on a commit): ruff (lint and format),
# import-linter (the layering, docs/architecture.md) and mypy.
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Removes caches and collected files; keeps .venv, .env and the database (var/*.sqlite3).
clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache var/staticfiles var/broker test-results
