# -*- coding: utf-8 -*-
"""watchdog.py: the supervisord event listener that ends the container when a program is lost for good."""

from __future__ import annotations

import io

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import watchdog

PROGRAMS = {
    "postgres": {"kind": "service"},
    "redis": {"kind": "service"},
    "migrate": {"kind": "oneshot"},
    "web": {"kind": "service"},
    "worker": {"kind": "service"},
}


def test_parse_tokens():
    assert watchdog.parse_tokens("ver:3.0 server:supervisor serial:21 pool:watchdog poolserial:10 "
                                 "eventname:PROCESS_STATE_FATAL len:54\n") == {
        "ver": "3.0", "server": "supervisor", "serial": "21", "pool": "watchdog", "poolserial": "10",
        "eventname": "PROCESS_STATE_FATAL", "len": "54"}
    # Only the first ':' splits; tokens without one are ignored.
    assert watchdog.parse_tokens("url:http://x:1/ junk a:") == {"url": "http://x:1/", "a": ""}
    assert watchdog.parse_tokens("") == {}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_fatal_of_any_program_is_a_reason(name):
    reason = watchdog.shutdown_reason("PROCESS_STATE_FATAL", {"processname": name, "from_state": "BACKOFF"},
                                      PROGRAMS)
    assert reason is not None
    assert name in reason and "FATAL" in reason


def test_unexpected_exit_of_a_oneshot_is_a_reason():
    reason = watchdog.shutdown_reason("PROCESS_STATE_EXITED", {"processname": "migrate", "expected": "0",
                                                               "pid": "42"}, PROGRAMS)
    assert reason == "migrate exited unexpectedly"


def test_expected_exit_of_a_oneshot_is_no_reason():
    assert watchdog.shutdown_reason("PROCESS_STATE_EXITED", {"processname": "migrate", "expected": "1"},
                                    PROGRAMS) is None


@pytest.mark.parametrize("expected", ["0", "1"])
def test_exit_of_a_service_is_no_reason(expected):
    # supervisord restarts services; only FATAL means it gave up.
    assert watchdog.shutdown_reason("PROCESS_STATE_EXITED", {"processname": "web", "expected": expected},
                                    PROGRAMS) is None


@pytest.mark.parametrize("event", ["PROCESS_STATE_FATAL", "PROCESS_STATE_EXITED"])
def test_unknown_program_is_no_reason(event):
    assert watchdog.shutdown_reason(event, {"processname": "watchdog", "expected": "0"}, PROGRAMS) is None
    assert watchdog.shutdown_reason(event, {}, PROGRAMS) is None


@pytest.mark.parametrize("event", ["PROCESS_STATE_RUNNING", "PROCESS_STATE_BACKOFF", "PROCESS_STATE_STOPPED", ""])
def test_other_events_are_no_reason(event):
    assert watchdog.shutdown_reason(event, {"processname": "migrate", "expected": "0"}, PROGRAMS) is None


def event(eventname, payload, serial):
    header = "ver:3.0 server:supervisor serial:%d pool:watchdog poolserial:%d eventname:%s len:%d\n" % (
        serial, serial, eventname, len(payload.encode("utf-8")))
    return header + payload


def test_listen_speaks_the_protocol_and_shuts_down_once():
    stdin = io.StringIO(
        event("PROCESS_STATE_FATAL", "processname:web groupname:web from_state:BACKOFF", 1)
        + event("PROCESS_STATE_EXITED", "processname:worker groupname:worker from_state:RUNNING expected:1 pid:77",
                2))
    stdout, stderr = io.StringIO(), io.StringIO()
    calls = []
    watchdog.listen({"programs": PROGRAMS}, stdin=stdin, stdout=stdout, stderr=stderr,
                    shutdown=lambda: calls.append("shutdown"))
    assert calls == ["shutdown"]
    # READY before each event, a RESULT for each, READY again before end of input.
    assert stdout.getvalue() == "READY\nRESULT 2\nOKREADY\nRESULT 2\nOKREADY\n"
    assert "web entered FATAL" in stderr.getvalue()
    assert "worker" not in stderr.getvalue()


