# -*- coding: utf-8 -*-
"""glitchtip.aio.health: arguments, result shape, read-only in check mode."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.modules import health

from aio_fakes import SECRET_KEY, container_attrs


def component(name, status="ok"):
    return {"name": name, "status": status, "reason": "%s %s" % (name, status), "elapsed_ms": 1.0, "details": {}}


def report(**statuses):
    components = {name: component(name, status) for name, status in statuses.items()}
    worst = "ok" if all(status == "ok" for status in statuses.values()) else "down"
    return {"status": worst, "components": components}


def test_components_become_aio_arguments_and_are_checked(run_module, aio):
    aio.reports["health"] = (0, report(postgres="ok", redis="ok"))
    result = run_module(health, {"components": ["postgres", "redis"]})
    assert aio.execs[0]["args"] == ["health", "--component", "postgres", "--component", "redis", "--json"]
    assert result["status"] == "ok" and result["changed"] is False
    refused = run_module(health, {"components": ["mysql"]})
    assert refused["failed"] and "mysql" in refused["msg"]


def test_result_shape_and_the_same_answer_in_check_mode(run_module, aio, undocumented_keys):
    aio.reports["health"] = (0, report(web="ok", worker="ok"))
    real = run_module(health, {})
    checked = run_module(health, {}, check_mode=True)
    for result in (real, checked):
        assert result["changed"] is False and result["attempts"] == 1
        assert result["container"]["running"] is True
        assert undocumented_keys(health, result) == set()
    assert checked["components"] == real["components"]


def test_unhealthy_once_reports_without_failing(run_module, aio):
    aio.reports["health"] = (1, report(web="down"))
    result = run_module(health, {})
    assert result["failed"] is False and result["status"] == "down"


def test_a_missing_container_fails_with_log_tails_redacted(run_module, aio, tmp_path, undocumented_keys):
    (tmp_path / "web.err.log").write_text("boom with %s\n" % SECRET_KEY)
    aio.attrs = None
    result = run_module(health, {"log_dir": str(tmp_path), "log_lines": 5})
    assert result["failed"] and "does not exist" in result["msg"] and result["status"] == "down"
    # Without the container its secrets are unknown: the tail is as written (the module says so in its docs).
    assert result["log_tails"]["web"]["stderr"] == ["boom with %s" % SECRET_KEY]
    assert undocumented_keys(health, result) == set()


def test_waiting_fails_fast_when_the_container_restarts(run_module, aio, monkeypatch):
    aio.reports["health"] = (1, report(web="down"))
    first, restarted = container_attrs(), container_attrs()
    restarted["RestartCount"] = 1
    answers = iter([first, first, restarted])
    monkeypatch.setattr(aio, "inspect", lambda: next(answers, restarted))
    result = run_module(health, {"wait_timeout": 30, "interval": 0.01})
    assert result["failed"] and "restarted while waiting" in result["msg"]
