"""Operator playbooks against the real container: logs.yml, migrate.yml, the quiet partition job, shell access."""

from __future__ import annotations

import json
import os
import re
import uuid
import urllib.request

import pytest

from aio_testlib import PROJECT_DIR, exec_in, psql, recap, run_playbook, wait_healthy

testinfra_hosts = ["ansible://localhost"]


def next_partition(container):
    """The newest monthly partition the (stand-in's) partition maintenance keeps ready."""
    names = psql(container, "SELECT tablename FROM pg_tables WHERE tablename LIKE 'events_event_p%' ORDER BY 1")
    assert names, "partition maintenance created no partition at start-up"
    return names.split()[-1]


def test_logs_returns_a_line_just_written_to_the_web_log(container, settings):
    wait_healthy(container)
    marker = uuid.uuid4().hex
    port = settings["glitchtip_container_web_host_port"]
    with urllib.request.urlopen("http://127.0.0.1:%s/_health/?marker=%s" % (port, marker), timeout=10) as answer:
        assert answer.status == 200
    result = run_playbook("logs.yml", "-e", "program=web", "-e", "lines=20")
    assert result.returncode == 0, result.stdout[-2000:]
    assert marker in result.stdout
    assert recap(result.stdout)["changed"] == 0
    # Errors only: gunicorn's access lines go to stdout, so the marker is not among web's errors.
    errors = run_playbook("logs.yml", "-e", "program=web", "-e", "errors=true")
    assert errors.returncode == 0 and marker not in errors.stdout


