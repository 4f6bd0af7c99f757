# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Backup naming, manifests and checksums: pure logic and file primitives.

A backup is a directory ``glitchtip-YYYYmmddTHHMMSSZ`` holding ``database/`` (pg_dump's
directory format: ``toc.dat`` and one compressed file per table, written and read by parallel
jobs), ``roles.sql``, ``uploads.tar.gz``, optionally ``redis.rdb``, and ``manifest.json`` with
the size and SHA-256 of each file, those under ``database/`` one by one. Backups written before
the directory format hold ``database.dump`` (custom format) instead; they still restore. Where
backups are kept (written, listed, pruned, found again) is destination_local.py's, and where else
they are sent destinations.py's.
"""

from __future__ import annotations

import datetime
import gzip
import hashlib
import json
import os
import re
import subprocess
import zlib

PREFIX = "glitchtip-"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^glitchtip-(\d{8}T\d{6}Z)$")
CHUNK = 1024 * 1024
DUMP_DIR = "database"  # pg_dump --format=directory
LEGACY_DUMP = "database.dump"  # pg_dump -Fc, the format of backups written before the directory one
# What pg_dump's directory format writes with the compressions compression_for picks: the table of
# contents, one data file per table, large objects. Data files are always compressed by a method
# whose stream ends verifiably (see stream_problem): an uncompressed .dat cut at a line boundary
# would load as fewer rows without any error.
_DUMP_FILE = re.compile(r"^(toc\.dat|blobs(_\d+)?\.toc|(blob_)?\d+\.dat\.(gz|zst))$")


class BackupError(Exception):
    """A backup or restore step failed; the message names the step."""


def backup_name(moment):
    return PREFIX + moment.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def backup_time(name):
    match = _NAME.match(name)
    if not match:
        return None
    return datetime.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)


def sha256_file(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def compression_for(pg_major):
    """pg_dump's --compress value for pg_dump of that major: zstd from 16 (which names methods), gzip before.
    Level 1 of either: a backup is the downtime of a PostgreSQL-major upgrade, and higher levels
    cost several times the CPU for a few percent of size on event payloads."""
    return "zstd:1" if int(pg_major) >= 16 else "1"


def compression_label(compression):
    """The manifest's name of a --compress value: pg_dump 15's bare level is gzip's."""
    return compression if ":" in compression else "gzip:" + compression


def usable_cores():
    """The cores this process may run on (a container's cpuset, taskset), not the machine's count:
    one pg_dump or pg_restore job each."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def manifest(created, versions, files, compression):
    # format 2: the database as pg_dump's directory format under database/ (1: database.dump).
    dump_format = 2 if any(name.startswith(DUMP_DIR + "/") for name in files) else 1
    return {"format": dump_format, "created": created.isoformat(), "versions": versions,
            "compression": compression, "files": files}


def backup_entries(directory):
    """Manifest entries (size, SHA-256) of every file of a backup being written: the top-level files,
    and those of database/ as database/<name>."""
    entries = {}
    for name in sorted(os.listdir(directory)):
        if name == MANIFEST:
            continue
        if name == DUMP_DIR:
            for member in sorted(os.listdir(os.path.join(directory, name))):
                entries[name + "/" + member] = file_entry(os.path.join(directory, name, member))
        else:
            entries[name] = file_entry(os.path.join(directory, name))
    return entries


def dump_member(manifest_):
    """The dump a backup's manifest lists: database/ (directory format) or database.dump (an older backup)."""
    return DUMP_DIR if (DUMP_DIR + "/toc.dat") in manifest_.get("files", {}) else LEGACY_DUMP


