"""WSGI entry point: gunicorn glitchtip.wsgi:application."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "glitchtip.settings")

application = get_wsgi_application()
