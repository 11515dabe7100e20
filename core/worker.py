"""Celery worker hooks (infrastructure, not business logic).

A worker records a heartbeat the moment it is ready, so /healthz turns green within seconds of
start instead of waiting for beat's first scheduled `core.heartbeat`.
"""

from typing import Any

from celery.signals import worker_process_init, worker_ready

from connection.clients import clients_close
from core import services


@worker_ready.connect
def heartbeat_on_worker_ready(sender: Any, **kwargs: Any) -> None:
    services.heartbeat_record(hostname=sender.hostname)


@worker_process_init.connect
def fresh_crm_clients(**kwargs: Any) -> None:
    # A forked pool process must not share the parent's HTTP connections (connection.clients
    # keeps one client per connection per process).
    clients_close()
