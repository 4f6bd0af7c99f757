# -*- coding: utf-8 -*-
"""restart.py: the scheduled restart's decisions, with a fake supervisord and canned probe reports."""

from __future__ import annotations

import functools
import time
import xmlrpc.client

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health, restart

SETTINGS = {
    "programs": {
        "postgres": {"kind": "service"},
        "redis": {"kind": "service"},
        "web": {"kind": "service", "reload_signal": "HUP"},
        "worker": {"kind": "service"},
    },
}

WEB_MASTER = 10
OLD_WORKERS = [11, 12]
NEW_WORKERS = [13, 14]
OLD_WORKER_PID = 20
NEW_WORKER_PID = 21


# ---------------------------------------------------------------- children()


def _stat(proc, pid, comm, ppid, state="S"):
    directory = proc / str(pid)
    directory.mkdir()
    (directory / "stat").write_text("%d (%s) %s %d %d %d 0 -1 4194560 1234 0 0 0 5 3 0 0 20 0 1 0\n"
                                    % (pid, comm, state, ppid, pid, pid))


def test_children_reads_parent_pid_after_the_last_paren(tmp_path):
    proc = tmp_path / "proc"
    proc.mkdir()
    _stat(proc, 77, "gunicorn: master [glitchtip]", 1)
    _stat(proc, 123, "gunicorn: worker (x)", 77)
    _stat(proc, 1000, "gunicorn: worker (y)", 77)
    _stat(proc, 99, "a b) c", 77)
    # A name built to fool a split on the first ')': its real parent is 5.
    _stat(proc, 555, "evil) S 77 1", 5)
    _stat(proc, 200, "other", 1)
    _stat(proc, 201, "grandchild", 123)
    (proc / "self").mkdir()          # not a pid: skipped
    (proc / "sys").mkdir()
    (proc / "4242").mkdir()          # vanished process: no stat file, skipped
    (proc / "uptime").write_text("1.0 2.0\n")
    assert restart.children(77, proc=str(proc)) == [99, 123, 1000]  # numerically sorted
    assert restart.children(123, proc=str(proc)) == [201]
    assert restart.children(5, proc=str(proc)) == [555]
    assert restart.children(1, proc=str(proc)) == [77, 200]
    assert restart.children(31337, proc=str(proc)) == []


# ---------------------------------------------------------------- backing_services_refusal()


def _pre(postgres=(health.OK, "SELECT 1 as app"), redis=(health.OK, "PONG")):
    components = {}
    if postgres:
        components["postgres"] = health.component("postgres", *postgres)
    if redis:
        components["redis"] = health.component("redis", *redis)
    components["web"] = health.component("web", health.DOWN, "connection refused")
    return {"components": components}


def test_refusal_none_when_backing_services_ok():
    # web being down is no reason to refuse: the restart is allowed to fix it.
    assert restart.backing_services_refusal(_pre()) is None


def test_refusal_names_redis_and_its_reason():
    message = restart.backing_services_refusal(_pre(redis=(health.DOWN, "[Errno 111] Connection refused")))
    assert message is not None
    assert "redis" in message and "down" in message and "Connection refused" in message
    assert "postgres" not in message


def test_refusal_names_both_and_degraded_counts():
    message = restart.backing_services_refusal(_pre(postgres=(health.DOWN, "password authentication failed"),
                                                    redis=(health.DEGRADED, "memory 95 of 100 bytes")))
    assert "postgres down: password authentication failed" in message
    assert "redis degraded: memory 95 of 100 bytes" in message


def test_refusal_none_when_backing_services_not_probed():
    assert restart.backing_services_refusal(_pre(postgres=None, redis=None)) is None


# ---------------------------------------------------------------- summary()


def _full_report():
    return {
        "reason": "web and worker restarted and healthy", "seconds": 7.26,
        "steps": [{"program": "web", "action": "graceful reload (HUP)", "ok": True, "seconds": 1.24},
                  {"program": "worker", "action": "restart", "ok": False, "seconds": 3.0}],
        "before": {"pids": {"web": 10, "worker": 20}, "web_workers": [11, 12], "memory_used": 1.0e9,
                   "disk_percent": 40.0, "load": [0.5, 0.4, 0.3]},
        "after": {"pids": {"web": 10, "worker": 21}, "web_workers": [13, 14], "memory_used": 512e6,
                  "disk_percent": 41.26, "load": [1.0, 0.5, 0.25]},
    }


