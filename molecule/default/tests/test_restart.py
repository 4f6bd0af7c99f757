"""Health module, self-healing and the scheduled restart, observed on the deployed container.

Runs after test_default.py (pytest's file order): these tests kill programs and
restart the container on purpose, and leave it healthy again.
"""

from __future__ import annotations

import json
import os
import re
import time

import pytest

from aio_testlib import aio, health, program_pid, restart_playbook_under_probe, run_playbook, wait_for, web_workers

testinfra_hosts = ["ansible://localhost"]

LONG_RUNNING = ["postgres", "redis", "web", "worker", "scheduler"]


def wait_healthy(container, timeout=120):
    def ok():
        container.reload()
        return container.status == "running" and health(container)["status"] == "ok" or health_summary(container)
    wait_for(ok, timeout, "every component ok")


def health_summary(container):
    try:
        report = health(container)
    except Exception as exc:  # noqa: BLE001 - only for the failure message
        return str(exc)
    return {name: c["status"] for name, c in report["components"].items()}


@pytest.mark.parametrize("program", LONG_RUNNING)
def test_kill_9_is_reported_then_healed_by_supervisord(container, program):
    wait_healthy(container)
    old_pid = program_pid(container, program)
    assert old_pid > 0
    def reported():
        return health(container, "supervisor", "postgres", "redis", "web")["status"] != "ok"

    container.exec_run(["kill", "-9", str(old_pid)])
    wait_for(reported, 15, "health reporting the killed %s" % program)
    wait_healthy(container, timeout=90)
    assert program_pid(container, program) not in (0, old_pid)


def test_a_program_in_fatal_makes_the_container_exit_and_docker_restart_it(container):
    wait_healthy(container)
    container.reload()
    restarts = container.attrs["RestartCount"]
    started = container.attrs["State"]["StartedAt"]
    # Something else holds PostgreSQL's port, so every start fails at once: BACKOFF, then FATAL.
    supervisorctl = ["supervisorctl", "-c", "/etc/supervisor/supervisord.conf"]
    container.exec_run(supervisorctl + ["stop", "postgres"])
    # A listener that closes every connection at once: PostgreSQL cannot bind, and clients
    # fail fast (one that never answered would hang the worker's tasks and its warm shutdown).
    # SO_REUSEADDR: the port has connections in TIME_WAIT from the probes.
    container.exec_run(["python3", "-c", "import socket; s = socket.socket(); "
                        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', 5432)); "
                        "s.listen(); open('/tmp/port-blocked', 'w').close()\n"
                        "while True: s.accept()[0].close()"], detach=True)
    wait_for(lambda: container.exec_run(["test", "-e", "/tmp/port-blocked"]).exit_code == 0, 10, "the port blocker")
    container.exec_run(supervisorctl + ["start", "postgres"], detach=True)

    def restarted_by_docker():
        container.reload()
        state = container.attrs["State"]
        return True if state["StartedAt"] != started else state["Status"]

    wait_for(restarted_by_docker, 120, "the container exiting and Docker starting it again")
    wait_healthy(container)
    container.reload()
    assert container.attrs["RestartCount"] == restarts + 1
    with open(os.path.join(_data_dir(container), "logs", "watchdog.log"), encoding="utf-8") as handle:
        assert "postgres entered FATAL" in handle.read()


def _data_dir(container):
    mounts = {m["Destination"]: m["Source"] for m in container.attrs["Mounts"]}
    return os.path.dirname(mounts["/data/logs"])


def test_restart_refuses_to_touch_web_and_worker_while_redis_is_down(container, secrets):
    wait_healthy(container)
    before = {name: program_pid(container, name) for name in ("web", "worker")}
    code, out, err = aio(container, "manage", "help")  # warm nothing: just prove exec works
    assert code == 0, err
    container.exec_run(["supervisorctl", "-c", "/etc/supervisor/supervisord.conf", "stop", "redis"])
    try:
        code, out, err = aio(container, "restart", "--json", "--deadline", "20")
        report = json.loads(out)
        assert code != 0
        assert report["ok"] is False
        assert report["restarted"] == []
        assert report["reason"].startswith("restarted nothing: redis down")
        assert {name: program_pid(container, name) for name in ("web", "worker")} == before
        for value in secrets.values():
            assert value not in out + err
    finally:
        container.exec_run(["supervisorctl", "-c", "/etc/supervisor/supervisord.conf", "start", "redis"])
    wait_healthy(container)


# One row of health.yml's table, as the glitchtip.aio.health_row filter writes it.
HEALTH_ROW = re.compile(r"^(?P<name>\S+) +(?P<status>\S+) +(?P<ms>\d+\.\d) ms  (?P<reason>.*)$")


def health_table(stdout):
    """The message list of health.yml's "Health" task (printed as JSON: no YAML folding to undo)."""
    task = stdout.index("TASK [Health]")
    start = stdout.index("=> {", task) + len("=> ")
    message, _end = json.JSONDecoder().raw_decode(stdout, start)
    return message["msg"]


