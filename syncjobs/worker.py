"""Celery worker hooks of the synchronization.

A worker that starts (often one restarted after it was killed) sweeps the running full
synchronization at once: the chunk its predecessor held is taken up again without waiting for
beat's next sweep.
"""

import logging
from typing import Any

from celery.signals import worker_ready
from django.db import DatabaseError

from . import fullsync_chunks

logger = logging.getLogger(__name__)


@worker_ready.connect
def fullsync_sweep_on_worker_ready(sender: Any, **kwargs: Any) -> None:
    try:
        fullsync_chunks.chunks_sweep()
    except DatabaseError:
        # The worker starts anyway: beat's sweep comes back to it within a minute.
        logger.warning("Full synchronization sweep at worker start failed", exc_info=True)
