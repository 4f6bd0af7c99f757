# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils import version_change as vc


@pytest.mark.parametrize("text, parts", [
    ("5.2", (5, 2, None)), ("5.2.9", (5, 2, 9)), ("6.2.0", (6, 2, 0)), ("v5.2", (5, 2, None)),
    ("6", (6, None, None)), (" 6.10.1 ", (6, 10, 1)), ("V6.1", None), ("6.2.0rc1", None), ("", None),
    ("latest", None), ("6..2", None), (None, None),
])
def test_parse_version(text, parts):
    if parts is None:
        with pytest.raises(ValueError, match="glitchtip_version: expected a GlitchTip version"):
            vc.parse_version(text, "glitchtip_version")
    else:
        assert vc.parse_version(text) == parts


@pytest.mark.parametrize("running, wanted, expected", [
    ("5.2", "6.2.0", -1), ("6.2.0", "5.2", 1), ("5.2", "5.2.9", 0), ("v5.2", "5.2", 0),
    ("6.2.0", "6.10.0", -1),  # numeric, not text order
    ("6.1.9", "6.2", -1), ("6", "6.2.0", 0), ("6.2.1", "6.2.0", 1),
])
def test_compare(running, wanted, expected):
    assert vc.compare(running, wanted) == expected


@pytest.mark.parametrize("running, wanted, expected", [
    (None, "6.2.0", "first"), ("", "6.2.0", "first"),
    ("6.2.0", "6.2.0", "same"), ("v5.2", "5.2", "same"),
    ("5.2", "6.2.0", "upgrade"), ("6.1.0", "6.2", "upgrade"), ("6.2.0", "6.10.0", "upgrade"),
    ("5.2", "5.2.9", "upgrade"), ("5.2.9", "5.2", "upgrade"),  # a change inside one line is never refused
    ("6.2.0", "5.2", "downgrade"), ("6.2", "6.1.0", "downgrade"), ("6.10.0", "6.9.9", "downgrade"),
])
def test_change(running, wanted, expected):
    assert vc.change(running, wanted) == expected


def test_change_names_the_bad_side():
    with pytest.raises(ValueError, match="glitchtip_version"):
        vc.change("5.2", "six")
    with pytest.raises(ValueError, match="label org.glitchtip-aio.glitchtip-version"):
        vc.change("nightly", "6.2.0")


def test_filter_wraps_errors():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.glitchtip.aio.plugins.filter import versions

    version_change = versions.FilterModule().filters()["version_change"]
    assert version_change("5.2", "6.2.0") == "upgrade"
    with pytest.raises(AnsibleFilterError, match="glitchtip_version"):
        version_change("5.2", "six")
