"""GlitchTip 6.x on several hosts: a web host and two worker hosts whose `runworker --scheduler`
share one scheduler lock, so each periodic task is sent once per period however many run."""

from __future__ import annotations

import json
import time
import uuid

from aio_testlib import exec_in, health, http, store_processed_event, wait_for, wait_healthy
from conftest import HOSTS, WORKER_HOSTS
from mh_testlib import env_of, pg, web_url

ENQUEUED = "Enqueuing due task: heartbeat"
PERIOD = 5  # STANDIN_HEARTBEAT_SECONDS in molecule.yml
SUPERVISORCTL = ["supervisorctl", "-c", "/etc/supervisor/supervisord.conf"]
PROCESSES = ("import json, os; print(json.dumps([open('/proc/%s/cmdline' % p, 'rb').read().decode('utf-8', 'replace')"
             ".split(chr(0)) for p in os.listdir('/proc') if p.isdigit() and os.path.exists('/proc/%s/cmdline' % p)]))")


def processes(container):
    code, out = exec_in(container, ["python3", "-c", PROCESSES])
    assert code == 0, out
    return [argv for argv in json.loads(out) if argv and argv[0]]


def runworkers(container):
    return [argv for argv in processes(container) if "runworker" in argv]


def programs(container):
    report = wait_healthy(container)
    return {name: info["state"] for name, info in report["components"]["supervisor"]["details"]["programs"].items()}


def enqueued(container):
    """How many times this host's scheduler has sent the periodic task so far."""
    code, out = exec_in(container, ["sh", "-c", "cat /data/logs/worker.err.log 2>/dev/null; true"])
    assert code == 0, out
    return out.count(ENQUEUED)


def test_every_worker_host_runs_runworker_with_the_scheduler(containers):
    for host in WORKER_HOSTS:
        states = programs(containers[host])
        assert states.get("worker") == "RUNNING" and not {"web", "migrate", "postgres", "redis"} & set(states), states
        [argv] = runworkers(containers[host])
        assert "--scheduler" in argv and "--health-check-file" in argv, argv
    states = programs(containers["web1"])
    assert states.get("web") == "RUNNING" and "worker" not in states, states
    assert not runworkers(containers["web1"])
    assert any("granian" in " ".join(argv) for argv in processes(containers["web1"]))


def test_each_worker_is_judged_by_its_health_check_file(containers):
    for host in WORKER_HOSTS:
        worker = health(containers[host], "supervisor", "worker")["components"]["worker"]
        assert worker["status"] == "ok" and worker["reason"].startswith("health-check file touched "), worker


def test_the_periodic_task_is_sent_once_per_period_by_all_schedulers_together(containers):
    """Two schedulers without the lock would send it about twice per period."""
    workers = [containers[host] for host in WORKER_HOSTS]
    wait_for(lambda: sum(enqueued(c) for c in workers) > 0, 30, "a first heartbeat sent")
    before = sum(enqueued(c) for c in workers)
    window = 6 * PERIOD
    time.sleep(window)
    sent = sum(enqueued(c) for c in workers) - before
    assert window // PERIOD - 2 <= sent <= window // PERIOD + 1, "%d sends in %d s (every %d s)" % (sent, window, PERIOD)


def test_the_schedule_goes_on_when_the_lock_holder_stops(containers):
    """The lock has a 15 s TTL: the other worker's scheduler takes over and keeps sending."""
    workers = {host: containers[host] for host in WORKER_HOSTS}
    before = {host: enqueued(c) for host, c in workers.items()}
    time.sleep(2 * PERIOD + 1)
    senders = [host for host, c in workers.items() if enqueued(c) > before[host]]
    assert len(senders) == 1, "the hosts that sent the heartbeat in %d s: %s" % (2 * PERIOD + 1, senders)
    holder, = senders
    other = next(host for host in WORKER_HOSTS if host != holder)
    code, out = exec_in(workers[holder], SUPERVISORCTL + ["stop", "worker"])
    assert code == 0, out
    try:
        before = enqueued(workers[other])
        wait_for(lambda: enqueued(workers[other]) >= before + 2, 15 + 4 * PERIOD,
                 "%s's scheduler sending the heartbeat after %s's stopped" % (other, holder))
    finally:
        code, out = exec_in(workers[holder], SUPERVISORCTL + ["start", "worker"])
        assert code == 0, out
    wait_healthy(workers[holder])


def test_an_event_through_the_web_host_is_processed_by_a_worker_host(client, hostvars):
    event_id = store_processed_event(lambda sql: pg(client, sql), web_url(hostvars, "web1", ""),
                                     web_url(hostvars, "web1", ""), "across 6.x hosts", 60)
    assert pg(client, "SELECT processed FROM events_event WHERE event_id = '%s'" % uuid.UUID(event_id)) == "t"


def test_only_the_beat_host_gets_backup_and_partition_schedules(containers):
    for host in HOSTS:
        env = env_of(containers[host])
        scheduled = [env.get(name, "") for name in ("AIO_BACKUP_SCHEDULE", "AIO_PARTITION_SCHEDULE")]
        assert all(scheduled) if host == "worker1" else not any(scheduled), "%s: %s" % (host, scheduled)


def test_the_web_host_answers(hostvars):
    status, body = http(web_url(hostvars, "web1", "/_health/"))
    assert (status, body.strip()) == (200, "ok")