def test_listen_shuts_down_for_a_failed_migration():
    stdin = io.StringIO(event("PROCESS_STATE_EXITED",
                              "processname:migrate groupname:migrate from_state:RUNNING expected:0 pid:9", 5))
    calls = []
    stdout = io.StringIO()
    watchdog.listen({"programs": PROGRAMS}, stdin=stdin, stdout=stdout, stderr=io.StringIO(),
                    shutdown=lambda: calls.append(1))
    assert calls == [1]
    assert stdout.getvalue() == "READY\nRESULT 2\nOKREADY\n"


def test_listen_survives_a_failing_shutdown_request():
    stdin = io.StringIO(event("PROCESS_STATE_FATAL", "processname:redis groupname:redis from_state:BACKOFF", 1)
                        + event("PROCESS_STATE_FATAL", "processname:web groupname:web from_state:BACKOFF", 2))
    stdout, stderr = io.StringIO(), io.StringIO()
    calls = []

    def shutdown():
        calls.append(1)
        raise ConnectionRefusedError("supervisord is going down")

    watchdog.listen({"programs": PROGRAMS}, stdin=stdin, stdout=stdout, stderr=stderr, shutdown=shutdown)
    assert len(calls) == 2
    assert stdout.getvalue().count("RESULT 2\nOK") == 2
    assert "shutdown request failed: supervisord is going down" in stderr.getvalue()


def test_listen_returns_at_end_of_input():
    stdout = io.StringIO()
    watchdog.listen({"programs": PROGRAMS}, stdin=io.StringIO(""), stdout=stdout, stderr=io.StringIO(),
                    shutdown=lambda: pytest.fail("no event, no shutdown"))
    assert stdout.getvalue() == "READY\n"


def test_the_stop_line_is_read_back_by_its_own_format():
    lines = ["[aio watchdog] web entered FATAL (supervisord gave up restarting it): stopping the container so its "
             "restart policy acts\n", "noise\n",
             watchdog.STOPPING % "migrate exited unexpectedly" + "\n", "[aio watchdog] shutdown request failed: x\n"]
    assert watchdog.last_stop_reason(lines) == "migrate exited unexpectedly"
    assert watchdog.last_stop_reason(["READY\n"]) is None


def test_a_deploys_health_wait_reads_why_only_from_a_line_written_while_it_waited(tmp_path):
    import os

    from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec

    log = tmp_path / "watchdog.log"
    log.write_text(watchdog.STOPPING % "migrate exited unexpectedly" + "\n")
    written = os.path.getmtime(log)
    assert container_exec.watchdog_stop_reason(str(tmp_path), written - 5) == "migrate exited unexpectedly"
    assert container_exec.watchdog_stop_reason(str(tmp_path), written + 5) is None  # an earlier restart's line
    assert container_exec.watchdog_stop_reason(str(tmp_path / "missing"), 0) is None


def held_settings(tmp_path, hold):
    (tmp_path / "postgres" / "data").mkdir(parents=True)
    if hold:
        (tmp_path / "postgres" / hold).write_text("{}", encoding="utf-8")
    return {"programs": PROGRAMS, "paths": {"pgdata": str(tmp_path / "postgres" / "data"),
                                            "run": str(tmp_path / "run")}}


@pytest.mark.parametrize("hold", ["aio-upgrade.json", "aio-recover.json", None],
                         ids=["upgrade-held", "recovery-held", "no-hold"])
def test_a_failed_migrate_ends_the_container_unless_an_upgrade_or_a_recovery_holds_it(tmp_path, hold):
    stdin = io.StringIO(event("PROCESS_STATE_EXITED",
                              "processname:migrate groupname:migrate from_state:RUNNING expected:0 pid:9", 5)
                        + event("PROCESS_STATE_FATAL", "processname:redis groupname:redis from_state:BACKOFF", 6))
    calls, stderr = [], io.StringIO()
    watchdog.listen(held_settings(tmp_path, hold), stdin=stdin, stdout=io.StringIO(), stderr=stderr,
                    shutdown=lambda: calls.append(1))
    # The restore that started migrate undoes it; a program lost for good (FATAL) still ends the container.
    assert len(calls) == (1 if hold else 2)
    assert ("migrate exited unexpectedly while %s holds the container: it stays up"
            % (tmp_path / "postgres" / str(hold)) in stderr.getvalue()) is bool(hold)
    assert "redis entered FATAL" in stderr.getvalue()
