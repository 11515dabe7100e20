"""Settings shared by every environment.

Everything that differs between machines is read from the environment (or a `.env` file next
to manage.py) with django-environ. Defaults are the embedded ones: SQLite, a file-system Celery
broker and the sandbox CRM, so that a fresh clone runs with no services installed.
"""

from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
env_file = BASE_DIR / ".env"
if env_file.exists():
    environ.Env.read_env(str(env_file), overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "formtools",
    "django_celery_beat",
    # Our apps, one per domain.
    "core",
    "accounts",
    "erp",
    "dataverse",
    "sandbox",
    "connection",
    "setup_wizard",
    "coupling",
    "syncjobs",
    "availability",
    "salesorders",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (CONTENT_SECURITY_POLICY below).
    "csp.middleware.CSPMiddleware",
    # Serves collected static files from the WSGI app (waitress has no static file server).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.middleware.LoginRequiredMiddleware",
]

ROOT_URLCONF = "erpcrm.urls"
WSGI_APPLICATION = "erpcrm.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.roles_context",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'erpcrm.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].update(
        {
            # WAL lets the web process, the worker and beat read while one of them writes.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            # A transaction that reads and then writes (update_or_create, a worker's first
            # heartbeat) fails at once with "database is locked" when another process wrote
            # in between: SQLite cannot wait for a lock it would need to upgrade to. Taking the
            # write lock at BEGIN makes every writer queue for it instead, up to `timeout`.
            "transaction_mode": "IMMEDIATE",
            # Seconds a writer waits for another one's transaction (a demo data load takes a
            # few) before it gives up with "database is locked".
            "timeout": 20,
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("es", _("Spanish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles"))


# --- Celery -------------------------------------------------------------------------------
def filesystem_broker_options(broker_dir: Path) -> dict[str, object]:
    """CELERY_BROKER_TRANSPORT_OPTIONS for the filesystem transport in `broker_dir` (created)."""
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
        # Broadcasts (purge, ping); without this kombu writes to ./control.
        "control_folder": str(broker_dir / "control"),
    }


# Default broker: kombu's filesystem transport, which works across processes with no server.
BROKER_DIR = Path(env("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(BROKER_DIR)
# Task state lives in our own models; Celery results are not needed.
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# Celery's own default, named so that the test settings can give each test process its own.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True

# --- REST framework -----------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Hashed tokens with an expiry (accounts.ApiToken), in place of DRF's authtoken.
        "accounts.authentication.ApiTokenAuthentication",
    ],
    # JSON nested beyond any record's needs is refused before the parser recurses into it.
    "DEFAULT_PARSER_CLASSES": [
        "erp.parsers.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "erpcrm API",
    "DESCRIPTION": "ERP tables of erpcrm.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Two models have a "status" with different choices: name each set.
    "ENUM_NAME_OVERRIDES": {
        "JobRunStatusEnum": "syncjobs.models.JobRun.Status",
        "FieldMappingStatusEnum": "syncjobs.models.IntegrationFieldMapping.Status",
        "JobQueueEntryStatusEnum": "syncjobs.models.JobQueueEntry.Status",
        "JobQueueEntryJobEnum": "syncjobs.models.JobQueueEntry.Job",
        "JobQueueEntryHoldEnum": "syncjobs.models.JobQueueEntry.Hold",
        "SalesOrderStatusEnum": "erp.models.SalesOrder.Status",
        "SalesLineTypeEnum": "erp.models.LineType",
    },
}

# --- CRM connection defaults ---------------------------------------------------------------
# The sandbox CRM is the default target; a real Dynamics 365 environment is configured in the
# setup wizard (or with setup_connection) and stored, encrypted, in the database.
SANDBOX_HOST = env("SANDBOX_HOST", default="127.0.0.1")
SANDBOX_PORT = env.int("SANDBOX_PORT", default=8765)
SANDBOX_URL = env("SANDBOX_URL", default=f"http://{SANDBOX_HOST}:{SANDBOX_PORT}")
SANDBOX_DB_PATH = env("SANDBOX_DB_PATH", default=str(VAR_DIR / "sandbox.sqlite3"))
# The only hosts the sandbox's item availability lookup calls (the ERP's OData service, from
# the CRM's ERP connection record): the CRM server must not be pointed at any other address.
SANDBOX_ERP_HOSTS = env("SANDBOX_ERP_HOSTS", default="127.0.0.1,localhost,::1")
# The CRM throttle gate ("blocked until" after a 429, shared by every thread and worker process
# of one CRM user): a locked file under CRM_THROTTLE_DIR, or Redis when a URL is given.
CRM_THROTTLE_DIR = env("CRM_THROTTLE_DIR", default=str(VAR_DIR / "throttle"))
CRM_THROTTLE_REDIS_URL = env("CRM_THROTTLE_REDIS_URL", default="")

# Fernet keys (comma-separated, newest first) that encrypt secrets at rest. See README,
# "Rotating the encryption key".
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])

