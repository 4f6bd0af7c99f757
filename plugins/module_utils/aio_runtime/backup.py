# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio backup`` and ``aio restore``: backups that are verified before they count,
and restores that never leave the live database half-changed.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import datetime
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
import xmlrpc.client

from . import backup_files as files, destination_local, destinations, entrypoint, health, logtail, pgtools, probes
from . import settings as aio_settings, start_reasons, supervisor_rpc
from .backup_files import BackupError

APP_PROGRAMS = ("scheduler", "worker", "web")  # stopped in this order, started in reverse (start_stages)
# TEST ONLY: makes a restore fail at the named step (only "swap"), to test what callers do about it.
TEST_FAIL_ENV = "AIO_TEST_ONLY_FAIL_RESTORE_AT"


def _installed(lookup, *args):
    """A pgtools lookup; an image without the PostgreSQL client fails the backup or restore, naming what is missing."""
    try:
        return lookup(*args)
    except pgtools.PostgresNotInstalled as exc:
        raise BackupError("prepare: %s" % exc) from exc


def _tool(name):
    return _installed(pgtools.binary, name)


def _client_major():
    return int(_installed(pgtools.client_major))


def _extra_client_hint(major):
    return ("add its client to the image with glitchtip_image_extra_packages: [postgresql-client-%d] "
            "(the base image's apt sources must offer it, e.g. PostgreSQL's apt.postgresql.org) and deploy again"
            % major)


def check_dumpable(server_version_text, client, where=""):
    """pg_dump refuses a server of a newer major than its own: refuse first, saying what to install.
    (An older server is fine: pg_dump dumps servers back to 9.2.)"""
    server = pgtools.version_major(server_version_text)
    if server > client:
        raise BackupError("dump: the PostgreSQL server%s is version %s, newer than this image's pg_dump %d, "
                          "which cannot dump it; %s"
                          % (" at %s" % where if where else "", server_version_text, client, _extra_client_hint(server)))


def check_restorable(manifest_, client):
    """pg_restore reads archives of its own or an older pg_dump only; backups made before the
    manifest recorded pg_dump's major are left to the full read."""
    written_by = (manifest_.get("versions") or {}).get("pg_dump")
    if written_by is not None and int(written_by) > client:
        raise BackupError("verify: the backup was written by pg_dump %s and this image's pg_restore is %d, "
                          "which cannot be relied on to read it; %s"
                          % (written_by, client, _extra_client_hint(int(written_by))))


