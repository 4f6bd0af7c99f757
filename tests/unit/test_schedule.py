# -*- coding: utf-8 -*-
"""schedule.py: five-field cron expressions and the next run time."""

from __future__ import annotations

import datetime
import time
import zoneinfo

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import schedule

D = datetime.datetime


# ---------------------------------------------------------------- parse


def test_parse_daily_at_0301():
    parsed = schedule.parse("1 3 * * *")
    assert parsed["minute"] == {1}
    assert parsed["hour"] == {3}
    assert parsed["day of month"] == set(range(1, 32))
    assert parsed["month"] == set(range(1, 13))
    assert parsed["day of week"] == set(range(0, 8))
    assert parsed["restricted"] == (False, False)


def test_parse_step():
    assert schedule.parse("*/15 * * * *")["minute"] == {0, 15, 30, 45}
    assert schedule.parse("* */6 * * *")["hour"] == {0, 6, 12, 18}
    # A number with a step starts there and runs to the end of the field.
    assert schedule.parse("5/20 * * * *")["minute"] == {5, 25, 45}
    assert schedule.parse("10-20/5 * * * *")["minute"] == {10, 15, 20}


def test_parse_list():
    parsed = schedule.parse("0 0 1,15 * *")
    assert parsed["day of month"] == {1, 15}
    assert parsed["restricted"] == (True, False)


def test_parse_ranges():
    parsed = schedule.parse("0 9-17 * * 1-5")
    assert parsed["hour"] == set(range(9, 18))
    assert parsed["day of week"] == {1, 2, 3, 4, 5}
    assert parsed["restricted"] == (False, True)


def test_parse_extra_whitespace_is_accepted():
    assert schedule.parse("  1   3 * *\t* ") == schedule.parse("1 3 * * *")


def test_sunday_is_7_or_0():
    assert 0 in schedule.parse("0 0 * * 7")["day of week"]
    after = D(2025, 6, 10, 12, 0)  # a Tuesday
    seven = schedule.next_run("0 0 * * 7", after)
    zero = schedule.next_run("0 0 * * 0", after)
    assert seven == zero == D(2025, 6, 15, 0, 0)
    assert seven.isoweekday() == 7


@pytest.mark.parametrize("expression, field", [
    ("60 * * * *", "minute"),
    ("* 24 * * *", "hour"),
    ("* * 0 * *", "day of month"),
    ("* * 32 * *", "day of month"),
    ("* * * 13 *", "month"),
    ("* * * 0 *", "month"),
    ("* * * * 8", "day of week"),
    ("a * * * *", "minute"),
    ("*/0 * * * *", "minute"),
    ("*/x * * * *", "minute"),
    ("5-1 * * * *", "minute"),
    ("1-x * * * *", "minute"),
    ("-1 * * * *", "minute"),
    ("1,,2 * * * *", "minute"),
    ("* * * * mon", "day of week"),
])
def test_parse_rejects_bad_field_and_names_it(expression, field):
    with pytest.raises(schedule.ScheduleError) as info:
        schedule.parse(expression)
    assert str(info.value).startswith(field + ":"), str(info.value)


@pytest.mark.parametrize("expression", ["* * * *", "* * * * * *", "", "@daily"])
def test_parse_rejects_wrong_field_count(expression):
    with pytest.raises(schedule.ScheduleError, match="expected 5 fields"):
        schedule.parse(expression)


def test_schedule_error_is_a_value_error():
    # Callers (the Ansible cron_expression test) catch ValueError.
    assert issubclass(schedule.ScheduleError, ValueError)


# ---------------------------------------------------------------- next_run


def test_next_run_is_strictly_after():
    # Exactly at 03:01 the next run is tomorrow's, not this one.
    assert schedule.next_run("1 3 * * *", D(2025, 6, 10, 3, 1)) == D(2025, 6, 11, 3, 1)
    # Seconds into 03:01 as well.
    assert schedule.next_run("1 3 * * *", D(2025, 6, 10, 3, 1, 0, 1)) == D(2025, 6, 11, 3, 1)
    # One second before, it is today.
    assert schedule.next_run("1 3 * * *", D(2025, 6, 10, 3, 0, 59)) == D(2025, 6, 10, 3, 1)


def test_next_run_daily():
    assert schedule.next_run("1 3 * * *", D(2025, 6, 10, 0, 0)) == D(2025, 6, 10, 3, 1)
    assert schedule.next_run("1 3 * * *", D(2025, 6, 10, 12, 0)) == D(2025, 6, 11, 3, 1)
    # Across a month and a year end.
    assert schedule.next_run("1 3 * * *", D(2025, 6, 30, 4, 0)) == D(2025, 7, 1, 3, 1)
    assert schedule.next_run("1 3 * * *", D(2025, 12, 31, 23, 59)) == D(2026, 1, 1, 3, 1)


