"""Backups that are verified before they count, restores that never lose the live database.

Real container, real rows: every table of the stand-in is compared by content
checksum and every upload by SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid

import pytest

from aio_testlib import generate_data, psql, run_playbook, table_checksums, upload_checksums, wait_healthy

testinfra_hosts = ["ansible://localhost"]


@pytest.fixture(scope="module")
def backups_dir(settings):
    return os.path.join(settings["glitchtip_data_dir"], "backups")


def aio_json(container, *args):
    result = container.exec_run(["/usr/local/bin/aio"] + list(args) + ["--json"], demux=True)
    stdout, stderr = result.output
    return result.exit_code, json.loads((stdout or b"{}").decode()), (stderr or b"").decode()


def live_state(container):
    return {"oid": psql(container, "SELECT oid FROM pg_database WHERE datname = 'glitchtip'"),
            "events": psql(container, "SELECT count(*) FROM events_event"),
            "orgs": psql(container, "SELECT count(*) FROM organizations_organization")}


def test_round_trip_restores_every_table_and_upload(container, settings, backups_dir):
    wait_healthy(container)
    generate_data(container, "before-%s" % uuid.uuid4().hex[:6])
    tables_before, uploads_before = table_checksums(container), upload_checksums(settings)
    assert uploads_before

    result = run_playbook("backup.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    name = sorted(n for n in os.listdir(backups_dir) if n.startswith("glitchtip-"))[-1]
    with open(os.path.join(backups_dir, name, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert set(manifest["files"]) >= {"database.dump", "uploads.tar.gz", "roles.sql"}
    # The server this image carries (17 on a trixie base, 15 on bookworm), as the server itself says.
    assert manifest["versions"]["postgres"] == psql(container, "SHOW server_version").split()[0]
    for entry, meta in manifest["files"].items():
        with open(os.path.join(backups_dir, name, entry), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == meta["sha256"]

    # Change and delete data, add and remove uploads.
    generate_data(container, "after-%s" % uuid.uuid4().hex[:6])
    psql(container, "DELETE FROM events_event WHERE id IN (SELECT id FROM events_event ORDER BY id LIMIT 5)")
    psql(container, "UPDATE organizations_organization SET name = name || ' changed'")
    first_upload = sorted(uploads_before)[0]
    os.unlink(os.path.join(settings["glitchtip_data_dir"], "uploads", first_upload))
    assert table_checksums(container) != tables_before

    result = run_playbook("restore.yml", "-e", "backup=%s" % name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert table_checksums(container) == tables_before
    assert upload_checksums(settings) == uploads_before
    assert "glitchtip_rollback" not in psql(container, "SELECT string_agg(datname, ',') FROM pg_database")
    wait_healthy(container, timeout=10)


def corrupt_half(path):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) // 2)


def corrupt_tail(path):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - 100)


def corrupt_bytes(path):
    with open(path, "r+b") as handle:
        handle.seek(os.path.getsize(path) * 2 // 3)
        handle.write(b"\xde\xad\xbe\xef")


def refresh_manifest(directory):
    """Make the manifest agree with corrupted files: only the full read can catch them now."""
    path = os.path.join(directory, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    for name in manifest["files"]:
        with open(os.path.join(directory, name), "rb") as handle:
            data = handle.read()
        manifest["files"][name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)


def wrong_checksum(directory):
    path = os.path.join(directory, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["files"]["uploads.tar.gz"]["sha256"] = "0" * 64
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)


CORRUPTIONS = {
    "cut to half": lambda d: corrupt_half(os.path.join(d, "database.dump")),
    "cut by its last 100 bytes": lambda d: corrupt_tail(os.path.join(d, "database.dump")),
    "4 bytes overwritten": lambda d: corrupt_bytes(os.path.join(d, "database.dump")),
    # Damage that happened before the manifest was written: only the full read catches it.
    "cut, manifest rewritten to match": lambda d: (corrupt_tail(os.path.join(d, "database.dump")), refresh_manifest(d)),
    "wrong manifest checksum": wrong_checksum,
    "missing file": lambda d: os.unlink(os.path.join(d, "uploads.tar.gz")),
    "missing manifest": lambda d: os.unlink(os.path.join(d, "manifest.json")),
}


@pytest.fixture(scope="module")
def good_backup(container, backups_dir):
    wait_healthy(container)
    code, report, err = aio_json(container, "backup")
    assert code == 0 and report["ok"], (report, err)
    return report["name"]


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_bad_backups_are_refused_before_the_live_database_is_touched(container, settings, backups_dir, good_backup,
                                                                    corruption):
    copy = "glitchtip-20000101T000000Z"
    target = os.path.join(backups_dir, copy)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(backups_dir, good_backup), target)
    CORRUPTIONS[corruption](target)
    before = live_state(container)
    # Every row of every table and every upload, not only the database's OID and two counts.
    tables_before, uploads_before = table_checksums(container), upload_checksums(settings)
    web_pid = container.exec_run(["sh", "-c", "pgrep -of gunicorn"]).output.decode()
    assert web_pid.strip(), "no gunicorn master to compare with"
    try:
        code, report, _err = aio_json(container, "restore", copy)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    assert code != 0 and report["ok"] is False
    assert report["reason"].startswith("refused, nothing was changed"), report["reason"]
    assert live_state(container) == before
    assert table_checksums(container) == tables_before
    assert upload_checksums(settings) == uploads_before
    assert container.exec_run(["sh", "-c", "pgrep -of gunicorn"]).output.decode() == web_pid


def test_a_restore_failing_half_way_leaves_the_live_database_and_services_as_they_were(container, backups_dir):
    wait_healthy(container)
    # An object owned by a role that will be gone at restore time: pg_restore stops on that error.
    psql(container, "CREATE ROLE aio_test_owner")
    psql(container, "CREATE TABLE aio_test_orphan (id int); ALTER TABLE aio_test_orphan OWNER TO aio_test_owner")
    code, report, err = aio_json(container, "backup")
    assert code == 0, (report, err)
    psql(container, "DROP TABLE aio_test_orphan; DROP ROLE aio_test_owner")
    before = live_state(container)
    code, report, _err = aio_json(container, "restore", report["name"])
    shutil.rmtree(os.path.join(backups_dir, report["backup"].rsplit("/", 1)[1]), ignore_errors=True)
    assert code != 0 and report["ok"] is False
    assert report["failed_step"] == "restore"
    assert "live database is as it was" in report["reason"]
    assert live_state(container) == before
    assert "restore_" not in psql(container, "SELECT string_agg(datname, ',') FROM pg_database")
    wait_healthy(container, timeout=60)


def test_a_client_connection_held_open_during_the_swap_is_handled(container, good_backup):
    wait_healthy(container)
    container.exec_run(["psql", "-h", "/run/postgresql", "-d", "glitchtip", "-c", "SELECT pg_sleep(600)"],
                       user="postgres", detach=True)
    deadline = time.monotonic() + 10
    while psql(container, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%'") == "0":
        assert time.monotonic() < deadline, "the held session never showed up"
        time.sleep(0.2)
    code, report, err = aio_json(container, "restore", good_backup)
    assert code == 0 and report["ok"], (report, err)
    assert psql(container, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(600)%'") == "0"


def test_kill_9_during_a_backup_leaves_no_file_under_a_final_name(container, backups_dir, good_backup):
    wait_healthy(container)
    before = sorted(n for n in os.listdir(backups_dir) if n.startswith("glitchtip-"))
    # A lock makes pg_dump wait, so the backup is caught half-way.
    container.exec_run(["psql", "-h", "/run/postgresql", "-d", "glitchtip", "-c",
                        "BEGIN; LOCK TABLE events_event IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(30)"],
                       user="postgres", detach=True)
    time.sleep(1)
    container.exec_run(["/usr/local/bin/aio", "backup"], detach=True)
    deadline = time.monotonic() + 15
    while not any(n.endswith(".partial") for n in os.listdir(backups_dir)):
        assert time.monotonic() < deadline, "the backup never started"
        time.sleep(0.1)
    container.exec_run(["pkill", "-9", "-f", "aio backup"])
    container.exec_run(["pkill", "-9", "-f", "pg_dump"])
    container.exec_run(["psql", "-h", "/run/postgresql", "-c",
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK%'"],
                       user="postgres")
    time.sleep(1)
    assert sorted(n for n in os.listdir(backups_dir) if n.startswith("glitchtip-")) == before
    # The next backup clears the leftover, and retention keeps the newest good one.
    code, report, err = aio_json(container, "backup", "--keep-count", "1", "--keep-days", "1")
    assert code == 0, (report, err)
    assert not any(n.endswith(".partial") for n in os.listdir(backups_dir))
    assert report["name"] in os.listdir(backups_dir)


def test_disk_full_during_a_backup_is_a_clear_error_with_nothing_left_behind(container, backups_dir):
    existing = {n: os.listdir(os.path.join(backups_dir, n)) for n in os.listdir(backups_dir)}
    # /dev/shm is a small tmpfs in every container: fill it, leaving a few KiB.
    container.exec_run(["sh", "-c", "mkdir -p /dev/shm/backups; dd if=/dev/zero of=/dev/shm/fill bs=1M count=200 "
                                    "2>/dev/null; truncate -s -16K /dev/shm/fill"])
    try:
        code, report, _err = aio_json(container, "backup", "--dir", "/dev/shm/backups")
        leftovers = container.exec_run(["ls", "-A", "/dev/shm/backups"]).output.decode().split()
    finally:
        container.exec_run(["rm", "-rf", "/dev/shm/fill", "/dev/shm/backups"])
    assert code != 0 and report["ok"] is False
    assert "No space left on device" in report["reason"], report["reason"]
    assert leftovers == []
    assert {n: os.listdir(os.path.join(backups_dir, n)) for n in os.listdir(backups_dir)} == existing


def test_backup_check_mode_writes_nothing(container, backups_dir):
    before = sorted(os.listdir(backups_dir))
    result = run_playbook("backup.yml", "--check")
    assert result.returncode == 0, result.stdout[-2000:]
    assert sorted(os.listdir(backups_dir)) == before
