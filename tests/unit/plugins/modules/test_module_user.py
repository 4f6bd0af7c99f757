# -*- coding: utf-8 -*-
"""glitchtip.aio.user: the request on stdin, result shape, diff, check mode predicting the real run."""

from __future__ import annotations

import json

from ansible_collections.glitchtip.aio.plugins.modules import user

PASSWORD = "correct horse battery staple"
STORED = {"id": 3, "email": "dev@example.com", "name": "Dev", "is_superuser": False, "is_staff": False,
          "is_active": True, "organizations": [{"slug": "acme", "role": "member"}]}
PROMOTED = dict(STORED, is_superuser=True, is_staff=True, organizations=[{"slug": "acme", "role": "admin"}])
CHANGES = ["password", "is_superuser", "is_staff", "organization:acme"]


def report(changed=True, check=False, before=STORED, after=PROMOTED, changes=CHANGES):
    return {"ok": True, "changed": changed, "created": before is None, "changes": changes if changed else [],
            "before": before, "user": after,
            "reason": "dev@example.com %s: %s" % ("would change" if check else "changed", ", ".join(changes))}


ARGS = {"email": "dev@example.com", "password": PASSWORD, "superuser": True,
        "organizations": [{"slug": "acme", "role": "admin"}]}


def test_the_request_travels_on_stdin_with_check_mode_and_defaults(run_module, aio):
    aio.reports["user"] = (0, report(check=True))
    run_module(user, ARGS, check_mode=True)
    [call] = aio.execs
    assert call["args"] == ["user"]
    assert call["stdin"] == {"email": "dev@example.com", "password": PASSWORD, "update_password": "always",
                             "name": None, "superuser": True, "staff": None, "active": None,
                             "organizations": [{"slug": "acme", "role": "admin"}], "check": True}
    assert aio.connected_with["timeout"] == 600


def test_role_and_update_password_choices_are_enforced(run_module, aio):
    for args in (dict(ARGS, organizations=[{"slug": "acme", "role": "boss"}]), dict(ARGS, update_password="never")):
        result = run_module(user, args)
        assert result["failed"] and aio.execs == []


def test_result_shape_never_holds_the_password(run_module, aio, undocumented_keys):
    aio.reports["user"] = (0, report())
    result = run_module(user, ARGS)
    assert result["changed"] is True and result["created"] is False and result["changes"] == CHANGES
    assert result["user"] == PROMOTED and PASSWORD not in json.dumps(result)
    assert "diff" not in result and "before" not in result
    assert undocumented_keys(user, result) == set()


def test_diff_shows_the_user_before_and_after_and_the_password_only_as_a_marker(run_module, aio):
    aio.reports["user"] = (0, report())
    result = run_module(user, ARGS, diff=True)
    assert result["diff"]["before"] == dict(STORED, password="********")
    assert result["diff"]["after"] == dict(PROMOTED, password="******** (new)")
    assert PASSWORD not in json.dumps(result)


def test_diff_of_a_new_user_starts_empty(run_module, aio):
    created = dict(STORED, id=None)
    aio.reports["user"] = (0, report(check=True, before=None, after=created, changes=["email"]))
    result = run_module(user, {"email": "dev@example.com"}, check_mode=True, diff=True)
    assert result["created"] is True and result["diff"] == {"before": {}, "after": created}


def test_check_mode_predicts_the_real_run(run_module, aio):
    aio.reports["user"] = (0, report(check=True))
    checked = run_module(user, ARGS, check_mode=True, diff=True)
    aio.reports["user"] = (0, report())
    real = run_module(user, ARGS, diff=True)
    assert checked["changed"] is real["changed"] is True
    assert checked["changes"] == real["changes"] and checked["diff"] == real["diff"]
    aio.reports["user"] = (0, report(changed=False, after=STORED))
    assert run_module(user, ARGS, check_mode=True)["changed"] is False


def test_a_refusal_names_the_user_and_changes_nothing(run_module, aio):
    aio.reports["user"] = (1, {"ok": False, "changed": False, "reason": "organization 'acme' does not exist"})
    result = run_module(user, ARGS)
    assert result["failed"] and result["changed"] is False
    assert result["msg"] == "dev@example.com: organization 'acme' does not exist"
