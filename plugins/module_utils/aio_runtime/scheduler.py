# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio scheduler``: the supervisord program that runs the in-container jobs on their cron schedules.

Jobs come from the environment (``AIO_RESTART_SCHEDULE``, ``AIO_BACKUP_SCHEDULE``, ``AIO_PARTITION_SCHEDULE``:
cron expressions in the container's TZ; empty disables one). Each run is a separate ``aio`` process,
so a crashing job never takes the scheduler down.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import time

from . import schedule


def _backup_args(environ):
    # Nobody reads the nightly success; a failure, or a failed off-host copy, goes to the webhooks.
    args = ["backup", "--notify-failure"]
    for variable, flag in (("AIO_BACKUP_KEEP_COUNT", "--keep-count"), ("AIO_BACKUP_KEEP_DAYS", "--keep-days")):
        if environ.get(variable, "").strip():
            args += [flag, environ[variable].strip()]
    return args


JOBS = {
    # job name: (environment variable with its cron expression, aio arguments from the environment)
    "restart": ("AIO_RESTART_SCHEDULE", lambda environ: ["restart", "--notify"]),
    "backup": ("AIO_BACKUP_SCHEDULE", _backup_args),
    # Quiet: it prints (and notifies) only when it fails.
    "partitions": ("AIO_PARTITION_SCHEDULE",
                   lambda environ: ["migrate", "--partitions-only", "--quiet", "--notify-failure"]),
}


def configured_jobs(environ):
    """{job: cron expression} for the jobs switched on; ScheduleError names the bad variable."""
    jobs = {}
    for name, (variable, _args) in JOBS.items():
        expression = environ.get(variable, "").strip()
        if not expression:
            continue
        try:
            schedule.validate(expression)
        except schedule.ScheduleError as exc:
            raise schedule.ScheduleError("%s: %s" % (variable, exc)) from exc
        jobs[name] = expression
    return jobs


def due_next(jobs, now):
    """(when, job) of the soonest job after now."""
    return min((schedule.next_run(expression, now), name) for name, expression in jobs.items())


def run_forever(environ, log=sys.stderr, now=datetime.datetime.now, sleep=time.sleep,
                run=lambda args: subprocess.run(["/usr/local/bin/aio"] + args, check=False).returncode):
    jobs = configured_jobs(environ)
    if not jobs:
        log.write("[aio scheduler] no job scheduled; idle\n")
        log.flush()
        while True:
            sleep(3600)
    for name, expression in sorted(jobs.items()):
        log.write("[aio scheduler] %s at '%s' (%s)\n" % (name, expression, time.strftime("%Z")))
    log.flush()
    while True:
        when, name = due_next(jobs, now())
        # Short sleeps: a clock step (NTP, suspend) cannot make a job days late.
        while now() < when:
            sleep(min(30.0, max(0.5, (when - now()).total_seconds())))
        log.write("[aio scheduler] %s: starting (due %s)\n" % (name, when.isoformat(timespec="minutes")))
        log.flush()
        try:
            code = run(JOBS[name][1](environ))
        except OSError as exc:  # the job could not even start; the scheduler carries on
            log.write("[aio scheduler] %s: cannot start: %s\n" % (name, exc))
            log.flush()
            continue
        log.write("[aio scheduler] %s: exit code %d\n" % (name, code))
        log.flush()
