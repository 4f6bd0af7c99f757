# -*- coding: utf-8 -*-
"""An image built with glitchtip_image_embedded_services: false has postgresql-client alone
(psql, pg_dump, pg_restore, pg_isready, pg_dumpall under /usr/lib/postgresql/<major>/bin, no
bin/postgres). Its PostgreSQL probe, readiness check, backup and restore checks run on such a
tree of fake client programs (shell scripts that log how they were called)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import types

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import (
    backup, backup_files, health, launcher, pgtools, probes, settings as aio_settings)

BAKED = {
    "app": {"user": "app", "dir": "/code"}, "profile": {"broker_env": ["REDIS_URL"]}, "web": {"port": 8000},
    "postgres": {"user": "glitchtip", "database": "glitchtip", "port": 5432}, "redis": {"port": 6379},
    "programs": {"web": {}}, "paths": {}, "version": "5.2",
}
EXTERNAL = {"AIO_DB_HOST": "db.example.net", "AIO_DB_PORT": "5433", "AIO_DB_PASSWORD": "pw",
            "AIO_REDIS_URL": "redis://cache.example.net:6379/0"}
CLIENT_MAJOR = "17"

# Each fake logs "<name> $PGHOST $PGUSER <argv>" and answers what backup.py and probes.py ask.
FAKES = {
    "psql": """sql=$(for a; do [ "$prev" = -c ] && printf %s "$a"; prev=$a; done)
case " $* " in *" -f - "*) sql=$(cat);; esac
case "$sql" in
  *server_version*) cat {version};;
  *pg_stat_activity*) echo '1|3';;
