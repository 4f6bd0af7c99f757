"""A PostgreSQL-major upgrade by changing only glitchtip_image_base: bookworm (PostgreSQL 15) to trixie (17),
and then, on a fresh bookworm deployment, together with glitchtip_version (5.2 to 6.2.0).

Real containers, real rows: every table compared by content checksum, a user's login over HTTP, an event
stored and processed; a prober asks every 100 ms for a seeded event, so an empty GlitchTip answering (404)
fails the test. The tests run in file order and build on each other (one deployment, moved step by step).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sys
import urllib.error
import urllib.request
import uuid

import pytest

sys.path.insert(0, os.path.join(os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.abspath(
    os.path.join(__file__, "../../../.."))), "molecule", "default", "tests"))

from aio_testlib import generate_data, http, playbook_under_probe, psql, run_playbook  # noqa: E402
from aio_testlib import store_processed_event, table_checksums, upload_checksums, wait_healthy  # noqa: E402

testinfra_hosts = ["ansible://localhost"]

TRIXIE = "glitchtip-aio-test/glitchtip-standin:5.2"
BOOKWORM = "glitchtip-aio-test/glitchtip-standin:5.2-bookworm"
SIX = "glitchtip-aio-test/glitchtip-standin:6.2"
# The 6.2 stand-in's own schema change, which 5.2 lacks (molecule/resources/standin/variants/6.2).
SIX_MIGRATION = ("projects", "0002_standin_6_2_schema")
LABEL = "org.glitchtip-aio.glitchtip-version"
STATE = {}  # what the first test seeded, for the others


def said(result):
    """The play's output with line breaks and indentation folded (YAML results wrap long messages)."""
    return " ".join(result.stdout.split())


def cluster_major(settings):
    with open(os.path.join(settings["glitchtip_data_dir"], "postgres", "data", "PG_VERSION")) as handle:
        return handle.read().strip()


def base_url(settings):
    return "http://127.0.0.1:%s" % settings["glitchtip_container_web_host_port"]