def test_health_playbook_prints_every_component(container):
    wait_healthy(container)
    result = run_playbook("health.yml", env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    assert result.returncode == 0, result.stdout[-2000:]
    overall, *rows = health_table(result.stdout)
    assert overall == "overall: ok"
    parsed = [HEALTH_ROW.match(row) for row in rows]
    assert all(parsed), rows
    # The exact layout: name in 10 columns, status in 8, milliseconds right-aligned in 7.
    assert rows == ["%-10s %-8s %7.1f ms  %s" % (m["name"], m["status"], float(m["ms"]), m["reason"]) for m in parsed]
    assert sorted(m["name"] for m in parsed) == sorted(["supervisor", "postgres", "redis", "web", "worker", "host"])
    assert {m["name"]: m["status"] for m in parsed} == {m["name"]: "ok" for m in parsed}
    assert all(m["reason"].strip() for m in parsed), rows


def test_restart_playbook_check_mode_restarts_nothing(container):
    wait_healthy(container)
    before = {name: program_pid(container, name) for name in ("web", "worker")}
    result = run_playbook("restart.yml", "--check")
    assert result.returncode == 0, result.stdout[-2000:]
    assert "would reload web and restart the worker" in result.stdout
    assert {name: program_pid(container, name) for name in ("web", "worker")} == before


def test_restart_playbook_replaces_web_workers_and_worker_and_ends_healthy(container, settings):
    wait_healthy(container)
    old_worker = program_pid(container, "worker")
    old_web_workers = web_workers(container)
    result, probes = restart_playbook_under_probe(
        "http://127.0.0.1:%s/_health/" % settings["glitchtip_container_web_host_port"])
    assert result.returncode == 0, result.stdout[-3000:]
    assert "web and worker restarted and healthy" in result.stdout
    assert program_pid(container, "worker") != old_worker
    assert not set(web_workers(container)) & set(old_web_workers), "web workers were not replaced"
    # The stand-in takes seconds to import the app, as the real one does: a reload that retired
    # the old workers before new ones could serve would show here as refused or timed-out probes,
    # and one that stalled requests while the new workers imported, as a long gap between answers.
    print("restart.yml under probe: %r" % probes)
    assert probes.count > 20 and not probes.failures, probes
    assert probes.longest_gap <= 1.0, probes
    wait_healthy(container, timeout=10)


def restart_with(container, **urls):
    environment = {"AIO_FEISHU_WEBHOOK_URL": urls.get("feishu", ""), "AIO_NOTIFY_WEBHOOK_URL": urls.get("webhook", "")}
    code, out, err = aio(container, "restart", "--json", "--notify", "--notify-timeout", "1",
                         environment=environment)
    return code, json.loads(out), out + err


def test_notifications_delivered_only_when_the_receiver_says_so(container, sink, secrets):
    wait_healthy(container)
    code, report, text = restart_with(container, feishu=sink.url("/feishu-ok"),
                                      webhook=sink.url("/generic"))
    assert code == 0 and report["ok"], report
    assert report["notifications"]["feishu"] == {"delivered": True, "attempts": 1, "reason": "code 0"}
    assert report["notifications"]["webhook"]["delivered"] is True
    bodies = {item["path"]: json.loads(item["body"]) for item in sink.received()}
    assert bodies["/feishu-ok"]["msg_type"] == "interactive"
    assert "succeeded" in bodies["/feishu-ok"]["card"]["header"]["title"]["content"]
    assert bodies["/generic"]["ok"] is True and bodies["/generic"]["job"] == "scheduled-restart"

    wait_healthy(container)
    code, report, text = restart_with(container, feishu=sink.url("/feishu-bad"))
    assert code == 0 and report["ok"], "a failed notification must not fail the restart"
    assert report["notifications"]["feishu"]["delivered"] is False
    assert report["notifications"]["feishu"]["attempts"] == 3
    assert "code 19001" in report["notifications"]["feishu"]["reason"]

    wait_healthy(container)
    started = time.monotonic()
    code, report, text = restart_with(container, webhook=sink.url("/hang"))
    assert code == 0 and report["ok"]
    assert report["notifications"]["webhook"]["delivered"] is False
    assert "timed out" in report["notifications"]["webhook"]["reason"].lower()
    assert time.monotonic() - started < 60

    everything = text + json.dumps(sink.received())
    with open(os.path.join(_data_dir(container), "logs", "scheduled-restart.log"), encoding="utf-8") as handle:
        everything += handle.read()
    for name, value in secrets.items():
        assert value not in everything, "%s leaked into a report, notification or log" % name
    assert "AIO_DB_PASSWORD" not in everything and "DATABASE_URL" not in everything
    wait_healthy(container)


def test_scheduler_runs_with_the_configured_schedule(container):
    _code, out = container.exec_run(["cat", "/data/logs/scheduler.err.log"])
    assert "[aio scheduler] restart at '1 3 * * *' (UTC)" in out.decode()
