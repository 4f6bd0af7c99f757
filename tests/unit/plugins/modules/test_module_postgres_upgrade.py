# -*- coding: utf-8 -*-
"""glitchtip.aio.postgres_upgrade's container steps against an engine: the old container set aside as set_aside
does (restart policy no while aside, its own back on rollback), the shared health wait, aio jobs through
container_exec (the whole upgrade runs on real containers in the pgupgrade molecule scenario)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec
from ansible_collections.glitchtip.aio.plugins.modules import postgres_upgrade

from engine_fakes import EngineAio, box

NAME = "glitchtip-aio"
OLD = NAME + "-pg15-old"
HEALTHY = {"status": "ok", "components": {}}
BACKUP = {"job": "backup", "ok": True, "name": "glitchtip-20261127T120000Z", "versions": {"postgres": "15.14"}}


def program(status, state, reason):
    return {"status": status, "state": state, "reason": reason, "pid": 0}


def health(migrate_status="ok", migrate_state="EXITED", reason="finished (exit 0)"):
    """The new container's answer while the app programs are held: PostgreSQL up, the migration as given."""
    programs = {"migrate": program(migrate_status, migrate_state, reason), "web": program("down", "STOPPED", "STOPPED")}
    return {"status": "down", "components": {
        "postgres": {"name": "postgres", "status": "ok", "reason": "SELECT 1", "elapsed_ms": 1.0, "details": {}},
        "supervisor": {"name": "supervisor", "status": "down", "reason": "web STOPPED", "elapsed_ms": 1.0,
                       "details": {"programs": programs}}}}


@pytest.fixture
def engine_aio(monkeypatch):
    fake = EngineAio()
    monkeypatch.setattr(container_exec, "AioContainer", fake.connect)
    monkeypatch.setattr(postgres_upgrade, "WAIT_INTERVAL", 0.01)
    return fake


@pytest.fixture
def data_dir(tmp_path):
    os.makedirs(tmp_path / "postgres" / "data")
    (tmp_path / "postgres" / "data" / "PG_VERSION").write_text("15\n")
    os.makedirs(tmp_path / "redis")
    (tmp_path / "redis" / "dump.rdb").write_text("rdb")
    os.makedirs(tmp_path / "logs")
    return tmp_path


def args(data_dir, step, **more):
    return dict({"container": NAME, "step": step, "data_dir": str(data_dir), "wait_timeout": 5}, **more)


def record(data_dir):
    with open(data_dir / "postgres" / "aio-upgrade.json") as handle:
        return json.load(handle)


def prepare(run_module, engine_aio, data_dir, policy="unless-stopped"):
    engine_aio.engine.add(NAME, box("old", policy=policy))
    engine_aio.reports["backup"] = (0, BACKUP)
    return run_module(postgres_upgrade, args(data_dir, "prepare"))


def new_container(engine_aio, data_dir):
    """What run.yml does between prepare and finish: the new container on a fresh cluster."""
    engine_aio.execs.clear()
    engine_aio.engine.add(NAME, box("new", image="sha256:" + "2" * 64))
    os.makedirs(data_dir / "postgres" / "data")
    (data_dir / "postgres" / "data" / "PG_VERSION").write_text("17\n")