def login(settings, email, password):
    """HTTP status of the web app's login (the stand-in answers like allauth's headless API: 200 or 400)."""
    request = urllib.request.Request(
        base_url(settings) + "/_allauth/browser/v1/auth/login",
        data=json.dumps({"email": email, "password": password}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deploy_under_probe(settings, *args, env=None):
    """deploy.yml with args while the seeded event is asked for every 100 ms: (completed process, probe
    log). Each entry is (seconds since start, status or None when the request failed). The restart
    policies the set-aside old container (<name>-pg15-old) was seen with go to STATE["aside_policies"]."""
    import docker

    url = "%s/api/0/events/%s/" % (base_url(settings), STATE["event"])
    aside = settings["glitchtip_container_name"] + "-pg15-old"
    policies = set()
    engine = docker.from_env()

    def watch_aside():
        try:
            policies.add(engine.api.inspect_container(aside)["HostConfig"]["RestartPolicy"]["Name"])
        except docker.errors.NotFound:
            pass

    result, seen = playbook_under_probe(url, "deploy.yml", "-v", *args, env=env, each=watch_aside)
    STATE["aside_policies"] = policies
    return result, seen


def assert_never_empty(seen):
    """Every answer was the seeded event: an empty (or half-restored) GlitchTip would answer 404."""
    answers = [status for _at, status in seen if status is not None]
    assert answers, "the prober never got an answer"
    wrong = [(at, status) for at, status in seen if status not in (None, 200)]
    assert not wrong, "answers other than the seeded event: %s" % wrong[:10]


def unavailable_seconds(seen):
    """The longest run of failed probes, in seconds."""
    longest, since = 0.0, None
    for at, status in seen:
        if status is None and since is None:
            since = at
        elif status is not None and since is not None:
            longest, since = max(longest, at - since), None
    return longest


def unchanged(client, settings):
    """The deployment as STATE recorded it: same container, running, same cluster and rows."""
    container = client.containers.get(settings["glitchtip_container_name"])
    assert container.id == STATE["container_id"]
    assert container.attrs["State"]["StartedAt"] == STATE["started_at"]
    assert cluster_major(settings) == "15"
    assert table_checksums(container) == STATE["tables"]
    assert not glob.glob(os.path.join(settings["glitchtip_data_dir"], "postgres", "data-pg*"))


def seed_the_rest(container, marker):
    """Rows in the tables generate_data leaves empty: groups, permissions, a session, the partitions."""
    for sql in (
            "INSERT INTO auth_group (name) VALUES ('g-%(m)s')",
            "INSERT INTO auth_group_permissions (group_id, permission_id) SELECT g.id, p.id FROM auth_group g, "
            "auth_permission p WHERE g.name = 'g-%(m)s' ORDER BY p.id LIMIT 3",
            "INSERT INTO users_user_groups (user_id, group_id) SELECT u.id, g.id FROM users_user u, auth_group g "
            "WHERE g.name = 'g-%(m)s'",
            "INSERT INTO users_user_user_permissions (user_id, permission_id) SELECT u.id, p.id FROM users_user u, "
            "auth_permission p ORDER BY p.id LIMIT 2",
            "INSERT INTO django_session (session_key, session_data, expire_date) "
            "VALUES ('s-%(m)s', 'ünï data', now() + interval '1 day')"):
        psql(container, sql % {"m": marker})
    partitions = psql(container, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                 "AND tablename LIKE 'events_event_p%%' ORDER BY 1").split()
    for table in partitions:
        psql(container, "INSERT INTO %s (event_id, received, payload, processed, project_id) SELECT gen_random_uuid(), "
                        "received, payload, processed, project_id FROM events_event ORDER BY id LIMIT 3" % table)


def test_the_bookworm_deployment_runs_postgresql_15_with_rows_everywhere(client, settings):
    container = client.containers.get(settings["glitchtip_container_name"])
    wait_healthy(container)
    assert cluster_major(settings) == "15"
    assert psql(container, "SHOW server_version").startswith("15.")
    marker = "pg15-%s" % uuid.uuid4().hex[:6]
    generate_data(container, marker)
    STATE["event"] = store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                                           "before the upgrade", timeout=60)
    seed_the_rest(container, marker)
    STATE["user"] = ("%s@example.com" % marker, "pw-%s" % marker)
    assert login(settings, *STATE["user"]) == 200  # before the checksums: a login may write a session row
    STATE.update(tables=table_checksums(container), uploads=upload_checksums(settings), container_id=container.id,
                 started_at=container.attrs["State"]["StartedAt"], image=container.attrs["Image"])
    empty = [table for table, checksum in STATE["tables"].items() if checksum.startswith("0:")]
    assert not empty, "tables without rows: %s" % empty


def test_check_mode_reports_the_upgrade_and_changes_nothing(client, settings):
    result = run_playbook("deploy.yml", "--check", "--diff", "-v", "-e", "glitchtip_image_base=" + TRIXIE)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "PostgreSQL 15 → 17: will upgrade by dump and restore" in said(result)
    # Check mode builds nothing: the major comes from the new image when an earlier run built it (a warm
    # machine), else from the base image's Debian release.
    assert re.search(r"image_major_from: (image %s:[0-9a-f]{16}|base image %s \(Debian trixie\))"
                     % (settings["glitchtip_image_name"], re.escape(TRIXIE)), said(result)), said(result)[-3000:]
    unchanged(client, settings)


def test_with_auto_upgrade_off_the_move_is_refused_and_nothing_changes(client, settings):
    result = run_playbook("deploy.yml", "-e", "glitchtip_image_base=" + TRIXIE,
                          "-e", "glitchtip_postgres_auto_upgrade=false")
    assert result.returncode != 0
    assert "PostgreSQL 15 → 17: refused: glitchtip_postgres_auto_upgrade is false" in said(result)
    unchanged(client, settings)


def test_a_restore_failing_half_way_leaves_the_old_version_serving_on_the_old_cluster(client, settings):
    backups = set(os.listdir(os.path.join(settings["glitchtip_data_dir"], "backups")))
    result, seen = deploy_under_probe(settings, "-e", "glitchtip_image_base=" + TRIXIE,
                                      env={"GLITCHTIP_AIO_TEST_ONLY_FAIL_RESTORE_AT": "swap"})
    assert result.returncode != 0
    assert "upgrade failed at" in said(result), result.stdout[-3000:]
    assert "failed on purpose (test only" in said(result)
    assert "rolled back" in said(result) and "untouched PostgreSQL 15 cluster" in said(result)
    assert_never_empty(seen)
    # Aside, a restart of the Docker engine must not start it beside the new container on the same data
    # directory (set aside as set_aside does); put back, it has the role's restart policy again.
    assert STATE["aside_policies"] == {"no"}, STATE["aside_policies"]
    container = client.containers.get(settings["glitchtip_container_name"])
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    # The old container itself (its image and settings), on the old cluster, with every row.
    assert container.id == STATE["container_id"]
    assert container.attrs["Image"] == STATE["image"]
    wait_healthy(container)
    assert cluster_major(settings) == "15"
    assert table_checksums(container) == STATE["tables"]
    assert login(settings, *STATE["user"]) == 200
    assert not os.path.exists(os.path.join(settings["glitchtip_data_dir"], "postgres", "aio-upgrade.json"))
    assert not glob.glob(os.path.join(settings["glitchtip_data_dir"], "postgres", "data-pg*"))
    assert len(set(os.listdir(os.path.join(settings["glitchtip_data_dir"], "backups"))) - backups) == 1
    STATE["started_at"] = container.attrs["State"]["StartedAt"]


def test_the_move_to_trixie_upgrades_postgresql_15_to_17_keeping_every_row(client, settings, capsys):
    result, seen = deploy_under_probe(settings, "-e", "glitchtip_image_base=" + TRIXIE)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "PostgreSQL 15 → 17: will upgrade by dump and restore" in said(result)
    # The versions are the servers' own (SHOW server_version, before in the backup, after through aio psql).
    assert re.search(r"PostgreSQL 15\.\d+ → 17\.\d+: upgraded by dump and restore", said(result)), said(result)[-3000:]
    assert_never_empty(seen)
    assert STATE["aside_policies"] == {"no"}, STATE["aside_policies"]
    container = client.containers.get(settings["glitchtip_container_name"])
    assert container.attrs["Image"] != STATE["image"]
    wait_healthy(container)
    assert cluster_major(settings) == "17"
    assert psql(container, "SHOW server_version").startswith("17.")
    assert table_checksums(container) == STATE["tables"]
    assert upload_checksums(settings) == STATE["uploads"]
    assert login(settings, *STATE["user"]) == 200
    store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                          "after the upgrade", timeout=60)
    # The way back stays: the old cluster, intact, beside the new one.
    old = glob.glob(os.path.join(settings["glitchtip_data_dir"], "postgres", "data-pg15-*"))
    assert len(old) == 1
    with open(os.path.join(old[0], "PG_VERSION")) as handle:
        assert handle.read().strip() == "15"
    assert not os.path.exists(os.path.join(settings["glitchtip_data_dir"], "postgres", "aio-upgrade.json"))
    assert [name for name in client.containers.list(all=True) if name.name.endswith("-pg15-old")] == []
    reported = re.search(r"upgraded by dump and restore, ([0-9.]+)s of downtime", said(result))
    assert reported, said(result)[-2000:]
    with capsys.disabled():
        print("\npgupgrade: PostgreSQL 15 -> 17 downtime %ss as the deploy reports it; longest unavailability "
              "under the 100 ms prober %.1fs (%d probes); deploy wall time %.0fs"
              % (reported.group(1), unavailable_seconds(seen), len(seen), seen[-1][0]))
    STATE.update(container_id=container.id, started_at=container.attrs["State"]["StartedAt"],
                 tables=table_checksums(container))


