# -*- coding: utf-8 -*-
"""cli.py: the ``aio`` command's pure parts (log tails, redaction, argument parsing, error exits)."""

from __future__ import annotations

import argparse
import json

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import cli, launcher, logtail, pgtools

SECRET = "db p@ss/word"


def test_tail_lines(tmp_path):
    log = tmp_path / "x.log"
    log.write_text("".join("line %d\n" % i for i in range(100)), encoding="utf-8")
    assert logtail.tail_lines(str(log), 3) == ["line 97", "line 98", "line 99"]
    assert logtail.tail_lines(str(log), 0) == []
    assert logtail.tail_lines(str(log), 500) == ["line %d" % i for i in range(100)]
    assert logtail.tail_lines(str(tmp_path / "missing"), 3) == []


def test_log_sources_of_a_program_and_of_a_single_file_log():
    assert [(s, f) for s, f, _ in logtail.log_sources("web")] == [("stdout", "web.log"), ("stderr", "web.err.log")]
    assert [(s, f) for s, f, _ in logtail.log_sources("web", errors=True)] == [("stderr", "web.err.log")]
    assert [(s, f) for s, f, _ in logtail.log_sources("restart")] == [("log", "scheduled-restart.log")]
    assert [(s, f) for s, f, _ in logtail.log_sources("supervisor", errors=True)] == [("errors", "supervisord.log")]
    with pytest.raises(ValueError, match="unknown log 'nginx'; expected one of web, worker"):
        logtail.log_sources("nginx")


def test_errors_of_a_single_file_log_are_its_warnings_and_worse(tmp_path):
    (tmp_path / "supervisord.log").write_text(
        "2026 INFO spawned: 'web'\n2026 WARN received SIGTERM\n2026 INFO success: web\n"
        "2026 CRIT uncaptured python exception\n2026 INFO exited: migrate (exit status 0; expected)\n"
        "an ERRORS-free line\n", encoding="utf-8")
    assert logtail.read_log(str(tmp_path), "supervisor", 10, errors=True) == {
        "errors": ["2026 WARN received SIGTERM", "2026 CRIT uncaptured python exception"]}
    assert logtail.read_log(str(tmp_path), "supervisor", 1, errors=True) == {
        "errors": ["2026 CRIT uncaptured python exception"]}
    assert logtail.read_log(str(tmp_path), "supervisor", 2) == {
        "log": ["2026 INFO exited: migrate (exit status 0; expected)", "an ERRORS-free line"]}


def test_read_log_of_a_missing_file_is_empty(tmp_path):
    assert logtail.read_log(str(tmp_path), "worker", 5) == {"stdout": [], "stderr": []}


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
        parser.parse_args(["logs", "nginx"])
    args = parser.parse_args(["migrate", "--partitions-only", "--quiet", "--notify-failure"])
    assert (args.partitions_only, args.quiet, args.notify_failure, args.check) == (True, True, True, False)
    with pytest.raises(SystemExit):
        parser.parse_args([])


def test_logs_never_leak_part_of_a_secret(tmp_path, capsys):
    (tmp_path / "web.log").write_text("password=" + SECRET + "y" * (8192 - 6 - 1) + "\n", encoding="utf-8")
    args = argparse.Namespace(program="web", errors=False, lines=1, json=True)
    cli.cmd_logs(args, {"paths": {"logs": str(tmp_path)}}, {"AIO_DB_PASSWORD": SECRET})
    assert SECRET[-6:] not in capsys.readouterr().out


def exec_of(monkeypatch, command, settings, environ):
    """What `aio <command>` would exec: (path, argv, env)."""
    seen = {}
    monkeypatch.setattr(cli.os, "execvpe", lambda path, argv, env: seen.update(path=path, argv=argv, env=env))
    args = cli.parse(command)
    {"psql": cli.cmd_psql, "redis-cli": cli.cmd_redis_cli}[command[0]](args, settings, environ)
    return seen


def test_redis_cli_gets_the_password_from_the_environment_not_argv(monkeypatch):
    seen = exec_of(monkeypatch, ["redis-cli", "ping"], {"redis": {"port": 6379}},
                   {"AIO_REDIS_PASSWORD": SECRET, "SECRET_KEY": "k"})
    assert seen["argv"] == ["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"]
    assert seen["env"]["REDISCLI_AUTH"] == SECRET
    assert "SECRET_KEY" not in seen["env"] and SECRET not in " ".join(seen["argv"])


def test_redis_cli_reaches_an_external_redis_with_its_database_and_tls(monkeypatch):
    settings = {"redis": {"host": "cache.example.net", "port": 6380, "db": 2, "tls": True, "external": True}}
    seen = exec_of(monkeypatch, ["redis-cli", "ping"], settings, {"AIO_REDIS_PASSWORD": SECRET})
    assert seen["argv"] == ["redis-cli", "-h", "cache.example.net", "-p", "6380", "-n", "2", "--tls", "ping"]
    assert seen["env"]["REDISCLI_AUTH"] == SECRET


def test_psql_on_the_embedded_server_is_the_postgres_superuser_over_the_socket(monkeypatch):
    monkeypatch.setattr(pgtools, "binary", lambda name: "/pg/bin/" + name)
    settings = {"postgres": {"port": 5432, "database": "glitchtip", "user": "glitchtip"}}
    seen = exec_of(monkeypatch, ["psql", "-c", "SELECT 1"], settings, {"AIO_DB_PASSWORD": SECRET})
    assert seen["path"] == "/pg/bin/psql"
    assert seen["argv"] == ["psql", "-h", "/run/postgresql", "-p", "5432", "-U", "postgres", "-d", "glitchtip",
                            "-c", "SELECT 1"]
    assert "PGPASSWORD" not in seen["env"] and "AIO_DB_PASSWORD" not in seen["env"]


def test_psql_on_an_external_server_is_the_app_role_with_its_password_in_the_environment(monkeypatch):
    monkeypatch.setattr(pgtools, "binary", lambda name: "/pg/bin/" + name)
    settings = {"postgres": {"port": 5433, "database": "gt", "user": "gtuser", "host": "db.example.net",
                             "sslmode": "require", "external": True}}
    seen = exec_of(monkeypatch, ["psql", "-c", "SELECT 1"], settings, {"AIO_DB_PASSWORD": SECRET, "SECRET_KEY": "k"})
    assert seen["argv"] == ["psql", "-c", "SELECT 1"]
    env = seen["env"]
    assert (env["PGHOST"], env["PGPORT"], env["PGUSER"], env["PGDATABASE"], env["PGSSLMODE"], env["PGPASSWORD"]) == \
        ("db.example.net", "5433", "gtuser", "gt", "require", SECRET)
    assert "SECRET_KEY" not in env and "AIO_DB_PASSWORD" not in env


@pytest.mark.parametrize("argv", [["psql", "-XAtc", "SELECT 1"], ["manage", "--help"], ["redis-cli", "-n", "1"]])
def test_passthrough_arguments_reach_the_program_untouched(argv):
    args = cli.parse(argv)
    assert (args.command, args.arguments) == (argv[0], argv[1:])