def test_next_run_every_15_minutes():
    assert schedule.next_run("*/15 * * * *", D(2025, 6, 10, 10, 7, 30)) == D(2025, 6, 10, 10, 15)
    assert schedule.next_run("*/15 * * * *", D(2025, 6, 10, 10, 45)) == D(2025, 6, 10, 11, 0)
    assert schedule.next_run("*/15 * * * *", D(2025, 6, 10, 23, 50)) == D(2025, 6, 11, 0, 0)
    moment, runs = D(2025, 6, 10, 0, 0), []
    for _ in range(8):
        moment = schedule.next_run("*/15 * * * *", moment)
        runs.append(moment)
    assert [(m.hour, m.minute) for m in runs] == [(0, 15), (0, 30), (0, 45), (1, 0), (1, 15), (1, 30), (1, 45),
                                                  (2, 0)]


def test_next_run_month_end():
    assert schedule.next_run("0 0 31 * *", D(2025, 11, 27, 10, 0)) == D(2025, 12, 31, 0, 0)
    # February, April: no 31st, skipped.
    assert schedule.next_run("0 0 31 * *", D(2025, 1, 31, 0, 0)) == D(2025, 3, 31, 0, 0)
    assert schedule.next_run("0 0 31 * *", D(2025, 3, 31, 0, 0)) == D(2025, 5, 31, 0, 0)


def test_next_run_leap_day():
    assert schedule.next_run("0 0 29 2 *", D(2025, 3, 1)) == D(2028, 2, 29, 0, 0)
    assert schedule.next_run("0 0 29 2 *", D(2028, 2, 29, 0, 0)) == D(2032, 2, 29, 0, 0)


def test_next_run_weekday_rule_either_day_field_matches():
    # Both day fields restricted: the 13th OR a Friday, whichever comes first.
    assert schedule.next_run("0 0 13 * 5", D(2025, 7, 1)) == D(2025, 7, 4)   # Tue -> Fri 4th
    assert schedule.next_run("0 0 13 * 5", D(2025, 7, 12)) == D(2025, 7, 13)  # Sat -> Sun 13th
    assert schedule.next_run("0 0 13 * 5", D(2025, 7, 13)) == D(2025, 7, 18)  # -> next Friday
    # Only one restricted: that one alone decides.
    assert schedule.next_run("0 0 * * 5", D(2025, 7, 12)) == D(2025, 7, 18)
    assert schedule.next_run("0 0 13 * *", D(2025, 7, 1)) == D(2025, 7, 13)


def test_next_run_weekdays_business_hours():
    # Friday 17:30 -> Monday 09:00.
    assert schedule.next_run("0 9-17 * * 1-5", D(2025, 7, 4, 17, 30)) == D(2025, 7, 7, 9, 0)
    assert schedule.next_run("0 9-17 * * 1-5", D(2025, 7, 7, 9, 0)) == D(2025, 7, 7, 10, 0)


def test_next_run_with_timezone_aware_datetime():
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    after = D(2025, 6, 10, 3, 1, tzinfo=shanghai)
    result = schedule.next_run("1 3 * * *", after)
    assert result == D(2025, 6, 11, 3, 1, tzinfo=shanghai)
    assert result.tzinfo is shanghai
    assert result.utcoffset() == datetime.timedelta(hours=8)
    # Evaluated in the given zone's wall clock, not UTC.
    assert result.astimezone(datetime.timezone.utc) == D(2025, 6, 10, 19, 1, tzinfo=datetime.timezone.utc)
    # An aware UTC "after" that is 02:00 in Shanghai gives 03:01 Shanghai the same day only if passed in that zone.
    utc_after = D(2025, 6, 9, 18, 0, tzinfo=datetime.timezone.utc)  # 02:00 on the 10th in Shanghai
    assert schedule.next_run("1 3 * * *", utc_after.astimezone(shanghai)) == D(2025, 6, 10, 3, 1, tzinfo=shanghai)


def test_next_run_never_matching_raises():
    with pytest.raises(schedule.ScheduleError, match="never matches"):
        schedule.next_run("0 0 30 2 *", D(2025, 1, 1))


def test_next_run_is_fast():
    expressions = ["1 3 * * *", "*/15 * * * *", "0 0 31 * *", "0 0 29 2 *", "0 0 13 * 5", "59 23 31 12 *",
                   "0 9-17 * * 1-5"]
    started = time.perf_counter()
    for expression in expressions:
        for month in range(1, 13):
            schedule.next_run(expression, D(2025, month, 15, 12, 34, 56))
    # The hardest case: scans 8 years before giving up.
    with pytest.raises(schedule.ScheduleError):
        schedule.next_run("0 0 31 4 *", D(2025, 1, 1))
    assert time.perf_counter() - started < 0.5
