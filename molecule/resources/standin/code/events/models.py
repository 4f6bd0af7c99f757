from django.db import models
from django.utils import timezone


class Event(models.Model):
    project = models.ForeignKey(
        "projects.Project", on_delete=models.CASCADE, related_name="events"
    )
    event_id = models.UUIDField(unique=True)
    received = models.DateTimeField(default=timezone.now)
    payload = models.JSONField(default=dict)
    processed = models.BooleanField(default=False)
    processed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.event_id.hex


class MaintenanceRun(models.Model):
    kind = models.CharField(max_length=64)
    ran_at = models.DateTimeField(default=timezone.now)
    detail = models.TextField(blank=True)


class WorkerHeartbeat(models.Model):
    worker = models.CharField(max_length=255, unique=True)
    beat_at = models.DateTimeField(default=timezone.now)
