from django.db import models


class WorkerHeartbeat(models.Model):
    """One row per Celery worker host name, touched by the `core.heartbeat` task.

    /healthz reads the newest row: a worker that consumes from the broker keeps it fresh.
    """

    hostname = models.CharField(max_length=255, unique=True)
    beat_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.hostname} @ {self.beat_at:%Y-%m-%d %H:%M:%S}"
