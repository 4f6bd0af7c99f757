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


def test_round_trip_restores_every_table_and_upload(container, settings, backups_dir, tmp_path):
    wait_healthy(container)
    generate_data(container, "before-%s" % uuid.uuid4().hex[:6])
    tables_before, uploads_before = table_checksums(container), upload_checksums(settings)
    assert uploads_before

    fetched = tmp_path / "fetched"
    result = run_playbook("backup.yml", "-e", "backup_fetch=true", "-e", "backup_fetch_dir=%s" % fetched)
    assert result.returncode == 0, result.stdout[-3000:]
    name = sorted(n for n in os.listdir(backups_dir) if n.startswith("glitchtip-"))[-1]
    with open(os.path.join(backups_dir, name, "manifest.json"), encoding="utf-8") as handle:
        manifest = json.load(handle)
    # The controller's copy: every file the manifest lists, database/<file> under database/, byte for byte.
    for entry, meta in manifest["files"].items():
        with open(os.path.join(fetched, "localhost", name, entry), "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == meta["sha256"], entry
    assert set(manifest["files"]) >= {"database/toc.dat", "uploads.tar.gz", "roles.sql"}
    # pg_dump's directory format, each table's data a file of its own, compressed by the fastest level of
    # what that pg_dump knows; every file of database/ is in the manifest.
    suffix = ".dat.zst" if int(manifest["versions"]["pg_dump"]) >= 16 else ".dat.gz"
    assert manifest["compression"] == ("zstd:1" if suffix == ".dat.zst" else "gzip:1")
    data = [entry for entry in manifest["files"] if entry.startswith("database/") and entry != "database/toc.dat"]
    assert len(data) >= 10 and all(entry.endswith(suffix) for entry in data), data
    assert sorted("database/" + n for n in os.listdir(os.path.join(backups_dir, name, "database"))) == sorted(
        data + ["database/toc.dat"])
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


def edit_manifest(directory, change):
    path = os.path.join(directory, "manifest.json")
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    change(manifest)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)


def refresh_manifest(directory):
    """Make the manifest agree with the files as they are now: only the full read can catch damage then."""
    def refresh(manifest):
        manifest["files"] = {}
        for name in sorted(os.listdir(directory)):
            members = ["database/" + n for n in sorted(os.listdir(os.path.join(directory, name)))] \
                if name == "database" else [] if name == "manifest.json" else [name]
            for member in members:
                with open(os.path.join(directory, member), "rb") as handle:
                    data = handle.read()
                manifest["files"][member] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    edit_manifest(directory, refresh)


def table_data_file(directory):
    """database/<file> of the biggest table's data (.dat.zst from pg_dump 16 on, .dat.gz from 15)."""
    names = [n for n in os.listdir(os.path.join(directory, "database")) if ".dat." in n]
    return "database/" + max(names, key=lambda n: os.path.getsize(os.path.join(directory, "database", n)))


def older_format(container, directory):
    """The backup as a backup of before the directory format: database.dump (pg_dump -Fc, written in the
    container by its own pg_dump as the postgres role) in place of database/, the manifest to match."""
    shutil.rmtree(os.path.join(directory, "database"))
    name = os.path.basename(directory)
    result = container.exec_run(["pg_dump", "-Fc", "-U", "postgres", "-h", "/run/postgresql", "-d", "glitchtip",
                                 "-f", "/data/backups/%s/database.dump" % name])
    assert result.exit_code == 0, result.output.decode()
    refresh_manifest(directory)
    edit_manifest(directory, lambda manifest: manifest.update(format=1))


def cut_table_data(directory):
    entry = table_data_file(directory)
    corrupt_tail(os.path.join(directory, entry))
    refresh_manifest(directory)
    return entry  # the refusal names the file


def cut_toc(directory):
    corrupt_tail(os.path.join(directory, "database", "toc.dat"))
    refresh_manifest(directory)


def cut_older_dump(container, directory):
    older_format(container, directory)
    corrupt_tail(os.path.join(directory, "database.dump"))
    refresh_manifest(directory)
    return "database.dump"


# Each damages a copy of a good backup (container, directory); returns what the refusal must name, if anything.
CORRUPTIONS = {
    "table data cut to half": lambda c, d: corrupt_half(os.path.join(d, table_data_file(d))),
    "table data cut by its last 100 bytes": lambda c, d: corrupt_tail(os.path.join(d, table_data_file(d))),
    "4 bytes of table data overwritten": lambda c, d: corrupt_bytes(os.path.join(d, table_data_file(d))),
    # Damage that happened before the manifest was written: only the full read catches it. pg_restore's
    # read passes a .dat.zst cut short (the table would load without its last rows): the stream check names it.
    "table data cut, manifest rewritten to match": lambda c, d: cut_table_data(d),
    "table of contents cut, manifest rewritten to match": lambda c, d: cut_toc(d),
    "older format (database.dump) cut, manifest rewritten to match": cut_older_dump,
    "a table data file not in the manifest": lambda c, d: edit_manifest(
        d, lambda m: m["files"].pop(table_data_file(d))),
    "wrong manifest checksum": lambda c, d: edit_manifest(
        d, lambda m: m["files"]["uploads.tar.gz"].update(sha256="0" * 64)),
    "missing file": lambda c, d: os.unlink(os.path.join(d, "uploads.tar.gz")),
    "missing manifest": lambda c, d: os.unlink(os.path.join(d, "manifest.json")),
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
    named = CORRUPTIONS[corruption](container, target)
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
    assert named is None or named in report["reason"], report["reason"]
    assert live_state(container) == before
    assert table_checksums(container) == tables_before
    assert upload_checksums(settings) == uploads_before
    assert container.exec_run(["sh", "-c", "pgrep -of gunicorn"]).output.decode() == web_pid


def test_an_older_backup_with_a_custom_format_dump_still_restores(container, backups_dir, good_backup):
    wait_healthy(container)
    copy = "glitchtip-20000101T000001Z"
    target = os.path.join(backups_dir, copy)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(os.path.join(backups_dir, good_backup), target)
    try:
        tables = table_checksums(container)  # what database.dump holds: written now, from the live database
        older_format(container, target)
        with open(os.path.join(target, "manifest.json"), encoding="utf-8") as handle:
            assert "database.dump" in json.load(handle)["files"]
        psql(container, "UPDATE organizations_organization SET name = name || ' changed after the dump'")
        psql(container, "DELETE FROM events_event WHERE id IN (SELECT id FROM events_event ORDER BY id LIMIT 3)")
        assert table_checksums(container) != tables
        code, report, err = aio_json(container, "restore", copy)
    finally:
        shutil.rmtree(target, ignore_errors=True)
    assert code == 0 and report["ok"], (report, err)
    assert table_checksums(container) == tables
    wait_healthy(container, timeout=10)


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
