import logging
import os
import socket

from django.utils import timezone
from django_vtasks import task

from .models import Event, WorkerHeartbeat

logger = logging.getLogger(__name__)


# GlitchTip 6.x stores events through a django-vtasks batch queue ("ingest": up to 100 tasks, or
# whatever arrived within 2 s): the task gets the batch, one dict per enqueued call.
@task(queue_name="ingest")
def process_event(batch):
    pks = [item["args"][0] for item in batch]
    updated = Event.objects.filter(pk__in=pks).update(processed=True, processed_at=timezone.now())
    logger.info("processed %s events in one batch (rows=%s)", len(pks), updated)
    return updated


# Sent by the scheduler of `runworker --scheduler` (VTASKS_SCHEDULE): one row per worker host.
@task
def heartbeat():
    worker = "%s-%d" % (socket.gethostname(), os.getpid())
    WorkerHeartbeat.objects.update_or_create(worker=worker, defaults={"beat_at": timezone.now()})
    return worker
