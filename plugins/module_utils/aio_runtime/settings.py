# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The image's baked, non-secret settings and the environment derived from them.

``/etc/glitchtip-aio/aio.json`` is rendered by the image role at build time. The
secrets arrive only in the container environment (``SECRET_ENV_NAMES``); connection
URLs are derived here so web, worker, migrate, health and backups always agree on them.

``SECRET_ENV_NAMES`` (with ``SECRET_NAME_PATTERN`` for settings an operator adds) and
``secret_values()`` are the one definition of what is secret:
the runtime redacts with them, and the deploy reads them through the
``glitchtip.aio.secret_environment`` / ``public_environment`` / ``redact_secrets`` filters.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote, unquote, urlsplit

SETTINGS_PATH = "/etc/glitchtip-aio/aio.json"

DB_PASSWORD_ENV = "AIO_DB_PASSWORD"
REDIS_PASSWORD_ENV = "AIO_REDIS_PASSWORD"
SECRET_KEY_ENV = "SECRET_KEY"
# Webhook URLs carry their bot's token: treated like passwords.
FEISHU_URL_ENV = "AIO_FEISHU_WEBHOOK_URL"
WEBHOOK_URL_ENV = "AIO_NOTIFY_WEBHOOK_URL"
# GlitchTip's own: smtp://user:password@host:587 carries the SMTP credentials.
EMAIL_URL_ENV = "EMAIL_URL"
# The key of the off-host backup repositories (restic.py): one for every destination.
BACKUP_KEY_ENV = "AIO_BACKUP_ENCRYPTION_KEY"
# The further backup destinations' settings (destinations.py), credentials among them: the backup's alone.
BACKUP_DESTINATION_PREFIX = "AIO_BACKUP_TO_"
# Every environment name whose value is, or may carry, a secret. The DB and Redis passwords are the
# embedded services' generated ones or the external services' from vault: the same two names.
SECRET_ENV_NAMES = (DB_PASSWORD_ENV, REDIS_PASSWORD_ENV, SECRET_KEY_ENV, FEISHU_URL_ENV, WEBHOOK_URL_ENV,
                    EMAIL_URL_ENV, BACKUP_KEY_ENV)
# Of those, URLs that are secret only through their user:password@ part.
CREDENTIAL_URL_ENV_NAMES = (EMAIL_URL_ENV,)
# Ours alone: GlitchTip's processes get derived URLs instead.
PRIVATE_ENV_NAMES = (DB_PASSWORD_ENV, REDIS_PASSWORD_ENV, FEISHU_URL_ENV, WEBHOOK_URL_ENV, BACKUP_KEY_ENV)
# Settings an operator adds (glitchtip_extra_environment) are secret by their names: the keys,
# tokens and passwords of GlitchTip and its libraries (EMAIL_HOST_PASSWORD, STRIPE_SECRET_KEY,
# AWS_SECRET_ACCESS_KEY, MAILGUN_API_KEY, ...); any other *_URL (DATABASE_URL, VALKEY_URL, ...)
# through its user:password@ part, like EMAIL_URL. Values shorter than SECRET_MIN_LENGTH of such
# names are left alone: masking "60" of a SOME_TOKEN_TTL everywhere would garble every report.
SECRET_NAME_PATTERN = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|ACCESS_KEY|ACCOUNT_KEY|PRIVATE_KEY|CREDENTIALS")
SECRET_MIN_LENGTH = 6


class SettingsError(Exception):
    """The baked settings or the container environment are unusable."""


def load_settings(path=SETTINGS_PATH):
    """Read the baked settings; the error names the file so an operator can look."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError) as exc:
        raise SettingsError("cannot read %s: %s" % (path, exc)) from exc


# Where the container stands in a deployment, from its environment: the same image serves
# an all-in-one host, a web host and a worker host.
ROLES_ENV = "AIO_ROLES"                      # comma list of web, worker, beat; unset: all three
MIGRATE_ON_START_ENV = "AIO_MIGRATE_ON_START"  # "false" when the deploy runs migrations once for all hosts
DB_HOST_ENV, DB_PORT_ENV, DB_NAME_ENV, DB_USER_ENV, DB_SSLMODE_ENV = (
    "AIO_DB_HOST", "AIO_DB_PORT", "AIO_DB_NAME", "AIO_DB_USER", "AIO_DB_SSLMODE")
REDIS_URL_ENV = "AIO_REDIS_URL"              # without the password (that is AIO_REDIS_PASSWORD)
SERVER_ROLES = ("web", "worker", "beat")
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def server_roles(environ):
    value = environ.get(ROLES_ENV, "").strip()
    if not value:
        return list(SERVER_ROLES)
    roles = [role.strip() for role in value.split(",") if role.strip()]
    unknown = [role for role in roles if role not in SERVER_ROLES]
    if unknown:
        raise SettingsError("%s: unknown role(s) %s; expected a comma list of %s"
                            % (ROLES_ENV, ", ".join(unknown), ", ".join(SERVER_ROLES)))
    return roles


def parse_redis_url(url):
    """(host, port, db, tls) of a redis:// or rediss:// URL; SettingsError names the variable."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname or parts.username or parts.password:
        raise SettingsError("%s: expected redis://HOST[:PORT][/DB] or rediss://... without credentials, got %r"
                            % (REDIS_URL_ENV, url))
    path = parts.path.strip("/")
    try:
        port, db = parts.port or 6379, int(path or 0)
    except ValueError as exc:
        raise SettingsError("%s: bad port or database number in %r" % (REDIS_URL_ENV, url)) from exc
    return parts.hostname, port, db, parts.scheme == "rediss"


