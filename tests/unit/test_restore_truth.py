# -*- coding: utf-8 -*-
"""backup.Restore tells the truth: it refuses up front without a PostgreSQL server, says whether the
services are healthy after a rollback, and leaves the app of a PostgreSQL upgrade held."""

from __future__ import annotations

import pytest

from test_backup_connection import BAKED

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup, settings as aio_settings


class Supervisor:
    def __init__(self):
        self.started = []

    def getAllProcessInfo(self):
        return [{"name": name, "statename": "STOPPED"} for name in ("postgres", "web", "worker")]

    def getProcessInfo(self, name):
        return {"statename": "STOPPED"}

    def startProcess(self, name, wait):
        self.started.append(name)


class Rpc:
    def __init__(self):
        self.supervisor = Supervisor()


@pytest.fixture
def restore(tmp_path, monkeypatch):
    settings = aio_settings.effective(BAKED, {})
    settings["paths"]["backups"] = str(tmp_path / "backups")
    settings["paths"]["pgdata"] = str(tmp_path / "postgres" / "data")
    (tmp_path / "postgres").mkdir()
    (tmp_path / "backups" / "glitchtip-20261127T023000Z").mkdir(parents=True)
    (tmp_path / "backups" / "glitchtip-20261127T023000Z" / "manifest.json").write_text("{}", encoding="utf-8")
    monkeypatch.setattr(backup, "_client_major", lambda: 17)
    yield backup.Restore(settings, {}, rpc=Rpc()), tmp_path


def test_a_restore_without_a_running_postgresql_is_refused_before_anything(restore, monkeypatch):
    restore_, _tmp = restore

    def no_server(sql, database="postgres", step="sql"):
        raise backup.BackupError("%s: psql exited with 2: connection to server on socket failed" % step)

    monkeypatch.setattr(restore_.postgres, "psql", no_server)
    monkeypatch.setattr(backup, "verify_files", lambda d, m: pytest.fail("verified although nothing can be restored"))
    with pytest.raises(backup.BackupError, match="^postgres: PostgreSQL does not answer, so nothing can be restored "
                                                 r"\(psql exited with 2: connection to server on socket failed\); nothing was changed"):
        restore_.run("latest")


def test_after_a_rollback_services_are_called_healthy_only_when_seen_healthy(restore, monkeypatch):
    restore_, _tmp = restore
    monkeypatch.setattr(restore_, "wait_healthy", lambda: (_ for _ in ()).throw(
        backup.BackupError("health: not healthy within 120s after the restore (web: refused)")))
    assert restore_.services_state() == (
        False, "services are NOT healthy again: health: not healthy within 120s after the restore (web: refused)")
    monkeypatch.setattr(restore_, "wait_healthy", lambda: {"status": "ok"})
    assert restore_.services_state() == (True, "services run again and are healthy")


def test_the_rollback_of_a_postgresql_upgrades_restore_leaves_the_app_stopped(restore, monkeypatch):
    restore_, tmp = restore
    restore_.started = 0.0
    monkeypatch.setattr(restore_.postgres, "psql", lambda *a, **k: "")
    (tmp / "postgres" / "aio-upgrade.json").write_text("{}", encoding="utf-8")
    attempt = backup.Attempt("glitchtip", "20260101000000", str(tmp), {"files": {}}, ["web", "worker"])
    assert restore_.rollback(attempt) is True
    assert restore_.rpc.supervisor.started == []
    assert restore_.services_state()[0] is False
    (tmp / "postgres" / "aio-upgrade.json").unlink()
    restore_.rollback(attempt)
    assert restore_.rpc.supervisor.started == ["worker", "web"]


def test_after_a_restore_web_starts_alone_and_answers_before_worker_and_scheduler_start(restore, monkeypatch):
    restore_, _tmp = restore
    restore_.started = 0.0
    seen = []

    def probe(settings, environ, components):
        seen.append((list(restore_.rpc.supervisor.started), tuple(components)))
        return {"status": "ok", "components": {}}

    monkeypatch.setattr(backup.probes, "run", probe)
    restore_.start_and_wait(["scheduler", "worker", "web"])
    assert seen == [(["web"], ("postgres", "redis", "web")),  # not supervisor: it wants every program RUNNING
                    (["web", "worker", "scheduler"], ("supervisor", "postgres", "redis", "web"))]
    assert [(s["step"], s["detail"]) for s in restore_.steps] == [
        ("start", "web"), ("health", "web answers"), ("start", "worker, scheduler"), ("health", "ok")]


def test_without_web_on_the_host_a_restore_starts_the_others_and_waits_for_them_all(restore, monkeypatch):
    restore_, _tmp = restore
    restore_.started = 0.0
    seen = []
    monkeypatch.setattr(backup.probes, "run", lambda settings, environ, components: seen.append(
        (list(restore_.rpc.supervisor.started), tuple(components))) or {"status": "ok", "components": {}})
    restore_.start_and_wait(["scheduler", "worker"])
    assert seen == [(["worker", "scheduler"], ("supervisor", "postgres", "redis", "web"))]
