# -*- coding: utf-8 -*-
"""glitchtip.aio.restore: arguments, result shape, check mode predicting the real run's changed."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.modules import restore

STEPS = [{"step": "verify", "detail": "manifest and 4 checksums ok", "at": 0.1}]
RESTORED = {"job": "restore", "ok": True, "dry_run": False, "backup": "/data/backups/glitchtip-20261127T030100Z",
            "steps": STEPS, "reason": "restored glitchtip-20261127T030100Z", "rollback_database": None,
            "seconds": 12.5}
VERIFIED = {"job": "restore", "ok": True, "dry_run": True, "backup": "/data/backups/glitchtip-20261127T030100Z",
            "steps": STEPS, "manifest": {"files": {}}, "would": ["restore database.dump into a scratch database"],
            "reason": "glitchtip-20261127T030100Z verified (...); nothing was changed"}
REFUSED = {"job": "restore", "ok": False, "failed_step": "verify", "touched": False,
           "reason": "refused, nothing was changed: verify: database.dump: checksum mismatch"}


def test_options_become_aio_arguments(run_module, aio):
    aio.reports["restore"] = (0, RESTORED)
    run_module(restore, {"backup": "glitchtip-20261127T030100Z", "keep_rollback": True, "deadline": 60})
    assert aio.execs[0]["args"] == ["restore", "glitchtip-20261127T030100Z", "--deadline", "60", "--keep-rollback",
                                    "--json"]


def test_defaults_restore_the_latest_backup(run_module, aio):
    aio.reports["restore"] = (0, RESTORED)
    run_module(restore, {})
    assert aio.execs[0]["args"] == ["restore", "latest", "--deadline", "120", "--json"]


def test_deadline_must_be_an_integer(run_module, aio):
    result = run_module(restore, {"deadline": "soon"})
    assert result["failed"] and "deadline" in result["msg"]
    assert aio.execs == []


def test_check_mode_predicts_the_change_of_the_real_run(run_module, aio, undocumented_keys):
    aio.reports["restore"] = (0, VERIFIED)
    checked = run_module(restore, {}, check_mode=True)
    assert aio.execs[0]["args"][-2:] == ["--dry-run", "--json"]
    aio.reports["restore"] = (0, RESTORED)
    real = run_module(restore, {})
    assert checked["changed"] is real["changed"] is True
    assert checked["would"] and "would" not in real
    for result in (checked, real):
        assert undocumented_keys(restore, result) == set()


def test_a_refused_backup_fails_unchanged_in_both_modes(run_module, aio, undocumented_keys):
    aio.reports["restore"] = (1, REFUSED)
    for check_mode in (True, False):
        result = run_module(restore, {}, check_mode=check_mode)
        assert result["failed"] and result["changed"] is False
        assert result["touched"] is False and "checksum mismatch" in result["msg"]
        assert undocumented_keys(restore, result) == set()