def effective(settings, environ):
    """The baked settings as this container runs them.

    External PostgreSQL and Redis (``AIO_DB_HOST``, ``AIO_REDIS_URL``) replace the
    embedded programs; the server roles choose web and worker, and the worker carries
    the beat scheduler only on the beat host. Every consumer (supervisord's program
    list, health, restart, backup) sees only the programs that run here; a program's
    needs keep naming the others (launcher.pending_needs skips those absent here).
    """
    settings = json.loads(json.dumps(settings))  # a deep copy: the baked file stays as it was
    programs = settings["programs"]
    pg = settings["postgres"]
    pg.setdefault("host", "127.0.0.1")
    pg["external"] = bool(environ.get(DB_HOST_ENV, "").strip())
    if pg["external"]:
        sslmode = environ.get(DB_SSLMODE_ENV, "prefer").strip() or "prefer"
        if sslmode not in SSLMODES:
            raise SettingsError("%s: expected one of %s, got %r" % (DB_SSLMODE_ENV, ", ".join(SSLMODES), sslmode))
        try:
            port = int(environ.get(DB_PORT_ENV, "").strip() or 5432)
        except ValueError as exc:
            raise SettingsError("%s: expected a port number, got %r" % (DB_PORT_ENV, environ[DB_PORT_ENV])) from exc
        pg.update(host=environ[DB_HOST_ENV].strip(), port=port, sslmode=sslmode,
                  database=environ.get(DB_NAME_ENV, "").strip() or pg["database"],
                  user=environ.get(DB_USER_ENV, "").strip() or pg["user"])
        programs.pop("postgres", None)
    redis = settings["redis"]
    redis.setdefault("host", "127.0.0.1")
    redis.setdefault("db", 0)
    redis["external"] = redis_enabled(settings) and bool(environ.get(REDIS_URL_ENV, "").strip())
    redis.setdefault("tls", False)
    if redis["external"]:
        redis["host"], redis["port"], redis["db"], redis["tls"] = parse_redis_url(environ[REDIS_URL_ENV].strip())
        programs.pop("redis", None)
    roles = server_roles(environ)
    settings["roles"] = roles
    if environ.get(MIGRATE_ON_START_ENV, "true").strip().lower() == "false":
        programs.pop("migrate", None)
    if "web" not in roles:
        programs.pop("web", None)
    if "worker" not in roles:
        programs.pop("worker", None)
    elif "beat" in roles and "worker" in programs:
        programs["worker"]["command"] = programs["worker"]["command"] + programs["worker"].get("beat_arguments", [])
    return settings


def redis_enabled(settings):
    """False in PostgreSQL-only mode (glitchtip_postgres_only): no Redis, embedded or external."""
    return bool(settings.get("redis", {}).get("enabled", True))


def service_external(settings, name):
    return name in ("postgres", "redis") and bool(settings.get(name, {}).get("external"))


def database_url(settings, environ):
    """PostgreSQL URL for the app role, password URL-quoted so any byte survives."""
    pg = settings["postgres"]
    password = environ.get(DB_PASSWORD_ENV, "")
    if not password:
        raise SettingsError("%s is not set in the container environment" % DB_PASSWORD_ENV)
    url = "postgres://%s:%s@%s:%d/%s" % (
        quote(pg["user"], safe=""), quote(password, safe=""), _url_host(pg.get("host", "127.0.0.1")),
        int(pg["port"]), quote(pg["database"], safe=""))
    if pg.get("external"):
        url += "?sslmode=%s" % pg.get("sslmode", "prefer")
    return url


def redis_url(settings, environ):
    """Redis URL with the optional password (rediss:// for TLS)."""
    redis = settings["redis"]
    password = environ.get(REDIS_PASSWORD_ENV, "")
    auth = ":%s@" % quote(password, safe="") if password else ""
    return "%s://%s%s:%d/%d" % ("rediss" if redis.get("tls") else "redis", auth,
                                _url_host(redis.get("host", "127.0.0.1")), int(redis["port"]), int(redis.get("db", 0)))