def scrub(path, secret):
    """Take the lines holding a secret back out of a log (supervisord appends, so rewriting is safe)."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        kept = [line for line in handle if secret not in line]
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(kept)


def test_logs_errors_only_shows_the_error_with_the_secret_redacted(container, settings, secrets):
    wait_healthy(container)
    marker = uuid.uuid4().hex
    # A real PostgreSQL error whose message quotes the database password: it lands in postgres's
    # stderr log. (Taken out again afterwards: test_default asserts no log holds a secret.)
    try:
        container.exec_run(["psql", "-h", "/run/postgresql", "-d", "glitchtip", "-Xc",
                            "SELECT 'pw-%s %s'::int" % (marker, secrets["db_password"])], user="postgres")
        result = run_playbook("logs.yml", "-e", "program=postgres", "-e", "errors=true", "-e", "lines=50", "-v")
    finally:
        scrub(os.path.join(settings["glitchtip_data_dir"], "logs", "postgres.err.log"), secrets["db_password"])
    assert result.returncode == 0, result.stdout[-2000:]
    assert "pw-%s ********" % marker in result.stdout
    assert secrets["db_password"] not in result.stdout + result.stderr


def test_logs_of_supervisor_and_of_the_scheduled_restart(container):
    result = run_playbook("logs.yml", "-e", "program=supervisor", "-e", "lines=200")
    assert result.returncode == 0 and "success: web entered RUNNING state" in result.stdout, result.stdout[-2000:]
    result = run_playbook("logs.yml", "-e", "program=nginx")
    assert result.returncode != 0 and "value of program must be one of" in result.stdout


def test_migrate_on_a_migrated_database_changes_nothing(container):
    wait_healthy(container)
    result = run_playbook("migrate.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result.stdout)["changed"] == 0
    assert "Nothing to be done." in result.stdout


def test_migrate_applies_a_pending_migration_check_mode_first(container):
    wait_healthy(container)
    code, out = exec_in(container, ["/usr/local/bin/aio", "manage", "migrate", "files", "zero"])
    assert code == 0, out
    assert psql(container, "SELECT to_regclass('files_file') IS NULL") == "t"

    check = run_playbook("migrate.yml", "--check")
    assert check.returncode == 0 and recap(check.stdout)["changed"] == 1, check.stdout[-3000:]
    assert "would apply 1 migration(s)" in check.stdout
    assert psql(container, "SELECT to_regclass('files_file') IS NULL") == "t"  # check mode applied nothing

    result = run_playbook("migrate.yml")
    assert result.returncode == 0 and recap(result.stdout)["changed"] == 1, result.stdout[-3000:]
    assert "Applying files.0001_initial... OK" in result.stdout
    assert psql(container, "SELECT to_regclass('files_file') IS NOT NULL") == "t"
    again = run_playbook("migrate.yml")
    assert recap(again.stdout)["changed"] == 0


def test_a_failing_migration_fails_the_play_with_its_output(container):
    wait_healthy(container)
    code, out = exec_in(container, ["/usr/local/bin/aio", "manage", "migrate", "files", "zero"])
    assert code == 0, out
    # A table in the migration's way: CREATE TABLE fails, as a real conflicting migration would.
    psql(container, "CREATE TABLE files_file (id int)")
    try:
        result = run_playbook("migrate.yml")
        assert result.returncode != 0
        assert recap(result.stdout)["failed"] == 1
        assert "migrations failed" in result.stdout and 'relation "files_file" already exists' in result.stdout
        assert psql(container, "SELECT count(*) FROM django_migrations WHERE app = 'files'") == "0"
    finally:
        psql(container, "DROP TABLE files_file")
    result = run_playbook("migrate.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    wait_healthy(container)


def test_partition_maintenance_recreates_a_missing_partition(container):
    wait_healthy(container)
    partition = next_partition(container)
    psql(container, 'DROP TABLE "%s"' % partition)
    runs = int(psql(container, "SELECT count(*) FROM events_maintenancerun WHERE kind = 'partition'"))
    result = run_playbook("migrate.yml", "-e", "partitions_only=true")
    assert result.returncode == 0 and recap(result.stdout)["changed"] == 1, result.stdout[-3000:]
    assert "Operations applied." in result.stdout
    assert psql(container, "SELECT to_regclass('%s') IS NOT NULL" % partition) == "t"
    assert int(psql(container, "SELECT count(*) FROM events_maintenancerun WHERE kind = 'partition'")) == runs + 1


def test_scheduled_partition_job_is_configured_and_silent_when_it_succeeds(container, settings):
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    assert env["AIO_PARTITION_SCHEDULE"] == settings.get("glitchtip_partition_schedule", "15 1 * * *")
    code, out = exec_in(container, ["cat", "/data/logs/scheduler.err.log"])
    assert "partitions at '%s'" % env["AIO_PARTITION_SCHEDULE"] in out
    # Exactly what the scheduler runs: nothing printed on success.
    result = container.exec_run(["/usr/local/bin/aio", "migrate", "--partitions-only", "--quiet", "--notify-failure"],
                                demux=True)
    assert result.exit_code == 0 and result.output == (None, None), result.output


def test_scheduled_partition_job_reports_a_failure_to_the_webhook(container, sink, secrets):
    # A wrong database password makes the maintenance fail as a real outage would.
    result = container.exec_run(
        ["/usr/local/bin/aio", "migrate", "--partitions-only", "--quiet", "--notify-failure"], demux=True,
        environment={"AIO_DB_PASSWORD": "wrong-password", "AIO_NOTIFY_WEBHOOK_URL": sink.url("/generic")})
    stdout, stderr = (part.decode() if part else "" for part in result.output)
    assert result.exit_code == 1
    assert stdout == "" and "partitions FAILED: partition maintenance failed" in stderr
    assert "wrong-password" not in stderr
    [message] = [m for m in sink.received() if m["path"] == "/generic"]
    body = json.loads(message["body"])
    assert body["job"] == "partitions" and body["ok"] is False
    assert "wrong-password" not in message["body"] and secrets["db_password"] not in message["body"]


@pytest.mark.parametrize("command, arguments, expected", [
    ("psql", ["-XAtc", "SELECT 40 + 2"], r"^42$"),
    ("redis-cli", ["ping"], r"^PONG$"),
    ("manage", ["check"], r"System check identified no issues"),
])
def test_documented_shell_commands_work(container, command, arguments, expected):
    """The README's one-liners (docker exec -it NAME aio psql|redis-cli|manage ...), without a terminal."""
    readme = open("%s/README.md" % PROJECT_DIR, encoding="utf-8").read()
    assert "docker exec -it glitchtip-aio aio %s" % command in readme
    code, out = exec_in(container, ["/usr/local/bin/aio", command] + arguments)
    assert code == 0 and re.search(expected, out.strip(), re.M), out
