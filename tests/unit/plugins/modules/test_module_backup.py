# -*- coding: utf-8 -*-
"""glitchtip.aio.backup: arguments, result shape, check mode predicting the real run's changed."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.modules import backup

WRITTEN = {"job": "backup", "ok": True, "dry_run": False, "name": "glitchtip-20261127T030100Z",
           "path": "/data/backups/glitchtip-20261127T030100Z", "reason": "written and verified", "seconds": 1.5,
           "files": {"database.dump": {"size": 10, "sha256": "ab"}}, "deleted": ["glitchtip-20261120T030100Z"],
           "versions": {"glitchtip": "5.2", "postgres": "15.8"}, "size": 10}
WOULD = {"job": "backup", "ok": True, "dry_run": True, "name": "glitchtip-20261127T030100Z",
         "path": "/data/backups/glitchtip-20261127T030100Z", "reason": "would write it and keep it if it verifies",
         "would_delete": ["glitchtip-20261120T030100Z"]}
FAILED = {"job": "backup", "ok": False, "failed_step": "write", "reason": "write: No space left on device"}


def test_options_become_aio_arguments(run_module, aio):
    aio.reports["backup"] = (0, WRITTEN)
    run_module(backup, {"container": "gt", "keep_count": 3, "keep_days": 7, "redis": True})
    assert aio.execs == [{"args": ["backup", "--keep-count", "3", "--keep-days", "7", "--redis", "--json"],
                          "environment": None}]
    assert aio.connected_with["name"] == "gt"


@pytest.mark.parametrize("option", ["keep_count", "keep_days"])
def test_retention_below_one_is_refused_before_the_container_is_asked(run_module, aio, option):
    result = run_module(backup, {option: 0})
    assert result["failed"] and option in result["msg"]
    assert aio.execs == []


def test_unknown_option_is_refused(run_module, aio):
    result = run_module(backup, {"keep": 3})
    assert result["failed"] and "keep" in result["msg"]


def test_a_written_backup_is_changed_and_every_key_documented(run_module, aio, undocumented_keys):
    aio.reports["backup"] = (0, WRITTEN)
    result = run_module(backup, {})
    assert result["changed"] is True and result["failed"] is False
    assert result["name"] == WRITTEN["name"] and result["deleted"] == WRITTEN["deleted"]
    assert "ok" not in result
    assert undocumented_keys(backup, result) == set()


def test_check_mode_predicts_the_change_and_only_dry_runs(run_module, aio, undocumented_keys):
    aio.reports["backup"] = (0, WOULD)
    checked = run_module(backup, {"keep_count": 1}, check_mode=True)
    assert aio.execs[0]["args"] == ["backup", "--keep-count", "1", "--dry-run", "--json"]
    aio.reports["backup"] = (0, WRITTEN)
    real = run_module(backup, {"keep_count": 1})
    assert checked["changed"] is real["changed"] is True
    assert checked["would_delete"] == real["deleted"]
    assert undocumented_keys(backup, checked) == set()


def test_a_failed_backup_fails_unchanged_with_its_reason(run_module, aio, undocumented_keys):
    aio.reports["backup"] = (1, FAILED)
    result = run_module(backup, {})
    assert result["failed"] and result["changed"] is False
    assert "No space left on device" in result["msg"] and result["failed_step"] == "write"
    assert undocumented_keys(backup, result) == set()


def test_a_report_that_is_not_json_fails_with_the_output(run_module, aio):
    aio.reports["backup"] = (2, "aio: settings file missing")
    result = run_module(backup, {})
    assert result["failed"] and result["changed"] is False
    assert "printed no JSON" in result["msg"]