def _url_host(host):
    return "[%s]" % host if ":" in host else host


def service_address(settings, name):
    """'host:port' of PostgreSQL or Redis, for messages that must say where we tried."""
    service = settings[name]
    return "%s:%s" % (_url_host(service.get("host", "127.0.0.1")), service["port"])


def libpq_environment(settings, environ, timeout=None):
    """PG* variables for psql/pg_dump/pg_restore as the app role over TCP."""
    pg = settings["postgres"]
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "PGHOST": pg.get("host", "127.0.0.1"),
           "PGPORT": str(pg["port"]), "PGUSER": pg["user"], "PGDATABASE": pg["database"],
           "PGPASSWORD": environ.get(DB_PASSWORD_ENV, ""), "PGSSLMODE": pg.get("sslmode", "disable")}
    if timeout:
        env["PGCONNECT_TIMEOUT"] = str(max(1, int(timeout)))
    return env


def app_environment(settings, environ):
    """Environment for GlitchTip's own processes (migrate, web, worker).

    Everything the container was given, minus our private secret variables,
    plus the connection URLs in the variable names this GlitchTip version reads.
    """
    app_env = {k: v for k, v in environ.items()
               if k not in PRIVATE_ENV_NAMES and not k.startswith(BACKUP_DESTINATION_PREFIX)}
    app_env["DATABASE_URL"] = database_url(settings, environ)
    # PostgreSQL only: an EMPTY VALKEY_URL is GlitchTip 6's switch to its PostgreSQL queue and cache.
    broker = redis_url(settings, environ) if redis_enabled(settings) else ""
    for name in settings["profile"].get("broker_env", []):
        app_env[name] = broker
    app_env["PORT"] = str(settings["web"]["port"])
    app_env.setdefault("DJANGO_SETTINGS_MODULE", "glitchtip.settings")
    return app_env


def service_environment(environ):
    """Environment for PostgreSQL/Redis: no application secrets at all."""
    return public_environment(environ)


def _secrets_of(name, value):
    """What is secret in one setting: all of it (and each line of a multi-line one), its URL credentials,
    or nothing."""
    if not value:
        return []
    if name in SECRET_ENV_NAMES:
        return url_credentials(value) if name in CREDENTIAL_URL_ENV_NAMES else _whole(value)
    if SECRET_NAME_PATTERN.search(name):
        return _whole(value) if len(value) >= SECRET_MIN_LENGTH else []
    if name.endswith("_URL"):
        return url_credentials(value)
    return []


def _whole(value):
    """A secret value, and each line of a multi-line one: a PEM private key printed a line at a time is
    still masked (its -----BEGIN/END----- lines, which say only what it is, are left readable)."""
    lines = [line.strip() for line in value.splitlines()
             if len(line.strip()) >= SECRET_MIN_LENGTH and not line.strip().startswith("-----")]
    return [value] + [line for line in lines if line != value]


def secret_values(environ):
    """The secret values present, for redaction of anything we print.

    A credential URL (EMAIL_URL, any other *_URL) gives its password and the whole URL when it
    has a user:password@ part, nothing when it has none (consolemail:// is no secret).
    """
    values = []
    for name in SECRET_ENV_NAMES:
        values.extend(_secrets_of(name, environ.get(name)))
    for name in sorted(set(environ) - set(SECRET_ENV_NAMES)):
        values.extend(_secrets_of(name, environ[name]))
    return values


def is_secret(name, value):
    """Whether the setting is, or carries, a secret (its value goes to no_log options only)."""
    return name in SECRET_ENV_NAMES or bool(_secrets_of(name, value))


def url_credentials(url):
    """The secret forms of a URL's user:password@ part: the URL and its password, as written and decoded."""
    try:
        parts = urlsplit(url)
        username, password = parts.username, parts.password
    except ValueError:  # unparsable (a bad IPv6 literal): all of it is treated as secret
        return [url]
    if not (username or password):
        return []
    return [url] + ([password, unquote(password)] if password else [])


def secret_environment(environ):
    """The secret-bearing part of an environment."""
    return {name: value for name, value in environ.items() if is_secret(name, value)}


def public_environment(environ):
    """The rest of it, safe to show."""
    return {name: value for name, value in environ.items() if not is_secret(name, value)}


def environ_from_entries(entries):
    """{name: value} of Docker's NAME=VALUE environment entries (a value may hold '=')."""
    return dict(entry.split("=", 1) for entry in entries or [] if "=" in entry)


def redact(text, secrets):
    """Replace every secret value (and its URL-quoted form) in text.

    Longest first: a secret that contains another must not be half-replaced.
    """
    forms = {form for secret in secrets if secret for form in (secret, quote(secret, safe=""))}
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "********")
    return text


def strings_in(value):
    """Every string inside lists and dicts (values, not keys)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from strings_in(item)


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
