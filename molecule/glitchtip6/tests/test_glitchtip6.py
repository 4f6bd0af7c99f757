"""GlitchTip 6.x in the AIO container, on the 6.2 stand-in that runs the real django-vtasks task runner:
what runs, that events and periodic tasks go through `runworker --scheduler` and its queue (Valkey, or
PostgreSQL alone with glitchtip_postgres_only: the glitchtip6-postgres scenario runs these same tests),
that the worker's liveness is its health-check file (a frozen worker with a RUNNING process is
failing), judged the same by `aio health`, health.yml, the health module's wait and the scheduled
restart, and that backups restore."""

from __future__ import annotations

import json
import os
import time

import pytest

from aio_testlib import (aio, generate_data, health, http, program_pid, psql, recap, restart_playbook_under_probe,
                         run_playbook, store_processed_event, table_checksums, upload_checksums, wait_for, wait_healthy,
                         web_workers)

testinfra_hosts = ["ansible://localhost"]

HEALTH_FILE = "/run/glitchtip-aio-worker/health"
WINDOW = 15  # seconds: the profile's max_age_seconds, as upstream's Kubernetes probe


@pytest.fixture(scope="module")
def postgres_only(settings):
    return bool(settings.get("glitchtip_postgres_only", False))


def base_url(settings):
    return "http://127.0.0.1:%s" % settings["glitchtip_container_web_host_port"]


def proc(container, pid, name, user="root"):
    """/proc/PID/<name> (cmdline, environ) split at NUL; another user's environ needs that user
    (root in a container has no CAP_SYS_PTRACE)."""
    result = container.exec_run(["cat", "/proc/%d/%s" % (pid, name)], user=user)
    assert result.exit_code == 0, result.output
    return [part.decode() for part in result.output.split(b"\0") if part]


def log_text(container, name):
    result = container.exec_run(["cat", "/data/logs/%s" % name])
    return result.output.decode("utf-8", "replace") if result.exit_code == 0 else ""


def worker_component(container):
    return health(container, "supervisor", "worker")["components"]["worker"]


def test_every_program_runs(container, postgres_only):
    programs = health(container, "supervisor")["components"]["supervisor"]["details"]["programs"]
    expected = {"postgres": "RUNNING", "redis": "RUNNING", "migrate": "EXITED", "web": "RUNNING", "worker": "RUNNING",
                "scheduler": "RUNNING"}
    if postgres_only:
        del expected["redis"]
    assert {name: item["state"] for name, item in programs.items()} == expected


def test_the_worker_is_upstreams_runworker_with_its_scheduler(container, postgres_only):
    pid = program_pid(container, "worker")
    assert proc(container, pid, "cmdline") == ["python3", "manage.py", "runworker", "--scheduler",
                                               "--health-check-file", HEALTH_FILE]
    environ = dict(item.split("=", 1) for item in proc(container, pid, "environ", user="app"))
    assert environ["IS_WORKER"] == "true"
    if postgres_only:  # empty, not unset: GlitchTip 6's switch to its PostgreSQL queue and cache
        assert environ["VALKEY_URL"] == ""
    else:
        assert environ["VALKEY_URL"].startswith("redis://:") and environ["VALKEY_URL"].endswith("@127.0.0.1:6379/0")
    assert "REDIS_URL" not in environ and "AIO_DB_PASSWORD" not in environ
    status = container.exec_run(["cat", "/proc/%d/status" % pid]).output.decode()
    assert "\nUid:\t5000\t" in status


def test_web_is_granian_and_the_image_has_no_gunicorn(container, settings):
    assert "granian" in proc(container, program_pid(container, "web"), "cmdline")
    assert len(web_workers(container)) == 2
    assert container.exec_run(["python3", "-c", "import gunicorn"], user="app").exit_code != 0
    assert http(base_url(settings) + "/_health/") == (200, "ok")


