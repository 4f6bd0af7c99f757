# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The container's PID 1 preparation: check the environment, lay out runtime dirs, exec supervisord."""

from __future__ import annotations

import os
import pwd
import shutil

from . import settings as aio_settings

SUPERVISORD_CONF = "/etc/supervisor/supervisord.conf"
PROGRAMS_AVAILABLE = "/etc/supervisor/conf.d"
# Written by the deploy's PostgreSQL-major upgrade (glitchtip.aio.postgres_upgrade) beside the
# cluster while the new cluster is still empty: the app programs are then configured but not
# started, so no empty GlitchTip ever answers, and the migrate program holds its migrations
# (programs.held_for_restore); the restore runs migrate on the restored data and starts the app,
# the deploy removes the file.
UPGRADE_HOLD_FILE = "aio-upgrade.json"
# Written by the deploy of playbooks/recover.yml on a host without a cluster, before the container
# first starts: the same hold until the restore from the off-host repository has put the data
# back; that restore removes it (backup.Restore.finish), so later starts are ordinary ones.
RECOVER_HOLD_FILE = "aio-recover.json"
HOLD_FILES = (UPGRADE_HOLD_FILE, RECOVER_HOLD_FILE)
HELD_PROGRAMS = ("web", "worker", "scheduler")


def hold_path(settings):
    """The hold file (an upgrade's or a recovery's) that exists beside the embedded cluster, or None
    (also without paths, as the watchdog's tests give none, and with external PostgreSQL)."""
    pgdata = settings.get("paths", {}).get("pgdata")
    for name in HOLD_FILES if pgdata else ():
        path = os.path.join(os.path.dirname(pgdata), name)
        if os.path.exists(path):
            return path
    return None


def held(settings):
    """Whether a hold file exists: the app waits for a restore."""
    return hold_path(settings) is not None


def held_program_conf(text):
    """A program file that supervisord loads but does not start (startProcess starts it later)."""
    return "\n".join("autostart=false" if line.strip().startswith("autostart=") else line
                     for line in text.split("\n"))


def missing_secrets(settings, environ):
    # GlitchTip's DATABASE_URL is derived from the password, embedded or external.
    required = [aio_settings.SECRET_KEY_ENV, aio_settings.DB_PASSWORD_ENV]
    return [name for name in required if not environ.get(name)]


def link_programs(settings, available=PROGRAMS_AVAILABLE):
    """supervisord includes the run directory's program files: only those this container runs."""
    enabled = os.path.join(settings["paths"]["run"], "programs")
    os.makedirs(enabled, mode=0o700)
    hold = held(settings)
    for name in settings["programs"]:
        source = os.path.join(available, "%s.conf" % name)
        target = os.path.join(enabled, "%s.conf" % name)
        if hold and name in HELD_PROGRAMS:
            with open(source) as handle:
                text = held_program_conf(handle.read())
            with open(target, "w") as handle:
                handle.write(text)
        else:
            os.symlink(source, target)


def prepare(settings, environ):
    missing = missing_secrets(settings, environ)
    if missing:
        raise SystemExit("glitchtip-aio: %s not set in the container environment; deploy with the "
                         "glitchtip.aio.container role or pass them with -e" % ", ".join(missing))
    run_dir = settings["paths"]["run"]
    # Markers from a previous start must not let web start before this start's migration.
    shutil.rmtree(run_dir, ignore_errors=True)
    os.makedirs(run_dir, mode=0o700)
    link_programs(settings)
    os.makedirs(settings["paths"]["logs"], exist_ok=True)
    app = pwd.getpwnam(settings["app"]["user"])
    uploads = settings["paths"]["uploads"]
    os.makedirs(uploads, exist_ok=True)
    stat = os.stat(uploads)
    if stat.st_uid != app.pw_uid:
        os.chown(uploads, app.pw_uid, app.pw_gid)


def exec_supervisord(settings, environ):
    prepare(settings, environ)
    os.execve("/usr/bin/supervisord", ["supervisord", "--nodaemon", "-c", SUPERVISORD_CONF], environ)
