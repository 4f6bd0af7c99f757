import json
import logging
import re
import uuid

from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from projects.models import Project

from .models import Event
from .tasks import process_event

logger = logging.getLogger(__name__)
SENTRY_KEY = re.compile(r"sentry_key=([0-9A-Za-z]+)")


def _sentry_key(request):
    match = SENTRY_KEY.search(request.headers.get("X-Sentry-Auth", ""))
    if match:
        return match.group(1)
    return request.GET.get("sentry_key")


@csrf_exempt
@require_POST
def store(request, project_id):
    key = _sentry_key(request)
    project = Project.objects.filter(pk=project_id).first()
    if project is None or not key or key != project.dsn_key:
        return JsonResponse({"detail": "Invalid DSN"}, status=403)
    try:
        payload = json.loads(request.body or b"{}")
    except ValueError:
        return JsonResponse({"detail": "Invalid JSON"}, status=400)
    if not isinstance(payload, dict):
        return JsonResponse({"detail": "Invalid event"}, status=400)
    try:
        event_id = uuid.UUID(str(payload["event_id"])) if payload.get("event_id") else uuid.uuid4()
    except ValueError:
        return JsonResponse({"detail": "Invalid event_id"}, status=400)
    event, _created = Event.objects.get_or_create(
        event_id=event_id, defaults={"project": project, "payload": payload}
    )
    # Celery tasks (5.x) have delay(), django.tasks ones (6.x) enqueue().
    enqueue = getattr(process_event, "delay", None) or process_event.enqueue
    transaction.on_commit(lambda: enqueue(event.pk))
    return JsonResponse({"id": event.event_id.hex})


@require_GET
def event_detail(request, event_id):
    try:
        event_uuid = uuid.UUID(event_id)
    except ValueError:
        return JsonResponse({"detail": "Not found"}, status=404)
    event = Event.objects.filter(event_id=event_uuid).first()
    if event is None:
        return JsonResponse({"detail": "Not found"}, status=404)
    return JsonResponse(
        {
            "id": event.event_id.hex,
            "project": event.project_id,
            "processed": event.processed,
            "processed_at": event.processed_at.isoformat() if event.processed_at else None,
            "payload": event.payload,
        }
    )
