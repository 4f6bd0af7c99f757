#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: set_aside
short_description: Keep the container a version change replaces, stopped, to put it back if the change fails
description:
  - O(state=aside) stops the container O(container), sets its restart policy to C(no) (so a restart of the Docker
    engine never starts it beside its replacement on the same data directory) and renames it to
    O(container) plus O(suffix). Its image, environment, mounts, ports and labels stay exactly as they were; the
    name is free for the new container.
  - O(state=restored) removes whatever container now has the name O(container) (the failed replacement), renames
    the set-aside container back, gives it O(restart_policy) and starts it.
  - O(state=absent) removes the set-aside container (after a successful change). Its image is left alone.
  - The container role runs these around a change of C(glitchtip_version) (README "Upgrading and rolling back");
    M(glitchtip.aio.postgres_upgrade) sets the old container aside the same way (module_utils/container_aside.py).
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Says in RV(would) what a real run would do and reports C(changed) as it would; changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A container already set aside, already put back or already removed is reported unchanged.
options:
  state:
    description: Set the container aside, put it back, or remove the set-aside one.
    type: str
    choices: [aside, restored, absent]
    required: true
  suffix:
    description: Appended to O(container) for the set-aside container's name.
    type: str
    default: -pre-upgrade
  stop_timeout:
    description: Seconds the container may take to stop (O(state=aside)).
    type: int
    default: 60
  restart_policy:
    description: Restart policy the container gets back with O(state=restored) (also when it is back under its
      name already but without it, as after a put-back interrupted after the rename).
    type: str
    default: unless-stopped
"""

EXAMPLES = r"""
- name: Keep the running container to go back to
  glitchtip.aio.set_aside:
    container: glitchtip-aio
    state: aside

- name: The change failed; put it back
  glitchtip.aio.set_aside:
    container: glitchtip-aio
    state: restored
    restart_policy: unless-stopped
"""

RETURN = r"""
name:
  description: Name of the set-aside container.
  returned: always
  type: str
  sample: glitchtip-aio-pre-upgrade
id:
  description: Id of the set-aside container (the one put back with O(state=restored)).
  returned: when it exists
  type: str
image:
  description: Image id of the set-aside container.
  returned: when it exists
  type: str
would:
  description: In check mode, what a real run would do.
  returned: check mode
  type: list
  elements: str
steps:
  description: What was done, in order.
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_aside, container_exec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            state=dict(type="str", required=True, choices=["aside", "restored", "absent"]),
            suffix=dict(type="str", default="-pre-upgrade"),
            stop_timeout=dict(type="int", default=60),
            restart_policy=dict(type="str", default="unless-stopped"),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    params = module.params
    name, aside_name = params["container"], params["container"] + params["suffix"]
    try:
        api = container_exec.AioContainer(name, params["docker_host"], timeout=params["stop_timeout"] + 60).client.api
        current, aside = container_aside.inspect(api, name), container_aside.inspect(api, aside_name)
        steps = container_aside.plan(params["state"], current, aside, params["restart_policy"])
    except container_exec.ContainerError as exc:  # no engine at docker_host: "cannot reach the Docker engine"
        module.fail_json(msg=str(exc))
    except (container_exec.APIError, container_exec.DockerException, OSError) as exc:
        # The engine answered the connection's version check, then failed or went away (requests'
        # connection errors are OSErrors): the same words as every other module, no traceback.
        module.fail_json(msg="cannot inspect containers %s and %s: %s" % (name, aside_name, exc))
    except ValueError as exc:
        module.fail_json(msg=str(exc), name=aside_name)
    kept = aside if aside is not None else current if params["state"] == "aside" else None
    result = dict(changed=bool(steps), name=aside_name, steps=steps)
    if kept is not None:
        result.update(id=kept["Id"], image=kept["Image"])
    if module.check_mode:
        module.exit_json(would=steps, **result)
    try:
        container_aside.apply(api, steps, name, aside_name, params["stop_timeout"],
                              {"Name": params["restart_policy"]})
    except container_aside.AsideError as exc:
        module.fail_json(msg=str(exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
