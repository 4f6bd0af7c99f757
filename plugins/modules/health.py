#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: health
short_description: Health of a GlitchTip all-in-one container, per component, optionally waiting until healthy
description:
  - Runs the in-container C(aio health --json) through the Docker API and returns one result per component
    (supervisor, postgres, redis, web, worker, host), each C(ok), C(degraded), C(down) or C(unknown) with a reason
    and timings.
  - supervisord program states come from its XML-RPC interface; BACKOFF, FATAL and EXITED of a long-running program
    are failures. PostgreSQL is checked by a real login with the deployment's credentials; Redis by PING, memory and
    queue lengths; web by GET of the health path.
  - With O(wait_timeout) it polls until every selected component is C(ok), stops early on a definitive failure
    (a program in FATAL, a failed migration, the container exiting or restarting) and fails with the tail of the
    failing programs' logs, secrets redacted.
  - Read-only; runs the same in check mode.
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Only reads; the result in check mode is the real health.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  components:
    description:
      - Components to check; all by default.
      - V(offsite) (only where C(glitchtip_backup_destinations) is set) is advisory - the age of each off-host
        repository's last good copy and whether the last attempt failed, C(degraded) past 26 hours; it is reported
        but never counted in RV(status), so a stale copy does not make a serving GlitchTip unhealthy.
    type: list
    elements: str
    choices: [supervisor, postgres, redis, web, worker, host, offsite]
  ready_for_restore:
    description:
      - Wait only until the container is ready for a restore (PostgreSQL answers and the migrate program, where the
        container runs one, has finished), leaving out the app programs that a hold keeps stopped, a PostgreSQL
        upgrade's C(<data_dir>/postgres/aio-upgrade.json) or a recovery's C(<data_dir>/postgres/aio-recover.json).
      - Checks the V(supervisor) and V(postgres) components; O(components) is ignored.
    type: bool
    default: false
  wait_timeout:
    description: Seconds to wait until healthy; V(0) checks once and reports without failing on an unhealthy result.
    type: int
    default: 0
  interval:
    description: Seconds between checks while waiting.
    type: float
    default: 1.0
  log_dir:
    description: Host directory of the programs' logs (the bind-mounted logs volume), read for failure details.
    type: path
  log_lines:
    description: Lines of each failing program's log to return on failure.
    type: int
    default: 40
"""

EXAMPLES = r"""
- name: Wait until GlitchTip is healthy after a deploy
  glitchtip.aio.health:
    container: glitchtip-aio
    wait_timeout: 120
    log_dir: /srv/glitchtip-aio/logs

- name: Check only the database and Redis
  glitchtip.aio.health:
    components: [postgres, redis]
  register: backing_services
"""

RETURN = r"""
status:
  description: Overall status, the worst of the selected components (C(unknown) counts less than C(degraded)),
    the advisory C(offsite) aside.
  returned: always
  type: str
  sample: ok
components:
  description: One entry per component with status, reason, elapsed_ms and details.
  returned: when the container was running
  type: dict
  sample: {"web": {"status": "ok", "reason": "HTTP 200 from /_health/", "elapsed_ms": 12.3,
           "details": {"http_status": 200, "latency_ms": 12.3}}}
container:
  description: Container state from Docker (status, restart_count, health, exit_code).
  returned: always
  type: dict
attempts:
  description: Number of checks made.
  returned: always
  type: int
elapsed:
  description: Seconds spent, waits included.
  returned: always
  type: float
log_tails:
  description: Last lines of the failing programs' stdout and stderr logs, secrets redacted.
  returned: on failure when log_dir is set
  type: dict
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec
from ansible_collections.glitchtip.aio.plugins.module_utils import postgres_upgrade as pgu
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health as health_rules


class HealthChecker:
    def __init__(self, module):
        self.module = module
        self.container = container_exec.AioContainer(module.params["container"], module.params["docker_host"])
        if module.params["ready_for_restore"]:
            self.watch = container_exec.HealthWatch(self.container, pgu.READINESS_COMPONENTS, module.params["log_dir"],
                                                    reduce=pgu.readiness)
        else:
            self.watch = container_exec.HealthWatch(self.container, module.params["components"],
                                                    module.params["log_dir"])

    def run(self):
        params = self.module.params
        started = time.monotonic()
        if params["wait_timeout"] > 0:
            outcome, report, reason, attempts = self.watch.wait(params["wait_timeout"], params["interval"])
        else:
            report, reason = self.watch.observe()
            attempts = 1
            outcome = "ok" if report and report.get("status") == health_rules.OK else "reported"
        result = {
            "changed": False,
            "status": (report or {}).get("status", health_rules.DOWN if reason else health_rules.UNKNOWN),
            "components": (report or {}).get("components", {}),
            "container": container_exec.state_summary(self.watch.last_attrs),
            "attempts": attempts,
            "elapsed": round(time.monotonic() - started, 2),
        }
        if outcome in ("failed", "timeout") or (outcome == "reported" and reason):
            if params["log_dir"]:
                programs = health_rules.failing_programs(report or {}) or [
                    "migrate", "web", "worker", "postgres", "redis", "supervisord", "watchdog"]
                result["log_tails"] = container_exec.program_log_tails(
                    params["log_dir"], programs, params["log_lines"],
                    self.container.secret_values(self.watch.last_attrs))
            if params["wait_timeout"] > 0 or reason:
                self.module.fail_json(msg="GlitchTip AIO container %s is not healthy: %s" % (params["container"], reason),
                                      **result)
        self.module.exit_json(**result)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            components=dict(type="list", elements="str", choices=list(health_rules.COMPONENTS)),
            ready_for_restore=dict(type="bool", default=False),
            wait_timeout=dict(type="int", default=0),
            interval=dict(type="float", default=1.0),
            log_dir=dict(type="path"),
            log_lines=dict(type="int", default=40),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    try:
        HealthChecker(module).run()
    except container_exec.ContainerError as exc:
        module.fail_json(msg=str(exc))


if __name__ == "__main__":
    main()
