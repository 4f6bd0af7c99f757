# -*- coding: utf-8 -*-
"""glitchtip.aio.logs: arguments, result shape, redaction, read-only in check mode."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.modules import logs

from aio_fakes import DB_PASSWORD, container_attrs


def test_program_choices_and_lines_are_checked(run_module, aio):
    assert run_module(logs, {"program": "nginx"})["failed"]
    result = run_module(logs, {"program": "web", "lines": 0})
    assert result["failed"] and "lines must be 1 or more" in result["msg"]


def test_reads_the_bind_mounted_log_dir_redacted_in_both_modes(run_module, aio, tmp_path, undocumented_keys):
    (tmp_path / "web.log").write_text("one\ntwo\n")
    (tmp_path / "web.err.log").write_text("FATAL: password authentication failed: %s\n" % DB_PASSWORD)
    aio.attrs = container_attrs(log_dir=tmp_path)
    for check_mode in (False, True):
        result = run_module(logs, {"program": "web", "lines": 1}, check_mode=check_mode)
        assert result["changed"] is False and result["log_dir"] == str(tmp_path)
        assert result["streams"] == {"stdout": ["two"],
                                     "stderr": ["FATAL: password authentication failed: ********"]}
        assert result["lines"] == result["streams"]["stdout"] + result["streams"]["stderr"]
        assert undocumented_keys(logs, result) == set()


def test_errors_only_reads_stderr(run_module, aio, tmp_path):
    (tmp_path / "worker.log").write_text("info\n")
    (tmp_path / "worker.err.log").write_text("oops\n")
    aio.attrs = container_attrs(log_dir=tmp_path)
    assert run_module(logs, {"program": "worker", "errors": True})["streams"] == {"stderr": ["oops"]}


def test_a_missing_container_is_refused_unless_unredacted_is_allowed(run_module, aio, tmp_path):
    (tmp_path / "web.log").write_text("line\n")
    aio.attrs = None
    refused = run_module(logs, {"program": "web", "log_dir": str(tmp_path)})
    assert refused["failed"] and "cannot be redacted" in refused["msg"]
    allowed = run_module(logs, {"program": "web", "log_dir": str(tmp_path), "allow_unredacted": True})
    assert allowed["streams"]["stdout"] == ["line"]


def test_a_container_without_the_log_mount_needs_log_dir(run_module, aio):
    result = run_module(logs, {"program": "web"})
    assert result["failed"] and "set log_dir" in result["msg"]
