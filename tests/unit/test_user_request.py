# -*- coding: utf-8 -*-
"""user_request.py: request validation, role resolution and the plan behind ``aio user``."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import cli, user_request, user_runner

# GlitchTip's organizations_ext.OrganizationUserRole (IntegerChoices) and the stand-in's string choices.
INTEGER_ROLES = [(0, "Member"), (1, "Admin"), (2, "Manager"), (3, "Owner")]
STRING_ROLES = [("member", "Member"), ("admin", "Admin"), ("manager", "Manager"), ("owner", "Owner")]


def request(**items):
    return user_request.parse_request(dict({"email": "ada@example.com"}, **items))


def current(**items):
    base = {"name": "", "is_superuser": False, "is_staff": False, "is_active": True, "password_matches": True,
            "organizations": {}}
    base.update(items)
    return base


def test_minimal_request_is_normalised():
    assert request() == {"email": "ada@example.com", "password": None, "update_password": "always", "name": None,
                         "flags": {"is_superuser": None, "is_staff": None, "is_active": None},
                         "organizations": [], "check": False}


def test_superuser_implies_staff_unless_staff_is_given():
    assert request(superuser=True)["flags"] == {"is_superuser": True, "is_staff": True, "is_active": None}
    assert request(superuser=True, staff=False)["flags"]["is_staff"] is False
    assert request(superuser=False)["flags"]["is_staff"] is None


def test_organizations_default_to_member_and_lower_case_roles():
    assert request(organizations=[{"slug": "acme"}, {"slug": "b", "role": "OWNER"}])["organizations"] == [
        {"slug": "acme", "role": "member"}, {"slug": "b", "role": "owner"}]


@pytest.mark.parametrize("items, field", [
    ({"email": None}, "email"),
    ({"email": "not-an-address"}, "email"),
    ({"email": "two@@example.com"}, "email"),
    ({"email": "sp ace@example.com"}, "email"),
    ({"password": ""}, "password"),
    ({"password": 1234}, "password"),
    ({"update_password": "sometimes"}, "update_password"),
    ({"superuser": 1}, "superuser"),
    ({"staff": "yes"}, "staff"),
    ({"active": "false"}, "active"),
    ({"name": True}, "name"),
    ({"check": "no"}, "check"),
    ({"organizations": "acme"}, "organizations"),
    ({"organizations": ["acme"]}, "organizations[0]"),
    ({"organizations": [{"slug": ""}]}, "organizations[0].slug"),
    ({"organizations": [{"slug": "a"}, {"slug": "a"}]}, "organizations[1].slug"),
    ({"organizations": [{"slug": "a", "role": "boss"}]}, "organizations[0].role"),
    ({"organizations": [{"slug": "a", "team": "x"}]}, "organizations[0]"),
    ({"passwd": "x"}, "passwd"),
])
def test_invalid_requests_name_the_field(items, field):
    with pytest.raises(user_request.RequestError) as error:
        request(**items)
    assert error.value.field == field
    assert str(error.value).startswith(field + ": ")


def test_a_request_that_is_not_an_object():
    with pytest.raises(user_request.RequestError, match="^request: "):
        user_request.parse_request(["ada@example.com"])


def test_errors_never_quote_the_password():
    with pytest.raises(user_request.RequestError) as error:
        request(password="hunter2-secret", superuser="yes")
    assert "hunter2" not in str(error.value)


@pytest.mark.parametrize("choices, name, value", [
    (INTEGER_ROLES, "member", 0), (INTEGER_ROLES, "Owner", 3), (INTEGER_ROLES, "ADMIN", 1),
    (STRING_ROLES, "manager", "manager"), (STRING_ROLES, "Owner", "owner"),
])
def test_resolve_role(choices, name, value):
    assert user_request.resolve_role(name, choices) == value


def test_resolve_role_refuses_unknown_and_ambiguous_names():
    with pytest.raises(ValueError, match="'owner' is not among the organization roles"):
        user_request.resolve_role("owner", INTEGER_ROLES[:3])
    with pytest.raises(ValueError, match="ambiguous"):
        user_request.resolve_role("admin", [("admin", "Member"), ("x", "Admin")])


def test_role_name_is_the_lower_case_label():
    assert user_request.role_name(2, INTEGER_ROLES) == "manager"
    assert user_request.role_name("owner", STRING_ROLES) == "owner"
    assert user_request.role_name(9, INTEGER_ROLES) == "9"


def test_plan_for_a_new_user_sets_every_field():
    steps = user_request.plan(request(password="pw", name="Ada", superuser=True,
                                      organizations=[{"slug": "acme", "role": "admin"}]), None, {"acme": 1})
    assert steps == {"create": True, "password": True, "memberships": {"acme": 1},
                     "fields": {"name": "Ada", "is_superuser": True, "is_staff": True, "is_active": True},
                     "changes": ["email", "name", "is_superuser", "is_staff", "password", "organization:acme"]}


def test_plan_for_a_new_user_without_password_or_flags():
    steps = user_request.plan(request(), None, {})
    assert steps["fields"] == user_request.NEW_USER_FLAGS
    assert steps["changes"] == ["email"]
    assert steps["password"] is False


def test_plan_without_differences_changes_nothing():
    steps = user_request.plan(request(password="pw", superuser=True, active=True, name="",
                                      organizations=[{"slug": "acme", "role": "owner"}]),
                              current(is_superuser=True, is_staff=True, organizations={"acme": 3}), {"acme": 3})
    assert steps == {"create": False, "fields": {}, "password": False, "memberships": {}, "changes": []}


def test_plan_changes_only_what_differs():
    steps = user_request.plan(request(active=False, staff=True, name="Ada"), current(is_staff=True), {})
    assert steps["fields"] == {"name": "Ada", "is_active": False}
    assert steps["changes"] == ["name", "is_active"]


def test_plan_leaves_unasked_flags_alone():
    steps = user_request.plan(request(), current(is_superuser=True, is_staff=True, is_active=False), {})
    assert steps["changes"] == []


@pytest.mark.parametrize("update_password, matches, changed", [
    ("always", True, False), ("always", False, True), ("on_create", False, False), ("on_create", True, False),
])
def test_plan_password(update_password, matches, changed):
    steps = user_request.plan(request(password="pw", update_password=update_password),
                              current(password_matches=matches), {})
    assert steps["password"] is changed
    assert ("password" in steps["changes"]) is changed


def test_plan_on_create_sets_the_password_of_a_new_user():
    assert user_request.plan(request(password="pw", update_password="on_create"), None, {})["password"] is True


def test_plan_memberships_are_added_and_re_roled_never_removed():
    steps = user_request.plan(
        request(organizations=[{"slug": "a", "role": "owner"}, {"slug": "b"}, {"slug": "c", "role": "admin"}]),
        current(organizations={"a": 3, "b": 1, "other": 0}), {"a": 3, "b": 0, "c": 1})
    assert steps["memberships"] == {"b": 0, "c": 1}
    assert steps["changes"] == ["organization:b", "organization:c"]


def test_runner_reads_the_last_json_line():
    assert user_runner.read_report(0, "warning: x\n{\"ok\": true}\n", "", []) == {"ok": True}


def test_runner_failure_quotes_stderr_redacted():
    report = user_runner.read_report(1, "", "Traceback\nboom: password hunter2 wrong\n", ["hunter2"])
    assert report["ok"] is False
    assert "boom: password ******** wrong" in report["reason"]
    assert "hunter2" not in report["reason"]


def test_runner_refuses_a_bad_request_before_django(monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError("Django must not start for a bad request")
    monkeypatch.setattr(user_runner.subprocess, "run", no_subprocess)
    assert user_runner.run({}, {}, "not json")["ok"] is False
    assert user_runner.run({}, {}, '{"email": "x"}')["reason"].startswith("email: ")


def test_cli_user_takes_no_arguments():
    assert cli.build_parser().parse_args(["user"]).command == "user"
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["user", "--password", "x"])
