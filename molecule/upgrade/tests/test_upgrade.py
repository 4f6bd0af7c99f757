"""Changing glitchtip_version on one all-in-one host, on the stand-ins, in order (each test starts from
where the one before left): the 5.2 deployment with rows in every table; a release whose migration fails
half-way (the 6.2-broken test fixture) rolled back to the very container that ran before, its database
restored; the upgrade to the 6.2 stand-in keeping every old row; a downgrade refused without changing
anything; and a downgrade with its backup named going back to 5.2 on that backup's data."""

from __future__ import annotations

import json
import os

import pytest

from aio_testlib import (LIVE_TABLES, generate_data, http, psql, run_playbook, store_processed_event, table_checksums,
                         upload_checksums, wait_healthy)


testinfra_hosts = ["ansible://localhost"]

BROKEN = ["-e", "glitchtip_version=6.2.1", "-e", "glitchtip_image_base=glitchtip-aio-test/glitchtip-standin:6.2-broken"]
UPGRADE = ["-e", "glitchtip_version=6.2.0", "-e", "glitchtip_image_base=glitchtip-aio-test/glitchtip-standin:6.2"]
DOWNGRADE = ["-e", "glitchtip_version=5.2", "-e", "glitchtip_image_base=glitchtip-aio-test/glitchtip-standin:5.2"]
LABEL = "org.glitchtip-aio.glitchtip-version"

STATE = {}  # what one test leaves for the next


def current(client, settings):
    return client.containers.get(settings["glitchtip_container_name"])


def base_url(settings):
    return "http://127.0.0.1:%s" % settings["glitchtip_container_web_host_port"]


def backups(settings):
    root = os.path.join(settings["glitchtip_data_dir"], "backups")
    return sorted(name for name in os.listdir(root) if name.startswith("glitchtip-")) if os.path.isdir(root) else []


def tables(container):
    return set(psql(container, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").split()) - LIVE_TABLES


def old_rows_checksums(container, before_max):
    """{table: checksum} of the rows each table had (id up to its max then; all rows without an id column)."""
    found = {}
    for table, max_id in before_max.items():
        where = "WHERE id <= %s" % max_id if max_id is not None else ""
        found[table] = psql(container, "SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') "
                                       "FROM %s t %s" % (table, where))
    return found


def max_ids(container):
    found = {}
    for table in sorted(tables(container)):
        has_id = psql(container, "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
                                 "AND table_name = '%s' AND column_name = 'id'" % table) == "1"
        found[table] = (psql(container, "SELECT coalesce(max(id), 0) FROM %s" % table) if has_id else None)
    return found


def fill_the_rest(container, marker):
    """Rows in the tables generate_data leaves empty: a group with a permission, the user in it and given
    one, a session, and a row in each event partition table."""
    script = (
        "from django.contrib.auth.models import Group, Permission; from users.models import User;"
        "from django.contrib.sessions.backends.db import SessionStore;"
        "u = User.objects.get(email='%(m)s@example.com'); p = Permission.objects.order_by('id').first();"
        "g = Group.objects.create(name='%(m)s'); g.permissions.add(p); u.groups.add(g); u.user_permissions.add(p);"
        "s = SessionStore(); s['m'] = '%(m)s'; s.create()"
    ) % {"m": marker}
    result = container.exec_run(["/usr/local/bin/aio", "manage", "shell", "-c", script])
    assert result.exit_code == 0, result.output.decode()
    for table in sorted(tables(container)):
        if table.startswith("events_event_p"):
            psql(container, "INSERT INTO %s SELECT * FROM events_event ORDER BY id LIMIT 1" % table)


def event_processed(settings, event_id):
    status, body = http("%s/api/0/events/%s/" % (base_url(settings), event_id))
    return status == 200 and json.loads(body)["processed"]


def test_the_5_2_deployment_has_rows_in_every_table(client, settings):
    container = current(client, settings)
    assert container.labels[LABEL] == "5.2"
    wait_healthy(container)
    generate_data(container, "before")
    fill_the_rest(container, "before")
    STATE["event_5_2"] = store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                                               "sent to 5.2", timeout=90)
    empty = [t for t in sorted(tables(container)) if psql(container, "SELECT count(*) FROM %s" % t) == "0"]
    assert empty == [], "tables without rows: %s" % empty
    STATE.update(checksums=table_checksums(container), uploads=upload_checksums(settings), id=container.id,
                 started=container.attrs["State"]["StartedAt"])


def test_a_release_whose_migration_fails_half_way_is_rolled_back(client, settings):
    before_backups = backups(settings)
    result = run_playbook("deploy.yml", *BROKEN)
    assert result.returncode != 0, result.stdout[-3000:]
    out = " ".join(result.stdout.split())
    # What failed, that it rolled back, and where the backup is.
    assert "failed at the migrations" in out, out[-3000:]
    assert "ROLLED BACK: container glitchtip-aio-vup runs GlitchTip 5.2 again" in out, out[-3000:]
    (backup,) = sorted(set(backups(settings)) - set(before_backups))
    path = os.path.join(settings["glitchtip_data_dir"], "backups", backup)
    assert path in out and os.path.isfile(os.path.join(path, "manifest.json"))
    # The very container that ran before, serving 5.2 again.
    container = current(client, settings)
    assert container.id == STATE["id"] and container.labels[LABEL] == "5.2"
    assert container.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert [c.name for c in client.containers.list(all=True) if c.name.startswith("glitchtip-aio-vup-")] == []
    report = wait_healthy(container)
    assert report["components"]["worker"]["status"] == "ok"
    assert http(base_url(settings) + "/_health/")[0] == 200
    # 0 rows lost, and nothing the broken migration wrote is left.
    assert "events_brokenupgrade" not in tables(container)
    assert psql(container, "SELECT count(*) FROM events_maintenancerun WHERE kind = 'broken-upgrade'") == "0"
    assert table_checksums(container) == STATE["checksums"]
    assert upload_checksums(settings) == STATE["uploads"]
    assert event_processed(settings, STATE["event_5_2"])
    assert store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                                 "sent to 5.2 after the rollback", timeout=90)


