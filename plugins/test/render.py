# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Jinja tests for validation: the same rules the template filters enforce."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.module_utils import render
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup_files, schedule


def image_reference(value):
    """True when value is a Docker image reference the Dockerfile's FROM can take."""
    try:
        render.image_reference(value)
    except ValueError:
        return False
    return True


def cron_expression(value):
    """True when value is a 5-field cron expression the in-container scheduler accepts."""
    try:
        schedule.validate(str(value))
    except ValueError:
        return False
    return True


def backup_name(value):
    """True when value names a backup as the runtime writes them (glitchtip-YYYYmmddTHHMMSSZ)."""
    return backup_files.backup_time(str(value)) is not None


class TestModule:
    def tests(self):
        return {"image_reference": image_reference, "cron_expression": cron_expression, "backup_name": backup_name}
