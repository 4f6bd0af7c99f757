# -*- coding: utf-8 -*-
"""destinations.py, the seam between writing a backup and keeping it: settings travel by one naming
rule, run_backup hands the verified backup to each further destination and reports each one under
its name, a failing one beside the local success."""

from __future__ import annotations

import datetime
import json
import os
import sys
import types

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import (
    backup, backup_files as files, destination_local, destinations)

NOW = datetime.datetime(2026, 12, 3, 2, 30, tzinfo=datetime.timezone.utc)
SETTINGS = {"paths": {}, "redis": {"port": 6379}, "programs": {}}


def test_settings_travel_as_one_environment_name_each_and_read_back_by_kind():
    config = {"fake": {"repository": "s3:bucket/x", "keep_days": 30, "key_secret": "s3cr3t-value"}, "other": {}}
    env = destinations.environment(config)
    assert env == {"AIO_BACKUP_DESTINATIONS": "fake,other", "AIO_BACKUP_TO_FAKE_REPOSITORY": "s3:bucket/x",
                   "AIO_BACKUP_TO_FAKE_KEEP_DAYS": 30, "AIO_BACKUP_TO_FAKE_KEY_SECRET": "s3cr3t-value"}
    assert destinations.kinds(env) == ["fake", "other"]
    assert destinations.options(env, "fake") == {"repository": "s3:bucket/x", "keep_days": 30,
                                                 "key_secret": "s3cr3t-value"}
    assert destinations.options(env, "other") == {}
    assert destinations.environment({}) == {}  # none configured: the container's environment as before


@pytest.mark.parametrize("config, message", [
    ({"local": {}}, "not a backup destination kind"),      # local is always there, never listed
    ({"off_host": {}}, "not a backup destination kind"),   # an underscore would make the names ambiguous
    ({"fake": {"Keep": 1}}, "not a setting name"),
])
def test_names_that_could_not_be_read_back_are_refused(config, message):
    with pytest.raises(files.BackupError, match=message):
        destinations.environment(config)


def test_an_unknown_kind_fails_at_prepare_before_anything_is_written(tmp_path):
    environ = {"AIO_BACKUP_DESTINATIONS": "nosuch"}
    with pytest.raises(files.BackupError, match=r"^prepare: no backup destination of kind 'nosuch'"):
        backup.run_backup(SETTINGS, environ, root=str(tmp_path / "backups"), now=NOW)
    assert not os.path.exists(tmp_path / "backups")


class Fake(destinations.Destination):
    """A second destination that keeps what it is given in memory (or fails, when told to)."""

    name = "fake"

    def __init__(self, options):
        self.options, self.stored, self.pruned = options, [], []

    def store(self, directory, manifest_):
        if self.options.get("fail"):
            raise files.BackupError("upload: the repository is unreachable")
        self.stored.append((directory, manifest_, os.path.isfile(os.path.join(directory, files.MANIFEST))))
        return {"where": self.options["repository"]}

    def list(self):
        return [(os.path.basename(directory), None) for directory, _, _ in self.stored]

    def prune(self, now):
        self.pruned.append(now)
        return []

    def fetch(self, which, into):
        raise NotImplementedError


@pytest.fixture
def fake_kind(monkeypatch):
    """destination_fake as a module of the runtime package, as a new destination's file would be;
    returns the instances further() builds."""
    built = []
    module = types.ModuleType("destination_fake")
    module.from_options = lambda options, environ: built.append(Fake(options)) or built[-1]
    monkeypatch.setitem(sys.modules, destinations.__package__ + ".destination_fake", module)
    return built


@pytest.fixture
def written(monkeypatch):
    """write_backup replaced by one small file and its manifest (the dump itself is other tests')."""
    def write(settings, environ, partial, now, include_redis):
        with open(os.path.join(partial, "roles.sql"), "wb") as handle:
            handle.write(b"-- roles\n")
        manifest_ = files.manifest(now, {"glitchtip": "6.2"}, files.backup_entries(partial), "zstd:1")
        with open(os.path.join(partial, files.MANIFEST), "w", encoding="utf-8") as handle:
            json.dump(manifest_, handle)
        return manifest_
    monkeypatch.setattr(backup, "write_backup", write)


