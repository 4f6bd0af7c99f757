# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The Django half of ``aio user``: run by the app's Python as the app user.

``aio user`` starts it as ``python3 -m aio_runtime.django_user`` in /code with
the app's environment; the request (password included) arrives on stdin, the
report leaves on stdout. Nothing here prints or logs the password or its hash.
Django is imported only inside main(): the collection's modules and unit tests
import this package without Django.
"""

from __future__ import annotations

import json
import sys

from . import user_request


class UserError(Exception):
    """A refusal with a reason for the operator; the transaction is rolled back."""


def find_model(apps, name, test):
    """The one installed model called NAME passing TEST, whatever its app label.

    GlitchTip keeps organizations in ``organizations_ext``; other versions and
    the test stand-in in ``organizations``.
    """
    found = [model for model in apps.get_models() if model.__name__ == name and test(model)]
    if len(found) != 1:
        raise UserError("expected one %s model in this GlitchTip, found %d (%s)"
                        % (name, len(found), ", ".join(m._meta.label for m in found) or "none"))
    return found[0]


def foreign_key_to(model, target):
    """Name of MODEL's foreign key to TARGET, or None."""
    for field in model._meta.get_fields():
        if getattr(field, "many_to_one", False) and field.concrete and field.related_model is target:
            return field.name
    return None


def has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())


class Models:
    """The user, organization and membership models, and how they link."""

    def __init__(self, apps, user_model):
        self.User = user_model
        self.Organization = find_model(apps, "Organization", lambda m: has_field(m, "slug"))
        self.Membership = find_model(apps, "OrganizationUser", lambda m: has_field(m, "role") and foreign_key_to(
            m, self.Organization) and foreign_key_to(m, user_model))
        self.org_fk = foreign_key_to(self.Membership, self.Organization)
        self.user_fk = foreign_key_to(self.Membership, user_model)
        self.role_choices = list(self.Membership._meta.get_field("role").choices or [])


def memberships(models, user):
    """{slug: stored role} of USER's organizations."""
    if user is None:
        return {}
    rows = models.Membership.objects.filter(**{models.user_fk: user}).select_related(models.org_fk)
    return {getattr(row, models.org_fk).slug: row.role for row in rows}


def snapshot(user, request, models, check_password):
    if user is None:
        return None
    current = {field: getattr(user, field) for _key, field in user_request.FLAGS}
    current["name"] = getattr(user, "name", None)
    # hashers.check_password, not user.check_password: the latter re-hashes and saves
    # an outdated hash, a write check mode must not make.
    current["password_matches"] = (check_password(request["password"], user.password)
                                   if request["password"] is not None else None)
    current["organizations"] = memberships(models, user)
    return current


def describe(user, models, request, planned=None):
    """The report's user: what is stored now, or with PLANNED (check mode's steps) what would be."""
    data = {"id": user.pk if user is not None else None,
            "email": user.get_username() if user is not None else request["email"],
            "name": getattr(user, "name", "") if user is not None else ""}
    data.update({field: getattr(user, field) if user is not None else default
                 for field, default in user_request.NEW_USER_FLAGS.items()})
    roles = memberships(models, user)
    if planned:
        data.update(planned["fields"])
        roles.update(planned["memberships"])
    data["organizations"] = [{"slug": slug, "role": user_request.role_name(role, models.role_choices)}
                             for slug, role in sorted(roles.items())]
    return data


def reason(request, changes):
    if not changes:
        return "%s unchanged" % request["email"]
    return "%s %s: %s" % (request["email"], "would change" if request["check"] else "changed", ", ".join(changes))


def apply(request):
    from django.apps import apps
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import check_password
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email
    from django.db import transaction

    try:
        validate_email(request["email"])
    except ValidationError:
        raise user_request.RequestError("email", "%r is not a valid e-mail address" % request["email"])
    User = get_user_model()
    models = Models(apps, User)
    if request["name"] is not None and not has_field(User, "name"):
        raise user_request.RequestError("name", "this GlitchTip's user model has no name field")
    with transaction.atomic():
        lookup = {"%s__iexact" % User.USERNAME_FIELD: request["email"]}
        user = User.objects.select_for_update().filter(**lookup).first()
        organizations, roles = {}, {}
        for index, item in enumerate(request["organizations"]):
            organization = models.Organization.objects.filter(slug=item["slug"]).first()
            if organization is None:
                raise UserError("organization %r does not exist; nothing was changed" % item["slug"])
            organizations[item["slug"]] = organization
            try:
                roles[item["slug"]] = user_request.resolve_role(item["role"], models.role_choices)
            except ValueError as exc:
                raise user_request.RequestError("organizations[%d].role" % index, str(exc))
        steps = user_request.plan(request, snapshot(user, request, models, check_password), roles)
        # The user as stored before any change, for the module's diff; None for a new user.
        before = describe(user, models, request) if user is not None else None
        if steps["password"]:
            # GlitchTip's AUTH_PASSWORD_VALIDATORS, as its sign-up and createsuperuser apply them.
            try:
                validate_password(request["password"], user)
            except ValidationError as exc:
                raise user_request.RequestError("password", " ".join(exc.messages))
        if not request["check"] and steps["changes"]:
            if user is None:
                # The manager's create_user: GlitchTip's own defaults; no password = unusable.
                user = User.objects.create_user(request["email"], request["password"], **steps["fields"])
            else:
                for field, value in steps["fields"].items():
                    setattr(user, field, value)
                if steps["password"]:
                    user.set_password(request["password"])
                user.save()
            for slug, role in steps["memberships"].items():
                models.Membership.objects.update_or_create(
                    **{models.org_fk: organizations[slug], models.user_fk: user}, defaults={"role": role})
        return {"ok": True, "changed": bool(steps["changes"]), "created": steps["create"],
                "changes": steps["changes"], "before": before,
                "user": describe(user, models, request, steps if request["check"] else None),
                "reason": reason(request, steps["changes"])}


def main():
    try:
        request = user_request.parse_request(json.loads(sys.stdin.read()))
    except ValueError as exc:   # RequestError is one; so is bad JSON
        report = {"ok": False, "changed": False, "reason": str(exc)}
    else:
        import django
        django.setup()
        try:
            report = apply(request)
        except (UserError, user_request.RequestError) as exc:
            report = {"ok": False, "changed": False, "reason": str(exc)}
    sys.stdout.write(json.dumps(report, sort_keys=True, default=str) + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
