"""ASGI entry point, as GlitchTip 6.x serves it: granian --interface asgi glitchtip.asgi:application."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "glitchtip.settings")

application = get_asgi_application()
