# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Health rules: pure decisions over what the probes saw.

One implementation used by the Docker health check, the deploy wait (the
``health`` module), ``health.yml`` and the scheduled restart.
"""

from __future__ import annotations

import datetime

OK = "ok"
DEGRADED = "degraded"
DOWN = "down"
UNKNOWN = "unknown"

# Worst first wins when components are combined; "unknown" (no answer) is not "down".
_RANK = {OK: 0, UNKNOWN: 1, DEGRADED: 2, DOWN: 3}

# Everything `aio health` can judge, in report order: the one list the CLI, the scheduled restart
# and the health module offer (the module's DOCUMENTATION choices are pinned to it by a unit test).
COMPONENTS = ("supervisor", "postgres", "redis", "web", "worker", "host", "offsite")
# Shown but not counted in the overall status: a stale off-host copy is the operator's to hear of
# (health.yml, the restart's report, the backup's webhook), not a reason to call a serving GlitchTip
# unhealthy, fail a scheduled restart or a deploy's wait.
ADVISORY = ("offsite",)
# The nightly backup runs every 24 h: a copy older than this missed at least one night.
OFFSITE_MAX_AGE_HOURS = 26
# How often a wait for health (restart, restore) probes again: each missed poll adds up to this
# much to a restart's or restore's downtime; a probe round costs a few milliseconds.
POLL_SECONDS = 0.25

LONG_RUNNING = "service"
ONESHOT = "oneshot"

DISK_DEGRADED_PERCENT = 90.0
DISK_DOWN_PERCENT = 98.0
REDIS_MEMORY_DEGRADED_RATIO = 0.9


def component(name, status, reason, elapsed_ms=0.0, **details):
    return {"name": name, "status": status, "reason": reason, "elapsed_ms": round(elapsed_ms, 1),
            "details": details}


def worst(statuses):
    statuses = list(statuses)
    if not statuses:
        return UNKNOWN
    return max(statuses, key=lambda status: _RANK[status])


def program_status(kind, info):
    """Status of one supervisord program from its getProcessInfo dict."""
    state = info.get("statename", "UNKNOWN")
    if kind == ONESHOT:
        if state == "EXITED":
            if info.get("exitstatus") == 0:
                return OK, "finished (exit 0)"
            return DOWN, "failed (exit %s)" % info.get("exitstatus")
        if state in ("STARTING", "RUNNING"):
            return DEGRADED, "still running"
        return DOWN, state
    if state == "RUNNING":
        return OK, "running"
    if state in ("STARTING", "STOPPING"):
        return DEGRADED, state.lower()
    # BACKOFF, FATAL, EXITED, STOPPED, UNKNOWN: not serving.
    return DOWN, state


# A migrate program held for the restore of a fresh cluster (a PostgreSQL upgrade's or a recovery's:
# programs.held_for_restore): done for now.
HELD_REASON = "held for the restore into a fresh cluster (exit 0), which runs the migrations on the restored data"


def supervisor_component(programs, infos, elapsed_ms=0.0, held=()):
    """programs: {name: kind}; infos: getAllProcessInfo keyed by name (None: no answer); held: the
    one-shots that finished held (their marker says so), ok and said to be held."""
    if infos is None:
        return component("supervisor", UNKNOWN, "supervisord did not answer", elapsed_ms)
    per_program = {}
    for name, kind in sorted(programs.items()):
        info = infos.get(name)
        if info is None:
            per_program[name] = {"status": DOWN, "state": "MISSING", "reason": "not configured", "pid": 0}
            continue
        status, reason = program_status(kind, info)
        if status == OK and kind == ONESHOT and name in held:
            reason = HELD_REASON
        per_program[name] = {"status": status, "state": info.get("statename"), "reason": reason,
                             "pid": info.get("pid", 0), "start": info.get("start", 0)}
    status = worst(p["status"] for p in per_program.values())
    bad = ["%s %s" % (name, p["reason"]) for name, p in per_program.items() if p["status"] != OK]
    reason = "; ".join(bad) if bad else "all %d programs ok" % len(per_program)
    if not bad and any(p["reason"] == HELD_REASON for p in per_program.values()):
        reason += "; %s %s" % (", ".join(n for n, p in per_program.items() if p["reason"] == HELD_REASON), HELD_REASON)
    return component("supervisor", status, reason, elapsed_ms, programs=per_program)


def file_liveness(now, started, mtime, max_age):
    """(status, reason) of a worker that proves it lives by touching a file (django-vtasks'
    ``--health-check-file``, every 5 s from its event loop).

    now, started (the process's start, from supervisord) and mtime (None: no file) are epoch
    seconds. A file older than the process is a previous process's: it proves nothing. Until the
    window has passed since the start the worker may still be importing the app (degraded); after
    it, a missing or stale file means a dead or stuck event loop, whatever the process looks like.
    """
    if mtime is not None and mtime >= started - 1:
        age = max(0.0, now - mtime)
        if age <= max_age:
            return OK, "health-check file touched %.0fs ago" % age
        return DOWN, "health-check file not touched for %.0fs (limit %gs): the worker is stuck or dead" % (age, max_age)
    running = max(0.0, now - started)
    if running <= max_age:
        return DEGRADED, "started %.0fs ago, no health-check file yet" % running
    return DOWN, "no health-check file %.0fs after the start (limit %gs)" % (running, max_age)


def disk_status(total, used):
    """(percent used, status) of a filesystem."""
    percent = 100.0 * used / total if total else 0.0
    if percent >= DISK_DOWN_PERCENT:
        status = DOWN
    elif percent >= DISK_DEGRADED_PERCENT:
        status = DEGRADED
    else:
        status = OK
    return percent, status


def redis_memory_status(used, maxmemory):
    if maxmemory and used >= REDIS_MEMORY_DEGRADED_RATIO * maxmemory:
        return DEGRADED, "memory %d of %d bytes" % (used, maxmemory)
    return OK, "PONG"


def overall(components):
    return worst(c["status"] for c in components if c["name"] not in ADVISORY)


def offsite_component(kinds, state, now, elapsed_ms=0.0, max_age_hours=OFFSITE_MAX_AGE_HOURS):
    """The off-host copies as one advisory component: each destination of KINDS with the age of its
    last good copy (STATE: destinations.read_state), degraded when one never had a copy, its last
    attempt failed, or its last good copy is older than MAX_AGE_HOURS."""
    parts, bad, ages = [], False, {}
    for kind in kinds:
        entry = state.get(kind) or {}
        good = _parse_time(entry.get("last_good"))
        age = (now - good).total_seconds() / 3600.0 if good else None
        ages[kind] = None if age is None else round(age, 2)
        words = "%s: %s" % (kind, "no good copy yet" if age is None else "last good copy %.1f h ago (%s)"
                            % (age, entry.get("backup")))
        if entry.get("last_ok") is False:
            words += "; last attempt FAILED at %s: %s" % (entry.get("last_attempt"), entry.get("last_reason"))
        if age is None or age > max_age_hours or entry.get("last_ok") is False:
            bad = True
        parts.append(words)
    return component("offsite", DEGRADED if bad else OK, "; ".join(parts), elapsed_ms, last_good_age_hours=ages,
                     max_age_hours=max_age_hours)


def _parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def with_start_reasons(components, reasons):
    """Components whose program recorded why it cannot start (launcher.record_cannot_start) say so first:
    the supervisor's per-program reason, and the service component of that name when it is not ok."""
    if not reasons:
        return components
    for item in components:
        if item["name"] == "supervisor":
            programs = item["details"].get("programs", {})
            for name, reason in sorted(reasons.items()):
                if name in programs and programs[name]["status"] != OK:
                    programs[name]["reason"] = "cannot start: %s" % reason
            bad = ["%s %s" % (name, p["reason"]) for name, p in sorted(programs.items()) if p["status"] != OK]
            if bad:
                item["reason"] = "; ".join(bad)
        elif item["name"] in reasons and item["status"] != OK:
            item["reason"] = "cannot start: %s (%s)" % (reasons[item["name"]], item["reason"])
    return components


def report(components):
    return {"status": overall(components), "components": {c["name"]: c for c in components}}


def hopeless(report_):
    """Why waiting for health is pointless now (a definitive failure), or None.

    FATAL means supervisord gave up on a program; a one-shot that exited
    non-zero (a failed migration) never comes back by itself either.
    """
    sup = report_.get("components", {}).get("supervisor")
    if not sup:
        return None
    failed = []
    for name, program in sup.get("details", {}).get("programs", {}).items():
        if program.get("state") == "FATAL" or (program.get("state") == "EXITED" and program.get("status") == DOWN
                                               and program.get("reason", "").startswith("failed")):
            failed.append(name)
    if failed:
        programs = sup.get("details", {}).get("programs", {})
        why = ["%s %s" % (name, programs[name]["reason"]) for name in sorted(failed)
               if programs[name].get("reason", "").startswith("cannot start: ")]
        return {"programs": sorted(failed), "reason": "; ".join(why) if why else
                "%s failed for good" % ", ".join(sorted(failed))}
    return None


def failing_programs(report_):
    """Programs whose logs an operator wants to see when health is not ok: those supervisord finds
    not running, and a running worker whose own liveness signal says otherwise."""
    components = report_.get("components", {})
    programs = components.get("supervisor", {}).get("details", {}).get("programs", {})
    failing = {name for name, program in programs.items() if program.get("status") != OK}
    if "worker" in programs and components.get("worker", {}).get("status", OK) != OK:
        failing.add("worker")
    return sorted(failing)


def deploy_wait_components(roles, after_start):
    """The components a deploy waits for, in COMPONENTS order: everything that serves, never the host's
    disk and memory (a full disk is for health.yml to show, not a reason to roll back).

    web and worker only where the server roles (``glitchtip_server_roles``, the container's AIO_ROLES)
    run them; the worker's heartbeat only AFTER_START (a container created, recreated or started):
    an unchanged container's worker process state comes with the supervisor component.
    """
    wanted = {"supervisor", "postgres", "redis"}
    if "web" in roles:
        wanted.add("web")
    if after_start and "worker" in roles:
        wanted.add("worker")
    return [name for name in COMPONENTS if name in wanted]


def wait_until_healthy(observe, timeout, interval, clock, sleep):
    """Poll observe() until the report is ok, a definitive failure shows, or the deadline passes.

    observe() returns (report or None, fatal reason or None); a fatal reason
    (e.g. the container died) ends the wait at once. Returns
    (outcome, last report, reason, attempts) with outcome "ok", "failed" or "timeout".
    """
    deadline = clock() + timeout
    attempts = 0
    last = None
    while True:
        attempts += 1
        last, fatal = observe()
        if fatal:
            return "failed", last, fatal, attempts
        if last is not None:
            if last.get("status") == OK:
                return "ok", last, None, attempts
            gave_up = hopeless(last)
            if gave_up:
                return "failed", last, gave_up["reason"], attempts
        if clock() + interval > deadline:
            reason = "not healthy after %ds" % timeout
            if last is not None:
                bad = ["%s: %s" % (name, item["reason"]) for name, item in sorted(last["components"].items())
                       if item["status"] != OK]
                reason += " (%s)" % "; ".join(bad)
            return "timeout", last, reason, attempts
        sleep(interval)