def test_events_are_processed_by_runworker_through_its_queue(container, settings, postgres_only):
    url = base_url(settings)
    event_id = store_processed_event(lambda sql: psql(container, sql), url, url, "through runworker", timeout=60)
    assert event_id
    log = log_text(container, "worker.err.log") + log_text(container, "worker.log")
    assert "tasks of type events.tasks.process_event in batch queue ingest" in log
    report = health(container)
    if postgres_only:
        assert "Backend**: DatabaseTaskBackend" in log
        # No Redis anywhere: not in the image, not in health; the queue's depth is PostgreSQL's.
        assert "redis" not in report["components"]
        assert set(report["components"]["postgres"]["details"]["queues"]) == {"db_queuedtask"}
        assert container.exec_run(["sh", "-c", "command -v redis-server || command -v redis-cli"]).exit_code != 0
        code, _out, err = aio(container, "redis-cli", "ping")
        assert code == 2 and "without Redis" in err
    else:
        assert "Backend**: ValkeyTaskBackend" in log
        assert set(report["components"]["redis"]["details"]["queues"]) == {"{vt}:q:ingest", "{vt}:q:default"}
        # django-vtasks' own keys in the deployment's Redis: its workers' liveness markers among them.
        code, out, err = aio(container, "redis-cli", "--scan", "--pattern", "{vt}:*")
        assert code == 0, err
        assert any(key.startswith("{vt}:alive:") for key in out.split()), out


def test_the_periodic_task_runs(container):
    # The stand-in's VTASKS_SCHEDULE sends events.tasks.heartbeat every 5 s (STANDIN_HEARTBEAT_SECONDS).
    def beat():
        return psql(container, "SELECT coalesce(extract(epoch FROM max(beat_at)), 0) FROM events_workerheartbeat")

    first = float(beat())
    wait_for(lambda: float(beat()) > first or beat(), 20, "a newer heartbeat row")
    assert "Enqueuing due task: heartbeat" in log_text(container, "worker.err.log")


def test_health_reads_the_health_check_file(container):
    worker = worker_component(container)
    assert worker["status"] == "ok", worker
    assert worker["reason"].startswith("health-check file touched ")
    assert worker["details"]["health_check_file"] == HEALTH_FILE
    stat = container.exec_run(["stat", "-c", "%U %a", os.path.dirname(HEALTH_FILE)]).output.decode().split()
    assert stat == ["app", "700"]


HEALTH_WAIT = """\
- name: The deploy's wait on the worker alone
  hosts: glitchtip
  gather_facts: false
  tasks:
    - name: Wait
      glitchtip.aio.health:
        container: "{{ glitchtip_container_name }}"
        components: [supervisor, worker]
        wait_timeout: 5
        interval: 0.5
        log_dir: "{{ glitchtip_data_dir }}/logs"
"""


def test_a_frozen_worker_is_failing_within_the_window_though_its_process_runs(container, tmp_path):
    """SIGSTOP: supervisord still says RUNNING and the PID exists; the file stops changing."""
    wait_healthy(container)
    pid = program_pid(container, "worker")
    container.exec_run(["kill", "-STOP", str(pid)])
    frozen_at = time.monotonic()
    try:
        wait_for(lambda: worker_component(container)["status"] == "down" or worker_component(container)["reason"],
                 WINDOW + 10, "the frozen worker reported down")
        seen_after = time.monotonic() - frozen_at
        report = health(container, "supervisor", "worker")
        assert report["components"]["supervisor"]["details"]["programs"]["worker"]["state"] == "RUNNING"
        assert report["components"]["supervisor"]["details"]["programs"]["worker"]["pid"] == pid
        assert "not touched for" in report["components"]["worker"]["reason"]
        # The file is touched every 5 s: down once the last touch is older than the window, no later.
        assert seen_after <= WINDOW + 5 + 3, seen_after
        code, _out, _err = aio(container, "health", "--quiet")
        assert code != 0
        # health.yml and the deploy's wait (the same module) fail on it, naming the worker and its log.
        table = run_playbook("health.yml")
        assert table.returncode != 0 and "worker" in table.stdout and "not touched for" in table.stdout
        playbook = tmp_path / "wait.yml"
        playbook.write_text(HEALTH_WAIT)
        waited = run_playbook(str(playbook), "-v")
        assert waited.returncode != 0, waited.stdout[-3000:]
        assert "not healthy after 5s" in waited.stdout and "worker: health-check file not touched" in waited.stdout
        assert "django_vtasks.worker" in waited.stdout  # the failing worker's log tail comes with it
    finally:
        container.exec_run(["kill", "-CONT", str(pid)])
    wait_for(lambda: worker_component(container)["status"] == "ok" or worker_component(container)["reason"],
             15, "the thawed worker ok again")
    assert program_pid(container, "worker") == pid