def test_prepare_sets_the_old_container_aside_with_restart_policy_no(run_module, engine_aio, data_dir,
                                                                     undocumented_keys):
    result = prepare(run_module, engine_aio, data_dir, policy="always")
    assert not result["failed"], result["msg"]
    assert undocumented_keys(postgres_upgrade, result) == set()
    assert engine_aio.execs[0]["args"] == ["backup", "--json"]
    old = engine_aio.engine.containers[OLD]
    assert old["Id"] == "old" and not old["State"]["Running"]
    # A restart of the Docker engine must not start it beside the new one on the same data directory.
    assert old["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert NAME not in engine_aio.engine.containers
    kept = record(data_dir)
    assert kept["restart_policy"] == {"Name": "always", "MaximumRetryCount": 0}
    assert kept["done"] == ["stop", "restart policy no", "rename", "cluster_moved", "redis_copied"]
    assert kept["backup"] == str(data_dir / "backups" / BACKUP["name"])
    assert (data_dir / ("postgres/data-pg15-%s" % kept["stamp"]) / "PG_VERSION").read_text() == "15\n"


def test_a_failed_backup_changes_nothing(run_module, engine_aio, data_dir):
    engine_aio.engine.add(NAME, box("old"))
    engine_aio.reports["backup"] = (1, "Traceback: not JSON")
    result = run_module(postgres_upgrade, args(data_dir, "prepare"))
    assert result["failed"] and result["failed_step"] == "backup"
    assert "nothing was changed: aio backup printed no JSON (exit 1)" in result["msg"]
    assert engine_aio.engine.calls == [] and not (data_dir / "postgres" / "aio-upgrade.json").exists()


def test_a_left_over_old_container_is_refused_before_the_backup(run_module, engine_aio, data_dir):
    engine_aio.engine.add(OLD, box("older", running=False))
    result = prepare(run_module, engine_aio, data_dir)
    assert result["failed"] and "nothing was changed" in result["msg"] and OLD in result["msg"]
    assert engine_aio.execs == [] and engine_aio.engine.calls == []


def test_rollback_puts_the_old_container_back_with_its_restart_policy(run_module, engine_aio, data_dir,
                                                                       undocumented_keys):
    prepare(run_module, engine_aio, data_dir)
    new_container(engine_aio, data_dir)
    engine_aio.reports["health"] = (0, HEALTHY)
    result = run_module(postgres_upgrade, args(data_dir, "rollback"))
    assert not result["failed"], result["msg"]
    assert "rolled back" in result["message"] and undocumented_keys(postgres_upgrade, result) == set()
    back = engine_aio.engine.containers[NAME]
    assert set(engine_aio.engine.containers) == {NAME}
    assert back["Id"] == "old" and back["State"]["Running"]
    assert back["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert (data_dir / "postgres" / "data" / "PG_VERSION").read_text() == "15\n"
    assert not (data_dir / "postgres" / "aio-upgrade.json").exists()
    # Started only once the record is gone (with it, it would hold its app), then the deploy's health wait.
    assert engine_aio.engine.calls[-1] == ("start", NAME)
    assert engine_aio.execs[-1]["args"] == ["health", "--component", "supervisor", "--component", "postgres",
                                            "--component", "redis", "--component", "web", "--json"]


def test_the_health_wait_ends_when_the_container_restarts_saying_why(run_module, engine_aio, data_dir):
    prepare(run_module, engine_aio, data_dir)
    (data_dir / "logs" / "watchdog.log").write_text("")
    answers = iter([(1, {"status": "down", "components": {"web": {"status": "down", "reason": "502"}}})])

    def health_then_restart(args_):
        engine_aio.engine.containers[NAME]["RestartCount"] = 1
        return next(answers, (1, {"status": "down", "components": {}}))
    engine_aio.answer = health_then_restart
    result = run_module(postgres_upgrade, args(data_dir, "rollback"))
    assert result["failed"] and result["failed_step"] == "health"
    assert "%s: container restarted while waiting" % NAME in result["msg"]


def test_finish_waits_for_the_migration_restores_and_removes_the_old_container(run_module, engine_aio, data_dir,
                                                                                undocumented_keys):
    prepare(run_module, engine_aio, data_dir)
    new_container(engine_aio, data_dir)
    answers = iter([health("degraded", "RUNNING", "still running"), health(), HEALTHY])
    engine_aio.reports.update(restore=(0, {"job": "restore", "ok": True}), psql=(0, "17.6\n"))
    engine_aio.answer = lambda args_: ((0, next(answers)) if args_[0] == "health" else engine_aio.reports[args_[0]])
    result = run_module(postgres_upgrade, args(data_dir, "finish"))
    assert not result["failed"], result["msg"]
    assert undocumented_keys(postgres_upgrade, result) == set()
    assert result["versions"] == {"before": "15.14", "after": "17.6"}
    commands = [call["args"] for call in engine_aio.execs]
    assert commands[0] == ["health", "--component", "supervisor", "--component", "postgres", "--json"]
    assert commands[2] == ["restore", "/data/backups/" + BACKUP["name"], "--deadline", "5", "--json"]
    assert commands[-1] == ["psql", "-XAtq", "-c", "SHOW server_version"]
    assert set(engine_aio.engine.containers) == {NAME} and engine_aio.engine.containers[NAME]["Id"] == "new"
    assert not (data_dir / "postgres" / "aio-upgrade.json").exists()


def test_finish_stops_waiting_when_the_migration_failed(run_module, engine_aio, data_dir):
    prepare(run_module, engine_aio, data_dir)
    new_container(engine_aio, data_dir)
    engine_aio.reports["health"] = (1, health("down", "EXITED", "failed (exit 1)"))
    result = run_module(postgres_upgrade, args(data_dir, "finish", wait_timeout=60))
    assert result["failed"] and result["failed_step"] == "start"
    assert "migrate failed for good" in result["msg"] and len(engine_aio.execs) == 1
    assert OLD in engine_aio.engine.containers  # the way back is still there


def test_a_record_without_the_restart_policy_keeps_the_old_containers_own(run_module, engine_aio, data_dir):
    """A record written before the policy was kept in it: the old container's policy was never changed."""
    prepare(run_module, engine_aio, data_dir)
    kept = record(data_dir)
    del kept["restart_policy"]
    (data_dir / "postgres" / "aio-upgrade.json").write_text(json.dumps(kept))
    engine_aio.engine.containers[OLD]["HostConfig"]["RestartPolicy"] = {"Name": "always", "MaximumRetryCount": 0}
    engine_aio.reports["health"] = (0, HEALTHY)
    result = run_module(postgres_upgrade, args(data_dir, "rollback"))
    assert not result["failed"], result["msg"]
    assert engine_aio.engine.containers[NAME]["HostConfig"]["RestartPolicy"]["Name"] == "always"


def test_a_rollback_after_a_failed_stop_leaves_the_running_old_container_be(run_module, engine_aio, data_dir,
                                                                             monkeypatch):
    def refused(name, timeout=None):
        raise container_exec.APIError("stop refused")
    monkeypatch.setattr(engine_aio.engine, "stop", refused)
    failed = prepare(run_module, engine_aio, data_dir)
    assert failed["failed"] and failed["failed_step"] == "stop" and "stop failed: stop refused" in failed["msg"]
    engine_aio.engine.calls.clear()
    engine_aio.reports["health"] = (0, HEALTHY)
    result = run_module(postgres_upgrade, args(data_dir, "rollback"))
    assert not result["failed"], result["msg"]
    assert engine_aio.engine.calls == [] and engine_aio.engine.containers[NAME]["State"]["Running"]
    assert (data_dir / "postgres" / "data" / "PG_VERSION").read_text() == "15\n"