def entry_problem(name):
    """Why a manifest entry's name is not one a backup holds, or None: a plain file name, or
    database/<a file pg_dump's directory format writes> (one level, nothing else)."""
    parts = name.split("/")
    if len(parts) == 1 and name not in ("", ".", "..", DUMP_DIR):
        return None
    if len(parts) == 2 and parts[0] == DUMP_DIR and _DUMP_FILE.match(parts[1]):
        return None
    if len(parts) == 2 and parts[0] == DUMP_DIR:
        return "%s: not a file pg_dump's directory format writes with gzip or zstd" % name
    return "%s: not a plain file name or database/<file>" % name


def compressed_members(manifest_):
    """The database/ entries whose compressed stream must end where it should (stream_problem)."""
    return sorted(name for name in manifest_.get("files", {})
                  if name.startswith(DUMP_DIR + "/") and name.endswith((".gz", ".zst")) and not entry_problem(name))


def file_entry(path):
    return {"size": os.path.getsize(path), "sha256": sha256_file(path)}


def check_manifest_files(directory, manifest_):
    """Problems with the files a manifest lists (missing, size or checksum differs); [] when all match."""
    problems = []
    listed = manifest_.get("files", {})
    for name, expected in sorted(listed.items()):
        path = os.path.join(directory, name)
        problem = entry_problem(name)
        if problem:
            problems.append(problem)
            continue
        if not os.path.isfile(path):
            problems.append("%s: missing" % name)
            continue
        size = os.path.getsize(path)
        if size != expected.get("size"):
            problems.append("%s: %d bytes, manifest says %s" % (name, size, expected.get("size")))
            continue
        if sha256_file(path) != expected.get("sha256"):
            problems.append("%s: SHA-256 differs from the manifest" % name)
    dump_dir = os.path.join(directory, DUMP_DIR)
    if (DUMP_DIR + "/toc.dat") in listed:
        if LEGACY_DUMP in listed:
            problems.append("%s and %s/: the manifest lists both dumps" % (LEGACY_DUMP, DUMP_DIR))
        # pg_restore reads what toc.dat names from database/: every file there must be one checksummed.
        if os.path.isdir(dump_dir):
            problems.extend("%s/%s: not in the manifest" % (DUMP_DIR, member) for member in sorted(os.listdir(dump_dir))
                            if "%s/%s" % (DUMP_DIR, member) not in listed)
    elif LEGACY_DUMP not in listed:
        problems.append("%s/toc.dat (or %s of an older backup): not in the manifest" % (DUMP_DIR, LEGACY_DUMP))
    return problems


def gzip_problem(path):
    """A gzip stream read to its end: its CRC-32 and length trailer, and nothing cut off or left over."""
    try:
        with gzip.open(path, "rb") as handle:
            while handle.read(CHUNK):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        return str(exc) or exc.__class__.__name__
    return None


def stream_problem(path, zstd="zstd"):
    """What is wrong with a compressed data file's stream, or None.

    pg_restore stops reading a data file at its end without asking whether the compressed stream
    ended there: a .dat.zst cut short restores as a table missing its last rows, with no error. A
    zstd frame knows where it ends (``zstd -t`` fails on a cut one), and gzip's trailer holds the
    CRC-32 and length of the whole content."""
    if os.path.getsize(path) == 0:
        problem = "empty: pg_dump writes a whole stream even for an empty table"  # gzip.open reads it as no data
    elif path.endswith(".gz"):
        problem = gzip_problem(path)
    elif path.endswith(".zst"):
        try:
            proc = subprocess.run([zstd, "-t", "-q", "--", path], capture_output=True, check=False)
        except OSError as exc:
            raise BackupError("verify: cannot check the zstd stream of %s: %s (the image's zstd package)"
                              % (os.path.basename(path), exc.strerror or exc)) from exc
        problem = None if proc.returncode == 0 else (
            proc.stderr.decode("utf-8", "replace").strip().replace(path, "").strip(" :") or "zstd -t failed")
    else:
        problem = None
    return problem


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise BackupError("manifest: cannot read %s: %s" % (path, exc.strerror))
    except ValueError as exc:
        raise BackupError("manifest: %s is not valid JSON: %s" % (path, exc))
