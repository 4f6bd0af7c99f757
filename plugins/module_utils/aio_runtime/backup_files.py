# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Backup naming, manifests, checksums and retention: pure logic and file primitives.

A backup is a directory ``glitchtip-YYYYmmddTHHMMSSZ`` holding ``database.dump``
(pg_dump custom format), ``uploads.tar.gz``, optionally ``redis.rdb``, and
``manifest.json`` with the size and SHA-256 of each. It is written under a
hidden ``.partial`` name and renamed only when complete and verified, so a killed
backup never leaves anything under a final name.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import re

PREFIX = "glitchtip-"
PARTIAL_SUFFIX = ".partial"
MANIFEST = "manifest.json"
_NAME = re.compile(r"^glitchtip-(\d{8}T\d{6}Z)$")
CHUNK = 1024 * 1024


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
    """pg_dump's --compress value for pg_dump of that major: zstd from 16 (which names methods), gzip level 6 before."""
    return "zstd:3" if int(pg_major) >= 16 else "6"


def manifest(created, versions, files, compression):
    return {"format": 1, "created": created.isoformat(), "versions": versions, "compression": compression,
            "files": files}


def file_entry(path):
    return {"size": os.path.getsize(path), "sha256": sha256_file(path)}


def check_manifest_files(directory, manifest_):
    """Problems with the files a manifest lists (missing, size or checksum differs); [] when all match."""
    problems = []
    for name, expected in sorted(manifest_.get("files", {}).items()):
        path = os.path.join(directory, name)
        if os.path.basename(name) != name:
            problems.append("%s: not a plain file name" % name)
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
    if "database.dump" not in manifest_.get("files", {}):
        problems.append("database.dump: not in the manifest")
    return problems


def read_manifest(directory):
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise BackupError("manifest: cannot read %s: %s" % (path, exc.strerror))
    except ValueError as exc:
        raise BackupError("manifest: %s is not valid JSON: %s" % (path, exc))


def list_backups(root):
    """Completed backups (final names) oldest first, as (name, time)."""
    found = []
    for name in os.listdir(root):
        moment = backup_time(name)
        if moment and os.path.isfile(os.path.join(root, name, MANIFEST)):
            found.append((name, moment))
    return sorted(found, key=lambda item: item[1])


def retention_victims(backups, now, keep_count=None, keep_days=None):
    """Names retention deletes: beyond the newest keep_count AND older than keep_days
    (either rule alone when only one is set); never the newest backup."""
    if not backups or (keep_count is None and keep_days is None):
        return []
    newest_first = sorted(backups, key=lambda item: item[1], reverse=True)
    victims = []
    for index, (name, moment) in enumerate(newest_first):
        if index == 0:
            continue
        beyond_count = keep_count is not None and index >= keep_count
        too_old = keep_days is not None and now - moment > datetime.timedelta(days=keep_days)
        if keep_count is not None and keep_days is not None:
            delete = beyond_count and too_old
        else:
            delete = beyond_count or too_old
        if delete:
            victims.append(name)
    return sorted(victims)


def resolve(root, which):
    """A backup directory from a path, a name, or "latest"."""
    if which in ("", "latest"):
        backups = list_backups(root)
        if not backups:
            raise BackupError("select: no completed backup in %s" % root)
        return os.path.join(root, backups[-1][0])
    path = which if os.path.isabs(which) else os.path.join(root, which)
    if not os.path.isdir(path):
        raise BackupError("select: %s is not a backup directory" % path)
    return path
