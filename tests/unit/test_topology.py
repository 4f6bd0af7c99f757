# -*- coding: utf-8 -*-
"""settings.effective: one image, its programs and services chosen by the container's environment."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import launcher, settings as aio_settings

BAKED = {
    "app": {"user": "app", "dir": "/code"},
    "profile": {"broker_env": ["REDIS_URL"]},
    "web": {"port": 8000},
    "postgres": {"user": "glitchtip", "database": "glitchtip", "port": 5432},
    "redis": {"port": 6379},
    "programs": {
        "postgres": {"needs": []},
        "redis": {"needs": []},
        "migrate": {"needs": ["postgres", "redis"]},
        "web": {"needs": ["postgres", "redis", "migrate"], "command": ["gunicorn"]},
        "worker": {"needs": ["postgres", "redis", "migrate"], "command": ["celery", "worker"],
                   "beat_arguments": ["--beat"]},
        "scheduler": {"needs": ["migrate"]},
    },
}
PASSWORDS = {"AIO_DB_PASSWORD": "p@ss/w:rd%", "AIO_REDIS_PASSWORD": "r:e@dis"}


def effective(**environ):
    return aio_settings.effective(BAKED, dict(PASSWORDS, **environ))


def test_all_in_one_runs_everything_with_beat_in_the_worker():
    settings = effective()
    assert set(settings["programs"]) == set(BAKED["programs"])
    assert settings["programs"]["worker"]["command"] == ["celery", "worker", "--beat"]
    assert settings["roles"] == ["web", "worker", "beat"]
    assert aio_settings.database_url(settings, PASSWORDS) == \
        "postgres://glitchtip:p%40ss%2Fw%3Ard%25@127.0.0.1:5432/glitchtip"
    assert aio_settings.redis_url(settings, PASSWORDS) == "redis://:r%3Ae%40dis@127.0.0.1:6379/0"
    assert BAKED["programs"]["worker"]["command"] == ["celery", "worker"]  # the baked settings are untouched


def test_a_web_host_with_external_services_runs_web_and_scheduler_only():
    settings = effective(AIO_ROLES="web", AIO_MIGRATE_ON_START="false", AIO_DB_HOST="db.example.net",
                         AIO_DB_PORT="6432", AIO_DB_SSLMODE="verify-full", AIO_REDIS_URL="rediss://cache:6380/2")
    assert set(settings["programs"]) == {"web", "scheduler"}
    # External services are still waited for by readiness; the absent migrate program is not.
    assert launcher.pending_needs(settings["programs"]["web"]["needs"], settings) == ["postgres", "redis"]
    assert launcher.pending_needs(settings["programs"]["scheduler"]["needs"], settings) == []
    assert aio_settings.database_url(settings, PASSWORDS) == \
        "postgres://glitchtip:p%40ss%2Fw%3Ard%25@db.example.net:6432/glitchtip?sslmode=verify-full"
    assert aio_settings.redis_url(settings, PASSWORDS) == "rediss://:r%3Ae%40dis@cache:6380/2"
    assert aio_settings.service_address(settings, "postgres") == "db.example.net:6432"
    env = aio_settings.libpq_environment(settings, PASSWORDS, timeout=3)
    assert (env["PGHOST"], env["PGPORT"], env["PGSSLMODE"], env["PGPASSWORD"], env["PGCONNECT_TIMEOUT"]) == \
        ("db.example.net", "6432", "verify-full", "p@ss/w:rd%", "3")


def test_worker_without_beat_and_the_beat_host():
    assert effective(AIO_ROLES="worker")["programs"]["worker"]["command"] == ["celery", "worker"]
    assert effective(AIO_ROLES="worker,beat")["programs"]["worker"]["command"] == ["celery", "worker", "--beat"]
    assert "web" not in effective(AIO_ROLES="worker,beat")["programs"]


@pytest.mark.parametrize("environ, message", [
    ({"AIO_ROLES": "web,cron"}, "AIO_ROLES: unknown role(s) cron"),
    ({"AIO_DB_HOST": "db", "AIO_DB_SSLMODE": "sometimes"}, "AIO_DB_SSLMODE: expected one of disable"),
    ({"AIO_DB_HOST": "db", "AIO_DB_PORT": "five"}, "AIO_DB_PORT: expected a port number"),
    ({"AIO_REDIS_URL": "http://cache"}, "AIO_REDIS_URL: expected redis://HOST"),
    ({"AIO_REDIS_URL": "redis://user:pw@cache"}, "without credentials"),
    ({"AIO_REDIS_URL": "redis://cache/x"}, "bad port or database number"),
])
def test_bad_environment_names_the_variable(environ, message):
    with pytest.raises(aio_settings.SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        effective(**environ)


def test_ipv6_hosts_are_bracketed_in_urls():
    settings = effective(AIO_DB_HOST="2001:db8::5", AIO_REDIS_URL="redis://[2001:db8::6]:6379/0")
    assert "@[2001:db8::5]:5432/" in aio_settings.database_url(settings, PASSWORDS)
    assert aio_settings.redis_url(settings, PASSWORDS).endswith("@[2001:db8::6]:6379/0")
