"""Settings of the GlitchTip stand-in (a test fixture, not GlitchTip).

It reads the same environment variables as the real GlitchTip 5.x image so
that an image built FROM it is configured the same way. Nothing here prints
a secret or a connection URL.
"""
import os
import time
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def _startup_cost(seconds):
    """Spend this much CPU, as the real app's imports do (seconds per process on 2 cores).

    CPU time, not a sleep: processes starting together compete for the cores as real
    ones do, so start, restart and rolling-deploy figures measured on the stand-in hold.
    """
    deadline = time.process_time() + seconds
    while time.process_time() < deadline:
        sum(range(1000))


_startup_cost(float(os.environ.get("STANDIN_IMPORT_SECONDS", "3")))


def env_str(name, default=None):
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on", "t", "y")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer")


def env_list(name, default):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


SECRET_KEY = env_str("SECRET_KEY", "change_me")
DEBUG = env_bool("DEBUG", False)

GLITCHTIP_DOMAIN = env_str("GLITCHTIP_DOMAIN", "http://localhost:8000")
GLITCHTIP_URL = urlsplit(GLITCHTIP_DOMAIN)
if GLITCHTIP_URL.scheme not in ("http", "https"):
    raise ImproperlyConfigured("GLITCHTIP_DOMAIN must start with http or https")
GLITCHTIP_VERSION = env_str("GLITCHTIP_VERSION", "5.2-standin")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["*"])

# Full origins ("https://example.com"), as Django 4+ and GlitchTip take them.
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
_domain_origin = "%s://%s" % (GLITCHTIP_URL.scheme, GLITCHTIP_URL.netloc)
if GLITCHTIP_URL.netloc and _domain_origin not in CSRF_TRUSTED_ORIGINS:
    CSRF_TRUSTED_ORIGINS.append(_domain_origin)

ENABLE_USER_REGISTRATION = env_bool("ENABLE_USER_REGISTRATION", True)
ENABLE_ORGANIZATION_CREATION = env_bool("ENABLE_ORGANIZATION_CREATION", False)

GLITCHTIP_MAX_EVENT_LIFE_DAYS = env_int("GLITCHTIP_MAX_EVENT_LIFE_DAYS", 90)
GLITCHTIP_MAX_TRANSACTION_EVENT_LIFE_DAYS = env_int(
    "GLITCHTIP_MAX_TRANSACTION_EVENT_LIFE_DAYS", GLITCHTIP_MAX_EVENT_LIFE_DAYS
)
GLITCHTIP_MAX_FILE_LIFE_DAYS = env_int(
    "GLITCHTIP_MAX_FILE_LIFE_DAYS", GLITCHTIP_MAX_EVENT_LIFE_DAYS
)

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "users",
    "organizations",
    "projects",
    "events",
    "files",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "glitchtip.urls"
WSGI_APPLICATION = "glitchtip.wsgi.application"
TEMPLATES = []

# Database: DATABASE_URL, then DATABASE_HOST & co. override its parts (as
# GlitchTip does). The default is GlitchTip's own default.
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://postgres:postgres@postgres:5432/postgres")
    )
}
if env_str("DATABASE_HOST"):
    DATABASES["default"].update(
        {
            "NAME": env_str("DATABASE_NAME", "postgres"),
            "USER": env_str("DATABASE_USER", "postgres"),
            "PASSWORD": env_str("DATABASE_PASSWORD", ""),
            "HOST": env_str("DATABASE_HOST"),
            "PORT": env_str("DATABASE_PORT", "5432"),
        }
    )
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Broker: VALKEY_URL, else REDIS_URL (redis://:password@host:port/db).
VALKEY_URL = env_str("VALKEY_URL", env_str("REDIS_URL", "redis://localhost:6379/0"))
CELERY_BROKER_URL = VALKEY_URL
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# /code is read-only for the app user: keep beat's state in /tmp.
CELERY_BEAT_SCHEDULE_FILENAME = env_str(
    "CELERY_BEAT_SCHEDULE_FILENAME", "/tmp/celerybeat-schedule"
)
CELERY_BEAT_SCHEDULE = {
    "heartbeat": {"task": "events.tasks.heartbeat", "schedule": 15.0},
}
# As GlitchTip's settings read them; the worker's command-line options win over these.
CELERY_WORKER_CONCURRENCY = env_int("CELERY_WORKER_CONCURRENCY", 2)
CELERY_WORKER_PREFETCH_MULTIPLIER = env_int("CELERY_WORKER_PREFETCH_MULTIPLIER", 4)
# The cache lives in the same Valkey/Redis, as GlitchTip's does.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": VALKEY_URL}}

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = env_str("MEDIA_ROOT", "/code/uploads")


def _email_settings(url):
    """A small EMAIL_URL parser (smtp://, smtp+tls://, smtp+ssl://, consolemail://, dummymail://)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "consolemail":
        return {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    if scheme == "dummymail":
        return {"EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend"}
    if scheme not in ("smtp", "smtps", "smtp+tls", "smtp+ssl", "submission"):
        raise ImproperlyConfigured("EMAIL_URL has an unsupported scheme")
    query = parse_qs(parts.query)
    use_ssl = scheme in ("smtps", "smtp+ssl") or "ssl" in query
    use_tls = scheme in ("smtp+tls", "submission") or "tls" in query
    return {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": parts.hostname or "localhost",
        "EMAIL_PORT": parts.port or (465 if use_ssl else 587 if use_tls else 25),
        "EMAIL_HOST_USER": unquote(parts.username or ""),
        "EMAIL_HOST_PASSWORD": unquote(parts.password or ""),
        "EMAIL_USE_SSL": use_ssl,
        "EMAIL_USE_TLS": use_tls and not use_ssl,
    }


EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
if env_str("EMAIL_URL"):
    globals().update(_email_settings(env_str("EMAIL_URL")))
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "webmaster@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Everything to the console (stderr): gunicorn, celery and manage.py alike.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "null": {"class": "logging.NullHandler"},
    },
    "loggers": {
        "django.security.DisallowedHost": {"handlers": ["null"], "propagate": False},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}
