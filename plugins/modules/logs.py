#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: logs
short_description: The last lines of one log of a GlitchTip all-in-one container, secrets redacted
description:
  - Reads the log files on the host, in the directory bound to the container's C(/data/logs), so it works while
    the container is stopped or restarting too.
  - A program's log (C(web), C(worker), C(postgres), C(redis), C(migrate), C(scheduler)) is its stdout and stderr
    files; O(errors=true) reads stderr only. C(supervisor) (supervisord's own log), C(restart) (the scheduled
    restart's log) and C(watchdog) are single files; for them O(errors=true) keeps the lines at WARN level or worse.
  - Every secret of the container's environment (and its URL-quoted form) is replaced by C(********).
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Reads only; the same in check mode.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never changes anything.
options:
  program:
    description: Which log.
    type: str
    required: true
    choices: [web, worker, postgres, redis, migrate, scheduler, supervisor, restart, watchdog]
  lines:
    description: How many lines (the last ones) per stream.
    type: int
    default: 100
  errors:
    description: Errors only (stderr of a program; WARN and worse of a single-file log).
    type: bool
    default: false
  log_dir:
    description:
      - Host directory of the logs. Defaults to the source of the container's bind mount of C(/data/logs).
      - Needed only when the container no longer exists; secrets are then not known and cannot be redacted, so
        the module refuses unless O(allow_unredacted=true).
    type: path
  allow_unredacted:
    description: Read the logs of a container that no longer exists, whose secrets are unknown.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Last 50 error lines of the worker
  glitchtip.aio.logs:
    container: glitchtip-aio
    program: worker
    errors: true
    lines: 50
  register: worker_errors
"""

RETURN = r"""
streams:
  description: The lines per stream (stdout and stderr, or log or errors for single-file logs), oldest first.
  returned: success
  type: dict
  sample: {stdout: ["..."], stderr: ["[2026-11-27 03:01:02] ERROR ..."]}
lines:
  description: All returned lines, streams one after the other.
  returned: success
  type: list
  elements: str
log_dir:
  description: The host directory read.
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import logtail


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            program=dict(type="str", required=True, choices=list(logtail.LOG_NAMES)),
            lines=dict(type="int", default=100),
            errors=dict(type="bool", default=False),
            log_dir=dict(type="path"),
            allow_unredacted=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    params = module.params
    if params["lines"] < 1:
        module.fail_json(msg="lines must be 1 or more, got %d" % params["lines"])
    try:
        attrs = container_exec.AioContainer(params["container"], params["docker_host"]).inspect()
    except container_exec.ContainerError as exc:
        module.fail_json(msg=str(exc))
    if attrs is None and not params["allow_unredacted"]:
        module.fail_json(msg="container %s does not exist, so its secrets are unknown and the logs cannot be "
                             "redacted; set allow_unredacted=true (with log_dir) to read them anyway"
                             % params["container"])
    log_dir = params["log_dir"] or container_exec.host_log_dir(attrs)
    if not log_dir:
        module.fail_json(msg="container %s has no bind mount of %s; set log_dir"
                             % (params["container"], container_exec.LOG_MOUNT))
    streams = logtail.read_log(log_dir, params["program"], params["lines"], errors=params["errors"],
                               secrets=container_exec.environment_secrets(attrs))
    module.exit_json(changed=False, streams=streams, lines=[line for found in streams.values() for line in found],
                     log_dir=log_dir)


if __name__ == "__main__":
    main()
