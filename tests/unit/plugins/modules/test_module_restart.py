# -*- coding: utf-8 -*-
"""glitchtip.aio.restart: arguments, result shape, check mode predicting the real run's changed."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.modules import restart

BEFORE = {"pids": {"web": 10, "worker": 20}, "web_workers": [11, 12]}
RESTARTED = {"job": "scheduled-restart", "ok": True, "dry_run": False, "started_at": "2026-11-27T03:01:00+00:00",
             "restarted": ["web", "worker"], "steps": [], "before": BEFORE, "after": BEFORE, "post_check": {},
             "summary": [["result", "web and worker restarted and healthy"]], "seconds": 4.2,
             "reason": "web and worker restarted and healthy",
             "notifications": {"webhook": {"delivered": True, "attempts": 1, "reason": "HTTP 200"}}}
WOULD = {"job": "scheduled-restart", "ok": True, "dry_run": True, "started_at": "2026-11-27T03:01:00+00:00",
         "restarted": [], "steps": [], "before": BEFORE, "would_restart": ["web", "worker"],
         "summary": [["result", "would reload web and restart the worker"]], "seconds": 0.3,
         "reason": "would reload web and restart the worker"}
REFUSED = {"job": "scheduled-restart", "ok": False, "dry_run": False, "restarted": [], "steps": [], "before": BEFORE,
           "summary": [], "seconds": 0.2, "reason": "restarted nothing: redis down: Connection refused"}


def test_options_become_aio_arguments(run_module, aio):
    aio.reports["restart"] = (0, RESTARTED)
    run_module(restart, {"deadline": 30, "notify": True})
    assert aio.execs[0]["args"] == ["restart", "--deadline", "30", "--notify", "--json"]
    # The exec may take every program's deadline twice over, and then some.
    assert aio.connected_with["timeout"] == 30 * 2 + 120


def test_a_restart_is_changed_and_documented(run_module, aio, undocumented_keys):
    aio.reports["restart"] = (0, RESTARTED)
    result = run_module(restart, {})
    assert result["changed"] is True and result["restarted"] == ["web", "worker"]
    assert "would_restart" not in result
    assert undocumented_keys(restart, result) == set()
    assert set(result["report"]) - {"ok", "job"} <= set(restart_report_contains())


def restart_report_contains():
    import yaml
    return yaml.safe_load(restart.RETURN)["report"]["contains"]


def test_check_mode_predicts_what_the_real_run_restarts(run_module, aio, undocumented_keys):
    aio.reports["restart"] = (0, WOULD)
    checked = run_module(restart, {"notify": True}, check_mode=True)
    assert "--dry-run" in aio.execs[0]["args"]
    aio.reports["restart"] = (0, RESTARTED)
    real = run_module(restart, {})
    assert checked["changed"] is real["changed"] is True
    assert checked["would_restart"] == real["restarted"] and checked["restarted"] == []
    assert undocumented_keys(restart, checked) == set()


def test_a_host_with_nothing_to_restart_is_unchanged_in_both_modes(run_module, aio):
    aio.reports["restart"] = (0, dict(WOULD, would_restart=[], reason="nothing to restart on this host"))
    assert run_module(restart, {}, check_mode=True)["changed"] is False
    aio.reports["restart"] = (0, dict(RESTARTED, restarted=[], reason="nothing restarted"))
    assert run_module(restart, {})["changed"] is False


def test_a_refusal_fails_unchanged_in_both_modes(run_module, aio):
    aio.reports["restart"] = (1, REFUSED)
    for check_mode in (True, False):
        result = run_module(restart, {}, check_mode=check_mode)
        assert result["failed"] and result["changed"] is False
        assert "Connection refused" in result["msg"] and result["restarted"] == []
