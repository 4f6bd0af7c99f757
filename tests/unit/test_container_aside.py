# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Setting a container aside and putting it back (module_utils/container_aside.py, shared by set_aside and
postgres_upgrade): which Docker steps each state takes from what exists, and what apply() asks of Docker (the
steps run against a real engine in the upgrade and pgupgrade molecule scenarios)."""

from __future__ import annotations

import pytest
from docker.errors import APIError

from ansible_collections.glitchtip.aio.plugins.module_utils import container_aside as aside


def box(id_, name, running=True, policy="unless-stopped"):
    return {"Id": id_, "Name": "/" + name, "Image": "sha256:" + id_, "State": {"Running": running},
            "HostConfig": {"RestartPolicy": {"Name": policy, "MaximumRetryCount": 0}}}


class Api:
    """The low-level API calls apply() makes, recorded; FAIL_AT makes that call raise."""

    def __init__(self, fail_at=None):
        self.calls, self.fail_at = [], fail_at

    def __getattr__(self, method):
        def call(*args, **kwargs):
            if method == self.fail_at:
                raise APIError("%s refused" % method)
            self.calls.append((method, args, kwargs))
        return call


def test_aside_stops_disables_restart_and_renames():
    assert aside.plan("aside", box("a", "g"), None) == ["stop", "restart policy no", "rename"]
    assert aside.plan("aside", box("a", "g", running=False), None) == ["restart policy no", "rename"]


def test_aside_twice_is_unchanged_and_a_leftover_is_refused():
    assert aside.plan("aside", None, box("a", "g-pre-upgrade")) == []
    assert aside.plan("aside", None, None) == []
    with pytest.raises(ValueError, match="g and g-pre-upgrade exist: a set-aside container is left from an earlier"):
        aside.plan("aside", box("b", "g"), box("a", "g-pre-upgrade"))


def test_restored_replaces_the_new_container():
    assert aside.plan("restored", box("b", "g"), box("a", "g-pre-upgrade")) == [
        "remove replacement", "rename back", "restart policy", "start"]
    assert aside.plan("restored", None, box("a", "g-pre-upgrade")) == ["rename back", "restart policy", "start"]
    assert aside.plan("restored", box("a", "g"), None) == []
    assert aside.plan("restored", box("a", "g", running=False), None) == ["start"]
    with pytest.raises(ValueError, match="no set-aside container"):
        aside.plan("restored", None, None)


def test_a_put_back_interrupted_after_the_rename_gets_its_restart_policy_again():
    assert aside.plan("restored", box("a", "g", policy="no"), None, "unless-stopped") == ["restart policy"]
    assert aside.plan("restored", box("a", "g", running=False, policy="no"), None, "always") == [
        "restart policy", "start"]
    assert aside.plan("restored", box("a", "g"), None, "unless-stopped") == []
    assert aside.plan("restored", {"Id": "a", "Name": "/g", "State": {"Running": True}}, None, "no") == []


def test_absent():
    assert aside.plan("absent", box("b", "g"), box("a", "g-pre-upgrade")) == ["remove"]
    assert aside.plan("absent", box("b", "g"), None) == []


def test_apply_sets_aside_and_puts_back_with_the_policy_given():
    api, done = Api(), []
    aside.apply(api, ["stop", "restart policy no", "rename"], "g", "g-pg15-old", stop_timeout=7, done=done.append)
    assert api.calls == [("stop", ("g",), {"timeout": 7}),
                         ("update_container", ("g",), {"restart_policy": {"Name": "no"}}),
                         ("rename", ("g", "g-pg15-old"), {})]
    assert done == ["stop", "restart policy no", "rename"]
    api = Api()
    policy = {"Name": "on-failure", "MaximumRetryCount": 3}
    aside.apply(api, ["remove replacement", "rename back", "restart policy", "start"], "g", "g-pg15-old",
                restart_policy=policy)
    assert api.calls == [("remove_container", ("g",), {"force": True}), ("rename", ("g-pg15-old", "g"), {}),
                         ("update_container", ("g",), {"restart_policy": policy}), ("start", ("g",), {})]
    api = Api()
    aside.apply(api, ["remove"], "g", "g-pre-upgrade")
    assert api.calls == [("remove_container", ("g-pre-upgrade",), {"force": True})]


def test_apply_names_the_step_that_failed_and_stops_there():
    api, done = Api(fail_at="rename"), []
    with pytest.raises(aside.AsideError, match="g-pre-upgrade: rename failed: rename refused") as caught:
        aside.apply(api, ["stop", "restart policy no", "rename"], "g", "g-pre-upgrade", done=done.append)
    assert caught.value.step == "rename" and done == ["stop", "restart policy no"]
    with pytest.raises(ValueError, match="restart policy"):
        aside.apply(Api(), ["restart policy"], "g", "g-pre-upgrade")
