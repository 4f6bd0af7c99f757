# -*- coding: utf-8 -*-
"""health.py: the pure rules behind the Docker health check, the deploy wait and the health module."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health

OK, DEGRADED, DOWN, UNKNOWN = health.OK, health.DEGRADED, health.DOWN, health.UNKNOWN


# program_status: every supervisord state, for both kinds of program.

@pytest.mark.parametrize("info,expected", [
    ({"statename": "RUNNING"}, (OK, "running")),
    ({"statename": "STARTING"}, (DEGRADED, "starting")),
    ({"statename": "STOPPING"}, (DEGRADED, "stopping")),
    ({"statename": "BACKOFF"}, (DOWN, "BACKOFF")),
    ({"statename": "FATAL"}, (DOWN, "FATAL")),
    ({"statename": "EXITED", "exitstatus": 0}, (DOWN, "EXITED")),
    ({"statename": "EXITED", "exitstatus": 1}, (DOWN, "EXITED")),
    ({"statename": "STOPPED"}, (DOWN, "STOPPED")),
    ({"statename": "UNKNOWN"}, (DOWN, "UNKNOWN")),
    ({}, (DOWN, "UNKNOWN")),
])
def test_program_status_of_a_service(info, expected):
    assert health.program_status(health.LONG_RUNNING, info) == expected


@pytest.mark.parametrize("info,expected", [
    ({"statename": "EXITED", "exitstatus": 0}, (OK, "finished (exit 0)")),
    ({"statename": "EXITED", "exitstatus": 1}, (DOWN, "failed (exit 1)")),
    ({"statename": "EXITED", "exitstatus": 137}, (DOWN, "failed (exit 137)")),
    ({"statename": "EXITED"}, (DOWN, "failed (exit None)")),
    ({"statename": "STARTING"}, (DEGRADED, "still running")),
    ({"statename": "RUNNING"}, (DEGRADED, "still running")),
    ({"statename": "BACKOFF"}, (DOWN, "BACKOFF")),
    ({"statename": "FATAL"}, (DOWN, "FATAL")),
    ({"statename": "STOPPED"}, (DOWN, "STOPPED")),
    ({"statename": "STOPPING"}, (DOWN, "STOPPING")),
    ({"statename": "UNKNOWN"}, (DOWN, "UNKNOWN")),
])
def test_program_status_of_a_oneshot(info, expected):
    assert health.program_status(health.ONESHOT, info) == expected


# worst / overall

def test_worst_orders_unknown_below_degraded_below_down():
    assert health.worst([OK, OK]) == OK
    assert health.worst([OK, UNKNOWN]) == UNKNOWN
    assert health.worst([UNKNOWN, DEGRADED, OK]) == DEGRADED
    assert health.worst([DEGRADED, UNKNOWN]) == DEGRADED
    assert health.worst([DOWN, DEGRADED, UNKNOWN, OK]) == DOWN
    assert health.worst([OK, DOWN]) == DOWN
    assert health.worst(iter([OK, DEGRADED])) == DEGRADED
    assert health.worst([]) == UNKNOWN


def test_overall_and_report():
    components = [health.component("web", OK, "HTTP 200"), health.component("redis", DEGRADED, "memory"),
                  health.component("host", UNKNOWN, "?")]
    assert health.overall(components) == DEGRADED
    report = health.report(components)
    assert report["status"] == DEGRADED
    assert set(report["components"]) == {"web", "redis", "host"}
    assert report["components"]["redis"]["reason"] == "memory"


def test_component_rounds_elapsed_and_keeps_details():
    item = health.component("postgres", OK, "SELECT 1", 12.345678, connections=3)
    assert item == {"name": "postgres", "status": OK, "reason": "SELECT 1", "elapsed_ms": 12.3,
                    "details": {"connections": 3}}


# supervisor_component

PROGRAMS = {"postgres": "service", "redis": "service", "migrate": "oneshot", "web": "service", "worker": "service"}


def infos(**states):
    result = {}
    for name, state in states.items():
        statename, _, exitstatus = state.partition(":")
        result[name] = {"name": name, "statename": statename, "pid": 100 + len(result),
                        "exitstatus": int(exitstatus) if exitstatus else 0}
    return result


def test_supervisor_component_all_ok():
    item = health.supervisor_component(PROGRAMS, infos(postgres="RUNNING", redis="RUNNING", migrate="EXITED:0",
                                                       web="RUNNING", worker="RUNNING"), 4.0)
    assert item["name"] == "supervisor"
    assert item["status"] == OK
    assert item["reason"] == "all 5 programs ok"
    assert item["details"]["programs"]["web"] == {"status": OK, "state": "RUNNING", "reason": "running", "pid": 103,
                                                  "start": 0}


def test_supervisor_component_missing_program_is_down():
    item = health.supervisor_component(PROGRAMS, infos(postgres="RUNNING", redis="RUNNING", migrate="EXITED:0",
                                                       web="RUNNING"))
    assert item["status"] == DOWN
    assert item["details"]["programs"]["worker"] == {"status": DOWN, "state": "MISSING", "reason": "not configured",
                                                     "pid": 0}
    assert "worker not configured" in item["reason"]
    assert "web" not in item["reason"]


def test_supervisor_component_without_an_answer_is_unknown():
    item = health.supervisor_component(PROGRAMS, None)
    assert item["status"] == UNKNOWN
    assert "did not answer" in item["reason"]


def test_supervisor_component_names_every_bad_program():
    item = health.supervisor_component(PROGRAMS, infos(postgres="RUNNING", redis="STARTING", migrate="EXITED:3",
                                                       web="BACKOFF", worker="RUNNING"))
    assert item["status"] == DOWN
    assert "migrate failed (exit 3)" in item["reason"]
    assert "redis starting" in item["reason"]
    assert "web BACKOFF" in item["reason"]
    assert "postgres" not in item["reason"] and "worker" not in item["reason"]


def test_supervisor_component_degraded_while_starting():
    item = health.supervisor_component(PROGRAMS, infos(postgres="RUNNING", redis="RUNNING", migrate="RUNNING",
                                                       web="STARTING", worker="RUNNING"))
    assert item["status"] == DEGRADED


# hopeless

def report_of(**states):
    return health.report([health.supervisor_component(PROGRAMS, infos(**states))])


ALL_OK = dict(postgres="RUNNING", redis="RUNNING", migrate="EXITED:0", web="RUNNING", worker="RUNNING")


@pytest.mark.parametrize("states,programs", [
    (dict(ALL_OK, web="FATAL"), ["web"]),
    (dict(ALL_OK, migrate="EXITED:1"), ["migrate"]),
    (dict(ALL_OK, migrate="EXITED:2", worker="FATAL", postgres="FATAL"), ["migrate", "postgres", "worker"]),
])
def test_hopeless_finds_definitive_failures(states, programs):
    gave_up = health.hopeless(report_of(**states))
    assert gave_up["programs"] == programs
    assert gave_up["reason"] == "%s failed for good" % ", ".join(programs)


@pytest.mark.parametrize("states", [
    ALL_OK,
    dict(ALL_OK, web="BACKOFF"),                  # supervisord still retries
    dict(ALL_OK, web="STARTING", migrate="RUNNING"),
    dict(ALL_OK, web="EXITED:1"),                 # a service restarts by itself
    dict(ALL_OK, migrate="STOPPED"),
])
def test_hopeless_is_none_while_there_is_hope(states):
    assert health.hopeless(report_of(**states)) is None


def test_hopeless_without_supervisor_component():
    assert health.hopeless({}) is None
    assert health.hopeless({"status": DOWN, "components": {}}) is None
    assert health.hopeless(health.report([health.supervisor_component(PROGRAMS, None)])) is None


def test_failing_programs():
    assert health.failing_programs(report_of(**dict(ALL_OK, web="BACKOFF", migrate="EXITED:1"))) == ["migrate", "web"]
    assert health.failing_programs(report_of(**ALL_OK)) == []
    assert health.failing_programs({}) == []


def test_failing_programs_name_a_running_worker_whose_liveness_fails():
    report = report_of(**ALL_OK)
    report["components"]["worker"] = health.component("worker", DOWN, "health-check file not touched for 40s")
    assert health.failing_programs(report) == ["worker"]


# wait_until_healthy with a fake clock

class FakeTime:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []
        self.woke_at = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        self.woke_at.append(self.now)


def scripted(*results, fake=None, cost=0.0):
    """observe() returning the given (report, fatal) pairs, the last one repeated; each call costs time."""
    calls = []

    def observe():
        calls.append(fake.now if fake else None)
        if fake:
            fake.now += cost
        return results[min(len(calls) - 1, len(results) - 1)]

    observe.calls = calls
    return observe


def unhealthy_report():
    return health.report([health.component("web", DOWN, "connection refused"),
                          health.component("redis", OK, "PONG"),
                          health.component("postgres", DEGRADED, "slow")])


def ok_report():
    return health.report([health.component("web", OK, "HTTP 200")])


def test_wait_returns_ok_on_the_first_ok_report():
    fake = FakeTime()
    observe = scripted((ok_report(), None), fake=fake)
    outcome, last, reason, attempts = health.wait_until_healthy(observe, 60, 2, fake.clock, fake.sleep)
    assert (outcome, reason, attempts) == ("ok", None, 1)
    assert last["status"] == OK
    assert fake.sleeps == []


def test_wait_polls_until_ok():
    fake = FakeTime()
    observe = scripted((None, None), (unhealthy_report(), None), (ok_report(), None), fake=fake)
    outcome, last, reason, attempts = health.wait_until_healthy(observe, 60, 2, fake.clock, fake.sleep)
    assert (outcome, attempts) == ("ok", 3)
    assert fake.sleeps == [2, 2]


def test_wait_fails_when_hopeless():
    fake = FakeTime()
    hopeless = report_of(**dict(ALL_OK, migrate="EXITED:1"))
    observe = scripted((unhealthy_report(), None), (hopeless, None), fake=fake)
    outcome, last, reason, attempts = health.wait_until_healthy(observe, 60, 2, fake.clock, fake.sleep)
    assert (outcome, attempts) == ("failed", 2)
    assert reason == "migrate failed for good"
    assert last is hopeless


def test_wait_fails_at_once_on_a_fatal_observation():
    fake = FakeTime()
    observe = scripted((None, "container glitchtip-aio does not exist"), (ok_report(), None), fake=fake)
    outcome, last, reason, attempts = health.wait_until_healthy(observe, 60, 2, fake.clock, fake.sleep)
    assert (outcome, last, reason, attempts) == ("failed", None, "container glitchtip-aio does not exist", 1)
    assert fake.sleeps == []


def test_wait_times_out_naming_the_components_not_ok():
    fake = FakeTime()
    start = fake.now
    observe = scripted((unhealthy_report(), None), fake=fake)
    outcome, last, reason, attempts = health.wait_until_healthy(observe, 10, 3, fake.clock, fake.sleep)
    assert outcome == "timeout"
    assert reason.startswith("not healthy after 10s (")
    assert "web: connection refused" in reason
    assert "postgres: slow" in reason
    assert "redis" not in reason
    assert attempts == len(observe.calls) == 4          # at 0, 3, 6, 9
    assert fake.now - start <= 10


def test_wait_times_out_without_any_report():
    fake = FakeTime()
    observe = scripted((None, None), fake=fake)
    outcome, last, reason, attempts = health.wait_until_healthy(observe, 5, 1, fake.clock, fake.sleep)
    assert (outcome, last, reason) == ("timeout", None, "not healthy after 5s")
    assert attempts == 6


@pytest.mark.parametrize("timeout,interval,cost", [(10, 3, 0.0), (10, 3, 1.7), (7, 2.5, 0.4), (1, 5, 0.0),
                                                   (0, 1, 0.0), (30, 1, 0.9)])
def test_wait_never_sleeps_past_the_deadline(timeout, interval, cost):
    fake = FakeTime()
    deadline = fake.now + timeout
    observe = scripted((unhealthy_report(), None), fake=fake, cost=cost)
    outcome, _last, _reason, attempts = health.wait_until_healthy(observe, timeout, interval, fake.clock, fake.sleep)
    assert outcome == "timeout"
    assert attempts >= 1
    # Every look starts before the deadline; no sleep ends after it.
    assert all(started <= deadline for started in observe.calls)
    assert all(woke <= deadline for woke in fake.woke_at)
    assert len(fake.sleeps) == attempts - 1


# disk and Redis memory thresholds

@pytest.mark.parametrize("total,used,status", [
    (1000, 0, OK), (1000, 899, OK), (10000, 8999, OK),
    (1000, 900, DEGRADED), (1000, 979, DEGRADED), (10000, 9799, DEGRADED),
    (1000, 980, DOWN), (1000, 1000, DOWN),
    (0, 0, OK),
])
def test_disk_status(total, used, status):
    percent, got = health.disk_status(total, used)
    assert got == status
    assert percent == pytest.approx(100.0 * used / total if total else 0.0)


def test_disk_thresholds_are_the_documented_ones():
    assert health.DISK_DEGRADED_PERCENT == 90.0
    assert health.DISK_DOWN_PERCENT == 98.0


@pytest.mark.parametrize("used,maxmemory,status", [
    (100, 0, OK),            # no limit configured
    (899, 1000, OK),
    (900, 1000, DEGRADED),
    (1000, 1000, DEGRADED),
    (5000, 1000, DEGRADED),
])
def test_redis_memory_status(used, maxmemory, status):
    got, reason = health.redis_memory_status(used, maxmemory)
    assert got == status
    if status == OK:
        assert reason == "PONG"
    else:
        assert reason == "memory %d of %d bytes" % (used, maxmemory)


# ---------------------------------------------------------------- file_liveness (django-vtasks)


@pytest.mark.parametrize("now, mtime, status", [
    (1030, 1025, OK),            # touched 5 s ago
    (1030, 1015, OK),            # exactly the window
    (1031, 1015, DOWN),          # one second past it
    (1005, None, DEGRADED),      # still importing the app
    (1015, None, DEGRADED),
    (1016, None, DOWN),          # never wrote it
    (1005, 990, DEGRADED),       # a previous process's file is no file
    (1020, 990, DOWN),
    (1001, 999.5, OK),           # supervisord's start is whole seconds: a touch within 1 s before counts
])
def test_file_liveness(now, mtime, status):
    assert health.file_liveness(now, 1000, mtime, 15)[0] == status


def test_file_liveness_reasons_say_what_was_seen():
    assert health.file_liveness(1030, 1000, 1025, 15)[1] == "health-check file touched 5s ago"
    assert "not touched for 20s (limit 15s)" in health.file_liveness(1045, 1000, 1025, 15)[1]
    assert "no health-check file yet" in health.file_liveness(1003, 1000, None, 15)[1]


def test_the_health_modules_documented_choices_are_the_one_component_list():
    import yaml
    from ansible_collections.glitchtip.aio.plugins.modules import health as health_module

    documented = yaml.safe_load(health_module.DOCUMENTATION)["options"]["components"]["choices"]
    assert documented == list(health.COMPONENTS)


@pytest.mark.parametrize("roles, after_start, expected", [
    (["web", "worker", "beat"], False, ["supervisor", "postgres", "redis", "web"]),
    (["web", "worker", "beat"], True, ["supervisor", "postgres", "redis", "web", "worker"]),
    (["worker"], True, ["supervisor", "postgres", "redis", "worker"]),
    (["worker", "beat"], False, ["supervisor", "postgres", "redis"]),
    (["web"], True, ["supervisor", "postgres", "redis", "web"]),
])
def test_what_a_deploy_waits_for(roles, after_start, expected):
    assert health.deploy_wait_components(roles, after_start) == expected


def test_a_deploy_never_waits_on_the_host_and_asks_in_report_order():
    everything = health.deploy_wait_components(["web", "worker"], True)
    assert "host" not in everything
    assert everything == [name for name in health.COMPONENTS if name in everything]


def test_the_roles_health_waits_read_the_one_list():
    """tasks/main.yml and version_rollback.yml ask for _glitchtip_wait_components, which the filter gives."""
    import os
    import re

    import yaml

    root = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

    def tasks(name):
        with open(os.path.join(root, "roles", "container", "tasks", name), encoding="utf-8") as handle:
            text = handle.read()
        found = []

        def walk(items):
            for item in items or []:
                if "glitchtip.aio.health" in item:
                    found.append(item)
                walk(item.get("block"))
                walk(item.get("rescue"))
        walk(yaml.safe_load(text))
        return text, found

    for name, after_start in (("main.yml", "{{ glitchtip_container_result is changed }}"),
                              ("version_rollback.yml", True)):
        text, waits = tasks(name)
        assert not re.search(r"\['supervisor', 'postgres', 'redis'\]", text), name
        assert [wait["glitchtip.aio.health"]["components"] for wait in waits] == ["{{ _glitchtip_wait_components }}"]
        assert waits[0]["vars"] == {"_glitchtip_wait_after_start": after_start}
    with open(os.path.join(root, "roles", "container", "vars", "main.yml"), encoding="utf-8") as handle:
        variable = yaml.safe_load(handle)["_glitchtip_wait_components"]
    assert "glitchtip_server_roles | glitchtip.aio.health_wait_components(_glitchtip_wait_after_start" in variable


def test_a_migrate_held_for_a_postgresql_upgrades_restore_is_ok_and_said_to_be_held():
    states = infos(postgres="RUNNING", redis="RUNNING", migrate="EXITED:0", web="RUNNING", worker="RUNNING")
    item = health.supervisor_component(PROGRAMS, states, held=["migrate"])
    assert item["status"] == OK
    assert item["details"]["programs"]["migrate"]["reason"] == health.HELD_REASON
    assert item["reason"] == "all 5 programs ok; migrate " + health.HELD_REASON
    # Held or not, a failed migrate is a failed migrate.
    states["migrate"]["exitstatus"] = 1
    item = health.supervisor_component(PROGRAMS, states, held=["migrate"])
    assert item["status"] == DOWN and item["reason"] == "migrate failed (exit 1)"