def test_run_backup_hands_the_verified_local_backup_to_each_further_destination(tmp_path, fake_kind, written):
    environ = {"AIO_BACKUP_DESTINATIONS": "fake", "AIO_BACKUP_TO_FAKE_REPOSITORY": "sftp:backup@host:/srv/repo"}
    report = backup.run_backup(SETTINGS, environ, root=str(tmp_path), now=NOW)
    [fake] = fake_kind
    assert report["ok"] and report["path"] == str(tmp_path / "glitchtip-20261203T023000Z")
    # It gets the backup under its final name, kept locally already, with the manifest run_backup wrote.
    [(directory, manifest_, kept)] = fake.stored
    assert (directory, kept, manifest_["files"]) == (report["path"], True, report["files"])
    assert fake.pruned == [NOW]
    assert report["destinations"]["fake"].pop("seconds") >= 0  # how long the copy took, for the report
    assert report["destinations"] == {"fake": {"ok": True, "reason": "stored", "where": "sftp:backup@host:/srv/repo",
                                               "deleted": []}}
    assert report["reason"] == "written and verified; sent to fake"


def test_a_failing_further_destination_is_reported_beside_the_local_success(tmp_path, fake_kind, written):
    environ = {"AIO_BACKUP_DESTINATIONS": "fake", "AIO_BACKUP_TO_FAKE_FAIL": "yes"}
    report = backup.run_backup(SETTINGS, environ, root=str(tmp_path), keep_count=1, now=NOW)
    assert report["ok"] and os.path.isfile(os.path.join(report["path"], files.MANIFEST))
    assert report["destinations"]["fake"].pop("seconds") >= 0
    assert report["destinations"] == {"fake": {"ok": False, "failed_step": "upload",
                                               "reason": "upload: the repository is unreachable"}}
    assert report["reason"] == ("written and verified; sending to fake FAILED "
                                "(fake: upload: the repository is unreachable)")


def test_check_mode_names_the_further_destinations_and_stores_nothing(tmp_path, fake_kind, written):
    report = backup.run_backup(SETTINGS, {"AIO_BACKUP_DESTINATIONS": "fake"}, root=str(tmp_path), dry_run=True,
                               now=NOW)
    assert report["destinations"] == {"fake": {"would": "store it once verified"}}
    assert fake_kind[0].stored == [] and os.listdir(tmp_path) == []


def test_without_further_destinations_the_report_is_the_local_one(tmp_path, written):
    report = backup.run_backup(SETTINGS, {}, root=str(tmp_path), now=NOW)
    assert "destinations" not in report and report["reason"] == "written and verified"


# The local destination: what run_backup and Restore have always done with <data_dir>/backups.

def make_backup(root, name, manifest=True):
    os.makedirs(os.path.join(root, name))
    if manifest:
        with open(os.path.join(root, name, files.MANIFEST), "w", encoding="utf-8") as handle:
            handle.write("{}")


def at(day):
    return datetime.datetime(2026, 11, day, 2, 30, tzinfo=datetime.timezone.utc)


def test_local_lists_completed_backups_oldest_first(tmp_path):
    for day in (3, 1, 2):
        make_backup(str(tmp_path), files.backup_name(at(day)))
    make_backup(str(tmp_path), files.backup_name(at(4)), manifest=False)  # not completed
    make_backup(str(tmp_path), "." + files.backup_name(at(5)) + destination_local.PARTIAL_SUFFIX)
    make_backup(str(tmp_path), "not-a-backup")
    assert destination_local.Local(str(tmp_path)).list() == [(files.backup_name(at(day)), at(day)) for day in (1, 2, 3)]


@pytest.mark.parametrize("keep_count, keep_days, today, victims", [
    (None, None, 5, []),
    (2, None, 5, [1, 2, 3]),          # beyond the newest two
    (None, 3, 5, [1]),                # older than three days (the 2nd is exactly three)
    (3, 2, 5, [1, 2]),                # both: beyond three AND older than two days
    (None, 1, 30, [1, 2, 3, 4]),      # never the newest, however old
])
def test_local_retention(keep_count, keep_days, today, victims):
    backups = [(files.backup_name(at(day)), at(day)) for day in (1, 2, 3, 4, 5)]
    assert destination_local.retention_victims(backups, at(today), keep_count, keep_days) == \
        [files.backup_name(at(day)) for day in victims]


