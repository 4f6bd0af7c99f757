#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: restart
short_description: The scheduled restart of a GlitchTip all-in-one container, on demand
description:
  - Runs the in-container C(aio restart) through the Docker API, the same code the nightly schedule runs.
  - PostgreSQL and Redis are checked first; when either is not healthy nothing is restarted and the module fails
    with the reason.
  - Otherwise web is reloaded gracefully (HUP where the server supports it), the worker is restarted, each is waited
    for with a deadline, everything is checked again, and the report (before/after PIDs, durations, memory, disk,
    load) is returned. Success is what the checks saw, never that a PID exists.
  - Notifications (Feishu card, generic webhook) are sent when O(notify=true); a failed notification is reported in
    RV(report.notifications) and never fails the module.
version_added: 0.1.0
author: glitchtip-aio contributors
extends_documentation_fragment:
  - glitchtip.aio.container
attributes:
  check_mode:
    support: full
    details: Runs the pre-checks only and says whether a restart would happen.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run restarts web and worker when they are healthy to begin with; that is its purpose.
options:
  deadline:
    description: Seconds each program may take to be ready again.
    type: int
    default: 120
  notify:
    description: Send the report to the webhooks configured in the container.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Restart web and worker now, as the nightly job would
  glitchtip.aio.restart:
    container: glitchtip-aio
    notify: true
  register: restart_report
"""

RETURN = r"""
report:
  description: What the restart did and saw (steps, before, after, post_check, summary, notifications).
  returned: always
  type: dict
restarted:
  description: Programs restarted.
  returned: always
  type: list
  elements: str
  sample: [web, worker]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            deadline=dict(type="int", default=120),
            notify=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    args = ["restart", "--deadline", str(module.params["deadline"])]
    if module.check_mode:
        args.append("--dry-run")
    if module.params["notify"]:
        args.append("--notify")
    report, error = container_exec.run_job(module, args, timeout=module.params["deadline"] * 2 + 120)
    report = report or {}
    result = dict(changed=bool(report.get("restarted")), report=report, restarted=report.get("restarted", []))
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