esac""",
    # A directory-format dump: its table of contents and one table's data (gzip: in every Debian).
    "pg_dump": """for a; do [ "$prev" = -f ] && mkdir "$a" && printf 'PGDMP fake toc\\n' > "$a/toc.dat" \\
  && printf '1\\tone\\n' | gzip > "$a/3001.dat.gz"; prev=$a; done""",
    "pg_restore": """for a; do last=$a; done; [ "$2" = - ] && cat "$last"; true""",
    "pg_isready": "true",
    "pg_dumpall": "echo '-- roles'",
}


@pytest.fixture
def client_only(tmp_path, monkeypatch):
    """A /usr/lib/postgresql with postgresql-client-17 only; returns (server version file, call log)."""
    lib, log, version = tmp_path / "lib", tmp_path / "calls.log", tmp_path / "server_version"
    bin_dir = lib / CLIENT_MAJOR / "bin"
    bin_dir.mkdir(parents=True)
    version.write_text("15.8\n")
    for name, body in FAKES.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\necho \"%s $PGHOST $PGUSER $*\" >> %s\n%s\n"
                        % (name, shlex.quote(str(log)), body.replace("{version}", shlex.quote(str(version)))))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setattr(pgtools, "PG_LIB", str(lib))
    yield version, log


# supervisord as a restore's check mode asks it (which app programs run here).
RPC = types.SimpleNamespace(supervisor=types.SimpleNamespace(
    getAllProcessInfo=lambda: [{"name": "web", "statename": "RUNNING"}]))


def calls(log, name):
    return [line.split()[1:] for line in log.read_text().splitlines() if line.split()[0] == name] \
        if log.exists() else []


def external_settings(tmp_path):
    settings = aio_settings.effective(BAKED, EXTERNAL)
    settings["paths"] = {"uploads": str(tmp_path / "uploads"), "backups": str(tmp_path / "backups")}
    os.makedirs(settings["paths"]["uploads"])
    return settings


def test_the_postgres_probe_logs_in_with_the_client_alone(client_only, tmp_path):
    _, log = client_only
    component = probes.probe_postgres(external_settings(tmp_path), EXTERNAL)
    assert component["status"] == health.OK, component
    assert calls(log, "psql")[0][:2] == ["db.example.net", "glitchtip"]


def test_readiness_of_an_external_server_uses_the_clients_pg_isready(client_only, tmp_path):
    _, log = client_only
    assert launcher.postgres_ready(external_settings(tmp_path))
    assert calls(log, "pg_isready")[0][-4:] == ["-h", "db.example.net", "-p", "5433"]


def test_a_backup_of_an_external_server_runs_on_the_client_alone(client_only, tmp_path):
    _, log = client_only
    settings = external_settings(tmp_path)
    report = backup.run_backup(settings, EXTERNAL)
    assert report["ok"], report
    with open(os.path.join(report["path"], backup_files.MANIFEST), encoding="utf-8") as handle:
        manifest = json.load(handle)
    # The server is 15, the client 17: the dump's compression is pg_dump's choice, and the manifest says whose.
    assert manifest["versions"] == {"glitchtip": "5.2", "postgres": "15.8", "pg_dump": CLIENT_MAJOR}
    assert manifest["compression"] == "zstd:1"
    assert sorted(manifest["files"]) == ["database/3001.dat.gz", "database/toc.dat", "roles.sql", "uploads.tar.gz"]
    [dump] = calls(log, "pg_dump")
    assert dump[:2] == ["db.example.net", "glitchtip"] and "--compress=zstd:1" in dump
    assert "--format=directory" in dump and "--jobs=%d" % backup_files.usable_cores() in dump
    assert not calls(log, "pg_dumpall")  # no superuser on a managed server


def test_a_server_newer_than_the_client_is_refused_before_anything_is_dumped(client_only, tmp_path):
    version, log = client_only
    version.write_text("18.1 (Debian 18.1-1.pgdg13+1)\n")
    settings = external_settings(tmp_path)
    with pytest.raises(backup.BackupError) as caught:
        backup.run_backup(settings, EXTERNAL)
    message = str(caught.value)
    assert message.startswith("dump: the PostgreSQL server at db.example.net:5433 is version 18.1")
    assert "pg_dump 17" in message and "glitchtip_image_extra_packages: [postgresql-client-18]" in message
    assert not calls(log, "pg_dump")
    assert os.listdir(settings["paths"]["backups"]) == []  # the partial directory is gone too


def test_without_any_client_a_backup_names_what_is_missing(tmp_path, monkeypatch):
    monkeypatch.setattr(pgtools, "PG_LIB", str(tmp_path / "empty"))
    with pytest.raises(backup.BackupError, match=r"^prepare: no PostgreSQL psql under .*empty"):
        backup.run_backup(external_settings(tmp_path), EXTERNAL)


@pytest.mark.parametrize("server, client, refused", [
    ("15.8", 17, False), ("17.2", 17, False), ("9.6.24", 15, False), ("18.0", 17, True), ("16beta1", 15, True),
])
def test_check_dumpable(server, client, refused):
    if refused:
        with pytest.raises(backup.BackupError, match=r"^dump: the PostgreSQL server is version"):
            backup.check_dumpable(server, client)
    else:
        backup.check_dumpable(server, client)


@pytest.mark.parametrize("versions, refused", [
    ({"postgres": "15.8", "pg_dump": "17"}, False),
    ({"postgres": "15.8", "pg_dump": "15"}, False),
    ({"postgres": "15.8"}, False),            # written before the manifest named pg_dump: the full read decides
    ({"postgres": "18.1", "pg_dump": "18"}, True),
])
def test_check_restorable(versions, refused):
    manifest = {"versions": versions}
    if refused:
        with pytest.raises(backup.BackupError, match=r"^verify: the backup was written by pg_dump 18 .*"
                                                     r"pg_restore is 17.*postgresql-client-18"):
            backup.check_restorable(manifest, 17)
    else:
        backup.check_restorable(manifest, 17)


def test_a_restore_refuses_a_newer_pg_dumps_backup_before_reading_it(client_only, tmp_path):
    _, log = client_only
    settings = external_settings(tmp_path)
    report = backup.run_backup(settings, EXTERNAL)
    restore = backup.Restore(settings, EXTERNAL, rpc=RPC)
    assert restore.run(report["name"], dry_run=True)["ok"]  # written by this client: readable
    path = os.path.join(report["path"], backup_files.MANIFEST)
    with open(path, encoding="utf-8") as handle:
        manifest = json.load(handle)
    manifest["versions"]["pg_dump"] = "18"
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    reads = len(calls(log, "pg_restore"))
    for dry_run in (True, False):
        with pytest.raises(backup.BackupError, match=r"^verify: the backup was written by pg_dump 18"):
            backup.Restore(settings, EXTERNAL, rpc=RPC).run(report["name"], dry_run=dry_run)
    assert len(calls(log, "pg_restore")) == reads


def restore_fakes(tmp_path, monkeypatch, server_version, psql_fails=False):
    """A client-17 tree whose pg_restore writes a script on `-f -` and whose psql keeps what it ran."""
    lib, ran, log = tmp_path / "lib", tmp_path / "psql.stdin", tmp_path / "calls.log"
    bin_dir = lib / CLIENT_MAJOR / "bin"
    bin_dir.mkdir(parents=True)
    bodies = {
        "pg_restore": """case " $* " in *" -f - "*) printf 'SET lock_timeout = 0;\\nSET transaction_timeout = 0;\\nCREATE TABLE t (a int);\\n';; esac""",
        "psql": """case " $* " in *" -d scratch "*) cat > %s; exit %d;; esac
