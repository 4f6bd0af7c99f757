# -*- coding: utf-8 -*-
"""backup.Restore under a hold (a PostgreSQL upgrade's or a recovery's): the migrate program, held while the
cluster was empty, runs on the restored database before the app starts; when it fails, the restore is rolled
back and says why. A recovery's hold ends with the restore that made the app healthy; an upgrade's is the deploy's."""

from __future__ import annotations

import time

import pytest

from test_backup_connection import BAKED

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup, settings as aio_settings


class Supervisor:
    """migrate runs for two polls after startProcess, then exits with EXIT; the app programs just start."""

    def __init__(self, exit_status=0, calls=None):
        self.exit_status = exit_status
        self.calls = [] if calls is None else calls
        self.migrate = {"statename": "EXITED", "exitstatus": 0, "start": int(time.time()) - 60}
        self.polls = 0

    def getAllProcessInfo(self):
        return [{"name": name, "statename": "STOPPED"} for name in ("postgres", "migrate", "web", "worker")]

    def getProcessInfo(self, name):
        if name != "migrate":
            return {"statename": "STOPPED"}
        if self.migrate["statename"] == "RUNNING":
            self.polls += 1
            if self.polls > 2:
                self.migrate = dict(self.migrate, statename="EXITED", exitstatus=self.exit_status)
        return dict(self.migrate)

    def startProcess(self, name, wait):
        self.calls.append(("start", name))
        if name == "migrate":
            self.migrate = {"statename": "RUNNING", "exitstatus": 0, "start": int(time.time())}

    def stopProcess(self, name, wait):
        self.calls.append(("stop", name))


class Rpc:
    def __init__(self, supervisor):
        self.supervisor = supervisor


@pytest.fixture
def restore(tmp_path, monkeypatch):
    def make(exit_status=0, hold=True, calls=None):
        """HOLD: True (an upgrade's), a hold file's name, or False."""
        settings = aio_settings.effective(BAKED, {})
        settings["programs"]["migrate"] = {"kind": "oneshot"}
        settings["paths"].update(backups=str(tmp_path / "backups"), pgdata=str(tmp_path / "postgres" / "data"),
                                 logs=str(tmp_path / "logs"), run=str(tmp_path / "run"))
        (tmp_path / "postgres").mkdir(exist_ok=True)
        (tmp_path / "logs").mkdir(exist_ok=True)
        for name in backup.entrypoint.HOLD_FILES:
            hold_file = tmp_path / "postgres" / name
            if name == (backup.entrypoint.UPGRADE_HOLD_FILE if hold is True else hold):
                hold_file.write_text("{}", encoding="utf-8")
            elif hold_file.exists():
                hold_file.unlink()
        monkeypatch.setattr(backup.time, "sleep", lambda seconds: None)
        return backup.Restore(settings, {}, rpc=Rpc(Supervisor(exit_status, calls)))
    yield make


def test_without_a_hold_there_is_nothing_to_migrate(restore):
    restore_ = restore(hold=False)
    assert restore_.run_migrate() is False
    assert restore_.rpc.supervisor.calls == []


def test_under_a_hold_migrate_runs_until_it_has_exited_0(restore):
    restore_ = restore()
    assert restore_.run_migrate() is True
    assert restore_.rpc.supervisor.calls == [("start", "migrate")]
    assert restore_.rpc.supervisor.polls == 3  # not the held run's EXITED: this run's


def test_a_failed_migrate_says_why_from_what_it_recorded_and_its_log(restore, tmp_path):
    restore_ = restore(exit_status=1)
    (tmp_path / "run" / "cannot-start").mkdir(parents=True)
    (tmp_path / "run" / "cannot-start" / "migrate").write_text(
        "./bin/run-migrate.sh exited with 1; web and worker stay stopped", encoding="utf-8")
    (tmp_path / "logs" / "migrate.err.log").write_text(
        "[aio] running: ./bin/run-migrate.sh\nTraceback (most recent call last):\n  File \"manage.py\"\n"
        "django.db.utils.ProgrammingError: column \"x\" does not exist\n"
        "[aio] migrate cannot start: ./bin/run-migrate.sh exited with 1; web and worker stay stopped\n",
        encoding="utf-8")
    with pytest.raises(backup.BackupError) as failed:
        restore_.run_migrate()
    assert str(failed.value) == (
        "migrate: the migrations on the restored database failed (EXITED, exit 1): ./bin/run-migrate.sh exited "
        "with 1; web and worker stay stopped; File \"manage.py\" | django.db.utils.ProgrammingError: column \"x\" "
        "does not exist")


def test_a_migrate_still_running_at_the_deadline_is_stopped(restore, monkeypatch):
    restore_ = restore()
    restore_.deadline = 0
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(backup.time, "monotonic", lambda: next(clock))
    with pytest.raises(backup.BackupError, match="^migrate: still running 0s after it started"):
        restore_.run_migrate()
    assert restore_.rpc.supervisor.calls == [("start", "migrate"), ("stop", "migrate")]


