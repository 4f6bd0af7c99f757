"""Backup and restore against the external PostgreSQL, for a deployment of several hosts, through
an image without embedded services (its PostgreSQL client alone).

One backup per deployment (on the beat host, not one per host); a restore swaps the external
database while the other hosts' containers are stopped (nothing writes to the database being
replaced), then brings every host back healthy.
"""

from __future__ import annotations

import json
import os
import uuid

from aio_testlib import exec_in, http, recap, run_playbook, wait_healthy
from mh_testlib import HOSTS, WEB_HOSTS, app_containers, pg, web_url


def client_major_of(container):
    """The major of the container's pg_dump, from the directory postgresql-client installs it in."""
    code, out = exec_in(container, ["sh", "-c", "ls -d /usr/lib/postgresql/*/bin/pg_dump"])
    assert code == 0, out
    [path] = out.split()
    return path.split("/")[4]


def backups(hostvars, host):
    root = os.path.join(hostvars[host]["glitchtip_data_dir"], "backups")
    return sorted(name for name in os.listdir(root) if name.startswith("glitchtip-")) if os.path.isdir(root) else []


def add_marker(client):
    slug = "mh-%s" % uuid.uuid4().hex[:12]
    pg(client, "INSERT INTO organizations_organization (name, slug, created) VALUES ('%s', '%s', now())" % (slug, slug))
    return slug


def has_marker(client, slug):
    return pg(client, "SELECT count(*) FROM organizations_organization WHERE slug = '%s'" % slug) == "1"


def test_backup_once_on_the_beat_host_and_restore_swaps_the_external_database(client, hostvars):
    before = {host: backups(hostvars, host) for host in HOSTS}
    kept = add_marker(client)

    result = run_playbook("backup.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    new = {host: sorted(set(backups(hostvars, host)) - set(before[host])) for host in HOSTS}
    assert new["web1"] == [] and new["web2"] == [], new
    [name] = new["worker1"]
    directory = os.path.join(hostvars["worker1"]["glitchtip_data_dir"], "backups", name)
    with open(os.path.join(directory, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    # The dump in pg_dump's directory format, each of its files checksummed.
    assert {"database/toc.dat", "roles.sql", "uploads.tar.gz"} <= set(manifest["files"])
    with open(os.path.join(directory, "roles.sql"), encoding="utf-8") as handle:
        assert "managed by its provider" in handle.read()  # no superuser on a managed server
    # Dumped by the image's client (it has no server of its own) from the external server: two majors,
    # each recorded; the compression is the client's choice.
    client_major = client_major_of(app_containers(client, hostvars)["worker1"])
    assert manifest["versions"]["postgres"].startswith("15.") and manifest["versions"]["pg_dump"] == client_major
    assert manifest["compression"] == ("zstd:1" if int(client_major) >= 16 else "gzip:1"), manifest

    lost = add_marker(client)  # written after the backup: the restore must take it away
    oid = pg(client, "SELECT oid FROM pg_database WHERE datname = 'glitchtip'")
    started = {host: c.attrs["State"]["StartedAt"] for host, c in app_containers(client, hostvars).items()}

    result = run_playbook("restore.yml", "-e", "backup=%s" % name)
    assert result.returncode == 0, result.stdout[-3000:]
    for host in HOSTS:
        assert recap(result, host)["failed"] == 0

    assert has_marker(client, kept) and not has_marker(client, lost)
    # A swap, not a load into the live database: the database is a new one under the old name.
    assert pg(client, "SELECT oid FROM pg_database WHERE datname = 'glitchtip'") != oid
    assert pg(client, "SELECT count(*) FROM pg_database WHERE datname LIKE 'glitchtip\\_%'") == "0"

    containers = app_containers(client, hostvars)
    for host in WEB_HOSTS:
        # Stopped during the swap and started again.
        assert containers[host].attrs["State"]["StartedAt"] != started[host]
    for host in HOSTS:
        wait_healthy(containers[host])
    for host in WEB_HOSTS:
        assert http(web_url(hostvars, host, "/_health/"))[0] == 200
