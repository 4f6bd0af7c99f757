# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The last lines of a log without reading all of a large file."""

from __future__ import annotations

import os
import re

from . import settings as aio_settings


def tail_lines(path, lines, block=None):
    """Last ``lines`` complete lines of path ([] when missing or lines <= 0).

    Reads a block from the end; a line cut by the block's start is dropped, so a
    secret split across the cut can never escape redaction half-printed.
    """
    if lines <= 0:
        return []
    block = block or max(8192, lines * 512)
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - block)
            handle.seek(start)
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    found = data.splitlines()
    if start > 0 and found:
        found = found[1:]
    return found[-lines:]


# Logs that are not a supervisord program's stdout/stderr pair: one file each, whose
# error lines are found by their level instead of by their stream.
SINGLE_FILE_LOGS = {
    "supervisor": "supervisord.log",
    "restart": "scheduled-restart.log",
    "watchdog": "watchdog.log",
}
PROGRAM_LOGS = ("web", "worker", "postgres", "redis", "migrate", "scheduler")
LOG_NAMES = PROGRAM_LOGS + tuple(SINGLE_FILE_LOGS)
_ERROR_LINE = re.compile(r"\b(CRIT|CRITICAL|ERROR|FATAL|WARN|WARNING|Traceback)\b")


def log_sources(program, errors=False):
    """[(stream, file name, error filter or None)] to read for one log name.

    A program's "errors" are its stderr file; a single-file log's are its lines at
    WARN level or worse. ValueError names the accepted names.
    """
    if program in SINGLE_FILE_LOGS:
        return [("errors" if errors else "log", SINGLE_FILE_LOGS[program], _ERROR_LINE if errors else None)]
    if program not in PROGRAM_LOGS:
        raise ValueError("unknown log %r; expected one of %s" % (program, ", ".join(LOG_NAMES)))
    sources = [] if errors else [("stdout", "%s.log" % program, None)]
    return sources + [("stderr", "%s.err.log" % program, None)]


def read_log(log_dir, program, lines, errors=False, secrets=()):
    """{stream: last lines} for one log name, every secret value redacted; a missing file reads as no lines."""
    result = {}
    for stream, name, pattern in log_sources(program, errors):
        path = os.path.join(log_dir, name)
        if pattern is None:
            found = tail_lines(path, lines)
        else:
            # Errors are rare in an info log: read further back to find the last N of them.
            found = [line for line in tail_lines(path, lines * 50) if pattern.search(line)][-lines:]
        result[stream] = [aio_settings.redact(line, secrets) for line in found]
    return result
