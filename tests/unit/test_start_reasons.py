# -*- coding: utf-8 -*-
"""start_reasons.py and its readers: a program that cannot start for a known reason says so in docker logs,
in aio health and in the deploy's failure, and the watchdog does not restart the container in a loop."""

from __future__ import annotations

import io

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health, start_reasons, watchdog

REASON = "data directory holds a PostgreSQL 15 cluster but the image has PostgreSQL 17"


def settings(tmp_path):
    return {"paths": {"run": str(tmp_path / "run")}, "programs": {"postgres": {"kind": "service"},
                                                                  "web": {"kind": "service"}}}


def test_the_reason_goes_to_docker_logs_and_stays_until_the_next_attempt(tmp_path):
    container_log = tmp_path / "pid1-stdout"
    start_reasons.record(settings(tmp_path), "postgres", REASON, container_log=str(container_log))
    assert container_log.read_text(encoding="utf-8") == "[aio] postgres cannot start: %s\n" % REASON
    assert start_reasons.reasons(settings(tmp_path)) == {"postgres": REASON}
    start_reasons.clear(settings(tmp_path), "postgres")
    assert start_reasons.reasons(settings(tmp_path)) == {}


def test_without_the_containers_settings_nothing_is_written(tmp_path):
    start_reasons.record({}, "postgres", REASON, container_log=str(tmp_path / "log"))
    assert not (tmp_path / "log").exists()
    assert start_reasons.reasons({}) == {}


def test_health_puts_the_reason_first_and_the_deploy_wait_gives_up_with_it():
    supervisor = health.supervisor_component({"postgres": "service", "web": "service"}, {
        "postgres": {"statename": "FATAL", "pid": 0}, "web": {"statename": "RUNNING", "pid": 5, "start": 1}})
    postgres = health.component("postgres", health.DOWN, "connection refused")
    report = health.report(health.with_start_reasons([supervisor, postgres], {"postgres": REASON}))
    assert report["components"]["postgres"]["reason"] == "cannot start: %s (connection refused)" % REASON
    assert report["components"]["supervisor"]["reason"] == "postgres cannot start: %s" % REASON
    assert health.hopeless(report)["reason"] == "postgres cannot start: %s" % REASON


def test_the_watchdog_keeps_the_container_up_when_a_restart_would_fail_the_same_way(tmp_path):
    start_reasons.record(settings(tmp_path), "postgres", REASON, container_log=str(tmp_path / "log"))
    event = "processname:postgres groupname:postgres from_state:BACKOFF"
    stdin = io.StringIO("ver:3.0 eventname:PROCESS_STATE_FATAL len:%d\n%s" % (len(event), event))
    stdout, stderr, shutdowns = io.StringIO(), io.StringIO(), []
    watchdog.listen(settings(tmp_path), stdin=stdin, stdout=stdout, stderr=stderr,
                    shutdown=lambda: shutdowns.append(1))
    assert shutdowns == []
    assert "postgres cannot start: %s; the container stays up, unhealthy" % REASON in stderr.getvalue()
    assert watchdog.shutdown_reason("PROCESS_STATE_FATAL", {"processname": "postgres"}, settings(tmp_path)["programs"],
                                    {}) is not None