def test_summary_lines():
    lines = restart.summary(_full_report())
    labels = [label for label, _ in lines]
    assert lines[0] == ("result", "web and worker restarted and healthy")
    text = dict(lines)
    assert text["web"] == "graceful reload (HUP) in 1.2s (ready)"
    assert text["worker"] == "restart in 3.0s (NOT ready)"
    assert text["web workers"] == "[11, 12] -> [13, 14]"
    assert text["worker pid"] == "20 -> 21"
    assert text["memory"] == "512 MB"            # figures after the restart
    assert text["disk"] == "41.3% used"
    assert text["load"] == "1.0 0.5 0.25"
    assert text["duration"] == "7.3s"
    assert labels[-1] == "duration"
    assert all(isinstance(label, str) and isinstance(value, str) for label, value in lines)


def test_summary_of_a_refused_run_has_no_after_and_does_not_raise():
    report = {"reason": "restarted nothing: redis down: refused", "steps": [], "restarted": [],
              "before": {"pids": {"web": 0, "worker": 0}, "web_workers": [], "memory_used": None,
                         "disk_percent": 12.0, "load": None}}
    lines = restart.summary(report)
    text = dict(lines)
    assert text["result"] == "restarted nothing: redis down: refused"
    assert "worker pid" not in text and "web workers" not in text
    assert "memory" not in text and "load" not in text
    assert text["disk"] == "12.0% used"          # falls back to the "before" figures
    assert text["duration"] == "0.0s"


def test_summary_minimal_report():
    assert restart.summary({"reason": "x"}) == [("result", "x"), ("duration", "0.0s")]


# ---------------------------------------------------------------- Restart.run() with fakes


class FakeSupervisor:
    """The supervisor namespace of the XML-RPC proxy; records every call."""

    def __init__(self, state):
        self.state = state
        self.calls = []

    def signalProcess(self, name, signal):
        self.calls.append(("signalProcess", name, signal))
        if name == "web" and self.state.workers_replaced_on_hup:
            self.state.hupped = True
        return True

    def stopProcess(self, name, wait=True):
        self.calls.append(("stopProcess", name, wait))
        if self.state.programs[name] not in ("RUNNING", "STARTING", "BACKOFF"):
            raise xmlrpc.client.Fault(70, "NOT_RUNNING: %s" % name)  # what supervisord answers
        self.state.programs[name] = "STOPPED"
        return True

    def startProcess(self, name, wait=True):
        self.calls.append(("startProcess", name, wait))
        self.state.programs[name] = "RUNNING"
        if name == "worker" and self.state.worker_gets_new_pid:
            self.state.worker_pid = NEW_WORKER_PID
        return True

    def getProcessInfo(self, name):
        self.calls.append(("getProcessInfo", name))
        return {"name": name, "statename": self.state.programs[name], "pid": self.state.pid(name)}


class FakeRpc:
    def __init__(self, state):
        self.supervisor = FakeSupervisor(state)

    @property
    def calls(self):
        return self.supervisor.calls

    def actions(self):
        return [call for call in self.calls if call[0] != "getProcessInfo"]


class World:
    """What the fake probes and the fake supervisord agree on."""

    def __init__(self, redis=(health.OK, "PONG"), web_ok=True, workers_replaced_on_hup=True,
                 worker_gets_new_pid=True, redis_after=None):
        self.redis = redis
        self.redis_after = redis_after
        self.web_ok = web_ok
        self.workers_replaced_on_hup = workers_replaced_on_hup
        self.worker_gets_new_pid = worker_gets_new_pid
        self.hupped = False
        self.worker_pid = OLD_WORKER_PID
        self.programs = {"postgres": "RUNNING", "redis": "RUNNING", "web": "RUNNING", "worker": "RUNNING"}
        self.probe_calls = []

    def pid(self, name):
        return {"postgres": 5, "redis": 6, "web": WEB_MASTER, "worker": self.worker_pid}[name] \
            if self.programs[name] == "RUNNING" else 0

    def children(self, pid, proc="/proc"):
        assert pid == WEB_MASTER
        return list(NEW_WORKERS if self.hupped else OLD_WORKERS)

    def run_probes(self, settings, environ, components):
        assert settings is SETTINGS
        components = list(components)
        self.probe_calls.append(components)
        kinds = {name: spec["kind"] for name, spec in settings["programs"].items()}
        infos = {name: {"name": name, "statename": state, "pid": self.pid(name)}
                 for name, state in self.programs.items()}
        supervisor = health.supervisor_component(kinds, infos)
        redis = self.redis_after if (self.redis_after and self.hupped) else self.redis
        all_components = {
            "supervisor": supervisor,
            "postgres": health.component("postgres", health.OK, "SELECT 1 as app", connections=3),
            "redis": health.component("redis", redis[0], redis[1]),
            "web": health.component("web", health.OK if self.web_ok else health.DOWN,
                                    "HTTP 200 from /_health/" if self.web_ok else "HTTP 502 from /_health/"),
            "worker": health.component("worker", supervisor["details"]["programs"]["worker"]["status"],
                                       "heartbeat from celery@x (0 active)"),
            "host": health.component("host", health.OK, "data volume 40.0% used", memory_used=300e6,
                                     disk_percent=40.0, load=[0.1, 0.2, 0.3]),
        }
        return health.report([all_components[name] for name in components if name in all_components])


