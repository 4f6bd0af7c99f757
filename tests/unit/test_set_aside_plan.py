# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""set_aside's plan: which Docker steps each state takes from what exists (the steps run against a real
engine in the upgrade molecule scenario)."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.modules import set_aside


def box(id_, name, running=True):
    return {"Id": id_, "Name": "/" + name, "Image": "sha256:" + id_, "State": {"Running": running}}


def test_aside_stops_disables_restart_and_renames():
    assert set_aside.plan("aside", box("a", "g"), None) == ["stop", "restart policy no", "rename"]
    assert set_aside.plan("aside", box("a", "g", running=False), None) == ["restart policy no", "rename"]


def test_aside_twice_is_unchanged_and_a_leftover_is_refused():
    assert set_aside.plan("aside", None, box("a", "g-pre-upgrade")) == []
    assert set_aside.plan("aside", None, None) == []
    with pytest.raises(ValueError, match="left from an earlier version change"):
        set_aside.plan("aside", box("b", "g"), box("a", "g-pre-upgrade"))


def test_restored_replaces_the_new_container():
    assert set_aside.plan("restored", box("b", "g"), box("a", "g-pre-upgrade")) == [
        "remove replacement", "rename back", "restart policy", "start"]
    assert set_aside.plan("restored", None, box("a", "g-pre-upgrade")) == ["rename back", "restart policy", "start"]
    assert set_aside.plan("restored", box("a", "g"), None) == []
    assert set_aside.plan("restored", box("a", "g", running=False), None) == ["start"]
    with pytest.raises(ValueError, match="no set-aside container"):
        set_aside.plan("restored", None, None)


def test_absent():
    assert set_aside.plan("absent", box("b", "g"), box("a", "g-pre-upgrade")) == ["remove"]
    assert set_aside.plan("absent", box("b", "g"), None) == []
