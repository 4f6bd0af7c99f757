# -*- coding: utf-8 -*-
"""settings.py: connection URLs that carry any password, environments without private secrets, redaction."""

from __future__ import annotations

import json
from urllib.parse import quote, unquote, urlsplit

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import settings as aio_settings

HOSTILE_PASSWORDS = [
    "simple-password",
    "p@ss:w/rd%?#&'\"",
    "@:/%?#&'\"",
    "%41%2F%",                       # already looks URL-quoted: must not be unquoted twice
    "with space+plus=equals;semi",
    "back\\slash[brackets]{braces}",
    "中文密码🚀ünï",
    "a@b@c:d:e//f",
]


@pytest.fixture
def settings():
    return {
        "postgres": {"user": "glitchtip", "database": "glitchtip", "port": 5432},
        "redis": {"port": 6379},
        "web": {"port": 8000},
        "profile": {"broker_env": ["VALKEY_URL", "REDIS_URL"]},
    }


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
def test_database_url_password_round_trips(settings, password):
    url = aio_settings.database_url(settings, {"AIO_DB_PASSWORD": password})
    parts = urlsplit(url)
    assert parts.scheme == "postgres"
    assert unquote(parts.password) == password
    assert unquote(parts.username) == "glitchtip"
    assert parts.hostname == "127.0.0.1"
    assert parts.port == 5432
    assert unquote(parts.path) == "/glitchtip"
    assert parts.query == "" and parts.fragment == ""


@pytest.mark.parametrize("user,database", [("gl it@ch:tip", "db/na%me?#"), ("用户", "数据库")])
def test_database_url_quotes_user_and_database(settings, user, database):
    settings["postgres"].update(user=user, database=database, port="5433")
    parts = urlsplit(aio_settings.database_url(settings, {"AIO_DB_PASSWORD": "pw@x"}))
    assert unquote(parts.username) == user
    assert unquote(parts.path[1:]) == database
    assert unquote(parts.password) == "pw@x"
    assert parts.port == 5433


@pytest.mark.parametrize("environ", [{}, {"AIO_DB_PASSWORD": ""}])
def test_database_url_without_password_is_an_error(settings, environ):
    with pytest.raises(aio_settings.SettingsError, match="AIO_DB_PASSWORD"):
        aio_settings.database_url(settings, environ)


@pytest.mark.parametrize("password", HOSTILE_PASSWORDS)
def test_redis_url_password_round_trips(settings, password):
    url = aio_settings.redis_url(settings, {"AIO_REDIS_PASSWORD": password})
    parts = urlsplit(url)
    assert parts.scheme == "redis"
    assert unquote(parts.password) == password
    assert not parts.username
    assert parts.hostname == "127.0.0.1"
    assert parts.port == 6379
    assert parts.path == "/0"


def test_redis_url_without_password_has_no_auth(settings):
    assert aio_settings.redis_url(settings, {}) == "redis://127.0.0.1:6379/0"
    assert aio_settings.redis_url(settings, {"AIO_REDIS_PASSWORD": ""}) == "redis://127.0.0.1:6379/0"


def test_app_environment(settings):
    environ = {"AIO_DB_PASSWORD": "db@pw", "AIO_REDIS_PASSWORD": "redis:pw", "SECRET_KEY": "k" * 40,
               "GLITCHTIP_DOMAIN": "https://errors.example.com", "PATH": "/usr/bin"}
    original = dict(environ)
    env = aio_settings.app_environment(settings, environ)
    assert "AIO_DB_PASSWORD" not in env and "AIO_REDIS_PASSWORD" not in env
    # The app needs its own secret key and everything else it was given.
    assert env["SECRET_KEY"] == "k" * 40
    assert env["GLITCHTIP_DOMAIN"] == "https://errors.example.com"
    assert env["PATH"] == "/usr/bin"
    assert env["DATABASE_URL"] == aio_settings.database_url(settings, environ)
    for name in settings["profile"]["broker_env"]:
        assert env[name] == aio_settings.redis_url(settings, environ)
        assert unquote(urlsplit(env[name]).password) == "redis:pw"
    assert env["PORT"] == "8000"
    assert env["DJANGO_SETTINGS_MODULE"] == "glitchtip.settings"
    assert environ == original, "the caller's environment must not be modified"


def test_app_environment_sets_only_the_profile_broker_names(settings):
    settings["profile"]["broker_env"] = ["REDIS_URL"]
    env = aio_settings.app_environment(settings, {"AIO_DB_PASSWORD": "x"})
    assert env["REDIS_URL"] == "redis://127.0.0.1:6379/0"
    assert "VALKEY_URL" not in env


def test_app_environment_keeps_a_given_django_settings_module(settings):
    env = aio_settings.app_environment(settings, {"AIO_DB_PASSWORD": "x", "DJANGO_SETTINGS_MODULE": "custom"})
    assert env["DJANGO_SETTINGS_MODULE"] == "custom"


def test_app_environment_overrides_a_stale_database_url(settings):
    env = aio_settings.app_environment(settings, {"AIO_DB_PASSWORD": "new", "DATABASE_URL": "postgres://old"})
    assert unquote(urlsplit(env["DATABASE_URL"]).password) == "new"


def test_app_environment_requires_the_db_password(settings):
    with pytest.raises(aio_settings.SettingsError):
        aio_settings.app_environment(settings, {"SECRET_KEY": "x"})