def test_the_upgrade_in_check_mode_says_so_and_changes_nothing(client, settings):
    container = current(client, settings)
    before = (container.id, container.attrs["State"]["StartedAt"], backups(settings))
    result = run_playbook("deploy.yml", "--check", *UPGRADE)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Back up before the GlitchTip version changes" in result.stdout
    container = current(client, settings)
    assert (container.id, container.attrs["State"]["StartedAt"], backups(settings)) == before
    assert container.labels[LABEL] == "5.2" and container.status == "running"
    assert [c.name for c in client.containers.list(all=True) if c.name.startswith("glitchtip-aio-vup-")] == []


def test_the_upgrade_to_6_2_keeps_every_table_and_the_worker_goes_on(client, settings):
    container = current(client, settings)
    generate_data(container, "before-upgrade")
    STATE["event_before_upgrade"] = store_processed_event(lambda sql: psql(container, sql), base_url(settings),
                                                          base_url(settings), "sent to 5.2 before the upgrade",
                                                          timeout=90)
    before_max, before_tables = max_ids(container), tables(container)
    before = old_rows_checksums(container, before_max)
    STATE["checksums_pre_upgrade"] = table_checksums(container)
    STATE["uploads_pre_upgrade"] = upload_checksums(settings)
    before_backups = backups(settings)
    result = run_playbook("deploy.yml", *UPGRADE)
    assert result.returncode == 0, result.stdout[-3000:]
    (STATE["pre_upgrade_backup"],) = sorted(set(backups(settings)) - set(before_backups))
    container = current(client, settings)
    assert container.labels[LABEL] == "6.2.0"
    assert [c.name for c in client.containers.list(all=True) if c.name.startswith("glitchtip-aio-vup-")] == []
    wait_healthy(container)
    # Every old table is there with every old row unchanged (the app appends a maintenance run per start).
    assert tables(container) >= before_tables
    assert old_rows_checksums(container, before_max) == before
    assert upload_checksums(settings) == STATE["uploads_pre_upgrade"]
    # Events sent before are there and processed; one sent now is processed by the 6.x worker.
    for event_id in (STATE["event_5_2"], STATE["event_before_upgrade"]):
        assert event_processed(settings, event_id)
    assert store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                                 "sent to 6.2 after the upgrade", timeout=90)
    STATE.update(id=container.id, started=container.attrs["State"]["StartedAt"])


@pytest.mark.parametrize("check", [True, False], ids=["check-mode", "real"])
def test_a_downgrade_is_refused_and_changes_nothing(client, settings, check):
    before_backups = backups(settings)
    result = run_playbook("deploy.yml", *(DOWNGRADE + (["--check"] if check else [])))
    assert result.returncode != 0
    out = " ".join(result.stdout.split())
    assert "glitchtip_version 5.2 is older than 6.2.0" in out and "refused, nothing was changed" in out, out[-3000:]
    assert "glitchtip_downgrade_backup" in out
    container = current(client, settings)
    assert (container.id, container.attrs["State"]["StartedAt"]) == (STATE["id"], STATE["started"])
    assert container.labels[LABEL] == "6.2.0" and container.status == "running"
    assert backups(settings) == before_backups


def test_a_downgrade_with_its_backup_named_goes_back_to_that_data(client, settings):
    result = run_playbook("deploy.yml", *(DOWNGRADE + ["-e", "glitchtip_downgrade_backup=%s" % STATE["pre_upgrade_backup"]]))
    assert result.returncode == 0, result.stdout[-3000:]
    container = current(client, settings)
    assert container.labels[LABEL] == "5.2"
    wait_healthy(container)
    assert table_checksums(container) == STATE["checksums_pre_upgrade"]
    assert upload_checksums(settings) == STATE["uploads_pre_upgrade"]
    assert store_processed_event(lambda sql: psql(container, sql), base_url(settings), base_url(settings),
                                 "sent to 5.2 after the downgrade", timeout=90)
