# -*- coding: utf-8 -*-
"""backup.Restore in check mode: it says what it verified and what a real run would do, and does nothing."""

from __future__ import annotations

import json

import pytest

from test_backup_connection import BAKED

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup, settings as aio_settings


class ReadOnlySupervisor:
    """Answers what runs; any other call is a change check mode must not make."""

    def __init__(self, names):
        self.names = names

    def getAllProcessInfo(self):
        return [{"name": name, "statename": "RUNNING"} for name in self.names]

    def __getattr__(self, name):
        raise AssertionError("check mode called supervisor.%s" % name)


class ReadOnlyRpc:
    def __init__(self, names):
        self.supervisor = ReadOnlySupervisor(names)


def list_in_manifest(settings, names):
    """The backup's manifest lists NAMES (their checksums are never read: verify is faked)."""
    path = "%s/glitchtip-20261127T023000Z/manifest.json" % settings["paths"]["backups"]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"files": {name: {} for name in names}}, handle)


@pytest.fixture
def backups(tmp_path, monkeypatch):
    root = tmp_path / "backups"
    (root / "glitchtip-20261127T023000Z").mkdir(parents=True)
    verified = []
    monkeypatch.setattr(backup, "verify", lambda directory, manifest_, check_utf8=True: verified.append(directory))
    # Check mode must not reach PostgreSQL at all: every client's connection starts with its environment.
    monkeypatch.setattr(backup.Postgres, "environment", lambda self: pytest.fail("check mode ran a PostgreSQL client"))
    settings = aio_settings.effective(BAKED, {})
    settings["paths"]["backups"] = str(root)
    list_in_manifest(settings, ["database.dump", "roles.sql", "uploads.tar.gz"])
    yield settings, verified


@pytest.mark.parametrize("keep_rollback, last", [(False, "drop the replaced database"),
                                                 (True, "keep the replaced database")])
def test_check_mode_says_what_was_verified_and_what_would_happen(backups, keep_rollback, last):
    settings, verified = backups
    restore = backup.Restore(settings, {}, rpc=ReadOnlyRpc(["postgres", "redis", "web", "worker", "scheduler"]))
    report = restore.run("latest", keep_rollback=keep_rollback, dry_run=True)
    assert report["ok"] is True and verified == [report["backup"]]
    assert report["reason"] == ("glitchtip-20261127T023000Z verified (manifest, 3 checksums and a full read of "
                                "every archive ok); nothing was changed")
    assert [step["step"] for step in report["steps"]] == ["verify"]
    assert report["would"] == [
        "restore database.dump into a scratch database beside a full read of it",
        "stop scheduler, worker, web once that read has passed",
        "swap the scratch database in for glitchtip, keeping the replaced one until healthy",
        "replace the uploads",
        # web alone first: it answers sooner without worker and scheduler starting beside it.
        "start web again and wait until it answers, then worker, scheduler and wait until healthy",
        last]


def test_check_mode_of_a_backup_without_uploads_leaves_them_out(backups):
    settings, _verified = backups
    list_in_manifest(settings, ["database.dump"])
    report = backup.Restore(settings, {}, rpc=ReadOnlyRpc(["web"])).run("latest", dry_run=True)
    assert "replace the uploads" not in report["would"]
    assert "stop web once that read has passed" in report["would"]


def test_check_mode_of_a_directory_format_backup_names_it(backups):
    settings, _verified = backups
    list_in_manifest(settings, ["database/toc.dat", "database/3001.dat.zst", "roles.sql"])
    report = backup.Restore(settings, {}, rpc=ReadOnlyRpc(["web", "worker"])).run("latest", dry_run=True)
    assert report["would"][0] == ("restore database/ (directory format, parallel jobs) into a scratch database "
                                  "beside a full read of it")
    assert "start web again and wait until it answers, then worker and wait until healthy" in report["would"]


@pytest.mark.parametrize("stopped,stages", [
    (["scheduler", "worker", "web"], [["web"], ["worker", "scheduler"]]),
    (["scheduler", "worker"], [["worker", "scheduler"]]),  # a worker host: no web to wait for first
    (["web"], [["web"]]),
    ([], []),
])
def test_start_stages_are_web_first_then_the_rest_in_reverse_of_the_stop_order(stopped, stages):
    """One home for the start order: the real start (start_and_wait) and check mode's plan read it."""
    assert backup.start_stages(stopped) == stages
