# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Why a program cannot start, when the runtime knows (wrong PostgreSQL major, permissions, disk full):
recorded by ``aio run`` where operators look, read by ``aio health`` and the watchdog."""

from __future__ import annotations

import os

CONTAINER_LOG = "/proc/1/fd/1"  # PID 1's stdout (supervisord): what `docker logs` shows


def cannot_start_dir(settings):
    run_dir = (settings.get("paths") or {}).get("run")
    return os.path.join(run_dir, "cannot-start") if run_dir else None


def record(settings, program, reason, container_log=CONTAINER_LOG):
    """A reason the runtime knows why PROGRAM cannot start (wrong major, permissions, disk full), where
    operators look: `docker logs`, and a file `aio health` and the watchdog read (until the next start)."""
    directory = cannot_start_dir(settings)
    if directory is None:  # not the container's settings: nowhere to record
        return
    line = "[aio] %s cannot start: %s\n" % (program, reason)
    try:
        with open(container_log, "a") as handle:
            handle.write(line)
    except OSError:
        pass
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
        with open(os.path.join(directory, program), "w") as handle:
            handle.write(reason)
    except OSError:
        pass


def clear(settings, program):
    """A new attempt: the previous attempt's reason no longer holds."""
    directory = cannot_start_dir(settings)
    if directory:
        try:
            os.unlink(os.path.join(directory, program))
        except OSError:
            pass


def reasons(settings):
    """{program: reason} of the programs that recorded why they cannot start."""
    found = {}
    if cannot_start_dir(settings) is None:
        return found
    try:
        names = os.listdir(cannot_start_dir(settings))
    except OSError:
        return found
    for name in names:
        try:
            with open(os.path.join(cannot_start_dir(settings), name)) as handle:
                found[name] = handle.read().strip()
        except OSError:
            continue
    return found
