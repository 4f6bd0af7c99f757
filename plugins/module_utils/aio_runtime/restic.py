# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""restic, the tool behind the off-host destinations (destination_sftp.py, destination_s3.py).

Why restic (docs/design/offsite-backups.md section 1): Debian ships it (bookworm 0.14, trixie 0.18),
it speaks SFTP and S3 itself, encrypts and authenticates everything it stores with the repository
key (no plaintext leaves the host), deduplicates (a second nightly backup sends only what changed)
and applies retention on the repository. Nothing here uploads a byte by hand.

One ``Repository`` per destination: every verified ``aio backup`` directory becomes one snapshot
tagged ``glitchtip-aio`` and the backup's name; after upload the snapshot is read back from the
repository (``restic dump --archive tar``) and each file's size and SHA-256 compared with the
manifest, so "stored" means "read back and equal", not "the upload returned 0". Retention is the
local rule (destination_local.retention_victims: older than keep_days, never the newest), applied
by ``forget --prune`` of exactly those snapshots.

restic runs with an environment of its own: the repository key (``AIO_BACKUP_ENCRYPTION_KEY``, one
key for every destination) and the destination's own credentials, never the container's other
secrets; key files live for one command in a private temporary directory; whatever restic prints
is redacted before it reaches a report.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile

from . import backup_files as files, settings as aio_settings
from .backup_files import BackupError
from .destination_local import retention_victims
from .destinations import Destination

ENCRYPTION_KEY_ENV = aio_settings.BACKUP_KEY_ENV  # one of settings.SECRET_ENV_NAMES
ENCRYPTION_KEY_VARIABLE = "glitchtip_backup_encryption_key"  # where the deploy takes it from (or secrets.yml)
PACKAGES = ("restic",)
TAG = "glitchtip-aio"
SNAPSHOT_HOST = "glitchtip-aio"  # not the container's random hostname: one series across recreations
DEFAULT_KEEP_DAYS = 30
# restic 0.17+ exit codes; older ones exit 1 and say the same on stderr (the words are matched too).
EXIT_NO_REPOSITORY = 10
EXIT_WRONG_KEY = 12
_NO_REPOSITORY_WORDS = ("repository does not exist", "Is there a repository at the following location")
_WRONG_KEY_WORDS = ("wrong password or no key found",)
_CHUNK = 1 << 20


def member_name(name, directory):
    """A tar member's path as the manifest names it: restic keeps the absolute path it was given."""
    name = (name[2:] if name.startswith("./") else name).lstrip("/")
    prefix = directory.strip("/") + "/"
    return name[len(prefix):] if name.startswith(prefix) else name


def read_back_problems(found, expected):
    """What differs between the files read back (name → (size, sha256)) and EXPECTED (the same shape,
    the manifest's files plus manifest.json itself): each missing, extra and different file named."""
    problems = []
    for name, (size, digest) in sorted(expected.items()):
        if name not in found:
            problems.append("%s: missing from the repository" % name)
        elif found[name][0] != size:
            problems.append("%s: %d bytes read back, %d stored" % (name, found[name][0], size))
        elif found[name][1] != digest:
            problems.append("%s: SHA-256 read back differs" % name)
    problems.extend("%s: in the repository, not in the manifest" % name for name in sorted(set(found) - set(expected)))
    return problems


def expected_files(directory, manifest_):
    """What a snapshot of DIRECTORY must hold: the manifest's files and manifest.json as written."""
    expected = {name: (entry["size"], entry["sha256"]) for name, entry in manifest_["files"].items()}
    path = os.path.join(directory, files.MANIFEST)
    expected[files.MANIFEST] = (os.path.getsize(path), files.sha256_file(path))
    return expected


def tar_digests(stream, directory):
    """name → (size, sha256) of every regular file of a tar STREAM (read once, nothing on disk)."""
    found = {}
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if not member.isfile():
                continue
            digest = hashlib.sha256()
            handle = archive.extractfile(member)
            size = 0
            for chunk in iter(lambda: handle.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
            found[member_name(member.name, directory)] = (size, digest.hexdigest())
    return found


def summary_line(stdout):
    """The ``message_type: summary`` object of ``restic backup --json`` output, or None."""
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if message.get("message_type") == "summary":
                return message
    return None


def snapshot_backups(snapshots):
    """restic's snapshot list (``snapshots --json``) as [(backup name, time, snapshot id)], oldest first:
    ours only (tagged TAG and a backup name)."""
    found = []
    for snapshot in snapshots or []:
        tags = snapshot.get("tags") or []
        if TAG not in tags:
            continue
        for tag in tags:
            moment = files.backup_time(tag)
            if moment:
                found.append((tag, moment, snapshot.get("id") or snapshot.get("short_id")))
                break
    return sorted(found, key=lambda item: item[1])


def redact(text, secrets):
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "<redacted>")
    return text


