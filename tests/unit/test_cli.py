# -*- coding: utf-8 -*-
"""cli.py: the ``aio`` command's pure parts (log tails, redaction, argument parsing, error exits)."""

from __future__ import annotations

import argparse
import json

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import cli, launcher

SECRET = "db p@ss/word"


def test_tail_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join("line %d\n" % i for i in range(100)), encoding="utf-8")
    assert cli.tail_lines(str(log), 3) == ["line 97", "line 98", "line 99"]
    assert cli.tail_lines(str(log), 0) == []
    assert cli.tail_lines(str(log), 500) == ["line %d" % i for i in range(100)]
    assert cli.tail_lines(str(tmp_path / "missing"), 3) == []


def test_program_log_paths():
    assert cli.program_log_paths({"paths": {"logs": "/data/logs"}}, "web") == {
        "stdout": "/data/logs/web.log", "stderr": "/data/logs/web.err.log"}


@pytest.fixture
def logs(tmp_path):
    (tmp_path / "migrate.log").write_text("applying\nDATABASE_URL=postgres://glitchtip:db%20p%40ss%2Fword@x/y\n",
                                          encoding="utf-8")
    (tmp_path / "migrate.err.log").write_text("error: password %s rejected\n" % SECRET, encoding="utf-8")
    return {"paths": {"logs": str(tmp_path)}}


def test_cmd_logs_json_is_redacted(logs, capsys):
    args = argparse.Namespace(program="migrate", errors=False, lines=10, json=True)
    assert cli.cmd_logs(args, logs, {"AIO_DB_PASSWORD": SECRET}) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"stdout": ["applying", "DATABASE_URL=postgres://glitchtip:********@x/y"],
                   "stderr": ["error: password ******** rejected"]}


def test_cmd_logs_errors_only_as_text(logs, capsys):
    args = argparse.Namespace(program="migrate", errors=True, lines=10, json=False)
    assert cli.cmd_logs(args, logs, {"AIO_DB_PASSWORD": SECRET}) == 0
    assert capsys.readouterr().out == "error: password ******** rejected\n"


def test_cmd_run_reports_start_errors_redacted(monkeypatch, capsys):
    def start(name, settings, environ):
        raise launcher.StartError("psql said: password %s is wrong" % SECRET)

    monkeypatch.setattr(cli.programs, "start", start)
    args = argparse.Namespace(program="migrate")
    assert cli.cmd_run(args, {}, {"AIO_DB_PASSWORD": SECRET}) == 1
    err = capsys.readouterr().err
    assert "migrate cannot start" in err
    assert SECRET not in err and "********" in err


def test_main_exits_2_on_unreadable_settings(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("AIO_SETTINGS", str(tmp_path / "missing.json"))
    assert cli.main(["health", "--json"]) == 2
    assert "missing.json" in capsys.readouterr().err


def test_parser():
    parser = cli.build_parser()
    args = parser.parse_args(["health", "--component", "web", "--component", "redis", "--json"])
    assert args.component == ["web", "redis"] and args.json
    args = parser.parse_args(["logs", "web"])
    assert (args.program, args.lines, args.errors) == ("web", 50, False)
    with pytest.raises(SystemExit):
        parser.parse_args(["health", "--component", "nope"])
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_logs_never_leak_part_of_a_secret(tmp_path, capsys):
    (tmp_path / "web.log").write_text("password=" + SECRET + "y" * (8192 - 6 - 1) + "\n", encoding="utf-8")
    args = argparse.Namespace(program="web", errors=False, lines=1, json=True)
    cli.cmd_logs(args, {"paths": {"logs": str(tmp_path)}}, {"AIO_DB_PASSWORD": SECRET})
    assert SECRET[-6:] not in capsys.readouterr().out