def _restart(world, monkeypatch, deadline=2):
    monkeypatch.setattr(restart, "children", world.children)
    # Poll faster than the product's 0.25 s so the deadline cases stay quick.
    monkeypatch.setattr(restart, "_wait", functools.partial(restart._wait, interval=0.02))
    rpc = FakeRpc(world)
    return restart.Restart(SETTINGS, {"SECRET_KEY": "k"}, rpc, deadline_seconds=deadline,
                           run_probes=world.run_probes), rpc


def test_run_refuses_when_redis_is_down(monkeypatch):
    world = World(redis=(health.DOWN, "Error 111 connecting: Connection refused"))
    job, rpc = _restart(world, monkeypatch)
    report = job.run()
    assert report["ok"] is False
    assert report["restarted"] == [] and report["steps"] == []
    assert "redis" in report["reason"] and "Connection refused" in report["reason"]
    assert report["reason"].startswith("restarted nothing")
    assert rpc.calls == []                      # not even a getProcessInfo
    assert world.probe_calls == [list(health.COMPONENTS)]
    assert "after" not in report
    assert dict(report["summary"])["result"] == report["reason"]
    assert report["before"]["pids"]["worker"] == OLD_WORKER_PID
    assert report["before"]["web_workers"] == OLD_WORKERS


def test_dry_run_touches_nothing(monkeypatch):
    world = World()
    job, rpc = _restart(world, monkeypatch)
    report = job.run(dry_run=True)
    assert report["ok"] is True
    assert report["dry_run"] is True
    assert report["restarted"] == [] and report["steps"] == []
    assert rpc.calls == []
    assert "after" not in report
    assert world.programs["worker"] == "RUNNING" and not world.hupped
    # What a real run would restart: check mode's changed.
    assert report["would_restart"] == ["web", "worker"]
    assert report["reason"] == "would reload web and restart the worker"


@pytest.mark.parametrize("programs, would, reason", [
    (["web"], ["web"], "would reload web"),
    (["worker"], ["worker"], "would restart the worker"),
    ([], [], "nothing to restart on this host"),
])
def test_dry_run_names_only_this_host_s_programs(monkeypatch, programs, would, reason):
    world = World()
    job, _rpc = _restart(world, monkeypatch)
    # The host's programs as its settings list them; the probes still see the healthy world.
    job.settings = dict(SETTINGS, programs={name: spec for name, spec in SETTINGS["programs"].items()
                                            if name in programs or name not in ("web", "worker")})
    monkeypatch.setattr(job, "probe", lambda components=health.COMPONENTS: world.run_probes(SETTINGS, {}, components))
    report = job.run(dry_run=True)
    assert report["would_restart"] == would and report["reason"] == reason


def test_run_healthy_path(monkeypatch):
    world = World()
    job, rpc = _restart(world, monkeypatch)
    started = time.monotonic()
    report = job.run()
    assert time.monotonic() - started < 1.0     # nothing waited: ready at the first look
    assert report["ok"] is True, report["reason"]
    assert report["reason"] == "web and worker restarted and healthy"
    assert report["restarted"] == ["web", "worker"]
    assert rpc.actions() == [("signalProcess", "web", "HUP"), ("stopProcess", "worker", True),
                             ("startProcess", "worker", True)]
    assert [step["program"] for step in report["steps"]] == ["web", "worker"]
    assert all(step["ok"] for step in report["steps"])
    assert report["steps"][0]["action"] == "graceful reload (HUP)"
    assert report["before"]["web_workers"] == OLD_WORKERS
    assert report["after"]["web_workers"] == NEW_WORKERS
    assert report["before"]["pids"]["worker"] == OLD_WORKER_PID
    assert report["after"]["pids"]["worker"] == NEW_WORKER_PID
    assert report["after"]["pids"]["web"] == WEB_MASTER          # the master kept the socket
    assert set(report["post_check"]) == set(health.COMPONENTS) - set(health.ADVISORY)  # no destination here
    assert all(item["status"] == health.OK for item in report["post_check"].values())
    text = dict(report["summary"])
    assert text["worker pid"] == "%d -> %d" % (OLD_WORKER_PID, NEW_WORKER_PID)
    assert text["web workers"] == "%s -> %s" % (OLD_WORKERS, NEW_WORKERS)
    # pre-check, web readiness, worker readiness, post-check
    assert world.probe_calls[0] == list(health.COMPONENTS) and world.probe_calls[-1] == list(health.COMPONENTS)
    assert ["web"] in world.probe_calls and ["supervisor", "worker"] in world.probe_calls