# --- Logging ------------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"redact": {"()": "core.logging.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own default handler has no redaction: route its records through ours.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        "celery": {"level": "INFO"},
    },
}

# --- Security defaults that hold everywhere ------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Content-Security-Policy (django-csp 4): scripts and styles only from our own files, no
# 'unsafe-inline', no eval. Pages keep their JavaScript in static/js/ and their styles in
# static/css/. The one inline script, the API documentation page's start-up script
# (templates/drf_spectacular/swagger_ui.html), carries a per-response nonce: NONCE adds
# 'nonce-...' to the header only on responses that used it. Images may be data: URIs (Swagger
# UI's and the admin's icons).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Sign-in (and item availability service) throttling, accounts.selectors.throttle_check.
# Failures are remembered for the window. A user name that failed LOGIN_THROTTLE_ATTEMPTS times
# from one address waits before each further attempt from there (1 s, doubling per failure, up
# to the window); a right password is refused only while its address is abusive: at least
# LOGIN_THROTTLE_ADDRESS_FAILURES failures, or failures for LOGIN_THROTTLE_ADDRESS_USERNAMES
# distinct user names, from that address within the window.
LOGIN_THROTTLE_ATTEMPTS = env.int("LOGIN_THROTTLE_ATTEMPTS", default=5)
LOGIN_THROTTLE_WINDOW_SECONDS = env.int("LOGIN_THROTTLE_WINDOW_SECONDS", default=300)
LOGIN_THROTTLE_ADDRESS_FAILURES = env.int("LOGIN_THROTTLE_ADDRESS_FAILURES", default=50)
LOGIN_THROTTLE_ADDRESS_USERNAMES = env.int("LOGIN_THROTTLE_ADDRESS_USERNAMES", default=10)
# Reverse proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR).
# Throttling per client address needs it behind a proxy, or every client shares one address.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

CELERY_BEAT_SCHEDULE = {
    # Keeps /healthz's worker check fresh; see core.selectors.HEARTBEAT_INTERVAL.
    "worker-heartbeat": {"task": "core.heartbeat", "schedule": 15.0},
    # Deletes synchronization job logs older than SYNC_LOG_RETENTION_DAYS.
    "sync-log-cleanup": {"task": "syncjobs.sync_log_cleanup", "schedule": 6 * 3600.0},
    # Sends again the full synchronization's tasks a dead worker took with it
    # (syncjobs/fullsync_chunks.py); nothing to do when no full synchronization runs.
    "fullsync-sweep": {"task": "syncjobs.fullsync_sweep", "schedule": 60.0},
}

# --- Near-real-time synchronization (syncjobs/nrt.py) -------------------------------------
# A change to a coupled ERP record queues, after its transaction commits, a to-CRM pass of its
# mapping for just the changed records, NEAR_REAL_TIME_DELAY_SECONDS later; changes meanwhile
# join that pass. Off: only the scheduled jobs carry changes.
NEAR_REAL_TIME_SYNC = env.bool("NEAR_REAL_TIME_SYNC", default=True)
NEAR_REAL_TIME_DELAY_SECONDS = env.float("NEAR_REAL_TIME_DELAY_SECONDS", default=2.0)
# CRM changes are pulled (delta links) this often by beat; 0 turns the pull off.
CRM_PULL_INTERVAL_SECONDS = env.int("CRM_PULL_INTERVAL_SECONDS", default=60)
# The change lag shown per mapping is over this many latest changes.
CHANGE_LAG_SAMPLES = env.int("CHANGE_LAG_SAMPLES", default=200)
if CRM_PULL_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["crm-pull"] = {
        "task": "syncjobs.crm_pull",
        "schedule": float(CRM_PULL_INTERVAL_SECONDS),
    }
