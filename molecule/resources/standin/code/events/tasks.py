import logging
import socket

from celery import shared_task
from celery_batches import Batches
from django.utils import timezone

from .models import Event, WorkerHeartbeat

logger = logging.getLogger(__name__)


# GlitchTip 5.x ingests through celery-batches tasks with these very settings: a worker that
# reserves fewer than flush_every messages (concurrency x prefetch multiplier) stores a batch
# only when the flush_interval timer fires.
@shared_task(name="events.tasks.process_event", base=Batches, flush_every=100, flush_interval=2)
def process_event(requests):
    pks = [request.args[0] for request in requests]
    updated = Event.objects.filter(pk__in=pks).update(processed=True, processed_at=timezone.now())
    logger.info("processed %s events in one batch (rows=%s)", len(pks), updated)
    return updated


@shared_task(name="events.tasks.heartbeat", bind=True)
def heartbeat(self):
    worker = getattr(self.request, "hostname", None) or socket.gethostname()
    WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"beat_at": timezone.now()}
    )
    return worker
