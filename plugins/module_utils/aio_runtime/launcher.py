# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio run PROGRAM``: what supervisord starts for each program.

Waits for what the program needs by readiness (pg_isready, Redis PING, the
migration's success marker), never by fixed sleeps, then drops privileges and
execs the real command so supervisord signals the real process.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import sys
import time

from . import pgtools, probes, settings as aio_settings

POLL_SECONDS = 0.25


class StartError(Exception):
    """A program cannot start; the message goes to its log and supervisord sees exit 1."""


def log(message):
    sys.stderr.write("[aio] %s\n" % message)
    sys.stderr.flush()


# What the migrate program's marker holds: its commands ran, or it was held for a PostgreSQL
# upgrade's restore (programs.held_for_restore), which runs it again on the restored data.
MIGRATE_DONE = "ok"
MIGRATE_HELD = "held"


def migrate_marker(settings):
    return os.path.join(settings["paths"]["run"], "migrate.ok")


def write_migrate_marker(settings, state):
    with open(migrate_marker(settings), "w") as handle:
        handle.write(state + "\n")


def migrate_state(settings):
    """MIGRATE_DONE, MIGRATE_HELD, or None while the migrate program has not finished since the start."""
    try:
        with open(migrate_marker(settings)) as handle:
            return handle.read().strip()
    except OSError:
        return None


def postgres_ready(settings):
    pg = settings["postgres"]
    host = pg["host"] if pg.get("external") else pgtools.SOCKET_DIR
    proc = subprocess.run([pgtools.binary("pg_isready"), "-q", "-t", "2", "-h", host, "-p", str(pg["port"])],
                          capture_output=True, check=False)
    return proc.returncode == 0


def redis_ready(settings, environ):
    try:
        return probes.redis_commands(settings["redis"], environ.get(aio_settings.REDIS_PASSWORD_ENV, ""),
                                     [("PING",)], timeout=1.0) == ["PONG"]
    except (OSError, probes.RedisError):
        return False


def dependency_ready(name, settings, environ):
    if name == "postgres":
        return postgres_ready(settings)
    if name == "redis":
        return redis_ready(settings, environ)
    if name == "migrate":
        # Held migrations (a PostgreSQL upgrade's empty cluster) are not done: nothing starts on them.
        return migrate_state(settings) == MIGRATE_DONE
    raise StartError("unknown dependency %r" % name)


def pending_needs(needs, settings):
    """The dependencies to wait for here: programs of this container and external services;
    a program another host runs (or none does) is not waited for."""
    return [name for name in needs if name in settings["programs"] or aio_settings.service_external(settings, name)]


def wait_for(needs, settings, environ, deadline_seconds, clock=time.monotonic, sleep=time.sleep):
    """Block until every dependency is ready; StartError names the ones that never were."""
    deadline = clock() + deadline_seconds
    pending = pending_needs(needs, settings)
    while pending:
        pending = [name for name in pending if not dependency_ready(name, settings, environ)]
        if not pending:
            break
        if clock() >= deadline:
            raise StartError("still waiting for %s after %ds" % (", ".join(pending), deadline_seconds))
        sleep(POLL_SECONDS)


def drop_privileges(user):
    entry = pwd.getpwnam(user)
    if os.getuid() == entry.pw_uid:
        return entry
    os.initgroups(user, entry.pw_gid)
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    return entry


def exec_as(user, argv, env, cwd=None):
    entry = drop_privileges(user)
    env = dict(env, HOME=entry.pw_dir, USER=user, LOGNAME=user)
    if cwd:
        os.chdir(cwd)
    argv = [str(arg) for arg in argv]
    os.execvpe(argv[0], argv, env)


def run_as(user, argv, env, cwd=None, stdin_text=None):
    """Run a child as another user and wait; returns its exit code."""
    entry = pwd.getpwnam(user)
    env = dict(env, HOME=entry.pw_dir, USER=user, LOGNAME=user)
    proc = subprocess.run([str(arg) for arg in argv], env=env, cwd=cwd, input=stdin_text, text=True,
                          preexec_fn=lambda: drop_privileges(user), check=False)
    return proc.returncode


def capture_as(user, argv, env, cwd=None, timeout=None):
    """Run a child as another user; (exit code, stdout and stderr interleaved as text)."""
    entry = pwd.getpwnam(user)
    env = dict(env, HOME=entry.pw_dir, USER=user, LOGNAME=user)
    proc = subprocess.run([str(arg) for arg in argv], env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
                          preexec_fn=lambda: drop_privileges(user), check=False)
    return proc.returncode, proc.stdout.decode("utf-8", "replace")
