import logging
import socket

from celery import shared_task
from django.utils import timezone

from .models import Event, WorkerHeartbeat

logger = logging.getLogger(__name__)


@shared_task(name="events.tasks.process_event")
def process_event(event_pk):
    updated = Event.objects.filter(pk=event_pk).update(
        processed=True, processed_at=timezone.now()
    )
    logger.info("processed event pk=%s (rows=%s)", event_pk, updated)
    return updated


@shared_task(name="events.tasks.heartbeat", bind=True)
def heartbeat(self):
    worker = getattr(self.request, "hostname", None) or socket.gethostname()
    WorkerHeartbeat.objects.update_or_create(
        worker=worker, defaults={"beat_at": timezone.now()}
    )
    return worker
