# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Checks of one destination's settings, shared by the kinds: each returns a problem in words or None.

The same checks serve the deploy's validation (destinations.problems, before anything changes) and
the runtime (from_options refuses the same things at prepare), so the two can never disagree.
"""

from __future__ import annotations

import re

_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[[0-9A-Fa-f:.]+\]$")


def unknown(kind, settings, known):
    extra = sorted(set(settings) - set(known))
    if extra:
        return "%s: unknown setting(s) %s (known: %s)" % (kind, ", ".join(extra), ", ".join(sorted(known)))
    return None


def required(kind, settings, names):
    missing = [name for name in names if not str(settings.get(name) or "").strip()]
    return "%s: %s required" % (kind, " and ".join(missing)) if missing else None


def host(kind, setting, value):
    if value and not _HOST.match(str(value)):
        return "%s: %s %r is not a host name or address" % (kind, setting, value)
    return None


def integer(kind, setting, value, low, high):
    """VALUE (None: the default applies) an integer from LOW to HIGH."""
    if value is None or value == "":
        return None
    try:
        number = int(str(value))
    except ValueError:
        number = None
    if number is None or not low <= number <= high:
        return "%s: %s must be a whole number from %d to %d, got %r" % (kind, setting, low, high, value)
    return None


def pem(kind, setting, value, label):
    """VALUE (optional) the text of a PEM block whose BEGIN line names LABEL (e.g. "PRIVATE KEY")."""
    if value and not re.search(r"-----BEGIN [A-Z0-9 ]*%s-----" % re.escape(label), str(value)):
        return "%s: %s must be the text of a PEM %s (-----BEGIN ... %s-----), not a file name" % (
            kind, setting, label, label)
    return None


def found(*problems):
    return [problem for problem in problems if problem]
