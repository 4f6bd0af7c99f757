# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""supervisord event listener that ends the container when a program is lost for good.

A long-running program in FATAL (supervisord gave up restarting it) or a one-shot
that exited with an unexpected code (a failed migration) shuts supervisord down,
so the container exits and Docker's restart policy acts, instead of the container
looking alive with a dead service inside. Not while a PostgreSQL upgrade or a recovery holds
the container (entrypoint.held): a failed migrate is then its restore's to undo.
"""

from __future__ import annotations

import re
import sys

from . import entrypoint, start_reasons, supervisor_rpc


def parse_tokens(line):
    """supervisord's "key:value key:value" header/payload format."""
    return dict(token.split(":", 1) for token in line.split() if ":" in token)


def shutdown_reason(event_name, payload, programs, cannot_start=None):
    """Why this event must end the container, or None. A program that recorded why it cannot start
    (cannot_start: {program: reason}) would fail the same way after a restart: the container stays up,
    its health unhealthy with that reason, instead of restarting in a loop."""
    name = payload.get("processname", "")
    if name not in programs:
        return None
    if event_name == "PROCESS_STATE_FATAL" and name in (cannot_start or {}):
        return None
    if event_name == "PROCESS_STATE_FATAL":
        return "%s entered FATAL (supervisord gave up restarting it)" % name
    if event_name == "PROCESS_STATE_EXITED" and payload.get("expected") == "0" \
            and programs[name].get("kind") == "oneshot":
        return "%s exited unexpectedly" % name
    return None


# The line the watchdog writes (to watchdog.log) before it ends the container, and its reader: a deploy's
# health wait that sees the container restart says why.
STOPPING = "[aio watchdog] %s: stopping the container so its restart policy acts"
_STOPPING = re.compile("^" + re.escape(STOPPING).replace(re.escape("%s"), "(.+)") + "$")


def last_stop_reason(lines):
    """The reason of the last STOPPING line among lines, or None."""
    for line in reversed(list(lines)):
        match = _STOPPING.match(line.rstrip("\r\n"))
        if match:
            return match.group(1)
    return None


def listen(settings, stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr, shutdown=None):
    """The listener loop (supervisord's READY / RESULT protocol)."""
    programs = settings["programs"]
    if shutdown is None:
        def shutdown():
            supervisor_rpc.connect().supervisor.shutdown()
    while True:
        stdout.write("READY\n")
        stdout.flush()
        header_line = stdin.readline()
        if not header_line:
            return
        header = parse_tokens(header_line)
        payload = parse_tokens(stdin.read(int(header.get("len", 0))).split("\n", 1)[0])
        known = start_reasons.reasons(settings) if header.get("eventname") == "PROCESS_STATE_FATAL" else {}
        reason = shutdown_reason(header.get("eventname", ""), payload, programs, known)
        if reason and header.get("eventname") == "PROCESS_STATE_EXITED" and entrypoint.held(settings):
            # The upgrade (or recovery) owns this container: the restore that started migrate puts the
            # live database back, the deploy the old container; a restart would only cut that short.
            stderr.write("[aio watchdog] %s while %s holds the container: it stays up, the restore and its "
                         "rollback handle it\n" % (reason, entrypoint.hold_path(settings)))
            stderr.flush()
            reason = None
        if payload.get("processname") in known and header.get("eventname") == "PROCESS_STATE_FATAL":
            stderr.write("[aio watchdog] %s cannot start: %s; the container stays up, unhealthy, as a restart "
                         "would fail the same way\n" % (payload["processname"], known[payload["processname"]]))
            stderr.flush()
        if reason:
            stderr.write(STOPPING % reason + "\n")
            stderr.flush()
            try:
                shutdown()
            except Exception as exc:  # keep listening; supervisord may already be going down
                stderr.write("[aio watchdog] shutdown request failed: %s\n" % exc)
        stdout.write("RESULT 2\nOK")
        stdout.flush()
