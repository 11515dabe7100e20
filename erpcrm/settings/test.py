"""Test settings: the same embedded defaults, or PostgreSQL + Redis when the environment says so.

Tests that start real processes (a Celery worker, the web app) need those processes to see the
test database, so on SQLite the test database is a file, never `:memory:`. Its name carries the
pytest process id so that two test runs in one checkout do not share a database.
"""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import CELERY_BROKER_URL, DATABASES, env, filesystem_broker_options

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY", default="test-insecure-" + "y" * 40)
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
FIELD_ENCRYPTION_KEYS = env.list(
    "FIELD_ENCRYPTION_KEYS", default=["dGVzdC1rZXktdGVzdC1rZXktdGVzdC1rZXktdGVzdC0="]
)
LOGIN_THROTTLE_ATTEMPTS = 5

TEST_TMP_DIR = Path(env("ERPCRM_TEST_TMP_DIR", default=tempfile.gettempdir()))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": str(TEST_TMP_DIR / f"erpcrm-test-{os.getpid()}.sqlite3"),
    }

# Serve static files straight from the app folders (no collectstatic before tests).
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# `make test` runs pytest-xdist workers (gw0, gw1, ...): each has its own database (named after
# its process id, or test_<name>_gwN on PostgreSQL), broker folder, queue and cache keys, so
# that a Celery worker started by one never takes a task of another.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

# A broker folder of our own, so that tasks enqueued by tests never reach the worker of a
# `make run` in the same checkout. Exported so that child processes (which inherit the
# environment) use the same folder; an xdist worker inherits the controller's environment, so it
# takes a folder of its own when the exported one is not its own.
_broker_owner = os.environ.get("ERPCRM_TEST_BROKER_OWNER", "")
if CELERY_BROKER_URL.startswith("filesystem://") and (
    "CELERY_BROKER_DIR" not in os.environ or _broker_owner != XDIST_WORKER
):
    BROKER_DIR = TEST_TMP_DIR / f"erpcrm-test-broker-{os.getpid()}"
    os.environ["CELERY_BROKER_DIR"] = str(BROKER_DIR)
    os.environ["ERPCRM_TEST_BROKER_OWNER"] = XDIST_WORKER
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(BROKER_DIR)
if XDIST_WORKER:
    # On Redis the broker and the cache are shared by the xdist workers: a queue and a key
    # prefix each.
    CELERY_TASK_DEFAULT_QUEUE = f"celery-{XDIST_WORKER}"
    CACHES["default"]["KEY_PREFIX"] = XDIST_WORKER  # noqa: F405
if CELERY_BROKER_URL.startswith("filesystem://"):
    # The folder is polled; once a second (kombu's default) made each task a test waits for
    # up to a second late. Tests and the worker they start read the test settings.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "polling_interval": 0.1,
    }

# The sandbox CRM runs on 127.0.0.1 (base.py: the outbound-address policy); the tests of the
# policy itself build their own.
CRM_ALLOW_PRIVATE_ADDRESSES = env.bool("CRM_ALLOW_PRIVATE_ADDRESSES", default=True)

# Full synchronization: retries in seconds, not minutes.
FULLSYNC_RETRY_BACKOFF_SECONDS = 1
FULLSYNC_BUSY_RETRY_SECONDS = 1
