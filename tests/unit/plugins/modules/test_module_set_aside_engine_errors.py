# -*- coding: utf-8 -*-
"""glitchtip.aio.set_aside when the Docker engine cannot be reached: a clear failure in the words the other
modules use (container_exec), unchanged, never a traceback."""

from __future__ import annotations

import pytest
import requests

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec
from ansible_collections.glitchtip.aio.plugins.modules import health, set_aside

from engine_fakes import EngineAio, box


@pytest.fixture
def engine_aio(monkeypatch):
    fake = EngineAio()
    monkeypatch.setattr(container_exec, "AioContainer", fake.connect)
    return fake


@pytest.mark.parametrize("state", ["aside", "restored", "absent"])
def test_no_engine_at_docker_host_fails_as_every_module_does(run_module, tmp_path, state):
    # The real Docker SDK, pointed at a socket nobody listens on.
    socket = "unix://%s" % (tmp_path / "docker.sock")
    result = run_module(set_aside, {"container": "g", "state": state, "docker_host": socket}, check_mode=True)
    assert result["failed"] is True and not result.get("changed")
    assert result["msg"].startswith("cannot reach the Docker engine: "), result["msg"]
    assert "Traceback" not in result["msg"]
    # The same first words as a module that runs aio in the container.
    other = run_module(health, {"container": "g", "docker_host": socket})
    assert other["failed"] and other["msg"].split(":", 1)[0] == result["msg"].split(":", 1)[0]


def test_an_engine_gone_after_connecting_fails_naming_the_containers(run_module, engine_aio, monkeypatch):
    def gone(name):
        raise requests.exceptions.ConnectionError("('Connection aborted.', FileNotFoundError(2, 'No such file'))")

    monkeypatch.setattr(engine_aio.engine, "inspect_container", gone)
    result = run_module(set_aside, {"container": "g", "state": "aside"})
    assert result["failed"] and not result.get("changed")
    assert result["msg"].startswith("cannot inspect containers g and g-pre-upgrade: "), result["msg"]
    assert "Connection aborted" in result["msg"]


def test_an_engine_gone_between_two_steps_names_the_step(run_module, engine_aio, monkeypatch):
    engine = engine_aio.engine
    engine.add("g", box("old"))

    def gone(name, new_name):
        raise requests.exceptions.ConnectionError("Connection refused")

    monkeypatch.setattr(engine, "rename", gone)
    result = run_module(set_aside, {"container": "g", "state": "aside"})
    assert result["failed"]
    assert result["msg"] == "g-pre-upgrade: rename failed: Connection refused"
    assert engine.calls == [("stop", "g"), ("update", "g", "no")]
