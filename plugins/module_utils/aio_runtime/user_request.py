# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio user``: the request, the role names and the plan, with no Django in sight.

The same functions run on both sides of the privilege drop (the root ``aio user``
refuses a bad request before Django starts; the Django script plans from a
snapshot of the database), and in the unit tests.
"""

from __future__ import annotations

import re

ROLE_NAMES = ("member", "admin", "manager", "owner")
UPDATE_PASSWORD = ("always", "on_create")
# Request key -> user model field.
FLAGS = (("superuser", "is_superuser"), ("staff", "is_staff"), ("active", "is_active"))
# What Django's AbstractBaseUser gives a user nobody said anything about.
NEW_USER_FLAGS = {"is_superuser": False, "is_staff": False, "is_active": True}
KEYS = {"email", "password", "update_password", "name", "superuser", "staff", "active", "organizations", "check"}
# Deliberately loose (Django's validate_email runs again inside the app): one @, no spaces, a dot in the domain.
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class RequestError(ValueError):
    """A request the user must fix; the message starts with the field's name."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field


def _optional(data, key, kind, kind_name):
    value = data.get(key)
    # bool is an int in Python, so kind is never int: "superuser": 1 must not pass as a flag, nor true as a name.
    if value is not None and not isinstance(value, kind):
        raise RequestError(key, "must be %s or null, got %s" % (kind_name, type(value).__name__))
    return value


def parse_organizations(value):
    if value is None:
        return []
    if not isinstance(value, list):
        raise RequestError("organizations", "must be a list of {slug, role}")
    result, seen = [], set()
    for index, item in enumerate(value):
        field = "organizations[%d]" % index
        if not isinstance(item, dict):
            raise RequestError(field, "must be an object with slug and role")
        unknown = sorted(set(item) - {"slug", "role"})
        if unknown:
            raise RequestError(field, "unknown key(s) %s" % ", ".join(unknown))
        slug, role = item.get("slug"), item.get("role", "member")
        if not isinstance(slug, str) or not slug.strip():
            raise RequestError(field + ".slug", "must be a non-empty string")
        if slug in seen:
            raise RequestError(field + ".slug", "organization %r is listed twice" % slug)
        seen.add(slug)
        if role is None:
            role = "member"
        if not isinstance(role, str) or role.lower() not in ROLE_NAMES:
            raise RequestError(field + ".role", "unknown role %r (choose from %s)" % (role, ", ".join(ROLE_NAMES)))
        result.append({"slug": slug, "role": role.lower()})
    return result


def parse_request(data):
    """Validate and normalise one request; RequestError names the field at fault."""
    if not isinstance(data, dict):
        raise RequestError("request", "must be a JSON object")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise RequestError(unknown[0], "unknown key (known: %s)" % ", ".join(sorted(KEYS)))
    email = data.get("email")
    if not isinstance(email, str) or not email:
        raise RequestError("email", "is required and must be a string")
    if len(email) > 254 or not EMAIL_RE.match(email):
        raise RequestError("email", "%r is not a valid e-mail address" % email)
    password = _optional(data, "password", str, "a string")
    if password == "":
        raise RequestError("password", "must not be empty (leave it out to keep the current one)")
    update_password = data.get("update_password") or "always"
    if update_password not in UPDATE_PASSWORD:
        raise RequestError("update_password",
                           "must be one of %s, got %r" % (", ".join(UPDATE_PASSWORD), update_password))
    flags = {field: _optional(data, key, bool, "true or false") for key, field in FLAGS}
    # A superuser who cannot reach the admin is a trap; an explicit staff: false still wins.
    if flags["is_superuser"] and flags["is_staff"] is None:
        flags["is_staff"] = True
    check = data.get("check", False)
    if not isinstance(check, bool):
        raise RequestError("check", "must be true or false")
    return {"email": email, "password": password, "update_password": update_password,
            "name": _optional(data, "name", str, "a string"), "flags": flags,
            "organizations": parse_organizations(data.get("organizations")), "check": check}


def resolve_role(name, choices):
    """The stored value of role NAME among a Django field's choices [(value, label), ...].

    GlitchTip stores IntegerChoices (0 "Member" ... 3 "Owner"); other versions and
    the test stand-in store strings ("member", "Member"): match either,
    case-insensitively, and refuse a name that is missing or ambiguous.
    """
    wanted = name.lower()
    values = []
    for value, label in choices:
        if wanted in (str(value).lower(), str(label).lower()) and value not in values:
            values.append(value)
    if len(values) != 1:
        known = ", ".join(str(label).lower() for _value, label in choices)
        raise ValueError("role %r %s among the organization roles (%s)"
                         % (name, "is ambiguous" if values else "is not", known))
    return values[0]


def role_name(value, choices):
    """The name a request uses for a stored role value (its label, lower case)."""
    for choice, label in choices:
        if choice == value:
            return str(label).lower()
    return str(value)


def plan(request, current, roles):
    """What to change: {"create", "fields", "password", "memberships", "changes"}.

    current: None when the user does not exist, else {"name", "is_superuser",
    "is_staff", "is_active", "password_matches" (None when no password was asked
    for), "organizations": {slug: stored role}}. roles: {slug: stored role wanted}.
    Memberships are only added or re-roled: a membership not in the request stays.
    """
    create = current is None
    fields, changes = {}, []
    if create:
        changes.append("email")
    if request["name"] is not None and (create or current["name"] != request["name"]):
        fields["name"] = request["name"]
        changes.append("name")
    for field, wanted in request["flags"].items():
        now = NEW_USER_FLAGS[field] if create else current[field]
        value = now if wanted is None else wanted
        if create or value != now:
            fields[field] = value
        if value != now:
            changes.append(field)
    password = request["password"] is not None and (
        create or (request["update_password"] == "always" and not current["password_matches"]))
    if password:
        changes.append("password")
    existing = {} if create else current["organizations"]
    memberships = {}
    for item in request["organizations"]:
        slug = item["slug"]
        if slug not in existing or existing[slug] != roles[slug]:
            memberships[slug] = roles[slug]
            changes.append("organization:%s" % slug)
    return {"create": create, "fields": fields, "password": password, "memberships": memberships,
            "changes": changes}
