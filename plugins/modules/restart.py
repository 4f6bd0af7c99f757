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
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Runs the pre-checks only; C(changed) and RV(would_restart) say what a real run would restart.
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
  description: What the restart did and saw, as the in-container C(aio restart --json) reports it.
  returned: always
  type: dict
  contains:
    job:
      description: Always C(scheduled-restart).
      type: str
      returned: when aio restart ran
    ok:
      description: Whether the restart (or in check mode the pre-checks) succeeded.
      type: bool
      returned: when aio restart ran
    reason:
      description: One line saying what happened, what would, or why nothing was restarted.
      type: str
      returned: when aio restart ran
      sample: web and worker restarted and healthy
    dry_run:
      description: Whether this was a check mode run.
      type: bool
      returned: when aio restart ran
    started_at:
      description: Start time, ISO 8601 in the container's time zone.
      type: str
      returned: when aio restart ran
    seconds:
      description: Duration of the whole run.
      type: float
      returned: when aio restart ran
    before:
      description: PIDs, web worker PIDs, memory, disk and load before the restart.
      type: dict
      returned: when aio restart ran
    after:
      description: The same figures after the restart.
      type: dict
      returned: when something was restarted
    steps:
      description: One entry per program acted on, with C(program), C(action), C(ok), C(seconds) and C(detail).
      type: list
      elements: dict
      returned: when aio restart ran
    restarted:
      description: The programs acted on (the same as RV(restarted)).
      type: list
      elements: str
      returned: when aio restart ran
    would_restart:
      description: In check mode, the programs a real run would restart (the same as RV(would_restart)).
      type: list
      elements: str
      returned: check mode, when the pre-checks passed
    post_check:
      description: Status and reason of every component after the restart.
      type: dict
      returned: when something was restarted
    summary:
      description: C([label, text]) pairs, the lines of the notifications and of the restart log.
      type: list
      elements: list
      returned: when aio restart ran
    notifications:
      description: Per receiver (C(feishu), C(webhook)), whether it was C(delivered), the C(attempts) and the C(reason).
      type: dict
      returned: with O(notify=true), outside check mode
restarted:
  description: Programs restarted.
  returned: always
  type: list
  elements: str
  sample: [web, worker]
would_restart:
  description: In check mode, the programs a real run would restart; empty when the pre-checks refuse.
  returned: check mode
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
    result = dict(changed=bool(report.get("restarted") or report.get("would_restart")), report=report,
                  restarted=report.get("restarted", []))
    if module.check_mode:
        result["would_restart"] = report.get("would_restart", [])
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
