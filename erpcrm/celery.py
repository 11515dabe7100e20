"""The Celery application: configured from Django settings under the CELERY_ namespace."""

import os

from celery import Celery

from erpcrm import broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "erpcrm.settings.dev")

broker.install()
app = Celery("erpcrm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