def test_run_web_restart_without_reload_signal(monkeypatch):
    settings_programs = dict(SETTINGS["programs"], web={"kind": "service"})
    monkeypatch.setitem(SETTINGS, "programs", settings_programs)
    world = World()
    job, rpc = _restart(world, monkeypatch, deadline=0.3)
    report = job.run()
    # stop+start keeps the same fake master pid, so "replaced" is never true: web not ready.
    assert rpc.actions()[:2] == [("stopProcess", "web", True), ("startProcess", "web", True)]
    assert report["steps"][0]["action"] == "restart"
    assert report["ok"] is False and "web" in report["reason"]


def test_run_web_never_ready(monkeypatch):
    world = World(workers_replaced_on_hup=False)
    job, rpc = _restart(world, monkeypatch, deadline=0.3)
    started = time.monotonic()
    report = job.run()
    elapsed = time.monotonic() - started
    assert report["ok"] is False
    assert report["reason"].startswith("web not ready within")
    assert report["steps"][0]["program"] == "web" and report["steps"][0]["ok"] is False
    assert report["steps"][0]["seconds"] >= 0.3
    assert "workers [11, 12]" in report["steps"][0]["detail"]
    # The worker is left alone once web failed.
    assert report["restarted"] == ["web"]
    assert ("stopProcess", "worker", True) not in rpc.calls
    assert rpc.actions() == [("signalProcess", "web", "HUP")]
    assert "after" in report and "NOT ready" in dict(report["summary"])["web"]
    assert elapsed < 2.0


def test_run_web_answers_but_unhealthy(monkeypatch):
    world = World(web_ok=False)
    job, _rpc = _restart(world, monkeypatch, deadline=0.3)
    report = job.run()
    assert report["ok"] is False and "web" in report["reason"]
    assert "HTTP 502" in report["steps"][0]["detail"]


def test_run_worker_keeps_old_pid(monkeypatch):
    world = World(worker_gets_new_pid=False)
    job, rpc = _restart(world, monkeypatch, deadline=0.3)
    report = job.run()
    assert report["ok"] is False
    assert report["reason"].startswith("worker not ready within")
    assert report["restarted"] == ["web", "worker"]
    assert [s["ok"] for s in report["steps"]] == [True, False]


def test_run_post_check_not_healthy(monkeypatch):
    world = World(redis_after=(health.DEGRADED, "memory 95 of 100 bytes"))
    job, _rpc = _restart(world, monkeypatch)
    report = job.run()
    assert report["ok"] is False
    assert report["reason"] == "post-check not healthy: redis: memory 95 of 100 bytes"
    assert report["post_check"]["redis"] == {"status": health.DEGRADED, "reason": "memory 95 of 100 bytes"}


def test_wait_polls_until_done_or_deadline():
    clock = {"t": 0.0}
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock["t"] += seconds

    answers = iter([(False, "a"), (False, "b"), (True, "c")])
    assert restart._wait(lambda: next(answers), 10, interval=1.0, clock=lambda: clock["t"], sleep=sleep) \
        == (True, "c", 2.0)
    assert sleeps == [1.0, 1.0]
    clock["t"], sleeps[:] = 0.0, []
    assert restart._wait(lambda: (False, "never"), 3, interval=1.0, clock=lambda: clock["t"], sleep=sleep) \
        == (False, "never", 3.0)
    assert sleeps == [1.0, 1.0, 1.0]


def test_a_stopped_worker_is_started_not_stopped_first(monkeypatch):
    # supervisord answers NOT_RUNNING to stopProcess of a stopped program; the restart starts it instead.
    world = World()
    world.programs["worker"] = "STOPPED"
    job, rpc = _restart(world, monkeypatch, deadline=0.3)
    report = job.run()
    assert report["ok"] is True, report["reason"]
    assert ("stopProcess", "worker", True) not in rpc.supervisor.calls
    assert ("startProcess", "worker", True) in rpc.supervisor.calls
