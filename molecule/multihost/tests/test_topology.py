"""What runs where once the three hosts are deployed: roles from the inventory groups, the
services outside every container, one event crossing web1 → Redis → worker1 → web2."""

from __future__ import annotations

import json
import uuid

import pytest

from aio_testlib import exec_in, http, store_processed_event, wait_healthy
from mh_testlib import HOSTS, WEB_HOSTS, env_of, pg, started_at, web_url

# Program names of the all-in-one image that must not run on a host without that role.
EMBEDDED = {"postgres", "redis"}
# A python one-liner run in a container: every process's argv (ps may be missing).
PROCESSES = ("import json, os; print(json.dumps([open('/proc/%s/cmdline' % p, 'rb').read().decode('utf-8', 'replace')"
             ".split(chr(0)) for p in os.listdir('/proc') if p.isdigit() and os.path.exists('/proc/%s/cmdline' % p)]))")


def programs(container):
    """{program: supervisord state} as the container's own health report shows it."""
    report = wait_healthy(container)
    return {name: info["state"] for name, info in report["components"]["supervisor"]["details"]["programs"].items()}


def processes(container):
    code, out = exec_in(container, ["python3", "-c", PROCESSES])
    assert code == 0, out
    return [argv for argv in json.loads(out) if argv and argv[0]]


def is_celery(argv):
    return "celery" in argv


def runs_beat(argv):
    return is_celery(argv) and ("beat" in argv or "--beat" in argv or "-B" in argv)


def is_binary(argv, name):
    return any(part.rsplit("/", 1)[-1].startswith(name) for part in argv[:1])


@pytest.mark.parametrize("host", WEB_HOSTS)
def test_web_hosts_run_web_and_scheduler_only(containers, host):
    states = programs(containers[host])
    assert states.get("web") == "RUNNING" and states.get("scheduler") == "RUNNING", states
    # Absent, not merely stopped: a web host has no worker, beat, database, cache or migration.
    assert not {"worker", "beat", "migrate"} & set(states), states
    procs = processes(containers[host])
    assert not [argv for argv in procs if is_celery(argv)], "celery runs on %s: %s" % (host, procs)


def test_worker_host_runs_worker_with_beat_and_scheduler(containers):
    states = programs(containers["worker1"])
    assert states.get("worker") == "RUNNING" and states.get("scheduler") == "RUNNING", states
    assert not {"web", "migrate"} & set(states), states
    procs = processes(containers["worker1"])
    assert [argv for argv in procs if is_celery(argv)], procs
    # worker1 is the single glitchtip_beat host: the periodic tasks are sent from here.
    assert [argv for argv in procs if runs_beat(argv)], "no celery beat on worker1: %s" % procs
    assert not [argv for argv in procs if "gunicorn" in " ".join(argv)], procs


@pytest.mark.parametrize("host", HOSTS)
def test_no_container_runs_postgres_or_redis(containers, host):
    states = programs(containers[host])
    assert not EMBEDDED & set(states), states
    procs = processes(containers[host])
    found = [argv for argv in procs if is_binary(argv, "postgres") or is_binary(argv, "redis-server")]
    assert not found, "%s runs %s" % (host, found)


# The client tools the runtime and the operator use, as the image's PATH finds them.
CLIENT_TOOLS = ("psql", "pg_dump", "pg_restore", "pg_isready", "pg_dumpall", "redis-cli")
IMAGE_CONTENTS = ("import glob, json, os, shutil; print(json.dumps({"
                  "'servers': glob.glob('/usr/lib/postgresql/*/bin/postgres') + glob.glob('/usr/lib/postgresql/*/bin/initdb')"
                  " + [p for p in ('redis-server', 'postgres') if shutil.which(p)] + glob.glob('/usr/bin/redis-server'),"
                  " 'clients': {t: os.path.realpath(shutil.which(t) or '/missing/' + t) for t in %r}}))" % (CLIENT_TOOLS,))


@pytest.mark.parametrize("host", HOSTS)
def test_the_image_has_the_clients_but_no_database_or_cache_server(containers, host):
    """glitchtip_image_embedded_services: false: postgresql-client and redis-tools, no servers."""
    container = containers[host]
    code, out = exec_in(container, ["sh", "-c", "test ! -e /usr/lib/postgresql/*/bin/postgres"])
    assert code == 0, out
    code, out = exec_in(container, ["python3", "-c", IMAGE_CONTENTS])
    assert code == 0, out
    contents = json.loads(out)
    assert contents["servers"] == [], contents
    for tool, real in contents["clients"].items():
        assert exec_in(container, ["test", "-x", real])[0] == 0, "%s -> %s on %s" % (tool, real, host)
    # The PostgreSQL tools are the client package's real binaries, not Debian's Perl wrappers.
    assert all(contents["clients"][tool].startswith("/usr/lib/postgresql/") for tool in CLIENT_TOOLS[:5]), contents


def test_aio_psql_and_redis_cli_reach_the_external_services(containers):
    code, out = exec_in(containers["worker1"], ["/usr/local/bin/aio", "psql", "-XAtc", "SELECT current_user"])
    assert (code, out.strip()) == (0, "glitchtip"), out
    code, out = exec_in(containers["web1"], ["/usr/local/bin/aio", "redis-cli", "PING"])
    assert (code, out.strip()) == (0, "PONG"), out


def test_only_the_beat_host_gets_backup_and_partition_schedules(containers, hostvars):
    for host in HOSTS:
        env = env_of(containers[host])
        schedules = {name: env.get(name, "") for name in ("AIO_BACKUP_SCHEDULE", "AIO_PARTITION_SCHEDULE")}
        if host == "worker1":
            assert all(schedules.values()), schedules
        else:
            # One backup per deployment, not one per host.
            assert not any(schedules.values()), "%s: %s" % (host, schedules)


@pytest.mark.parametrize("host", WEB_HOSTS)
def test_health_endpoint_answers_on_each_web(hostvars, host):
    status, body = http(web_url(hostvars, host, "/_health/"))
    assert (status, body.strip()) == (200, "ok")


def test_migrations_ran_once_before_the_containers_started(client, containers):
    assert int(pg(client, "SELECT count(*) FROM django_migrations WHERE app = 'events'")) > 0
    # Concurrent migrate runs on several hosts would record a migration twice.
    assert pg(client, "SELECT count(*) - count(DISTINCT (app, name)) FROM django_migrations") == "0"
    last_applied = pg(client, "SELECT extract(epoch FROM max(applied)) FROM django_migrations")
    for host, container in containers.items():
        assert float(last_applied) < started_at(container), "%s started before the last migration" % host


def test_event_stored_through_web1_is_processed_by_the_worker_and_visible_through_web2(client, hostvars):
    event_id = store_processed_event(lambda sql: pg(client, sql), web_url(hostvars, "web1", ""),
                                     web_url(hostvars, "web2", ""), "across hosts", 60)
    # Only worker1 runs celery (test above), so processed means it went web1 → Redis → worker1.
    assert pg(client, "SELECT processed FROM events_event WHERE event_id = '%s'" % uuid.UUID(event_id)) == "t"


def test_no_one_off_container_is_left_behind(client, containers, hostvars):
    """The preflight and migrate containers of the deploy are removed once they answered."""
    image = hostvars["web1"]["glitchtip_image_name"]
    # Config.Image is the reference the container was created from (the image may be gone since).
    made = {c.name for c in client.containers.list(all=True) if c.attrs["Config"]["Image"].split(":")[0] == image}
    assert made == {c.name for c in containers.values()}, made