def test_the_reverse_move_is_refused_before_anything_changes(client, settings):
    result = run_playbook("deploy.yml", "-e", "glitchtip_image_base=" + BOOKWORM)
    assert result.returncode != 0
    assert "PostgreSQL 17 → 15: refused" in said(result), result.stdout[-3000:]
    container = client.containers.get(settings["glitchtip_container_name"])
    assert container.id == STATE["container_id"]
    assert container.attrs["State"]["StartedAt"] == STATE["started_at"]
    assert cluster_major(settings) == "17"
    assert table_checksums(container) == STATE["tables"]


def applied_migrations(container):
    return {tuple(row.split("|")) for row in psql(container, "SELECT app || '|' || name FROM django_migrations").split()}


def test_a_version_change_with_the_move_runs_the_new_versions_migrations_on_the_restored_data(client, settings,
                                                                                              capsys):
    """5.2 on bookworm (PostgreSQL 15) to 6.2.0 on the 6.2 stand-in (trixie, 17) in one deploy. The new
    cluster starts empty and the restore brings 5.2's tables and its django_migrations: 6.2's migrations
    must run on the restored data, before the app starts (not on the empty cluster, then thrown away)."""
    name = settings["glitchtip_container_name"]
    # A fresh 5.2 deployment on PostgreSQL 15: the one the tests above moved is on 17 now.
    for old in client.containers.list(all=True, filters={"name": name}):
        old.remove(force=True)
    shutil.rmtree(settings["glitchtip_data_dir"])
    result = run_playbook("deploy.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    container = client.containers.get(name)
    wait_healthy(container)
    assert cluster_major(settings) == "15" and container.labels[LABEL] == "5.2"
    marker = "six-%s" % uuid.uuid4().hex[:6]
    generate_data(container, marker)
    STATE["event"] = store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                                           "sent to 5.2 before the move", timeout=60)
    seed_the_rest(container, marker)
    user = ("%s@example.com" % marker, "pw-%s" % marker)
    assert login(settings, *user) == 200
    tables, migrations = table_checksums(container), applied_migrations(container)
    assert SIX_MIGRATION not in migrations

    result, seen = deploy_under_probe(settings, "-e", "glitchtip_version=6.2.0", "-e", "glitchtip_image_base=" + SIX)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "PostgreSQL 15 → 17: will upgrade by dump and restore" in said(result)
    assert re.search(r"PostgreSQL 15\.\d+ → 17\.\d+: upgraded by dump and restore", said(result)), said(result)[-3000:]
    assert_never_empty(seen)
    container = client.containers.get(name)
    assert container.labels[LABEL] == "6.2.0"
    wait_healthy(container)
    assert cluster_major(settings) == "17"
    # On the fresh cluster migrate only prepared role and database; the restore ran it on the restored data.
    with open(os.path.join(settings["glitchtip_data_dir"], "logs", "migrate.err.log")) as handle:
        assert "held: a fresh cluster waits for its restore (/data/postgres/aio-upgrade.json)" in handle.read()
    # 5.2's migrations as they were, plus 6.2's own, and its table; every other table as before.
    assert applied_migrations(container) >= migrations | {SIX_MIGRATION}
    after = table_checksums(container)
    assert "projects_projectstat" in after
    assert {table: after.get(table) for table in tables if table != "django_migrations"} == \
        {table: checksum for table, checksum in tables.items() if table != "django_migrations"}
    assert login(settings, *user) == 200
    assert http("%s/api/0/events/%s/" % (base_url(settings), STATE["event"]))[0] == 200
    store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                          "sent to 6.2 after the move", timeout=60)
    assert not os.path.exists(os.path.join(settings["glitchtip_data_dir"], "postgres", "aio-upgrade.json"))
    with capsys.disabled():
        print("\npgupgrade: 5.2 on PostgreSQL 15 -> 6.2.0 on 17 in one deploy: longest unavailability under the "
              "100 ms prober %.1fs (%d probes); deploy wall time %.0fs"
              % (unavailable_seconds(seen), len(seen), seen[-1][0]))


@pytest.fixture(scope="module")
def settings(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def client():
    import docker
    return docker.from_env()