class Postgres:
    """How one backup's or restore's PostgreSQL clients connect, and the clients that need it.
    Each run makes its own (for_settings) and passes it on, so two runs in one process never
    reach each other's server."""

    def __init__(self, env=None):
        self.env = env  # libpq environment of an external server; None: the embedded one

    @classmethod
    def for_settings(cls, settings, environ):
        """Embedded: root as the postgres role over the socket. External: the app role over TCP
        with its password and sslmode (it needs CREATEDB to restore; roles are the provider's)."""
        if not aio_settings.service_external(settings, "postgres"):
            return cls()
        env = aio_settings.libpq_environment(settings, environ)
        env.pop("PGDATABASE")  # every client names its database
        return cls(env)

    @property
    def external(self):
        return self.env is not None

    def environment(self):
        """The environment a client runs in; a copy, so no client changes this connection."""
        if self.external:
            return dict(self.env)
        # root logs in as the postgres role over the socket (peer auth, pg_ident map): no password exists.
        return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": "/root", "PGHOST": pgtools.SOCKET_DIR,
                "PGUSER": "postgres"}

    def run(self, argv, step, stdin=None, stdout=None, input_text=None, timeout=None):
        """A PostgreSQL client on this connection; BackupError naming the step on failure."""
        proc = subprocess.run(argv, stdin=stdin, stdout=stdout if stdout is not None else subprocess.PIPE,
                              stderr=subprocess.PIPE, input=input_text.encode() if input_text is not None else None,
                              env=self.environment(), timeout=timeout, check=False)
        if proc.returncode != 0:
            raise BackupError("%s: %s exited with %d: %s" % (step, os.path.basename(argv[0]), proc.returncode,
                                                             proc.stderr.decode("utf-8", "replace").strip()[-500:]))
        return proc

    def psql(self, sql, database="postgres", step="sql"):
        return self.run([_tool("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-d", database, "-f", "-"],
                        step, input_text=sql).stdout.decode().strip()

    def server_version(self):
        return self.psql("SHOW server_version", step="version").split()[0]

    def dump_database(self, database, path, compression, jobs):
        """pg_dump's directory format, one job per usable core (tables are dumped side by side, each
        compressed by its job), writes the files itself (no pipe whose exit code could be lost), then
        each is fsynced."""
        self.run([_tool("pg_dump"), "--format=directory", "--jobs=%d" % jobs, "--compress=%s" % compression,
                  "-d", database, "-f", path], "dump")
        for name in os.listdir(path):
            files.fsync_path(os.path.join(path, name))
        files.fsync_path(path)

    def dump_roles(self):
        """roles.sql's content: the embedded server's roles, without their passwords."""
        if self.external:
            # pg_dumpall needs a superuser; a managed server's roles are its provider's to keep.
            return b"-- roles of the external PostgreSQL are managed by its provider; not dumped\n"
        return self.run([_tool("pg_dumpall"), "--roles-only", "--no-role-passwords"], "roles").stdout


def archive_uploads(source, path):
    with tarfile.open(path, "w:gz", compresslevel=6) as archive:
        archive.add(source, arcname="uploads")
    files.fsync_path(path)


def check_streams(directory, manifest_):
    """Every compressed data file of database/ read to the end of its stream; BackupError naming the
    first that is cut or damaged (pg_restore's own read passes a .dat.zst cut short)."""
    for name in files.compressed_members(manifest_):
        problem = files.stream_problem(os.path.join(directory, name))
        if problem:
            raise BackupError("verify: %s is cut short or damaged: its compressed stream does not end as it "
                              "should (%s)" % (name, problem))


def read_dump_fully(path, check_utf8=True):
    """A full read of the dump (every table's data decompressed), not just its table of contents:
    ``pg_restore --list`` passes truncated and corrupted dumps. With check_utf8 the SQL it yields must
    also be valid UTF-8 (the database's encoding), which catches damage in the uncompressed schema part."""
    if not check_utf8:
        proc = subprocess.run([_tool("pg_restore"), "-f", os.devnull, path], capture_output=True, check=False)
        if proc.returncode != 0:
            raise BackupError("verify: %s does not read back: %s" % (
                os.path.basename(path), proc.stderr.decode("utf-8", "replace").strip()[-300:]))
        return
    proc = subprocess.Popen([_tool("pg_restore"), "-f", "-", path], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset, bad = 0, None
    for chunk in iter(lambda: proc.stdout.read(files.CHUNK), b""):
        if bad is None:
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad = offset + exc.start
        offset += len(chunk)
    stderr = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.wait() != 0:
        raise BackupError("verify: %s does not read back: %s" % (os.path.basename(path), stderr[-300:]))
    if bad is not None:
        raise BackupError("verify: %s yields SQL that is not valid UTF-8 (byte %d of its output)"
                          % (os.path.basename(path), bad))


def read_archive_fully(path):
    try:
        with tarfile.open(path, "r:gz") as archive:
            for member in archive:
                if member.isfile():
                    handle = archive.extractfile(member)
                    while handle.read(files.CHUNK):
                        pass
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError("verify: %s does not read back: %s" % (os.path.basename(path), exc))


def read_backup_fully(directory, manifest_, check_utf8=True):
    """The dump the manifest lists, read in full: the compressed streams of database/, then pg_restore's read."""
    check_streams(directory, manifest_)
    read_dump_fully(os.path.join(directory, files.dump_member(manifest_)), check_utf8)


def verify_files(directory, manifest_):
    """MANIFEST_ (DIRECTORY's, read by the caller), every checksum and a full read of the uploads
    archive (all but the dump's full read)."""
    problems = files.check_manifest_files(directory, manifest_)
    if problems:
        raise BackupError("verify: %s" % "; ".join(problems))
    if "uploads.tar.gz" in manifest_["files"]:
        read_archive_fully(os.path.join(directory, "uploads.tar.gz"))


def verified_detail(manifest_):
    """What verify() proved, in words."""
    return "manifest, %d checksums and a full read of every archive ok" % len(manifest_["files"])


def verify(directory, manifest_, check_utf8=True):
    """verify_files plus a full read of the dump (its compressed streams, then pg_restore's read);
    BackupError says what is wrong. MANIFEST_ is DIRECTORY's, read once by the caller.

    The checksums and the full read run side by side (hashing and pg_restore each keep a core
    busy). At restore time the UTF-8 pass is skipped: matching checksums prove the files are the
    bytes the backup verified when it wrote them.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        dump = os.path.join(directory, files.dump_member(manifest_))
        full_read = pool.submit(read_backup_fully, directory, manifest_, check_utf8) if os.path.exists(dump) else None
        try:
            verify_files(directory, manifest_)
        finally:
            read_error = full_read.exception() if full_read else None
    if read_error is not None:
        raise read_error


def redis_snapshot(settings, environ, path):
    """BGSAVE, wait for it to land, copy the RDB file."""
    redis, password = settings["redis"], environ.get(aio_settings.REDIS_PASSWORD_ENV, "")
    before = int(probes.redis_commands(redis, password, [("LASTSAVE",)])[0])
    probes.redis_commands(redis, password, [("BGSAVE",)])
    deadline = time.monotonic() + 60
    while int(probes.redis_commands(redis, password, [("LASTSAVE",)])[0]) == before:
        if time.monotonic() > deadline:
            raise BackupError("redis: BGSAVE did not finish within 60s")
        time.sleep(0.2)
    shutil.copyfile(os.path.join(settings["paths"]["redis"], "dump.rdb"), path)
    files.fsync_path(path)


def refuse_redis(settings, include_redis):
    """A Redis snapshot asked of a deployment that has none of its own: refused before anything is written."""
    if include_redis and not aio_settings.redis_enabled(settings):
        raise BackupError("redis: this deployment runs without Redis (PostgreSQL only): its queue is in the "
                          "database, which the backup holds")
    if include_redis and aio_settings.service_external(settings, "redis"):
        # The snapshot is the embedded server's RDB file; a managed Redis keeps its own.
        raise BackupError("redis: no snapshot of an external Redis (%s); back it up with its provider"
                          % aio_settings.service_address(settings, "redis"))


def write_backup(settings, environ, partial, now, include_redis):
    """Every file of a backup written into PARTIAL with its manifest, then verified as it is on disk;
    returns the manifest."""
    postgres = Postgres.for_settings(settings, environ)
    version = postgres.server_version()
    # The dump's format is pg_dump's (the client's) choice, whatever the server's major.
    client = _client_major()
    check_dumpable(version, client, aio_settings.service_address(settings, "postgres") if postgres.external else "")
    compression = files.compression_for(client)
    postgres.dump_database(settings["postgres"]["database"], os.path.join(partial, files.DUMP_DIR), compression,
                           files.usable_cores())
    roles = postgres.dump_roles()
    with open(os.path.join(partial, "roles.sql"), "wb") as handle:
        handle.write(roles)
    archive_uploads(settings["paths"]["uploads"], os.path.join(partial, "uploads.tar.gz"))
    if include_redis:
        redis_snapshot(settings, environ, os.path.join(partial, "redis.rdb"))
    entries = files.backup_entries(partial)
    versions = {"glitchtip": settings.get("version"), "postgres": version, "pg_dump": str(client)}
    manifest_ = files.manifest(now, versions, entries, files.compression_label(compression))
    with open(os.path.join(partial, files.MANIFEST), "w", encoding="utf-8") as handle:
        json.dump(manifest_, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    # What is on disk is verified, the manifest as read back too.
    verify(partial, files.read_manifest(partial))
    return manifest_


def write_locally(settings, environ, local, name, now, include_redis):
    """Backup NAME written, verified and kept in LOCAL under its final name; its manifest."""
    local.clear_leftovers()
    partial = None
    try:
        partial = local.staging(name)
        manifest_ = write_backup(settings, environ, partial, now, include_redis)
        local.store(partial, manifest_)
    except BaseException as exc:
        # Nothing half-written stays behind, whatever failed (disk full, pg_dump, verification).
        if partial:
            local.discard(partial)
        if isinstance(exc, BackupError):
            raise
        if isinstance(exc, OSError):
            raise BackupError("write: %s" % (exc.strerror or exc)) from exc
        raise
    return manifest_


def run_backup(settings, environ, keep_count=None, keep_days=None, include_redis=False, dry_run=False,
               root=None, now=None):
    """A backup written and verified in the local destination, its retention applied, then handed to each
    further destination (destinations.py), whose outcomes the report holds under their names: ok and
    path say the local backup is kept even when a further copy failed."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    local = destination_local.Local(root or settings["paths"]["backups"], keep_count, keep_days)
    name = files.backup_name(now)
    report = {"job": "backup", "name": name, "path": local.path(name), "dry_run": dry_run}
    refuse_redis(settings, include_redis)
    further = destinations.further(environ)
    existing = local.prepare()
    if dry_run:
        report.update(ok=True, reason="would write %s and keep it if it verifies" % local.path(name),
                      would_delete=local.would_prune(existing, name, now))
        if further:
            report["destinations"] = {dest.name: {"would": "store it once verified"} for dest in further}
        return report
    started = time.monotonic()
    os.umask(0o077)  # backups hold every event and user: root only
    manifest_ = write_locally(settings, environ, local, name, now, include_redis)
    deleted = local.prune(now)
    entries = manifest_["files"]
    report.update(ok=True, reason="written and verified", files=entries, deleted=deleted,
                  versions=manifest_["versions"], size=sum(entry["size"] for entry in entries.values()))
    if further:
        report["destinations"] = destinations.send(further, local.path(name), manifest_, now)
        report["reason"] += destinations.summary(report["destinations"])
        destinations.record(local.root, report["destinations"], name, now)
    report["seconds"] = round(time.monotonic() - started, 2)
    return report


def start_stages(programs):
    """The order a restore starts PROGRAMS (given in stop order) in: web alone first, then the rest,
    in reverse of the stop order. Started together on a small server they share its cores while they
    import the app: web alone answered in 4-5 s, beside worker and scheduler in 10 s (2 cores), and
    web answering ends the restore's downtime. Read by Restore.start_and_wait and Restore.plan."""
    order = list(reversed(programs))
    return [stage for stage in ([name for name in order if name == "web"],
                                [name for name in order if name != "web"]) if stage]


class Refused(BackupError):
    """The backup failed verification; nothing running was touched."""


class RestoreInto:
    """pg_restore of a dump into a (scratch) database, in the background from construction on.

    Same server major as the client (the embedded server, a current managed one): parallel jobs,
    one per core, stopping on the first error; the scratch database is dropped on failure and only
    ever swapped in whole, so no single transaction is needed. An older server: pg_restore writes
    the script, less the session settings that server does not know, and psql runs it in one
    session, stopping on the first error. POSTGRES is the connection the restore runs on."""

    def __init__(self, postgres, database, dump):
        client = _client_major()
        unknown = pgtools.settings_unknown_to(pgtools.version_major(postgres.server_version()), client)
        # An external server's app role owns what it restores (it cannot take other owners' names).
        owner = ["--no-owner", "--no-privileges"] if postgres.external else []
        self.errors = [tempfile.TemporaryFile(), tempfile.TemporaryFile()]
        self.copier = None
        if not unknown:
            jobs = files.usable_cores()
            self.how = "%d jobs" % jobs
            self.procs = [subprocess.Popen([_tool("pg_restore"), "--exit-on-error", "--jobs=%d" % jobs] + owner
                                           + ["-d", database, dump], stdout=subprocess.DEVNULL,
                                           stderr=self.errors[0], env=postgres.environment())]
            return
        self.how = "one session through psql, without %s, which the server's major does not know" % ", ".join(unknown)
        script = subprocess.Popen([_tool("pg_restore")] + owner + ["-f", "-", dump], stdout=subprocess.PIPE,
                                  stderr=self.errors[0])
        load = subprocess.Popen([_tool("psql"), "-Xq", "-v", "ON_ERROR_STOP=1", "-d", database, "-f", "-"],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.errors[1],
                                env=postgres.environment())
        self.procs = [script, load]
        self.copier = threading.Thread(target=self._copy, args=(script.stdout, load.stdin, unknown), daemon=True)
        self.copier.start()

    @staticmethod
    def _copy(script, load, unknown):
        try:
            for line in pgtools.without_settings(script, unknown):
                load.write(line)
        except BrokenPipeError:
            pass  # psql stopped on an error: its exit code and message tell
        finally:
            script.close()
            try:
                load.close()
            except BrokenPipeError:
                pass

    def kill(self):
        for proc in self.procs:
            proc.kill()
        self._wait()

    def _wait(self):
        if self.copier is not None:
            self.copier.join()
        return [proc.wait() for proc in self.procs]

    def finish(self):
        """How it was restored; BackupError naming the failing program and its message."""
        codes = self._wait()
        failed = []
        # Every stage that failed: when psql stops on an error, pg_restore fails writing to it.
        for proc, code, errors in zip(self.procs, codes, self.errors):
            if code != 0:
                errors.seek(0)
                message = errors.read().decode("utf-8", "replace").strip()
                failed.append("%s exited with %d: %s" % (os.path.basename(proc.args[0]), code, message[-400:]))
        for errors in self.errors:
            errors.close()
        if failed:
            raise BackupError("restore: %s" % "; ".join(failed))
        return self.how


class Attempt:
    """One real restore: the backup it reads, the databases it names after its start, and what it has
    changed so far (swapped, uploads_rollback), which a rollback undoes whatever step failed."""

    def __init__(self, database, stamp, directory, manifest_, programs):
        self.directory = directory
        self.manifest = manifest_
        # database/ (directory format, restored by parallel jobs), or an older backup's database.dump.
        self.dump = os.path.join(directory, files.dump_member(manifest_))
        self.stamp = stamp
        self.scratch = "%s_restore_%s" % (database, stamp)
        self.rollback_db = "%s_rollback_%s" % (database, stamp)
        self.programs = programs  # the app programs stopped, in stop order
        self.swapped = False
        self.uploads_rollback = None


class Restore:
    """Verify, stop the app, restore into a scratch database, swap it in by rename, check, clean up."""

    def __init__(self, settings, environ, rpc=None, deadline_seconds=120):
        self.settings = settings
        self.environ = environ
        self.rpc = rpc or supervisor_rpc.connect(timeout=deadline_seconds + 60)
        self.deadline = deadline_seconds
        self.database = settings["postgres"]["database"]
        self.steps = []
        self.started = time.monotonic()  # what step() times from; run() starts the clock again
        self.postgres = Postgres.for_settings(settings, environ)

    def step(self, name, detail=""):
        self.steps.append({"step": name, "detail": detail, "at": round(time.monotonic() - self.started, 2)})

    def app_programs(self):
        infos = supervisor_rpc.process_infos(self.rpc)
        return [name for name in APP_PROGRAMS if name in infos]

    def stop_app(self, programs):
        for name in programs:
            info = self.rpc.supervisor.getProcessInfo(name)
            if info["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
                self.rpc.supervisor.stopProcess(name, True)

    def start_app(self, order):
        """Start ORDER's programs in that order. No per-program wait (startsecs each): wait_healthy
        checks them all together afterwards."""
        for name in order:
            if self.rpc.supervisor.getProcessInfo(name)["statename"] not in ("RUNNING", "STARTING"):
                self.rpc.supervisor.startProcess(name, False)

    def wait_healthy(self, components=("supervisor", "postgres", "redis", "web")):
        deadline = time.monotonic() + self.deadline
        while True:
            report = probes.run(self.settings, self.environ, components)
            if report["status"] == health.OK:
                return report
            if time.monotonic() > deadline:
                bad = ["%s: %s" % (n, c["reason"]) for n, c in report["components"].items() if c["status"] != health.OK]
                raise BackupError("health: not healthy within %ds after the restore (%s)"
                                  % (self.deadline, "; ".join(bad)))
            time.sleep(health.POLL_SECONDS)

    def start_and_wait(self, programs):
        """PROGRAMS (in stop order) started by start_stages: web until it answers, then the others,
        until all are healthy."""
        for stage in start_stages(programs):
            self.start_app(stage)
            self.step("start", ", ".join(stage))
            if stage == ["web"]:
                # Not the supervisor probe yet: it wants every program RUNNING.
                self.wait_healthy(("postgres", "redis", "web"))
                self.step("health", "web answers")
        self.wait_healthy()
        self.step("health", "ok")

    def require_postgres(self):
        """Refuse up front, nothing touched, when the PostgreSQL server does not answer (a restore could
        neither fill a scratch database nor put the live one back)."""
        try:
            self.postgres.server_version()
        except (BackupError, OSError, subprocess.SubprocessError) as exc:
            raise BackupError("postgres: PostgreSQL does not answer, so nothing can be restored (%s); nothing was "
                              "changed: see aio health and aio logs postgres" % str(exc).split(": ", 1)[-1])

    def services_state(self):
        """After a rollback: whether the services are healthy again, in words (waited for as after a restore)."""
        hold = self.hold()
        if hold:
            return False, "the app stays stopped: %s holds it until a restore succeeds" % hold
        try:
            self.wait_healthy()
        except (BackupError, OSError, xmlrpc.client.Error) as exc:
            return False, "services are NOT healthy again: %s" % exc
        return True, "services run again and are healthy"

    def swap(self, incoming, outgoing):
        """Put `incoming` in place of the live database in one transaction; the live one becomes `outgoing`.
        Sessions still connected (a client held open) are terminated after new ones are refused."""
        if os.environ.get(TEST_FAIL_ENV) == "swap" and incoming.startswith(self.database + "_restore_"):
            # TEST ONLY (molecule/pgupgrade): a restore that fails half-way, its scratch database filled.
            raise BackupError("swap: failed on purpose (test only: %s=swap)" % TEST_FAIL_ENV)
        live = pgtools.quote_ident(self.database)
        self.postgres.psql("ALTER DATABASE %s ALLOW_CONNECTIONS false;\n"
                           "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                           "WHERE datname IN (%s, %s) AND pid <> pg_backend_pid();\n"
                           "BEGIN;\nALTER DATABASE %s RENAME TO %s;\nALTER DATABASE %s RENAME TO %s;\nCOMMIT;\n"
                           "ALTER DATABASE %s ALLOW_CONNECTIONS true;\n"
                           % (live, pgtools.quote_literal(self.database), pgtools.quote_literal(incoming), live,
                              pgtools.quote_ident(outgoing), pgtools.quote_ident(incoming), live, live), step="swap")

    def restore_uploads(self, directory, stamp):
        uploads = self.settings["paths"]["uploads"]
        staging = os.path.join(uploads, ".restore-" + stamp)
        rollback = os.path.join(uploads, ".rollback-" + stamp)
        os.makedirs(staging)
        with tarfile.open(os.path.join(directory, "uploads.tar.gz"), "r:gz") as archive:
            members = archive.getmembers()
            for member in members:
                # Only plain entries below uploads/: no absolute paths, no '..', no devices or links.
                parts = member.name.split("/")
                if member.name.startswith("/") or ".." in parts or parts[0] != "uploads" \
                        or not (member.isfile() or member.isdir()):
                    raise BackupError("uploads: refusing archive entry %r" % member.name)
            archive.extractall(staging, members=members)
        os.makedirs(rollback)
        for entry in os.listdir(uploads):
            if not entry.startswith((".restore-", ".rollback-")):
                os.rename(os.path.join(uploads, entry), os.path.join(rollback, entry))
        restored = os.path.join(staging, "uploads")
        for entry in os.listdir(restored):
            os.rename(os.path.join(restored, entry), os.path.join(uploads, entry))
        shutil.rmtree(staging)
        return rollback

    def undo_uploads(self, rollback):
        uploads = self.settings["paths"]["uploads"]
        for entry in os.listdir(uploads):
            if entry.startswith((".restore-", ".rollback-")):
                continue
            path = os.path.join(uploads, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)
        for entry in os.listdir(rollback):
            os.rename(os.path.join(rollback, entry), os.path.join(uploads, entry))
        shutil.rmtree(rollback)

    def run(self, which="latest", keep_rollback=False, dry_run=False, source=None):
        """Backup WHICH of SOURCE (a further destination's kind, e.g. sftp; by default the local backups)
        restored (restore). One from elsewhere is fetched into the backups volume first and removed
        afterwards, whatever happened: from then on it is checked and restored like a local one."""
        self.started = time.monotonic()
        if source in (None, "", destinations.LOCAL):
            return self.restore(destination_local.Local(self.settings["paths"]["backups"]).fetch(which),
                                keep_rollback, dry_run)
        destination = destinations.named(self.environ, source)
        fetched = tempfile.mkdtemp(prefix=".fetched-", dir=self.settings["paths"]["backups"])
        try:
            directory = destination.fetch(which, fetched)
            report = self.restore(directory, keep_rollback, dry_run)
            report.update(source=source, backup="%s:%s" % (source, os.path.basename(directory)))
            return report
        finally:
            shutil.rmtree(fetched, ignore_errors=True)

    def restore(self, directory, keep_rollback, dry_run):
        """Check mode: verify and say what a real run would do (check_only). A real run: check, then
        fill_scratch and put_in_place; finish when they succeed, failed (a rollback) when a step fails."""
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")
        report = {"job": "restore", "steps": self.steps, "dry_run": dry_run}
        report["backup"] = directory
        manifest_ = files.read_manifest(directory)  # read once; every check below is of this manifest
        check_restorable(manifest_, _client_major())
        if dry_run:
            return self.check_only(report, directory, manifest_, keep_rollback)
        self.check(directory, manifest_)
        attempt = Attempt(self.database, stamp, directory, manifest_, self.app_programs())
        pool = concurrent.futures.ThreadPoolExecutor(max_workers=2)
        try:
            self.fill_scratch(attempt, pool)
            self.put_in_place(attempt)
        except Refused:
            pool.shutdown(wait=True)
            self.postgres.psql("DROP DATABASE IF EXISTS %s" % pgtools.quote_ident(attempt.scratch), step="verify")
            raise
        except (BackupError, OSError, subprocess.SubprocessError, xmlrpc.client.Fault) as exc:
            pool.shutdown(wait=True)
            return self.failed(report, attempt, exc)
        pool.shutdown(wait=True)
        return self.finish(report, attempt, keep_rollback)

    def check_only(self, report, directory, manifest_, keep_rollback):
        """Check mode: the backup verified in full and the plan of a real run reported; nothing is touched."""
        verify(directory, manifest_, check_utf8=False)
        self.step("verify", verified_detail(manifest_))
        report.update(ok=True, manifest=manifest_, would=self.plan(manifest_, keep_rollback),
                      reason="%s verified (%s); nothing was changed"
                      % (os.path.basename(directory), verified_detail(manifest_)))
        return report

    def check(self, directory, manifest_):
        """Before anything is touched: the server answers and every checksum matches (the dump's full
        read runs beside the scratch restore, in fill_scratch)."""
        self.require_postgres()
        verify_files(directory, manifest_)
        self.step("verify", "manifest and %d checksums ok" % len(manifest_["files"]))

    def fill_scratch(self, attempt, pool):
        """The scratch database created and filled beside the dump's full read; the app stopped once that
        read has passed. Refused, nothing running touched, when it does not."""
        self.postgres.psql("CREATE DATABASE %s OWNER %s ENCODING 'UTF8' TEMPLATE template0"
                           % (pgtools.quote_ident(attempt.scratch),
                              pgtools.quote_ident(self.settings["postgres"]["user"])), step="scratch")
        self.step("scratch", attempt.scratch)
        # The full read of the dump runs beside the scratch restore; nothing running is touched
        # (services stay up, the live database untouched) until it has passed.
        full_read = pool.submit(read_backup_fully, attempt.directory, attempt.manifest, False)
        restoring = RestoreInto(self.postgres, attempt.scratch, attempt.dump)
        read_error = full_read.exception()
        if read_error:
            restoring.kill()
            raise Refused(str(read_error))
        self.step("verify", "full read ok")
        # The app stops (a warm worker shutdown takes seconds) while the scratch database fills;
        # nothing it could still write matters: the live database is about to be replaced.
        stopping = pool.submit(self.stop_app, attempt.programs)
        restored = restoring.finish()
        stopping.result()
        self.step("stop", ", ".join(attempt.programs))
        self.step("restore", "into %s (%s)" % (attempt.scratch, restored))

    def put_in_place(self, attempt):
        """The filled scratch database swapped in, the uploads replaced, held migrations run and the app
        started until healthy. ATTEMPT records each change as it is made, for failed's rollback."""
        self.swap(attempt.scratch, attempt.rollback_db)
        attempt.swapped = True
        self.step("swap", "%s is live; the old one is kept as %s" % (self.database, attempt.rollback_db))
        if "uploads.tar.gz" in attempt.manifest["files"]:
            attempt.uploads_rollback = self.restore_uploads(attempt.directory, attempt.stamp)
            self.step("uploads", "restored")
        if self.run_migrate():
            self.step("migrate", "this version's migrations ran on the restored database (exit 0)")
        self.start_and_wait(attempt.programs)

    def finish(self, report, attempt, keep_rollback):
        """After a restore that succeeded: the replaced database dropped (or kept) and the old uploads removed."""
        if not keep_rollback:
            self.postgres.psql("DROP DATABASE %s" % pgtools.quote_ident(attempt.rollback_db), step="cleanup")
        if attempt.uploads_rollback:
            shutil.rmtree(attempt.uploads_rollback, ignore_errors=True)
        self.release_recovery_hold()
        self.step("cleanup", "kept %s" % attempt.rollback_db if keep_rollback else "dropped %s" % attempt.rollback_db)
        report.update(ok=True, reason="restored %s" % os.path.basename(attempt.directory),
                      rollback_database=attempt.rollback_db if keep_rollback else None,
                      seconds=round(time.monotonic() - self.started, 2))
        return report

    def failed(self, report, attempt, exc):
        """EXC stopped the restore after it had begun changing things: everything rolled back, and the report
        says at which step, whether the live database is as it was and whether the services are healthy."""
        failed_step = str(exc).split(":", 1)[0] if isinstance(exc, BackupError) else "io"
        restored = self.rollback(attempt)
        healthy, services = self.services_state()
        report.update(ok=False, failed_step=failed_step, services_healthy=healthy,
                      reason="restore failed at %s; %s and %s: %s"
                      % (failed_step, "the live database is as it was" if restored else
                         "putting the live database back was INCOMPLETE (see steps)", services, exc))
        report["seconds"] = round(time.monotonic() - self.started, 2)
        return report

    def migrate_held(self):
        """Whether run_migrate has migrations to run: a hold (an upgrade's or a recovery's), and a migrate
        program here."""
        return bool(self.hold()) and "migrate" in self.settings["programs"]

    def run_migrate(self):
        """Under a hold (a PostgreSQL upgrade's or a recovery's) the container's migrate program held the
        migrations (its cluster was empty: programs.held_for_restore) and the restored database is an older one,
        whatever version this image runs: supervisord runs migrate again, now on the restored data,
        before the app starts. True when it ran and exited 0; BackupError "migrate: ..." with its
        log's reason otherwise (the caller rolls back); False without a hold."""
        if not self.migrate_held():
            return False
        supervisor = self.rpc.supervisor
        asked = int(time.time())
        try:
            supervisor.startProcess("migrate", False)
        except xmlrpc.client.Fault as exc:
            raise BackupError("migrate: supervisord did not start it: %s" % exc.faultString)
        deadline = time.monotonic() + self.deadline
        while True:
            info = supervisor.getProcessInfo("migrate")
            # The start time tells this run's end from the held run's.
            if info["statename"] not in ("STARTING", "RUNNING") and info.get("start", 0) >= asked:
                break
            if time.monotonic() > deadline:
                supervisor.stopProcess("migrate", True)
                raise BackupError("migrate: still running %ds after it started on the restored database; stopped "
                                  "(see aio logs migrate)" % self.deadline)
            time.sleep(health.POLL_SECONDS)
        if info["statename"] == "EXITED" and info.get("exitstatus") == 0:
            return True
        raise BackupError("migrate: the migrations on the restored database failed (%s, exit %s): %s"
                          % (info["statename"], info.get("exitstatus"), self.migrate_failure()))

    def migrate_failure(self):
        """Why migrate failed, from what it recorded and the last lines of its error log."""
        secrets = aio_settings.secret_values(self.environ)
        recorded = start_reasons.reasons(self.settings).get("migrate")
        lines = [line.strip() for line in logtail.read_log(self.settings["paths"]["logs"], "migrate", 20,
                                                           errors=True, secrets=secrets)["stderr"]
                 if line.strip() and not line.startswith("[aio]")]
        said = "; ".join(part for part in (recorded, " | ".join(lines[-2:])) if part)
        return said or "no reason in its log (aio logs migrate)"

    def plan(self, manifest_, keep_rollback):
        """What a real run would do, in order, for check mode."""
        names = self.app_programs()
        programs = ", ".join(names) or "no app program"
        stages = start_stages(names)
        if len(stages) == 2:
            start = "start web again and wait until it answers, then %s and wait until healthy" % ", ".join(stages[1])
        else:
            start = "start %s again and wait until healthy" % (", ".join(stages[0]) if stages else "no app program")
        dump = files.dump_member(manifest_)
        return (["restore %s into a scratch database beside a full read of it"
                 % (dump + "/ (directory format, parallel jobs)" if dump == files.DUMP_DIR else dump),
                 "stop %s once that read has passed" % programs,
                 "swap the scratch database in for %s, keeping the replaced one until healthy" % self.database]
                + (["replace the uploads"] if "uploads.tar.gz" in manifest_["files"] else [])
                + (["run this version's migrations on the restored database (migrate, held until now by %s)"
                    % self.hold()] if self.migrate_held() else [])
                + [start, "keep the replaced database" if keep_rollback else "drop the replaced database"])

    def rollback(self, attempt):
        """Back to the state before ATTEMPT, whatever step failed (it records what was changed); errors here
        are recorded, not raised."""
        try:
            if attempt.uploads_rollback:
                self.undo_uploads(attempt.uploads_rollback)
            if attempt.swapped:
                self.stop_app(attempt.programs)
                self.swap(attempt.rollback_db, attempt.scratch)
            self.postgres.psql("DROP DATABASE IF EXISTS %s" % pgtools.quote_ident(attempt.scratch), step="rollback")
            self.step("rollback", "live database and uploads as before")
            restored = True
        except Exception as exc:  # keep going: services must come back regardless
            self.step("rollback", "incomplete: %s" % exc)
            restored = False
        hold = self.hold()
        if hold:
            # A fresh cluster (a PostgreSQL-major upgrade's, a recovery's): its live database is empty.
            self.step("start", "not started: %s holds the app" % hold)
            return restored
        try:
            order = list(reversed(attempt.programs))
            self.start_app(order)
            self.step("start", ", ".join(order))
        except Exception as exc:
            self.step("start", "failed: %s" % exc)
        return restored

    def hold(self):
        """The hold file (a PostgreSQL-major upgrade's or a recovery's) when present (see entrypoint), else None."""
        return entrypoint.hold_path(self.settings)

    def release_recovery_hold(self):
        """After a restore that made the app healthy: a recovery's hold is done (the deploy removes an
        upgrade's, which is also its way back)."""
        path = self.hold()
        if path and os.path.basename(path) == entrypoint.RECOVER_HOLD_FILE:
            os.unlink(path)
            self.step("hold", "removed %s: later starts start the app" % path)