echo %s""" % (shlex.quote(str(ran)), 3 if psql_fails else 0, shlex.quote(server_version)),
    }
    for name, body in bodies.items():
        path = bin_dir / name
        path.write_text("#!/bin/sh\necho \"%s $*\" >> %s\n%s\n" % (name, shlex.quote(str(log)), body))
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    (bin_dir / "pg_dump").write_text("")
    monkeypatch.setattr(pgtools, "PG_LIB", str(lib))
    yield ran, log, backup.Postgres.for_settings(aio_settings.effective(BAKED, EXTERNAL), EXTERNAL)


@pytest.fixture
def older_server(tmp_path, monkeypatch):
    yield from restore_fakes(tmp_path, monkeypatch, "15.8")


def test_a_restore_into_an_older_server_leaves_out_what_it_does_not_know(older_server, tmp_path):
    ran, log, postgres = older_server
    how = backup.RestoreInto(postgres, "scratch", str(tmp_path / "database.dump")).finish()
    assert "one session through psql, without transaction_timeout" in how
    assert ran.read_text() == "SET lock_timeout = 0;\nCREATE TABLE t (a int);\n"
    [script] = [line for line in log.read_text().splitlines() if line.startswith("pg_restore")]
    assert "--no-owner --no-privileges -f -" in script  # an external server's app role owns what it restores


def test_a_restore_into_an_older_server_names_the_statement_that_failed(tmp_path, monkeypatch):
    for ran, _log, postgres in restore_fakes(tmp_path, monkeypatch, "16.4", psql_fails=True):
        with pytest.raises(backup.BackupError, match=r"^restore: psql exited with 3"):
            backup.RestoreInto(postgres, "scratch", str(tmp_path / "database.dump")).finish()
        assert ran.exists()


def test_a_restore_into_a_server_of_the_clients_major_runs_parallel_jobs(tmp_path, monkeypatch):
    for ran, log, postgres in restore_fakes(tmp_path, monkeypatch, "17.2"):
        how = backup.RestoreInto(postgres, "scratch", str(tmp_path / "database.dump")).finish()
        assert how.endswith(" jobs") and not ran.exists()
        [restore] = [line for line in log.read_text().splitlines() if line.startswith("pg_restore")]
        assert "--exit-on-error --jobs=" in restore and restore.endswith("-d scratch %s" % (tmp_path / "database.dump"))


def test_an_external_restore_leaves_what_an_embedded_one_reaches_alone(client_only, tmp_path):
    """Each Restore holds its own connection: one made later for an external server moves no other."""
    _, log = client_only
    embedded = backup.Restore(aio_settings.effective(BAKED, {}), {}, rpc=RPC)
    external = backup.Restore(external_settings(tmp_path), EXTERNAL, rpc=RPC)
    for restore in (embedded, external, embedded):
        restore.require_postgres()
    assert [call[:2] for call in calls(log, "psql")] == [
        ["/run/postgresql", "postgres"], ["db.example.net", "glitchtip"], ["/run/postgresql", "postgres"]]
    dump = str(tmp_path / "database.dump")
    for restore in (external, embedded):
        backup.RestoreInto(restore.postgres, "scratch", dump).finish()
    # Only the external server's app role restores without the dump's owners.
    assert ["--no-owner" in call for call in calls(log, "pg_restore")] == [True, False]
