# -*- coding: utf-8 -*-
"""The collection's Jinja tests (plugins/test/render.py) that validation reads."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.test import render


@pytest.mark.parametrize("value, named", [("glitchtip-20261127T023000Z", True), ("latest", False),
                                          ("glitchtip-20261127", False), ("../glitchtip-20261127T023000Z", False),
                                          ("glitchtip-20261127T023000Z/", False)])
def test_a_backup_name_is_the_runtimes_own_shape(value, named):
    assert render.backup_name(value) is named


def test_the_tests_are_exported_by_name():
    assert set(render.TestModule().tests()) == {"image_reference", "cron_expression", "backup_name"}
