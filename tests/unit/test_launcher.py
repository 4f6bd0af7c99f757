# -*- coding: utf-8 -*-
"""launcher.py: waiting for dependencies by readiness, with a deadline."""

from __future__ import annotations

import os

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import launcher

SETTINGS = {
    "programs": {"postgres": {}, "redis": {}, "migrate": {}, "web": {}},
    "paths": {"run": "/nonexistent/run"},
}


class FakeTime:
    def __init__(self):
        self.now = 50.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time():
    return FakeTime()


@pytest.fixture
def readiness(monkeypatch):
    """Replace dependency_ready: each name is ready from its n-th check on (None: never)."""
    state = {"ready_after": {}, "checks": []}

    def dependency_ready(name, settings, environ):
        state["checks"].append(name)
        after = state["ready_after"].get(name)
        return after is not None and state["checks"].count(name) >= after

    monkeypatch.setattr(launcher, "dependency_ready", dependency_ready)
    return state


def test_returns_at_once_when_everything_is_ready(fake_time, readiness):
    readiness["ready_after"] = {"postgres": 1, "redis": 1, "migrate": 1}
    launcher.wait_for(["postgres", "redis", "migrate"], SETTINGS, {}, 300, fake_time.clock, fake_time.sleep)
    assert fake_time.sleeps == []
    assert sorted(readiness["checks"]) == ["migrate", "postgres", "redis"]


def test_polls_until_ready_and_stops_checking_what_is_ready(fake_time, readiness):
    readiness["ready_after"] = {"postgres": 1, "redis": 3}
    launcher.wait_for(["postgres", "redis"], SETTINGS, {}, 300, fake_time.clock, fake_time.sleep)
    assert fake_time.sleeps == [launcher.POLL_SECONDS] * 2
    assert readiness["checks"].count("postgres") == 1
    assert readiness["checks"].count("redis") == 3


def test_deadline_names_what_is_still_pending(fake_time, readiness):
    readiness["ready_after"] = {"postgres": 1, "redis": None, "migrate": None}
    start = fake_time.now
    with pytest.raises(launcher.StartError) as excinfo:
        launcher.wait_for(["postgres", "redis", "migrate"], SETTINGS, {}, 5, fake_time.clock, fake_time.sleep)
    message = str(excinfo.value)
    assert message == "still waiting for redis, migrate after 5s"
    assert "postgres" not in message
    assert fake_time.now - start >= 5, "gave up before the deadline"
    assert fake_time.now - start <= 5 + launcher.POLL_SECONDS


def test_zero_deadline_checks_once_then_fails(fake_time, readiness):
    with pytest.raises(launcher.StartError, match="still waiting for redis after 0s"):
        launcher.wait_for(["redis"], SETTINGS, {}, 0, fake_time.clock, fake_time.sleep)
    assert readiness["checks"] == ["redis"]
    assert fake_time.sleeps == []


def test_dependencies_not_in_the_programs_are_skipped(fake_time, readiness):
    settings = {"programs": {"redis": {}, "web": {}}, "paths": {"run": "/nonexistent"}}
    readiness["ready_after"] = {"redis": 1}
    launcher.wait_for(["postgres", "redis", "migrate"], settings, {}, 5, fake_time.clock, fake_time.sleep)
    assert readiness["checks"] == ["redis"]


def test_no_dependencies_returns_without_checking(fake_time, readiness):
    launcher.wait_for([], SETTINGS, {}, 5, fake_time.clock, fake_time.sleep)
    launcher.wait_for(["postgres"], {"programs": {}}, {}, 5, fake_time.clock, fake_time.sleep)
    assert readiness["checks"] == []
    assert fake_time.sleeps == []


def test_migrate_readiness_is_the_marker_file(tmp_path):
    settings = {"programs": {"migrate": {}}, "paths": {"run": str(tmp_path)}}
    assert launcher.migrate_marker(settings) == os.path.join(str(tmp_path), "migrate.ok")
    assert launcher.dependency_ready("migrate", settings, {}) is False
    (tmp_path / "migrate.ok").write_text("ok\n")
    assert launcher.dependency_ready("migrate", settings, {}) is True


def test_held_migrations_are_no_readiness_for_web_and_worker(tmp_path):
    """A migrate held for a PostgreSQL upgrade's restore has not migrated anything yet."""
    settings = {"programs": {"migrate": {}}, "paths": {"run": str(tmp_path)}}
    launcher.write_migrate_marker(settings, launcher.MIGRATE_HELD)
    assert launcher.dependency_ready("migrate", settings, {}) is False
    launcher.write_migrate_marker(settings, launcher.MIGRATE_DONE)
    assert launcher.dependency_ready("migrate", settings, {}) is True


def test_unknown_dependency_is_a_start_error():
    with pytest.raises(launcher.StartError, match="unknown dependency 'mystery'"):
        launcher.dependency_ready("mystery", SETTINGS, {})


def test_redis_not_listening_is_not_ready(monkeypatch):
    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("nothing listens")

    monkeypatch.setattr(launcher.probes, "redis_commands", refuse)
    assert launcher.redis_ready({"redis": {"port": 6379}}, {}) is False


def test_redis_ready_sends_ping_with_the_password(monkeypatch):
    seen = {}

    def redis_commands(port, password, commands, timeout=3.0):
        seen.update(port=port, password=password, commands=commands)
        return ["PONG"]

    monkeypatch.setattr(launcher.probes, "redis_commands", redis_commands)
    assert launcher.redis_ready({"redis": {"port": 6380}}, {"AIO_REDIS_PASSWORD": "pw"}) is True
    assert seen == {"port": {"port": 6380}, "password": "pw", "commands": [("PING",)]}
