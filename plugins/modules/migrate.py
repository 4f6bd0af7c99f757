#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: migrate
short_description: Apply GlitchTip's migrations and partition maintenance in an all-in-one container
description:
  - Runs the in-container C(aio migrate) through the Docker API, as the app user with the connection URLs the
    web and worker use.
  - Lists the migrations with C(manage.py showmigrations --plan); when any is pending, applies them with
    C(manage.py migrate). Then runs the partition maintenance (C(manage.py pgpartition --yes)), which creates
    the coming event partitions and drops expired ones.
  - A failing migration fails the module with its exit code and the last lines of its output (secrets
    redacted); partition maintenance does not run after a failed migration.
  - Refuses to run while the container's own start-up migration is still running.
  - With O(image), runs in a one-off container of that image instead (the environment and networks given), so
    a deploy of several hosts migrates once, with the new code, before any container is replaced.
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: partial
    details:
      - Lists the pending migrations and runs C(pgpartition --dry); applies nothing. C(changed) is what a real run
        would report.
      - With O(image), no one-off container is created; the check runs in O(container) instead when it runs that
        image, is running and is on every one of O(networks) (so the code and the reachable services are the
        same), with O(environment) and O(secret_environment) on top of its own. Otherwise the task is skipped,
        and RV(reason) says why.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Changed only when a migration was pending or the partition maintenance had something to do.
options:
  partitions_only:
    description: Run the partition maintenance only, not the migrations.
    type: bool
    default: false
  timeout:
    description: Seconds the whole run may take.
    type: int
    default: 3600
  image:
    description: Run in a one-off container of this image rather than in O(container).
    type: str
  environment:
    description: With O(image), the container environment without its secrets.
    type: dict
    default: {}
  secret_environment:
    description: With O(image), the secret part of the container environment; no_log.
    type: dict
    default: {}
  networks:
    description: With O(image), the Docker networks to join.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Apply pending migrations, then partition maintenance
  glitchtip.aio.migrate:
    container: glitchtip-aio
  register: migrate

- name: Show what ran
  ansible.builtin.debug:
    msg: "{{ migrate.steps | map(attribute='output') | flatten }}"
"""

RETURN = r"""
pending:
  description: Migrations that were pending before the run (C(app.name)), in order.
  returned: unless partitions_only
  type: list
  elements: str
  sample: [events.0002_partitions]
steps:
  description: Each command that ran, with its exit code, the last 60 lines of its output and, for the
    partition maintenance, whether it changed anything.
  returned: always
  type: list
  elements: dict
reason:
  description: What changed (or would), or why it failed.
  returned: always
  type: str
  sample: applied 2 migration(s); partitions changed
failed_step:
  description: The step that failed (plan, migrate, partitions, busy).
  returned: failure
  type: str
skipped:
  description: V(true) when check mode could not run the check without creating a one-off container.
  returned: check mode with O(image), when skipped
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            partitions_only=dict(type="bool", default=False),
            timeout=dict(type="int", default=3600),
            **container_exec.ONEOFF_ARGUMENTS
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    args = ["migrate"]
    if module.params["partitions_only"]:
        args.append("--partitions-only")
    if module.check_mode:
        args.append("--check")
    report, error = container_exec.run_job(module, args, timeout=module.params["timeout"])
    report = report or {}
    result = dict(changed=bool(report.get("changed")), steps=report.get("steps", []), reason=report.get("reason"))
    for key in ("pending", "failed_step", "skipped"):
        if key in report:
            result[key] = report[key]
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