# /metrics (Prometheus): reachable from loopback only, or from anywhere with
# `Authorization: Bearer <METRICS_TOKEN>` when this is set.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Synchronization engine ---------------------------------------------------------------
# ERP -> CRM passes read rows modified since the last pass's start minus this overlap, so a
# row whose transaction committed late is not skipped (re-reading an unchanged row is cheap).
SYNC_WATERMARK_OVERLAP_SECONDS = env.int("SYNC_WATERMARK_OVERLAP_SECONDS", default=30)
# Records per chunk: one read, one bulk write and one transaction per chunk.
SYNC_CHUNK_SIZE = env.int("SYNC_CHUNK_SIZE", default=1000)
# A record failing this many times in a row with the same message is skipped until either side
# changes it or someone retries it. Records waiting for a dependency are never skipped.
SYNC_SKIP_AFTER_FAILURES = env.int("SYNC_SKIP_AFTER_FAILURES", default=3)
# A run holds its mapping for this long, renewed at every chunk (a run killed on another
# machine frees its mapping after this; on the same machine at once).
SYNC_LEASE_SECONDS = env.int("SYNC_LEASE_SECONDS", default=300)
# Job logs (runs, errors, per-record field changes) are kept this many days.
SYNC_LOG_RETENTION_DAYS = env.int("SYNC_LOG_RETENTION_DAYS", default=30)
# Job queue entries (syncjobs/jobqueue.py): each mapping's recurring job runs every
# SYNC_JOB_INTERVAL_MINUTES (as the reference's 30); a run that found nothing to do doubles the
# interval up to the mapping's inactivity timeout, and a change to synchronize brings it back,
# running SYNC_JOB_WAKE_DELAY_SECONDS later. A mapping whose last SYNC_AUTO_HOLD_RUNS runs
# failed at a rate of SYNC_AUTO_HOLD_FAILURE_RATE or more is put on hold (0 runs: never).
SYNC_JOB_INTERVAL_MINUTES = env.int("SYNC_JOB_INTERVAL_MINUTES", default=30)
SYNC_JOB_WAKE_DELAY_SECONDS = env.float("SYNC_JOB_WAKE_DELAY_SECONDS", default=30.0)
SYNC_AUTO_HOLD_RUNS = env.int("SYNC_AUTO_HOLD_RUNS", default=5)
SYNC_AUTO_HOLD_FAILURE_RATE = env.float("SYNC_AUTO_HOLD_FAILURE_RATE", default=0.8)
# Full synchronization (syncjobs/fullsync.py): a line whose pass stops because the CRM does not
# answer is tried this many times in all, waiting RETRY_BACKOFF, then twice as long, ...;
# a line whose mapping another run holds tries again after BUSY_RETRY (not counted).
FULLSYNC_MAX_ATTEMPTS = env.int("FULLSYNC_MAX_ATTEMPTS", default=4)
FULLSYNC_RETRY_BACKOFF_SECONDS = env.int("FULLSYNC_RETRY_BACKOFF_SECONDS", default=30)
FULLSYNC_BUSY_RETRY_SECONDS = env.int("FULLSYNC_BUSY_RETRY_SECONDS", default=30)
# How often a running full synchronization records its progress for the review page's chart.
FULLSYNC_SAMPLE_SECONDS = env.float("FULLSYNC_SAMPLE_SECONDS", default=2.0)
# A table with more ERP records than this is sent to the CRM in chunks of about this many, each a
# task of its own that any worker takes (several workers share one table; a worker killed loses
# its current chunk only, which is redone). 0: one task per table.
FULLSYNC_CHUNK_ROWS = env.int("FULLSYNC_CHUNK_ROWS", default=5000)
# One line (one mapping, both directions) may run this long.
FULLSYNC_TASK_TIME_LIMIT = env.int("FULLSYNC_TASK_TIME_LIMIT", default=6 * 3600)
FULLSYNC_TASK_SOFT_TIME_LIMIT = env.int("FULLSYNC_TASK_SOFT_TIME_LIMIT", default=6 * 3600 - 300)

# --- Lead-to-cash (salesorders/) ------------------------------------------------------------
# Intervals of the recurring jobs that send ERP order statuses and customer statistics to the
# CRM (the reference: 7 and 30 minutes). Applied when the jobs are (re)created by the default
# synchronization setup.
ORDER_STATUS_INTERVAL_MINUTES = env.int("ORDER_STATUS_INTERVAL_MINUTES", default=7)
CUSTOMER_STATISTICS_INTERVAL_MINUTES = env.int("CUSTOMER_STATISTICS_INTERVAL_MINUTES", default=30)

# --- ERP ----------------------------------------------------------------------------------
# The ERP's local currency (ISO code). The setup wizard compares it with the CRM
# organization's base currency.
ERP_LOCAL_CURRENCY = env("ERP_LOCAL_CURRENCY", default="USD")

# Outbound-address policy for the CRM URLs (environment and token URL): off, only public
# addresses over https may be reached, checked after DNS resolution on every connection (no
# server-side request forgery into the local network). dev and test turn it on for the sandbox
# CRM on 127.0.0.1; production needs it only for an on-premises CRM on a private network.
CRM_ALLOW_PRIVATE_ADDRESSES = env.bool("CRM_ALLOW_PRIVATE_ADDRESSES", default=False)
# The ERP's public base URL as the CRM reaches it; the item availability service is published
# to the CRM as <ERP_PUBLIC_URL>/odata/.
ERP_PUBLIC_URL = env("ERP_PUBLIC_URL", default="http://127.0.0.1:8000")