def test_local_prune_deletes_what_retention_names(tmp_path):
    for day in (1, 2, 3):
        make_backup(str(tmp_path), files.backup_name(at(day)))
    local = destination_local.Local(str(tmp_path), keep_count=1)
    assert local.would_prune(local.list(), files.backup_name(at(4)), at(4)) == \
        [files.backup_name(at(day)) for day in (1, 2, 3)]
    assert local.prune(at(3)) == [files.backup_name(at(day)) for day in (1, 2)]
    assert sorted(os.listdir(tmp_path)) == [files.backup_name(at(3))]


def test_local_stores_a_staged_backup_under_its_final_name_and_clears_leftovers(tmp_path):
    local = destination_local.Local(str(tmp_path / "backups"))
    assert local.prepare() == []
    leftover = local.staging(files.backup_name(at(1)))
    local.clear_leftovers()
    assert not os.path.exists(leftover)
    partial = local.staging(files.backup_name(at(2)))
    assert os.path.basename(partial) == ".glitchtip-20261102T023000Z.partial"
    assert local.store(partial, {}) == {"path": local.path(files.backup_name(at(2)))}
    assert os.listdir(local.root) == [files.backup_name(at(2))]


def test_local_fetch_resolves_latest_a_name_or_a_path(tmp_path):
    root = str(tmp_path)
    for day in (1, 2):
        make_backup(root, files.backup_name(at(day)))
    local = destination_local.Local(root)
    latest = os.path.join(root, files.backup_name(at(2)))
    assert local.fetch("latest") == local.fetch("") == latest
    assert local.fetch(files.backup_name(at(1))) == os.path.join(root, files.backup_name(at(1)))
    assert local.fetch(latest) == latest
    with pytest.raises(files.BackupError, match=r"^select: .*nosuch is not a backup directory"):
        local.fetch("nosuch")
    os.makedirs(tmp_path / "empty")
    with pytest.raises(files.BackupError, match=r"^select: no completed backup in"):
        destination_local.Local(str(tmp_path / "empty")).fetch("latest")


def test_the_deploy_refuses_a_kind_no_file_provides():
    # A kind no destination_<kind>.py provides is refused by validation, before anything changes,
    # instead of failing every nightly backup at prepare.
    assert destinations.available() == ["s3", "sftp"]
    assert destinations.problems({}) == []
    assert destinations.problems({"restic": {"repository": "s3:host/b"}}) == [
        "'restic': no such destination (built in: s3, sftp)"]
    assert destinations.problems({"restic": {}}, kinds_here=[]) == ["'restic': no such destination (built in: none yet)"]
    assert destinations.problems({"fake": {}}, kinds_here=["fake"]) == []
    assert destinations.problems({"fake": None}, kinds_here=["fake"]) == []
    assert destinations.problems({"fake": ["repository"]}, kinds_here=["fake"]) == [
        "'fake': its settings must be a mapping of setting name to value"]
    assert destinations.problems({"off_host": {"Keep": 1}}) == [
        "'off_host' is not a backup destination kind (lowercase letters and digits, not 'local')",
        "off_host: 'Keep' is not a setting name (lowercase letters, digits and _)"]


def test_each_copy_has_a_line_saying_what_was_stored_where_or_why_not():
    outcomes = {
        "sftp": {"ok": True, "snapshot": "1a2b3c4d", "repository": "sftp:backup@host:/srv/repo/restic",
                 "bytes_sent": 22126182, "reason": "stored and read back (30 files equal to the manifest)",
                 "seconds": 8.7},
        "s3": {"ok": False, "failed_step": "repository", "seconds": 0.4,
               "reason": "repository: s3: cannot open the repository at s3:https://h/b/restic: timeout"},
        "other": {"ok": True, "snapshot": "5e6f", "repository": "r", "bytes_sent": 512, "reason": "stored",
                  "seconds": 1.0},
    }
    assert destinations.outcome_lines(outcomes) == [
        "sftp: snapshot 1a2b3c4d in sftp:backup@host:/srv/repo/restic: 21.1 MiB sent, stored and read back "
        "(30 files equal to the manifest), in 8.7 s",
        "s3: FAILED in 0.4 s: repository: s3: cannot open the repository at s3:https://h/b/restic: timeout",
        "other: snapshot 5e6f in r: 512 B sent, stored, in 1.0 s"]
    assert destinations.outcome_lines({}) == []