def last_words(stderr):
    """restic's own last message (its Fatal line, where there is one), with the first error it ignored
    on the way ("There were 2 errors" alone says nothing)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    fatal = [line for line in lines if line.startswith("Fatal:")]
    errors = [line for line in lines if not line.startswith("Fatal:")
              and ("error" in line.lower() or "failed" in line.lower())]
    words = (fatal or lines or ["no message"])[-1]
    return "%s (%s)" % (words, errors[0]) if errors and errors[0] not in words else words


class Repository(Destination):
    """A restic repository at URL, opened with PASSWORD; OPTIONS are restic's global flags, ENV the
    backend's credentials, KEY_FILES {file name: text} written for each command (the flags name them as
    ``{dir}/<file name>``), SECRETS what to redact beyond those."""

    def __init__(self, name, url, password, keep_days=DEFAULT_KEEP_DAYS, options=(), env=None, key_files=None,
                 secrets=(), restic="restic", popen=subprocess.Popen):
        if not password:
            raise BackupError("prepare: %s: no repository key: %s (set %s, or let the deploy generate it into "
                              "secrets.yml)" % (name, ENCRYPTION_KEY_ENV, ENCRYPTION_KEY_VARIABLE))
        self.name = name
        self.url = url
        self.password = password
        self.keep_days = keep_days
        self.options = list(options)
        self.env = dict(env or {})
        self.key_files = dict(key_files or {})
        self.secrets = [password] + [line.strip() for text in list(secrets) + list(self.key_files.values())
                                     for line in [text] + text.splitlines() if len(line.strip()) >= 8]
        self.restic = restic
        self.popen = popen
        self._ready = False

    @contextlib.contextmanager
    def _session(self):
        """A private directory (root only) holding the key files for one command, removed after it."""
        workdir = tempfile.mkdtemp(prefix="aio-restic-")
        try:
            for file_name, text in self.key_files.items():
                path = os.path.join(workdir, file_name)
                with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as out:
                    out.write(text if text.endswith("\n") else text + "\n")
            yield workdir
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

    def _argv(self, workdir, args):
        options = [option.replace("{dir}", workdir) for option in self.options]
        return [self.restic, "--no-cache", "--repo", self.url] + options + list(args)

    def _environment(self, workdir):
        env = {"PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"), "HOME": workdir,
               "RESTIC_PASSWORD": self.password}
        env.update(self.env)
        return env

    def _run(self, step, args, timeout=None):
        """(exit code, stdout, stderr redacted) of one restic command; BackupError STEP when it cannot start."""
        with self._session() as workdir:
            try:
                proc = self.popen(self._argv(workdir, args), env=self._environment(workdir), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                out, err = proc.communicate(timeout=timeout)
            except OSError as exc:
                raise BackupError("%s: %s: cannot run restic: %s (the image's restic package)"
                                  % (step, self.name, exc.strerror or exc)) from exc
        return proc.returncode, out.decode("utf-8", "replace"), redact(err.decode("utf-8", "replace"), self.secrets)

    def _fail(self, step, what, stderr):
        return BackupError("%s: %s: %s: %s" % (step, self.name, what, redact(last_words(stderr), self.secrets)))

    def open(self):
        """The repository opened with the key, made on first use; a wrong key or an unreachable server
        refused with words that say which."""
        if self._ready:
            return
        code, _out, err = self._run("repository", ["cat", "config"])
        if code == EXIT_WRONG_KEY or any(words in err for words in _WRONG_KEY_WORDS):
            raise BackupError("repository: %s: the encryption key does not open the repository at %s (%s is "
                              "not the key it was made with)" % (self.name, self.url, ENCRYPTION_KEY_VARIABLE))
        if code != 0 and (code == EXIT_NO_REPOSITORY or any(words in err for words in _NO_REPOSITORY_WORDS)):
            code, _out, err = self._run("repository", ["init"])
            if code != 0:
                raise self._fail("repository", "cannot create the repository at %s" % self.url, err)
        elif code != 0:
            raise self._fail("repository", "cannot open the repository at %s" % self.url, err)
        self._ready = True

    def _snapshots(self):
        code, out, err = self._run("list", ["snapshots", "--json", "--tag", TAG])
        if code != 0:
            raise self._fail("list", "cannot list the snapshots", err)
        try:
            return snapshot_backups(json.loads(out or "[]"))
        except ValueError as exc:
            raise BackupError("list: %s: restic's snapshot list is not JSON: %s" % (self.name, exc)) from exc

    def store(self, directory, manifest_):
        """DIRECTORY sent as one snapshot, then read back and compared with its manifest."""
        self.open()
        name = os.path.basename(directory.rstrip("/"))
        code, out, err = self._run("upload", ["backup", "--json", "--host", SNAPSHOT_HOST, "--tag", TAG,
                                              "--tag", name, directory])
        summary = summary_line(out)
        if code != 0 or not summary or not summary.get("snapshot_id"):
            raise self._fail("upload", "backup %s not stored (exit %d)" % (name, code), err)
        snapshot = summary["snapshot_id"]
        checked = self.read_back(snapshot, directory, manifest_)
        return {"repository": self.url, "snapshot": snapshot[:8], "bytes_sent": summary.get("data_added"),
                "files_verified": checked, "reason": "stored and read back (%d files equal to the manifest)" % checked}

    def read_back(self, snapshot, directory, manifest_):
        """Every file of SNAPSHOT streamed from the repository and checked against the manifest; the count."""
        expected = expected_files(directory, manifest_)
        with self._session() as workdir, tempfile.TemporaryFile() as errors:
            try:
                proc = self.popen(self._argv(workdir, ["dump", "--archive", "tar", snapshot, directory]),
                                  env=self._environment(workdir), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=errors)
            except OSError as exc:
                raise BackupError("verify: %s: cannot run restic: %s" % (self.name, exc.strerror or exc)) from exc
            try:
                found, broken = tar_digests(proc.stdout, directory), None
                # tarfile stops at the end-of-archive blocks; restic still writes the padding after them,
                # and a pipe closed before that kills it with SIGPIPE (exit -13) though nothing was wrong.
                while proc.stdout.read(_CHUNK):
                    pass
            except (tarfile.TarError, OSError, EOFError) as exc:
                found, broken = {}, exc
            proc.stdout.close()
            code = proc.wait()
            errors.seek(0)
            err = redact(errors.read().decode("utf-8", "replace"), self.secrets)
        if code != 0 or broken:
            raise self._fail("verify", "snapshot %s could not be read back (exit %d%s)"
                             % (snapshot[:8], code, ", %s" % broken if broken else ""), err)
        problems = read_back_problems(found, expected)
        if problems:
            raise BackupError("verify: %s: snapshot %s differs from the manifest: %s"
                              % (self.name, snapshot[:8], "; ".join(problems)))
        return len(found)

    def list(self):
        self.open()
        return [(name, moment) for name, moment, _id in self._snapshots()]

    def prune(self, now):
        """The local rule (older than keep_days, never the newest) applied to this repository's snapshots."""
        self.open()
        snapshots = self._snapshots()
        victims = set(retention_victims([(name, moment) for name, moment, _id in snapshots], now,
                                        keep_days=self.keep_days))
        ids = [snapshot_id for name, _moment, snapshot_id in snapshots if name in victims]
        if not ids:
            return []
        code, _out, err = self._run("prune", ["forget", "--prune"] + ids)
        if code != 0:
            raise self._fail("prune", "retention not applied", err)
        return sorted(victims)

    def fetch(self, which, into):
        """Backup WHICH (a name or "latest") restored from the repository under INTO; its directory there."""
        self.open()
        snapshots = self._snapshots()
        chosen = snapshots[-1:] if which in ("", "latest") else [s for s in snapshots if s[0] == which]
        if not chosen:
            raise BackupError("select: %s: no backup %s in the repository %s (it holds %s)" % (
                self.name, which or "latest", self.url, ", ".join(s[0] for s in snapshots) or "none"))
        name, _moment, snapshot_id = chosen[-1]
        code, _out, err = self._run("fetch", ["restore", snapshot_id, "--target", into])
        if code != 0:
            raise self._fail("fetch", "backup %s not restored from the repository" % name, err)
        for root, dirs, names in os.walk(into):
            if files.MANIFEST in names and os.path.basename(root) == name:
                return root
        raise BackupError("fetch: %s: snapshot of %s holds no %s" % (self.name, name, files.MANIFEST))
