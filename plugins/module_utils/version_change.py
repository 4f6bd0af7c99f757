# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""What changing ``glitchtip_version`` means for the data: the same version, an upgrade or a downgrade.

Pure functions (no Ansible, no Docker): the filter ``glitchtip.aio.version_change`` and the
container role's upgrade tasks use them; tests/unit/test_version_change.py covers them.
"""

from __future__ import annotations

import re

_VERSION = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$")

SAME = "same"
UPGRADE = "upgrade"
DOWNGRADE = "downgrade"
FIRST = "first"  # no container runs yet: nothing to upgrade from


def parse_version(text, what="version"):
    """(major, minor, patch) of "5.2", "5.2.9", "6.2.0", "v5.2", "6"; an absent part is None.
    ValueError names WHAT and the value otherwise."""
    match = _VERSION.match(str(text).strip()) if text is not None else None
    if not match:
        raise ValueError("%s: expected a GlitchTip version such as 6.2.0, 6.2 or v5.2, got %r" % (what, text))
    return tuple(int(part) if part is not None else None for part in match.groups())


def compare(running, wanted):
    """-1, 0 or 1: RUNNING older than, the same release as, or newer than WANTED (strings or tuples).
    Parts one side leaves out are not compared: "5.2" names the 5.2 line, so "5.2" and "5.2.9" compare
    equal (the caller tells a change inside a line from no change by the text, see change())."""
    running = parse_version(running, "running version") if isinstance(running, str) else running
    wanted = parse_version(wanted, "glitchtip_version") if isinstance(wanted, str) else wanted
    for old, new in zip(running, wanted):
        if old is None or new is None:
            break
        if old != new:
            return -1 if old < new else 1
    return 0


def change(running, wanted):
    """What deploying WANTED over a container labelled RUNNING does to the data.

    first:     no running version (no container, or one without the label): nothing to protect from.
    same:      the same version text (v-prefix aside): no migration to expect.
    upgrade:   WANTED is newer, or another version of the same line ("5.2" -> "5.2.9", "5.2.9" -> "5.2"):
               its migrations may run, so it is protected like an upgrade and never refused.
    downgrade: WANTED is older than the version that migrated the data."""
    wanted_parts = parse_version(wanted, "glitchtip_version")
    if running is None or str(running).strip() == "":
        return FIRST
    running_parts = parse_version(running, "running version (label org.glitchtip-aio.glitchtip-version)")
    if running_parts == wanted_parts:
        return SAME
    return DOWNGRADE if compare(running_parts, wanted_parts) > 0 else UPGRADE
