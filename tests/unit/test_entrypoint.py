# -*- coding: utf-8 -*-
"""entrypoint.py: what must be true before supervisord starts, and which programs it is given."""

from __future__ import annotations

import os

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import entrypoint


def test_only_this_containers_programs_are_linked_for_supervisord(tmp_path):
    available = tmp_path / "conf.d"
    available.mkdir()
    for name in ("postgres", "redis", "migrate", "web", "worker", "scheduler"):
        (available / ("%s.conf" % name)).write_text("[program:%s]\n" % name, encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    entrypoint.link_programs({"paths": {"run": str(run)}, "programs": {"web": {}, "scheduler": {}}},
                             available=str(available))
    linked = sorted(os.listdir(run / "programs"))
    assert linked == ["scheduler.conf", "web.conf"]
    assert (run / "programs" / "web.conf").read_text(encoding="utf-8") == "[program:web]\n"


def test_the_database_password_is_required_embedded_or_external():
    settings = {"programs": {"web": {}}}
    assert entrypoint.missing_secrets(settings, {"SECRET_KEY": "k"}) == ["AIO_DB_PASSWORD"]
    assert entrypoint.missing_secrets(settings, {"SECRET_KEY": "k", "AIO_DB_PASSWORD": "p"}) == []


@pytest.mark.parametrize("hold", entrypoint.HOLD_FILES)
def test_during_a_postgres_upgrade_or_a_recovery_the_app_is_configured_but_not_started(tmp_path, hold):
    available = tmp_path / "conf.d"
    available.mkdir()
    for name in ("postgres", "migrate", "web", "worker"):
        (available / ("%s.conf" % name)).write_text("[program:%s]\nautostart=true\npriority=1\n" % name,
                                                   encoding="utf-8")
    pgdata = tmp_path / "postgres" / "data"
    pgdata.mkdir(parents=True)
    settings = {"paths": {"run": str(tmp_path / "run"), "pgdata": str(pgdata)},
                "programs": {"postgres": {}, "migrate": {}, "web": {}, "worker": {}}}
    (tmp_path / "postgres" / hold).write_text("{}", encoding="utf-8")
    assert entrypoint.hold_path(settings) == str(tmp_path / "postgres" / hold)
    entrypoint.link_programs(settings, available=str(available))
    programs = tmp_path / "run" / "programs"
    assert (programs / "web.conf").read_text(encoding="utf-8") == "[program:web]\nautostart=false\npriority=1\n"
    assert "autostart=false" in (programs / "worker.conf").read_text(encoding="utf-8")
    assert os.path.islink(programs / "postgres.conf") and os.path.islink(programs / "migrate.conf")


def test_without_a_hold_file_or_an_embedded_cluster_nothing_is_held(tmp_path):
    (tmp_path / "postgres" / "data").mkdir(parents=True)
    assert entrypoint.held({"paths": {"pgdata": str(tmp_path / "postgres" / "data")}}) is False
    assert entrypoint.held({"paths": {}}) is False  # external PostgreSQL: no cluster to hold
    assert entrypoint.held({}) is False
