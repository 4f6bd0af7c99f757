# -*- coding: utf-8 -*-
"""scheduler.py: which jobs are on, which is due next, and the loop that runs them (with a fake clock)."""

from __future__ import annotations

import datetime
import io

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import schedule, scheduler

D = datetime.datetime


class StopTest(Exception):
    """Raised by a fake to break out of run_forever's endless loop."""


class FakeClock:
    def __init__(self, start):
        self.t = start
        self.sleeps = []

    def now(self):
        return self.t

    def sleep(self, seconds):
        assert seconds > 0
        self.sleeps.append(seconds)
        self.t += datetime.timedelta(seconds=seconds)


# ---------------------------------------------------------------- configured_jobs / due_next


def test_no_jobs_configured():
    assert scheduler.configured_jobs({}) == {}
    assert scheduler.configured_jobs({"AIO_RESTART_SCHEDULE": ""}) == {}
    assert scheduler.configured_jobs({"AIO_RESTART_SCHEDULE": "   "}) == {}
    assert scheduler.configured_jobs({"OTHER": "1 3 * * *"}) == {}


def test_restart_job_configured():
    assert scheduler.configured_jobs({"AIO_RESTART_SCHEDULE": "1 3 * * *"}) == {"restart": "1 3 * * *"}
    assert scheduler.configured_jobs({"AIO_RESTART_SCHEDULE": " 1 3 * * *\n"}) == {"restart": "1 3 * * *"}


@pytest.mark.parametrize("expression, field", [("1 24 * * *", "hour"), ("1 3 * *", "expected 5 fields"),
                                               ("x 3 * * *", "minute")])
def test_bad_expression_names_the_variable(expression, field):
    with pytest.raises(schedule.ScheduleError) as info:
        scheduler.configured_jobs({"AIO_RESTART_SCHEDULE": expression})
    message = str(info.value)
    assert message.startswith("AIO_RESTART_SCHEDULE: ")
    assert field in message


@pytest.mark.parametrize("expression", ["0 0 31 4 *", "0 0 30 2 *"])
def test_expression_that_never_matches_is_rejected_up_front(expression):
    with pytest.raises(schedule.ScheduleError, match="AIO_RESTART_SCHEDULE"):
        scheduler.configured_jobs({"AIO_RESTART_SCHEDULE": expression})


def test_due_next_picks_the_soonest():
    jobs = {"restart": "1 3 * * *", "other": "*/15 * * * *"}
    assert scheduler.due_next(jobs, D(2025, 6, 10, 2, 50)) == (D(2025, 6, 10, 3, 0), "other")
    assert scheduler.due_next(jobs, D(2025, 6, 10, 3, 0, 30)) == (D(2025, 6, 10, 3, 1), "restart")
    assert scheduler.due_next(jobs, D(2025, 6, 10, 3, 1)) == (D(2025, 6, 10, 3, 15), "other")
    assert scheduler.due_next({"restart": "1 3 * * *"}, D(2025, 6, 10, 3, 1)) == (D(2025, 6, 11, 3, 1), "restart")


# ---------------------------------------------------------------- run_forever


def test_run_forever_runs_the_job_at_the_due_minute_and_not_before():
    clock = FakeClock(D(2025, 6, 10, 2, 58, 20))
    runs = []

    def run(args):
        runs.append((clock.now(), list(args)))
        raise StopTest()

    log = io.StringIO()
    with pytest.raises(StopTest):
        scheduler.run_forever({"AIO_RESTART_SCHEDULE": "1 3 * * *"}, log=log, now=clock.now, sleep=clock.sleep,
                              run=run)
    assert len(runs) == 1
    when, args = runs[0]
    assert args == ["restart", "--notify"]
    assert D(2025, 6, 10, 3, 1) <= when < D(2025, 6, 10, 3, 1, 30)
    # Short sleeps only (a clock step cannot make the job days late), and they add up to the wait.
    assert clock.sleeps and all(0.5 <= s <= 30.0 for s in clock.sleeps)
    assert sum(clock.sleeps) == pytest.approx((when - D(2025, 6, 10, 2, 58, 20)).total_seconds())
    text = log.getvalue()
    assert "restart at '1 3 * * *'" in text
    assert "restart: starting (due 2025-06-10T03:01)" in text


def test_run_forever_runs_once_per_due_minute_then_waits_for_the_next_day():
    clock = FakeClock(D(2025, 6, 10, 3, 0, 50))
    runs = []

    def run(args):
        runs.append(clock.now())
        if len(runs) == 2:
            raise StopTest()
        clock.t += datetime.timedelta(seconds=5)  # the job takes a few seconds
        return 0

    log = io.StringIO()
    with pytest.raises(StopTest):
        scheduler.run_forever({"AIO_RESTART_SCHEDULE": "1 3 * * *"}, log=log, now=clock.now, sleep=clock.sleep,
                              run=run)
    assert D(2025, 6, 10, 3, 1) <= runs[0] < D(2025, 6, 10, 3, 2)
    assert D(2025, 6, 11, 3, 1) <= runs[1] < D(2025, 6, 11, 3, 2)
    assert "restart: exit code 0" in log.getvalue()


def test_run_forever_with_a_job_due_right_now_runs_without_sleeping_past_it():
    # Started exactly on the minute: that minute is not "after now", so the next one is due.
    clock = FakeClock(D(2025, 6, 10, 10, 0))
    runs = []

    def run(args):
        runs.append(clock.now())
        raise StopTest()

    with pytest.raises(StopTest):
        scheduler.run_forever({"AIO_RESTART_SCHEDULE": "* * * * *"}, log=io.StringIO(), now=clock.now,
                              sleep=clock.sleep, run=run)
    assert runs == [D(2025, 6, 10, 10, 1)]
    assert sum(clock.sleeps) == 60


def test_run_forever_without_jobs_only_sleeps():
    clock = FakeClock(D(2025, 6, 10, 12, 0))
    calls = {"sleep": 0}
    runs = []

    def sleep(seconds):
        calls["sleep"] += 1
        clock.sleep(seconds)
        if calls["sleep"] >= 3:
            raise StopTest()

    log = io.StringIO()
    with pytest.raises(StopTest):
        scheduler.run_forever({"AIO_RESTART_SCHEDULE": ""}, log=log, now=clock.now, sleep=sleep,
                              run=lambda args: runs.append(args))
    assert runs == []
    assert clock.sleeps == [3600, 3600, 3600]
    assert "no job scheduled; idle" in log.getvalue()


def test_run_forever_bad_expression_raises_before_anything_runs():
    runs = []
    with pytest.raises(schedule.ScheduleError, match="AIO_RESTART_SCHEDULE"):
        scheduler.run_forever({"AIO_RESTART_SCHEDULE": "61 3 * * *"}, log=io.StringIO(), now=lambda: D(2025, 1, 1),
                              sleep=lambda s: (_ for _ in ()).throw(AssertionError("slept")),
                              run=lambda args: runs.append(args))
    assert runs == []


def test_partition_job_is_quiet_and_reports_failures():
    environ = {"AIO_PARTITION_SCHEDULE": "15 1 * * *"}
    assert scheduler.configured_jobs(environ) == {"partitions": "15 1 * * *"}
    assert scheduler.JOBS["partitions"][1](environ) == ["migrate", "--partitions-only", "--quiet",
                                                        "--notify-failure"]
