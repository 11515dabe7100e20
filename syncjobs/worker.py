"""Celery worker hooks of the synchronization.

A worker that starts (often one restarted after it was killed) sweeps the running full
synchronization at once: the chunk its predecessor held is taken up again without waiting for
beat's next sweep.
"""

from typing import Any

from celery.signals import worker_ready

from . import fullsync_chunks


@worker_ready.connect
def fullsync_sweep_on_worker_ready(sender: Any, **kwargs: Any) -> None:
    fullsync_chunks.chunks_sweep()
