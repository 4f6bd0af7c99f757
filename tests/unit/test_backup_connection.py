# -*- coding: utf-8 -*-
"""backup.py: which server its PostgreSQL clients reach, and what it refuses for external services."""

from __future__ import annotations

import os

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup, settings as aio_settings

BAKED = {
    "app": {"user": "app", "dir": "/code"}, "profile": {"broker_env": ["REDIS_URL"]}, "web": {"port": 8000},
    "postgres": {"user": "glitchtip", "database": "glitchtip", "port": 5432}, "redis": {"port": 6379},
    "programs": {"postgres": {}, "redis": {}, "web": {}}, "paths": {},
}


def test_embedded_server_is_reached_over_the_socket_as_postgres():
    postgres = backup.Postgres.for_settings(aio_settings.effective(BAKED, {}), {})
    env = postgres.environment()
    assert not postgres.external
    assert (env["PGHOST"], env["PGUSER"]) == ("/run/postgresql", "postgres") and "PGPASSWORD" not in env


def test_external_server_is_reached_as_the_app_role_with_its_password():
    environ = {"AIO_DB_HOST": "db.example.net", "AIO_DB_SSLMODE": "require", "AIO_DB_PASSWORD": "pw"}
    postgres = backup.Postgres.for_settings(aio_settings.effective(BAKED, environ), environ)
    env = postgres.environment()
    assert postgres.external
    assert (env["PGHOST"], env["PGUSER"], env["PGPASSWORD"], env["PGSSLMODE"]) == \
        ("db.example.net", "glitchtip", "pw", "require")
    assert "PGDATABASE" not in env  # each client names its database


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_redis_snapshot_of_an_external_redis_is_refused_before_anything_is_written(tmp_path, dry_run):
    environ = {"AIO_REDIS_URL": "redis://cache.example.net:6380/0"}
    settings = aio_settings.effective(BAKED, environ)
    with pytest.raises(backup.BackupError, match=r"redis: no snapshot of an external Redis \(cache.example.net:6380\)"):
        backup.run_backup(settings, environ, include_redis=True, dry_run=dry_run, root=str(tmp_path / "backups"))
    assert not os.path.exists(tmp_path / "backups")


def test_a_redis_snapshot_without_any_redis_is_refused_before_anything_is_written(tmp_path):
    baked = dict(BAKED, redis={"port": 6379, "enabled": False}, programs={"postgres": {}, "web": {}})
    with pytest.raises(backup.BackupError, match=r"redis: this deployment runs without Redis \(PostgreSQL only\)"):
        backup.run_backup(aio_settings.effective(baked, {}), {}, include_redis=True, root=str(tmp_path / "backups"))
    assert not os.path.exists(tmp_path / "backups")
