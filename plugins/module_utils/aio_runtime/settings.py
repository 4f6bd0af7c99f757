# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The image's baked, non-secret settings and the environment derived from them.

``/etc/glitchtip-aio/aio.json`` is rendered by the image role at build time. The
secrets arrive only in the container environment (``SECRET_KEY``,
``AIO_DB_PASSWORD``, ``AIO_REDIS_PASSWORD``); connection URLs are derived here so
web, worker, migrate, health and backups always agree on them.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

SETTINGS_PATH = "/etc/glitchtip-aio/aio.json"

DB_PASSWORD_ENV = "AIO_DB_PASSWORD"
REDIS_PASSWORD_ENV = "AIO_REDIS_PASSWORD"
SECRET_KEY_ENV = "SECRET_KEY"
# Webhook URLs carry their bot's token: treated like passwords.
FEISHU_URL_ENV = "AIO_FEISHU_WEBHOOK_URL"
WEBHOOK_URL_ENV = "AIO_NOTIFY_WEBHOOK_URL"
SECRET_ENV_NAMES = (DB_PASSWORD_ENV, REDIS_PASSWORD_ENV, SECRET_KEY_ENV, FEISHU_URL_ENV, WEBHOOK_URL_ENV)
# Ours alone: GlitchTip's processes get derived URLs instead.
PRIVATE_ENV_NAMES = (DB_PASSWORD_ENV, REDIS_PASSWORD_ENV, FEISHU_URL_ENV, WEBHOOK_URL_ENV)


class SettingsError(Exception):
    """The baked settings or the container environment are unusable."""


def load_settings(path=SETTINGS_PATH):
    """Read the baked settings; the error names the file so an operator can look."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise SettingsError("cannot read %s: %s" % (path, exc)) from exc


def database_url(settings, environ):
    """PostgreSQL URL for the app role, password URL-quoted so any byte survives."""
    pg = settings["postgres"]
    password = environ.get(DB_PASSWORD_ENV, "")
    if not password:
        raise SettingsError("%s is not set in the container environment" % DB_PASSWORD_ENV)
    return "postgres://%s:%s@127.0.0.1:%d/%s" % (
        quote(pg["user"], safe=""), quote(password, safe=""), int(pg["port"]), quote(pg["database"], safe=""))


def redis_url(settings, environ):
    """Redis URL with the optional password; database 0 holds the broker and cache."""
    password = environ.get(REDIS_PASSWORD_ENV, "")
    auth = ":%s@" % quote(password, safe="") if password else ""
    return "redis://%s127.0.0.1:%d/0" % (auth, int(settings["redis"]["port"]))


def app_environment(settings, environ):
    """Environment for GlitchTip's own processes (migrate, web, worker).

    Everything the container was given, minus our private secret variables,
    plus the connection URLs in the variable names this GlitchTip version reads.
    """
    app_env = {k: v for k, v in environ.items() if k not in PRIVATE_ENV_NAMES}
    app_env["DATABASE_URL"] = database_url(settings, environ)
    for name in settings["profile"].get("broker_env", []):
        app_env[name] = redis_url(settings, environ)
    app_env["PORT"] = str(settings["web"]["port"])
    app_env.setdefault("DJANGO_SETTINGS_MODULE", "glitchtip.settings")
    return app_env


def service_environment(environ, keep=()):
    """Environment for PostgreSQL/Redis: no application secrets at all."""
    return {k: v for k, v in environ.items() if k not in SECRET_ENV_NAMES or k in keep}


def secret_values(environ):
    """The secret values present, for redaction of anything we print."""
    return [environ[name] for name in SECRET_ENV_NAMES if environ.get(name)]


def redact(text, secrets):
    """Replace every secret value (and its URL-quoted form) in text.

    Longest first: a secret that contains another must not be half-replaced.
    """
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "********")
    return text


def redact_tree(value, secrets):
    """redact() applied to every string inside lists and dicts (keys included); other values as they are."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {redact_tree(k, secrets): redact_tree(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_tree(item, secrets) for item in value]
    return value


def current_environ():
    return dict(os.environ)
