"""What the deployed GlitchTip AIO container does, observed from the host and inside it."""

from __future__ import annotations

import json
import os
import socket
import uuid

import pytest

from aio_testlib import CONVERGE, exec_in, http, psql, run_playbook, store_processed_event, wait_healthy

testinfra_hosts = ["ansible://localhost"]



def supervisor_states(container):
    script = ("import json, sys; sys.path.insert(0, '/usr/local/lib/glitchtip-aio');"
              "from aio_runtime import supervisor_rpc;"
              "print(json.dumps({n: i['statename'] for n, i in "
              "supervisor_rpc.process_infos(supervisor_rpc.connect()).items()}))")
    code, out = exec_in(container, ["/usr/bin/python3", "-c", script])
    assert code == 0, out
    return json.loads(out)


def base_url(settings):
    return "http://127.0.0.1:%s" % settings["glitchtip_container_web_host_port"]


def test_every_program_is_running_as_supervisord_says(container):
    states = supervisor_states(container)
    assert states.pop("migrate") == "EXITED"
    assert states == {"postgres": "RUNNING", "redis": "RUNNING", "web": "RUNNING", "worker": "RUNNING",
                      "scheduler": "RUNNING", "watchdog": "RUNNING"}


def test_migration_finished_with_exit_zero(container):
    code, out = exec_in(container, ["/usr/local/bin/aio", "health", "--json", "--component", "supervisor"])
    report = json.loads(out)
    assert code == 0, out
    assert report["components"]["supervisor"]["details"]["programs"]["migrate"]["reason"] == "finished (exit 0)"


def test_health_endpoint_answers_through_the_published_port(settings):
    status, body = http(base_url(settings) + "/_health/")
    assert status == 200
    assert body.strip() == "ok"


def test_only_the_web_port_is_published(container, settings):
    ports = container.attrs["HostConfig"]["PortBindings"]
    assert set(ports) == {"8000/tcp"}
    assert ports["8000/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(settings["glitchtip_container_web_host_port"])}]


@pytest.mark.parametrize("port", [5432, 6379])
def test_postgres_and_redis_are_unreachable_from_the_host(container, port):
    address = container.attrs["NetworkSettings"]["IPAddress"]
    assert address, "container has no bridge address"
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=3).close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=3).close()


def test_scram_is_in_effect(container, secrets):
    assert psql(container, "SHOW password_encryption") == "scram-sha-256"
    assert psql(container, "SELECT rolpassword FROM pg_authid WHERE rolname = 'glitchtip'").startswith("SCRAM-SHA-256$")
    rules = psql(container, "SELECT type || ' ' || array_to_string(user_name, ',') || ' ' || auth_method "
                            "FROM pg_hba_file_rules ORDER BY line_number")
    assert rules.splitlines() == ["local postgres peer", "local all scram-sha-256", "host all scram-sha-256",
                                  "host all scram-sha-256"]
    wrong = container.exec_run(["/usr/local/bin/psql", "-h", "127.0.0.1", "-U", "glitchtip", "-d", "glitchtip",
                                "-c", "SELECT 1"], environment={"PGPASSWORD": "not-the-password"})
    assert wrong.exit_code != 0
    assert b"password authentication failed" in wrong.output
    right = container.exec_run(["/usr/local/bin/psql", "-h", "127.0.0.1", "-U", "glitchtip", "-d", "glitchtip",
                                "-XAtc", "SELECT current_user"], environment={"PGPASSWORD": secrets["db_password"]})
    assert right.exit_code == 0 and right.output.decode().strip() == "glitchtip"


def test_database_is_utf8(container):
    assert psql(container, "SELECT pg_encoding_to_char(encoding) || ' ' || datcollate FROM pg_database "
                           "WHERE datname = 'glitchtip'") == "UTF8 C.UTF-8"


def test_redis_never_evicts_and_wants_a_password(container, secrets):
    code, out = exec_in(container, ["redis-cli", "PING"])
    assert "NOAUTH" in out
    code, out = container.exec_run(["redis-cli", "CONFIG", "GET", "maxmemory-policy"],
                                   environment={"REDISCLI_AUTH": secrets["redis_password"]})
    assert out.decode().split() == ["maxmemory-policy", "noeviction"]


def test_secrets_file_is_root_only(host, settings):
    secrets_file = host.file(os.path.join(settings["glitchtip_data_dir"], "secrets.yml"))
    assert secrets_file.mode == 0o600
    assert secrets_file.user == "root"


def test_data_tree_owners_and_modes(host, settings):
    data = settings["glitchtip_data_dir"]
    expected = {"postgres": (5101, 0o700), "redis": (5102, 0o750), "uploads": (5000, 0o750),
                "backups": (0, 0o700), "logs": (0, 0o750)}
    for name, (uid, mode) in expected.items():
        directory = host.file(os.path.join(data, name))
        assert directory.is_directory, name
        assert (directory.uid, directory.mode) == (uid, mode), name


