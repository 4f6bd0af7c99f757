#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: preflight
short_description: Check that a GlitchTip all-in-one image reaches its external PostgreSQL and Redis
description:
  - Runs C(aio preflight) in a one-off container of O(image) with the environment and networks the real
    container will have (so DNS, routes, TLS and credentials are the real ones), then removes it.
  - A real login, not an open port; PostgreSQL with C(SELECT 1) as the app role, Redis with C(AUTH) and C(PING).
  - Fails with a message naming the service and the C(host:port) it tried. Meant to run before a deploy replaces
    any container.
  - Passes at once when neither service is external (C(AIO_DB_HOST) and C(AIO_REDIS_URL) unset).
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
      - It only reads, so a check run reports what a real one would, but no one-off container is created.
      - The checks run in O(container) instead when it runs O(image), is running and is on every one of
        O(networks) (so the code, the routes and the DNS are the same), with O(environment) and
        O(secret_environment) on top of its own. Otherwise the task is skipped, and RV(reason) says why.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Never changes anything (the one-off container is always removed).
options:
  image:
    description: The image to test, normally the one about to be deployed.
    type: str
    required: true
  environment:
    description: The container environment without its secrets (shown in logs; a no_log option's values would
      mask the host names a failure must show).
    type: dict
    default: {}
  secret_environment:
    description: The secret part of the container environment (passwords, keys); no_log.
    type: dict
    default: {}
  networks:
    description: Docker networks to join (the first at creation, the others after).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds the checks may take.
    type: int
    default: 60
"""

EXAMPLES = r"""
- name: External services answer, before any container is replaced
  glitchtip.aio.preflight:
    container: glitchtip-aio
    image: glitchtip-aio:0123456789abcdef
    environment: "{{ container_env | glitchtip.aio.public_environment }}"
    secret_environment: "{{ container_env | glitchtip.aio.secret_environment }}"
    networks: [backend]
"""

RETURN = r"""
checks:
  description: Per external service, its address, whether it answered and why not.
  returned: always
  type: dict
  sample: {postgres: {address: "db.example.net:5432", ok: true, reason: "SELECT 1 as glitchtip"}}
reason:
  description: One line per service, or the failures, or why check mode skipped the checks.
  returned: always
  type: str
skipped:
  description: V(true) when check mode could not run the checks without creating a one-off container.
  returned: check mode, when skipped
  type: bool
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec


def main():
    argument_spec = dict(container_exec.CONTAINER_ARGUMENTS, **container_exec.ONEOFF_ARGUMENTS)
    argument_spec["image"] = dict(type="str", required=True)
    argument_spec["timeout"] = dict(type="int", default=60)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    container_exec.require_docker(module)
    report, error = container_exec.run_job(module, ["preflight"], timeout=module.params["timeout"])
    report = report or {}
    result = dict(changed=False, checks=report.get("checks", {}), reason=report.get("reason", error))
    if report.get("skipped"):
        result["skipped"] = True
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
