import socket

from celery import shared_task

from core import services


@shared_task(name="core.heartbeat", ignore_result=True)
def heartbeat() -> None:
    services.heartbeat_record(hostname=heartbeat.request.hostname or socket.gethostname())