def test_no_secret_in_the_image_the_logs_or_the_build_context(client, container, settings, secrets):
    image = client.images.get(container.attrs["Image"])
    haystacks = {"image config": json.dumps(image.attrs),
                 "image history": json.dumps(client.api.history(image.id)),
                 "docker logs": container.logs().decode("utf-8", "replace")}
    code, out = exec_in(container, ["sh", "-c", "cat /etc/glitchtip-aio/aio.json /etc/supervisor/supervisord.conf "
                                                "/etc/supervisor/conf.d/*.conf"])
    haystacks["config files in the image"] = out
    for root in ("logs", "build"):
        for directory, _dirs, files in os.walk(os.path.join(settings["glitchtip_data_dir"], root)):
            for name in files:
                with open(os.path.join(directory, name), "rb") as handle:
                    haystacks[os.path.join(directory, name)] = handle.read().decode("utf-8", "replace")
    assert len(haystacks) > 10
    for where, text in haystacks.items():
        for name, value in secrets.items():
            assert value not in text, "%s found in %s" % (name, where)


def test_hostile_program_environment_reaches_the_worker_byte_for_byte(container):
    code, pid = exec_in(container, ["sh", "-c", "pgrep -of 'celery -A glitchtip worker'"])
    assert code == 0, pid
    # Reading another user's environ needs CAP_SYS_PTRACE, which root lacks in a container.
    code, environ = exec_in(container, ["cat", "/proc/%s/environ" % pid.strip()], user="app")
    assert code == 0, environ
    values = dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)
    assert values["AIO_TEST_HOSTILE"] == "q\"uote;semi#hash $dollar %percent ünï"
    # The worker gets connection URLs, never our private password variables.
    assert "AIO_DB_PASSWORD" not in values and values["DATABASE_URL"].startswith("postgres://glitchtip:")


def store_event(container, settings):
    """An event through the published port; returns its id once the worker processed it."""
    return store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings), "hi", 30)


def test_worker_processes_events_through_redis(container, settings):
    event_id = store_event(container, settings)
    assert psql(container, "SELECT processed FROM events_event WHERE event_id = '%s'" % uuid.UUID(event_id)) == "t"


def test_rows_survive_a_docker_restart_and_postgres_stops_cleanly(container, settings):
    event_id = store_event(container, settings)
    rows_before = psql(container, "SELECT count(*) FROM events_event")
    container.restart()
    wait_healthy(container)
    assert psql(container, "SELECT count(*) FROM events_event") == rows_before
    assert psql(container, "SELECT processed FROM events_event WHERE event_id = '%s'" % uuid.UUID(event_id)) == "t"
    with open(os.path.join(settings["glitchtip_data_dir"], "logs", "postgres.err.log"), encoding="utf-8") as handle:
        log = handle.read()
    assert "database system is shut down" in log
    assert "was interrupted" not in log and "automatic recovery" not in log


def test_stop_timeout_covers_every_stop_window(container):
    code, out = exec_in(container, ["cat", "/etc/glitchtip-aio/aio.json"])
    programs = json.loads(out)["programs"]
    assert container.attrs["Config"]["StopTimeout"] > sum(p["stopwaitsecs"] for p in programs.values())


def test_check_diff_on_a_repeat_run_changes_nothing_and_shows_no_secret(container, secrets):
    container.reload()
    started = container.attrs["State"]["StartedAt"]
    # side_effect.yml deploys another retention than the inventory's: check against what runs now.
    env = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    result = run_playbook(CONVERGE, "--check", "--diff", "-e",
                          "glitchtip_max_event_life_days=%s" % env["GLITCHTIP_MAX_EVENT_LIFE_DAYS"])
    assert result.returncode == 0, result.stdout[-3000:]
    recap = [line for line in result.stdout.splitlines() if line.startswith("localhost")][-1]
    assert "changed=0" in recap and "failed=0" in recap, recap
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started
    for value in secrets.values():
        assert value not in result.stdout + result.stderr


@pytest.mark.parametrize("variable, value, expected", [
    ("glitchtip_web_port", "70000", "expected a port number 1-65535"),
    ("glitchtip_domain", "glitchtip.example.com", "expected a URL with http:// or https://"),
    ("glitchtip_max_event_life_days", "0", "greater than 0"),
    ("glitchtip_version", "4.0", "glitchtip_version"),
    ("glitchtip_image_base", "evil; rm -rf /", "expected a Docker image reference"),
])
def test_bad_variables_fail_before_anything_changes(container, settings, variable, value, expected):
    container.reload()
    started = container.attrs["State"]["StartedAt"]
    secrets_mtime = os.stat(os.path.join(settings["glitchtip_data_dir"], "secrets.yml")).st_mtime
    result = run_playbook(CONVERGE, "-e", "%s=%s" % (variable, value))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert variable in output and expected in output, output[-2000:]
    assert "changed=0" in [line for line in result.stdout.splitlines() if line.startswith("localhost")][-1]
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started
    assert os.stat(os.path.join(settings["glitchtip_data_dir"], "secrets.yml")).st_mtime == secrets_mtime
