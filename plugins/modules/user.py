#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: user
short_description: Create or update a GlitchTip user in the all-in-one container
description:
  - Runs the in-container C(aio user) through the Docker API. The request, password included, is written to the
    exec's standard input, never to its command line or environment; the report carries neither the password nor
    its hash.
  - Inside the container the request is applied by Django as the app user with the app's own settings, in one
    database transaction, so a refused request (an organization that does not exist, a password GlitchTip's
    password validators reject) changes nothing.
  - The user is found by e-mail address, case-insensitively. Flags left out (or null) are left as they are on an
    existing user; a new user gets Django's defaults (active, not staff, not superuser).
  - Memberships listed in O(organizations) are added, or their role is changed; memberships not listed are kept.
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Reports the same C(changed) and C(changes) a real run would, and writes nothing.
  diff_mode:
    support: full
    details: The user before and after (in check mode, as it would be); a password change shows as
      C(********) becoming C(******** (new)), never the password or its hash.
  idempotent:
    support: full
    details: The password is compared with Django's password check, so an unchanged password is not reported.
options:
  email:
    description: The user's e-mail address (GlitchTip's login name).
    type: str
    required: true
  password:
    description:
      - The password to set. Take it from Ansible Vault or a prompt; never pass it with C(-e) on the command line.
      - Left out, a new user gets an unusable password (a password reset by e-mail is then the way in) and an
        existing user's password is kept.
      - Checked against GlitchTip's password validators when it is going to be set.
    type: str
  update_password:
    description:
      - V(always) sets the password whenever it differs from the stored one; V(on_create) only for a new user.
    type: str
    choices: [always, on_create]
    default: always
  name:
    description: Display name. Left out, it is kept.
    type: str
  superuser:
    description: Django superuser (GlitchTip's site administrator). Left out, it is kept. V(true) implies
      O(staff=true) unless O(staff) is given.
    type: bool
  staff:
    description: May use the Django admin. Left out, it is kept (but see O(superuser)).
    type: bool
  active:
    description: May log in. Left out, it is kept (a new user is active).
    type: bool
  organizations:
    description: Organizations the user belongs to, with a role. Each must exist already.
    type: list
    elements: dict
    default: []
    suboptions:
      slug:
        description: The organization's slug (as in its URL).
        type: str
        required: true
      role:
        description: Role in the organization.
        type: str
        choices: [member, admin, manager, owner]
        default: member
notes:
  - Runs as root in the container (C(docker exec -u root)); the Django part drops to the app user.
"""

EXAMPLES = r"""
- name: Site administrator, password from vault
  glitchtip.aio.user:
    container: glitchtip-aio
    email: admin@example.com
    password: "{{ vault_glitchtip_admin_password }}"
    superuser: true

- name: A member of two organizations; keep the password she chose
  glitchtip.aio.user:
    email: dev@example.com
    password: "{{ vault_glitchtip_dev_password }}"
    update_password: on_create
    name: Dev
    organizations:
      - slug: acme
        role: admin
      - slug: ops

- name: Lock an account out
  glitchtip.aio.user:
    email: leaver@example.com
    active: false
"""

RETURN = r"""
created:
  description: The user did not exist (in check mode, would be created).
  returned: success
  type: bool
changes:
  description: What changed (or in check mode would change); C(email) for a new user, C(organization:SLUG) per
    membership added or re-roled.
  returned: success
  type: list
  elements: str
  sample: [password, is_staff, "organization:acme"]
user:
  description: The user as stored after the run (in check mode, as it would be); never the password or its hash.
  returned: success
  type: dict
  contains:
    id:
      description: Primary key; null for a user check mode would create.
      type: int
    email:
      description: E-mail address as stored.
      type: str
    name:
      description: Display name.
      type: str
    is_superuser:
      description: Superuser flag.
      type: bool
    is_staff:
      description: Staff flag.
      type: bool
    is_active:
      description: Active flag.
      type: bool
    organizations:
      description: Every membership of the user (not only the requested ones), as C(slug) and C(role).
      type: list
      elements: dict
  sample:
    id: 3
    email: dev@example.com
    name: Dev
    is_superuser: false
    is_staff: false
    is_active: true
    organizations: [{slug: acme, role: admin}]
msg:
  description: One line saying what changed, or why nothing could be.
  returned: always
  type: str
"""

import json

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec

ROLES = ["member", "admin", "manager", "owner"]
REQUEST_OPTIONS = ("email", "password", "update_password", "name", "superuser", "staff", "active")


def last_json_line(text):
    for line in reversed(text.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                return None
    return None


def user_diff(report):
    """before/after of the user (RV(user)'s fields); the password only as a marker that it changes."""
    before, after = dict(report.get("before") or {}), dict(report["user"])
    if "password" in report["changes"]:
        if before:
            before["password"] = "********"
        after["password"] = "******** (new)"
    return {"before": before, "after": after}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            email=dict(type="str", required=True),
            password=dict(type="str", no_log=True),
            update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
            name=dict(type="str"),
            superuser=dict(type="bool"),
            staff=dict(type="bool"),
            active=dict(type="bool"),
            organizations=dict(type="list", elements="dict", default=[], options=dict(
                slug=dict(type="str", required=True),
                role=dict(type="str", choices=ROLES, default="member"),
            )),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    request = {option: module.params[option] for option in REQUEST_OPTIONS}
    request["organizations"] = [{"slug": item["slug"], "role": item["role"]} for item in module.params["organizations"]]
    request["check"] = module.check_mode
    try:
        container = container_exec.AioContainer(module.params["container"], module.params.get("docker_host"),
                                                timeout=600)
        code, out, err = container.exec_aio_input(["user"], json.dumps(request).encode("utf-8"))
    except container_exec.ContainerError as exc:
        module.fail_json(msg=str(exc), changed=False)
    report = last_json_line(out)
    if report is None:
        # no_log on password already masks it in anything returned; the container's own secrets too.
        secrets = container.secret_values()
        module.fail_json(msg="aio user printed no report (exit %d): %s" % (
            code, container_exec.aio_settings.redact((err or out)[-500:], secrets)), changed=False)
    if not report.get("ok"):
        # The reason names the field or organization; the e-mail says which user of a list it was.
        module.fail_json(msg="%s: %s" % (module.params["email"], report.get("reason") or "aio user failed (exit %d)"
                                         % code), changed=False)
    result = dict(changed=report["changed"], created=report["created"], changes=report["changes"],
                  user=report["user"], msg=report["reason"])
    if module._diff:
        result["diff"] = user_diff(report)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
