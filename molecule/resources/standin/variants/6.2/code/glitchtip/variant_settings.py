"""GlitchTip 6.x settings of the stand-in, applied on top of the shared ones (glitchtip/settings.py).

As GlitchTip 6 configures itself: django.tasks run by django-vtasks. VALKEY_URL (then REDIS_URL)
is the broker and the cache; an EMPTY VALKEY_URL puts the task queue, the cache and the sessions
in PostgreSQL. Events are stored through a batch queue ("ingest": 100 tasks or 2 s, as upstream),
and the scheduler of `runworker --scheduler` sends a periodic heartbeat task.
"""
import os


def apply(s):
    for name in [name for name in s if name.startswith("CELERY_")]:
        del s[name]
    s["GLITCHTIP_VERSION"] = os.environ.get("GLITCHTIP_VERSION") or "6.2-standin"
    s["WSGI_APPLICATION"] = None
    s["ASGI_APPLICATION"] = "glitchtip.asgi.application"
    s["IS_WORKER"] = os.environ.get("IS_WORKER", "").lower() == "true"
    s["INSTALLED_APPS"] = s["INSTALLED_APPS"] + ["django_vtasks"]
    # Not env_str: an empty VALKEY_URL is a choice (PostgreSQL only), not an unset variable.
    valkey_url = os.environ.get("VALKEY_URL", os.environ.get("REDIS_URL", "redis://redis:6379/0"))
    s["VALKEY_URL"] = valkey_url
    if valkey_url:
        s["CACHES"] = {"default": {"BACKEND": "django_vcache.backend.ValkeyCache", "LOCATION": valkey_url}}
        s["TASKS"] = {"default": {"BACKEND": "django_vtasks.backends.valkey.ValkeyTaskBackend",
                                  "OPTIONS": {"cache_alias": "default"}}}
        s["SESSION_ENGINE"] = "django.contrib.sessions.backends.cache"
    else:
        s["CACHES"] = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                                   "LOCATION": "django_cache"}}
        s["TASKS"] = {"default": {"BACKEND": "django_vtasks.backends.db.DatabaseTaskBackend"}}
        s["INSTALLED_APPS"] = s["INSTALLED_APPS"] + ["django_vtasks.db"]
    s["VTASKS_QUEUES"] = {"default": {}, "ingest": {"batch": {"count": 100, "timeout": 2.0}}}
    s["VTASKS_SCHEDULE"] = {
        "heartbeat": {"task": "events.tasks.heartbeat",
                      "schedule": int(os.environ.get("STANDIN_HEARTBEAT_SECONDS") or 15)},
    }