def test_restart_replaces_granian_workers_and_the_worker_without_dropping_requests(container, settings):
    wait_healthy(container)
    old_worker, old_web_workers = program_pid(container, "worker"), web_workers(container)
    started = time.monotonic()
    result, probes = restart_playbook_under_probe(base_url(settings) + "/_health/")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "web and worker restarted and healthy" in result.stdout
    new_worker = program_pid(container, "worker")
    assert new_worker != old_worker
    assert not set(web_workers(container)) & set(old_web_workers), "granian's workers were not replaced"
    print("restart.yml under probe: %r" % probes)
    assert probes.count > 20 and not probes.failures, probes
    assert probes.longest_gap <= 1.0, probes
    # Ready means the new process touched the file (an earlier process's file is removed at its start).
    worker = worker_component(container)
    assert worker["status"] == "ok" and worker["details"]["pid"] == new_worker
    print("scheduled restart on 6.x: %.1f s" % (time.monotonic() - started))


def test_aio_restart_waits_for_the_new_process_file(container):
    """aio restart's worker step is ready only when the new process writes its file, not when a PID exists."""
    wait_healthy(container)
    code, out, err = aio(container, "restart", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    step = [s for s in report["steps"] if s["program"] == "worker"][0]
    assert step["ok"] and step["detail"].startswith("health-check file touched"), step
    assert report["after"]["pids"]["worker"] != report["before"]["pids"]["worker"]


def test_backup_restores_every_table_and_upload_and_the_worker_goes_on(container, settings):
    wait_healthy(container)
    generate_data(container, "g6-before")
    tables, uploads = table_checksums(container), upload_checksums(settings)
    result = run_playbook("backup.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    backups = os.path.join(settings["glitchtip_data_dir"], "backups")
    name = sorted(n for n in os.listdir(backups) if n.startswith("glitchtip-"))[-1]
    generate_data(container, "g6-after")
    psql(container, "UPDATE organizations_organization SET name = name || ' changed'")
    assert table_checksums(container) != tables
    result = run_playbook("restore.yml", "-e", "backup=%s" % name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert table_checksums(container) == tables and upload_checksums(settings) == uploads
    wait_healthy(container, timeout=60)
    url = base_url(settings)
    assert store_processed_event(lambda sql: psql(container, sql), url, url, "after the restore", timeout=60)


def test_migrate_is_unchanged_on_a_migrated_database(container):
    # maintain_partitions has no dry run and prints every table it looks at: unchanged is read from
    # the database's table list.
    result = run_playbook("migrate.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result)["changed"] == 0, result.stdout[-3000:]
    code, out, err = aio(container, "migrate", "--check", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert not report["changed"] and report["steps"][-1].get("skipped"), report


def test_worker_stops_cleanly_on_sigterm(container):
    """TERM (what supervisord's stop sends) lets runworker finish its tasks and exit by itself."""
    wait_healthy(container)
    log_before = len(log_text(container, "worker.err.log"))
    pid = program_pid(container, "worker")
    container.exec_run(["kill", "-TERM", str(pid)])
    wait_for(lambda: program_pid(container, "worker") not in (0, pid) or program_pid(container, "worker"), 60,
             "supervisord starting the worker again after its clean exit")
    assert "All tasks finished." in log_text(container, "worker.err.log")[log_before:]
    wait_healthy(container)
