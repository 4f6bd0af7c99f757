# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Cron schedules for the in-container jobs (scheduled restart, backup, partition maintenance).

A five-field cron expression (minute hour day-of-month month day-of-week) with
``*``, numbers, lists, ranges and steps, evaluated in the container's time zone.
Pure functions: the scheduler program only sleeps until ``next_run``.
"""

from __future__ import annotations

import datetime

_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12), ("day of week", 0, 7))


class ScheduleError(ValueError):
    pass


def _parse_field(text, name, low, high):
    values = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleError("%s: bad step %r" % (name, step_text))
            step = int(step_text)
        if part == "*":
            start, end = low, high
        elif "-" in part:
            start_text, end_text = part.split("-", 1)
            if not (start_text.isdigit() and end_text.isdigit()):
                raise ScheduleError("%s: bad range %r" % (name, part))
            start, end = int(start_text), int(end_text)
        elif part.isdigit():
            start = end = int(part)
            if step != 1:
                end = high
        else:
            raise ScheduleError("%s: %r is not a number, range, list or *" % (name, part))
        if start < low or end > high or start > end:
            raise ScheduleError("%s: %r is outside %d-%d" % (name, part, low, high))
        values.update(range(start, end + 1, step))
    return values


def parse(expression):
    """{field: set of allowed values}; ScheduleError says which field is wrong."""
    fields = expression.split()
    if len(fields) != 5:
        raise ScheduleError("%r: expected 5 fields (minute hour day month weekday)" % expression)
    parsed = {name: _parse_field(text, name, low, high) for text, (name, low, high) in zip(fields, _FIELDS)}
    if 7 in parsed["day of week"]:
        parsed["day of week"].add(0)
    # As in Vixie cron: a day field starting with '*' (also '*/2') does not restrict.
    parsed["restricted"] = (not fields[2].startswith("*"), not fields[4].startswith("*"))
    return parsed


def validate(expression, now=None):
    """parse() plus proof that the expression fires at all (31 April never comes)."""
    next_run(expression, now or datetime.datetime(2026, 1, 1))


def matches(parsed, moment):
    if moment.minute not in parsed["minute"] or moment.hour not in parsed["hour"] \
            or moment.month not in parsed["month"]:
        return False
    return _day_matches(parsed, moment)


def _day_matches(parsed, moment):
    """cron's rule: when both day fields are restricted, either may match."""
    day_ok = moment.day in parsed["day of month"]
    weekday_ok = (moment.isoweekday() % 7) in parsed["day of week"]
    dom_restricted, dow_restricted = parsed["restricted"]
    if dom_restricted and dow_restricted:
        return day_ok or weekday_ok
    return day_ok and weekday_ok


def next_run(expression, after):
    """The first minute strictly after ``after`` (an aware or naive datetime) that matches."""
    parsed = parse(expression)
    moment = after.replace(second=0, microsecond=0) + datetime.timedelta(minutes=1)
    # Whole days and hours that cannot match are skipped, so even 29 February is found quickly.
    limit = moment + datetime.timedelta(days=8 * 366)
    while moment < limit:
        if moment.month not in parsed["month"] or not _day_matches(parsed, moment):
            moment = (moment + datetime.timedelta(days=1)).replace(hour=0, minute=0)
        elif moment.hour not in parsed["hour"]:
            moment = (moment + datetime.timedelta(hours=1)).replace(minute=0)
        elif moment.minute not in parsed["minute"]:
            moment += datetime.timedelta(minutes=1)
        else:
            return moment
    raise ScheduleError("%r never matches" % expression)
