# -*- coding: utf-8 -*-
"""glitchtip.aio.set_aside: the steps of module_utils/container_aside.py run against an engine, check mode
predicting them, result shape."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec
from ansible_collections.glitchtip.aio.plugins.modules import set_aside

from engine_fakes import EngineAio, box


@pytest.fixture
def engine_aio(monkeypatch):
    fake = EngineAio()
    monkeypatch.setattr(container_exec, "AioContainer", fake.connect)
    return fake


def test_aside_then_restored_gives_the_restart_policy_back(run_module, engine_aio, undocumented_keys):
    engine = engine_aio.engine
    engine.add("g", box("old"))
    would = run_module(set_aside, {"container": "g", "state": "aside"}, check_mode=True)
    assert would["changed"] and would["would"] == ["stop", "restart policy no", "rename"] and engine.calls == []
    result = run_module(set_aside, {"container": "g", "state": "aside"})
    assert result["changed"] and result["name"] == "g-pre-upgrade" and result["id"] == "old"
    assert undocumented_keys(set_aside, result) == set()
    kept = engine.containers["g-pre-upgrade"]
    assert kept["HostConfig"]["RestartPolicy"]["Name"] == "no" and not kept["State"]["Running"]
    assert run_module(set_aside, {"container": "g", "state": "aside"})["changed"] is False

    engine.add("g", box("new"))  # the failed replacement
    result = run_module(set_aside, {"container": "g", "state": "restored", "restart_policy": "always"})
    assert result["steps"] == ["remove replacement", "rename back", "restart policy", "start"]
    back = engine.containers["g"]
    assert back["Id"] == "old" and back["State"]["Running"] and back["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert set(engine.containers) == {"g"}
    assert run_module(set_aside, {"container": "g", "state": "restored", "restart_policy": "always"})["changed"] is False


def test_a_failing_step_is_named_and_a_leftover_refused(run_module, engine_aio, monkeypatch):
    engine = engine_aio.engine
    engine.add("g", box("new"))
    engine.add("g-pre-upgrade", box("old", running=False))
    refused = run_module(set_aside, {"container": "g", "state": "aside"})
    assert refused["failed"] and "left from an earlier change" in refused["msg"] and engine.calls == []

    def broken(name, new_name):
        raise container_exec.APIError("name in use")
    monkeypatch.setattr(engine, "rename", broken)
    failed = run_module(set_aside, {"container": "g", "state": "restored"})
    assert failed["failed"] and failed["msg"].startswith("g-pre-upgrade: rename back failed: name in use")