def test_service_environment_drops_every_secret():
    environ = {"SECRET_KEY": "s", "AIO_DB_PASSWORD": "d", "AIO_REDIS_PASSWORD": "r", "PATH": "/bin", "TZ": "UTC"}
    environ.update(STRIPE_SECRET_KEY="sk_live_0123456789", VALKEY_URL="redis://:pw@cache:6379/0")
    assert aio_settings.service_environment(environ) == {"PATH": "/bin", "TZ": "UTC"}
    assert "SECRET_KEY" in environ, "the caller's environment must not be modified"


def test_secret_values_lists_only_present_secrets():
    assert aio_settings.secret_values({"SECRET_KEY": "s", "AIO_DB_PASSWORD": "", "OTHER": "o"}) == ["s"]
    assert sorted(aio_settings.secret_values({"SECRET_KEY": "s", "AIO_DB_PASSWORD": "d", "AIO_REDIS_PASSWORD": "r"})) \
        == ["d", "r", "s"]


@pytest.mark.parametrize("secret", HOSTILE_PASSWORDS)
def test_redact_masks_raw_and_url_quoted_forms(settings, secret):
    environ = {"AIO_DB_PASSWORD": secret, "AIO_REDIS_PASSWORD": secret}
    text = "raw=%s db=%s redis=%s" % (secret, aio_settings.database_url(settings, environ),
                                      aio_settings.redis_url(settings, environ))
    redacted = aio_settings.redact(text, aio_settings.secret_values(environ))
    assert secret not in redacted
    assert quote(secret, safe="") not in redacted
    assert redacted.startswith("raw=******** db=postgres://glitchtip:********@127.0.0.1:5432/glitchtip")
    assert redacted.endswith("redis=redis://:********@127.0.0.1:6379/0")


def test_redact_ignores_empty_secrets_and_leaves_other_text():
    assert aio_settings.redact("nothing secret here", ["", None]) == "nothing secret here"
    assert aio_settings.redact("a-b-a", ["a"]) == "********-b-********"


def test_load_settings_reads_json_and_names_the_file_on_error(tmp_path):
    good = tmp_path / "aio.json"
    good.write_text(json.dumps({"programs": {"web": {"kind": "service"}}}), encoding="utf-8")
    assert aio_settings.load_settings(str(good)) == {"programs": {"web": {"kind": "service"}}}
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(aio_settings.SettingsError, match=str(bad)):
        aio_settings.load_settings(str(bad))
    with pytest.raises(aio_settings.SettingsError, match="missing.json"):
        aio_settings.load_settings(str(tmp_path / "missing.json"))


def test_redact_masks_a_secret_that_contains_another_secret():
    environ = {"AIO_DB_PASSWORD": "shared-prefix", "SECRET_KEY": "shared-prefix-and-the-rest-of-the-key"}
    redacted = aio_settings.redact("key=" + environ["SECRET_KEY"], aio_settings.secret_values(environ))
    assert "the-rest-of-the-key" not in redacted


# ---------------------------------------------------------------- PostgreSQL only (glitchtip_postgres_only)


def test_postgres_only_gives_glitchtip_an_empty_valkey_url(settings):
    settings["profile"] = {"broker_env": ["VALKEY_URL"]}
    settings["redis"]["enabled"] = False
    env = aio_settings.app_environment(settings, {"AIO_DB_PASSWORD": "pw", "AIO_REDIS_PASSWORD": "rpw"})
    # Empty, not absent: GlitchTip 6 reads an unset VALKEY_URL as redis://redis:6379/0.
    assert env["VALKEY_URL"] == ""
    assert "rpw" not in json.dumps(env)


def test_postgres_only_never_treats_redis_as_external():
    baked = {"programs": {"web": {}, "worker": {"command": ["w"]}}, "postgres": {"user": "g", "database": "g", "port": 5432},
             "redis": {"port": 6379, "enabled": False}}
    effective = aio_settings.effective(baked, {"AIO_REDIS_URL": "redis://cache:6379/0"})
    assert not aio_settings.service_external(effective, "redis") and not aio_settings.redis_enabled(effective)
    assert aio_settings.redis_enabled(aio_settings.effective(dict(baked, redis={"port": 6379}), {}))


@pytest.mark.parametrize("name, value, secrets", [
    # Settings an operator adds are secret by name...
    ("EMAIL_HOST_PASSWORD", "hunter2-long", ["hunter2-long"]),
    ("STRIPE_SECRET_KEY", "sk_live_0123456789", ["sk_live_0123456789"]),
    ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG", ["wJalrXUtnFEMI/K7MDENG"]),
    ("MAILGUN_API_KEY", "key-0123456789", ["key-0123456789"]),
    ("GITHUB_TOKEN", "ghp_0123456789", ["ghp_0123456789"]),
    ("SOME_TOKEN_TTL", "60", []),                       # too short to mask everywhere
    # ... or, for a URL, by its user:password@ part.
    ("DATABASE_URL", "postgres://app:s3cret@db:5432/g", ["postgres://app:s3cret@db:5432/g", "s3cret", "s3cret"]),
    ("VALKEY_URL", "redis://cache:6379/0", []),
    ("GLITCHTIP_DOMAIN", "https://glitchtip.example.net", []),
    ("SESSION_COOKIE_SECURE", "true", []),
])
def test_a_setting_an_operator_adds_is_secret_by_its_name_or_url(name, value, secrets):
    environ = {name: value, "TZ": "UTC"}
    assert aio_settings.secret_values(environ) == secrets
    assert aio_settings.secret_environment(environ) == ({name: value} if secrets else {})
    assert aio_settings.public_environment(environ) == ({"TZ": "UTC"} if secrets else environ)