def fake_restore_steps(monkeypatch, calls):
    """Restore.run's database and file work faked: each step is recorded in CALLS in the order it ran."""
    monkeypatch.setattr(backup.destination_local, "resolve", lambda root, which: root + "/glitchtip-20261127T023000Z")
    monkeypatch.setattr(backup.files, "read_manifest", lambda directory: {"files": {"database.dump": {}}})
    monkeypatch.setattr(backup, "_client_major", lambda: 17)
    monkeypatch.setattr(backup.Postgres, "server_version", lambda self: "17.6")
    monkeypatch.setattr(backup, "verify_files", lambda directory, manifest_: None)
    monkeypatch.setattr(backup, "read_dump_fully", lambda dump, check_utf8=True: None)
    monkeypatch.setattr(backup.Postgres, "psql", lambda self, sql, database="postgres", step="sql": calls.append(
        ("psql", step)))

    class Restoring:
        def __init__(self, postgres, database, dump):
            pass

        def finish(self):
            return "fake"

    monkeypatch.setattr(backup, "RestoreInto", Restoring)
    monkeypatch.setattr(backup.Restore, "swap", lambda self, incoming, outgoing: calls.append(("swap", incoming)))
    monkeypatch.setattr(backup.Restore, "wait_healthy", lambda self, components=None: calls.append(("health",)) or {"status": "ok"})


@pytest.mark.parametrize("hold", [backup.entrypoint.UPGRADE_HOLD_FILE, backup.entrypoint.RECOVER_HOLD_FILE])
def test_the_restore_migrates_after_the_swap_and_before_the_app_starts(restore, monkeypatch, tmp_path, hold):
    calls = []
    fake_restore_steps(monkeypatch, calls)
    report = restore(calls=calls, hold=hold).run("latest")
    assert report["ok"] is True, report
    recovery = hold == backup.entrypoint.RECOVER_HOLD_FILE
    assert [step["step"] for step in report["steps"]] == ["verify", "scratch", "verify", "stop", "restore", "swap",
                                                          "migrate", "start", "health", "start", "health"] \
        + (["hold"] if recovery else []) + ["cleanup"]
    # A recovery's hold ends here, so the next start is an ordinary one; an upgrade's is the deploy's to remove.
    assert (tmp_path / "postgres" / hold).exists() is not recovery
    order = [call for call in calls if call[0] in ("swap", "start", "health")]
    # migrate on the restored data, then web alone until it answers, then the rest.
    assert order == [("swap", report["steps"][1]["detail"]), ("start", "migrate"), ("start", "web"), ("health",),
                     ("start", "worker"), ("health",)]


@pytest.mark.parametrize("hold", [backup.entrypoint.UPGRADE_HOLD_FILE, backup.entrypoint.RECOVER_HOLD_FILE])
def test_a_failed_migrate_rolls_the_restore_back_and_leaves_the_held_app_stopped(restore, monkeypatch, tmp_path,
                                                                                hold):
    calls = []
    fake_restore_steps(monkeypatch, calls)
    restore_ = restore(exit_status=1, calls=calls, hold=hold)
    monkeypatch.setattr(restore_, "wait_healthy", lambda: pytest.fail("waited for health although the app is held"))
    report = restore_.run("latest")
    assert report["ok"] is False and report["failed_step"] == "migrate"
    assert report["reason"].startswith("restore failed at migrate; the live database is as it was and the app stays "
                                       "stopped: %s holds it until a restore succeeds: migrate: "
                                       "the migrations on the restored database failed (EXITED, exit 1)"
                                       % (tmp_path / "postgres" / hold))
    assert (tmp_path / "postgres" / hold).exists()  # still held: no empty GlitchTip answers
    # Swapped in, then swapped back (the replaced database live again); no app program was started.
    assert [call[0] for call in calls if call[0] in ("swap", "start")] == ["swap", "start", "swap"]
    assert [call[1] for call in calls if call[0] == "start"] == ["migrate"]


def test_check_mode_says_the_migrations_run_on_the_restored_database_only_under_a_hold(restore, monkeypatch,
                                                                                      tmp_path):
    monkeypatch.setattr(backup, "verify", lambda directory, manifest_, check_utf8=True: None)
    for hold in (backup.entrypoint.UPGRADE_HOLD_FILE, backup.entrypoint.RECOVER_HOLD_FILE, False):
        plan = restore(hold=hold).plan({"files": {"database.dump": {}}}, keep_rollback=False)
        line = ("run this version's migrations on the restored database (migrate, held until now by %s)"
                % (tmp_path / "postgres" / str(hold)))
        assert (line in plan) is bool(hold)
        if hold:
            assert plan.index(line) == len(plan) - 3  # after the swap, before the start
