# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The local destination: the backups directory (``/data/backups``, the host's ``<data_dir>/backups``).

Every backup is written here first, under a hidden ``.<name>.partial`` directory, and renamed to
its final name only when complete and verified, so a killed backup never leaves anything under a
final name. Retention keeps what ``aio backup --keep-count/--keep-days`` asks (the nightly job
passes glitchtip_backup_keep_count/_days); restores read from here.
"""

from __future__ import annotations

import datetime
import os
import shutil

from . import backup_files as files
from .backup_files import BackupError
from .destinations import Destination, LOCAL

PARTIAL_SUFFIX = ".partial"


def list_backups(root):
    """Completed backups (final names) oldest first, as (name, time)."""
    found = []
    for name in os.listdir(root):
        moment = files.backup_time(name)
        if moment and os.path.isfile(os.path.join(root, name, files.MANIFEST)):
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


class Local(Destination):
    """ROOT's backups, with retention by KEEP_COUNT and/or KEEP_DAYS (neither: none)."""

    name = LOCAL

    def __init__(self, root, keep_count=None, keep_days=None):
        self.root = root
        self.keep_count = keep_count
        self.keep_days = keep_days

    def path(self, name):
        return os.path.join(self.root, name)

    def prepare(self):
        """The directory made (root only) and its completed backups listed; BackupError "prepare" when it cannot be."""
        try:
            os.makedirs(self.root, mode=0o700, exist_ok=True)
            return list_backups(self.root)
        except OSError as exc:
            raise BackupError("prepare: backup directory %s: %s" % (self.root, exc.strerror or exc)) from exc

    def would_prune(self, existing, name, now):
        """What prune would delete once backup NAME (written at NOW) joins EXISTING: check mode's answer."""
        return retention_victims(existing + [(name, now)], now, self.keep_count, self.keep_days)

    def clear_leftovers(self):
        """Partial directories of killed runs: never under a final name, removed before they pile up."""
        for entry in os.listdir(self.root):
            if entry.startswith("." + files.PREFIX) and entry.endswith(PARTIAL_SUFFIX):
                shutil.rmtree(os.path.join(self.root, entry), ignore_errors=True)

    def staging(self, name):
        """The hidden directory backup NAME is written into, made (root only) and returned."""
        partial = os.path.join(self.root, "." + name + PARTIAL_SUFFIX)
        os.makedirs(partial, mode=0o700)
        return partial

    @staticmethod
    def discard(partial):
        shutil.rmtree(partial, ignore_errors=True)

    def store(self, directory, manifest_):
        """DIRECTORY (this destination's staging(), verified) renamed to its final name, durably."""
        final = self.path(os.path.basename(directory)[1:-len(PARTIAL_SUFFIX)])
        files.fsync_path(directory)
        os.rename(directory, final)
        files.fsync_path(self.root)
        return {"path": final}

    def list(self):
        return list_backups(self.root)

    def prune(self, now):
        deleted = []
        for victim in retention_victims(self.list(), now, self.keep_count, self.keep_days):
            shutil.rmtree(self.path(victim))
            deleted.append(victim)
        return deleted

    def fetch(self, which, into=None):
        """The backup's own directory (resolve): it is local already, nothing is copied."""
        return resolve(self.root, which)
