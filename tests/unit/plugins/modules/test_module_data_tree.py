# -*- coding: utf-8 -*-
"""glitchtip.aio.data_tree on a real directory: modes (octal and symbolic), check mode, diff, idempotence."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.glitchtip.aio.plugins.modules import data_tree

UID = os.getuid()


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def tree(tmp_path, **modes):
    return {"directories": [{"path": str(tmp_path / name), "owner": UID, "mode": mode} for name, mode in modes.items()]}


def test_check_mode_predicts_the_real_run_and_creates_nothing(run_module, tmp_path, undocumented_keys):
    args = tree(tmp_path, postgres="0700", logs="0750")
    checked = run_module(data_tree, args, check_mode=True, diff=True)
    assert not (tmp_path / "postgres").exists() and not (tmp_path / "logs").exists()
    real = run_module(data_tree, args, diff=True)
    assert checked["changed"] is real["changed"] is True
    assert checked["changed_paths"] == real["changed_paths"] == [str(tmp_path / "postgres"), str(tmp_path / "logs")]
    assert checked["diff"] == real["diff"]
    assert real["diff"]["before"][str(tmp_path / "logs")] == "absent"
    assert real["diff"]["after"][str(tmp_path / "logs")] == {"uid": UID, "gid": UID, "mode": "0750"}
    assert mode_of(tmp_path / "postgres") == 0o700 and mode_of(tmp_path / "logs") == 0o750
    assert undocumented_keys(data_tree, real) == set()


def test_a_second_run_changes_nothing_in_either_mode(run_module, tmp_path):
    args = tree(tmp_path, backups="0700")
    run_module(data_tree, args)
    for check_mode in (True, False):
        result = run_module(data_tree, args, check_mode=check_mode, diff=True)
        assert result["changed"] is False and result["changed_paths"] == []
        assert result["diff"] == {"before": {}, "after": {}}


@pytest.mark.parametrize("mode, expected", [
    ("u=rwx", None),            # the reported bug: symbolic modes failed with int(..., 8)
    ("u=rwx,g=rx,o=", 0o750),
    ("0755", 0o755),
    ("750", 0o750),
    (0o711, 0o711),             # what YAML makes of an unquoted 0711
])
def test_octal_and_symbolic_modes(run_module, tmp_path, mode, expected):
    umask = os.umask(0)
    os.umask(umask)
    if expected is None:
        expected = 0o700 | (0o077 & 0o777 & ~umask)   # u set; g and o as mkdir under the umask leaves them
    args = tree(tmp_path, run=mode)
    checked = run_module(data_tree, args, check_mode=True, diff=True)
    real = run_module(data_tree, args)
    assert real["failed"] is False and real["changed"] is True and checked["changed"] is True
    assert mode_of(tmp_path / "run") == expected
    assert checked["diff"]["after"][str(tmp_path / "run")]["mode"] == "%04o" % expected
    assert run_module(data_tree, args)["changed"] is False


def test_a_symbolic_mode_applies_to_the_current_mode(run_module, tmp_path):
    (tmp_path / "uploads").mkdir(mode=0o700)
    os.chmod(tmp_path / "uploads", 0o700)
    run_module(data_tree, tree(tmp_path, uploads="g+rx"))
    assert mode_of(tmp_path / "uploads") == 0o750


def test_a_changed_mode_of_an_existing_directory(run_module, tmp_path):
    (tmp_path / "redis").mkdir()
    os.chmod(tmp_path / "redis", 0o755)
    result = run_module(data_tree, tree(tmp_path, redis="0700"), diff=True)
    assert result["changed"] is True
    assert result["diff"]["before"][str(tmp_path / "redis")]["mode"] == "0755"
    assert mode_of(tmp_path / "redis") == 0o700


@pytest.mark.parametrize("mode", ["rwx", "u=rwz", "0789", "banana"])
def test_a_bad_mode_is_refused_with_the_path(run_module, tmp_path, mode):
    result = run_module(data_tree, tree(tmp_path, run=mode))
    assert result["failed"] and str(tmp_path / "run") in result["msg"] and repr(mode) in result["msg"]
    assert not (tmp_path / "run").exists()


def test_a_relative_path_is_refused(run_module):
    result = run_module(data_tree, {"directories": [{"path": "relative/dir", "owner": UID, "mode": "0700"}]})
    assert result["failed"] and "not an absolute path" in result["msg"]


def test_owner_and_mode_are_required(run_module, tmp_path):
    result = run_module(data_tree, {"directories": [{"path": str(tmp_path / "x")}]})
    assert result["failed"] and "owner" in result["msg"] and "mode" in result["msg"]
