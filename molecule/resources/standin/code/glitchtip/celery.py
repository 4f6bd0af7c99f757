"""Celery app of the stand-in: `celery -A glitchtip worker -B` works."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "glitchtip.settings")

app = Celery("glitchtip")
# All CELERY_* settings of glitchtip/settings.py configure the app.
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
