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
  - The container role runs these around a change of C(glitchtip_version) (README "Upgrading and rolling back").
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
    description: Restart policy the container gets back with O(state=restored).
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

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec


def _inspect(api, name):
    try:
        return api.inspect_container(name)
    except container_exec.NotFound:
        return None


def plan(state, current, aside):
    """The steps for STATE given the inspected container (CURRENT) and the set-aside one (ASIDE)."""
    if state == "aside":
        if aside is not None and current is not None and current["Id"] != aside["Id"]:
            raise ValueError("both %s and %s exist: a set-aside container is left from an earlier version change "
                             "that did not finish; put it back (state=restored) or remove it first"
                             % (current["Name"].lstrip("/"), aside["Name"].lstrip("/")))
        if current is None:
            return []
        return (["stop"] if current["State"]["Running"] else []) + ["restart policy no", "rename"]
    if state == "restored":
        if aside is None:
            if current is None:
                raise ValueError("no set-aside container to put back and none running")
            return [] if current["State"]["Running"] else ["start"]
        return (["remove replacement"] if current is not None else []) + ["rename back", "restart policy", "start"]
    return ["remove"] if aside is not None else []


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
        current, aside = _inspect(api, name), _inspect(api, aside_name)
        steps = plan(params["state"], current, aside)
    except container_exec.ContainerError as exc:
        module.fail_json(msg=str(exc))
    except ValueError as exc:
        module.fail_json(msg=str(exc), name=aside_name)
    kept = aside if aside is not None else current if params["state"] == "aside" else None
    result = dict(changed=bool(steps), name=aside_name, steps=steps)
    if kept is not None:
        result.update(id=kept["Id"], image=kept["Image"])
    if module.check_mode:
        module.exit_json(would=steps, **result)
    try:
        for step in steps:
            if step == "stop":
                api.stop(name, timeout=params["stop_timeout"])
            elif step == "restart policy no":
                api.update_container(name, restart_policy={"Name": "no"})
            elif step == "rename":
                api.rename(name, aside_name)
            elif step == "remove replacement":
                api.remove_container(name, force=True)
            elif step == "rename back":
                api.rename(aside_name, name)
            elif step == "restart policy":
                api.update_container(name, restart_policy={"Name": params["restart_policy"]})
            elif step == "start":
                api.start(name)
            elif step == "remove":
                api.remove_container(aside_name, force=True)
    except (container_exec.APIError, container_exec.DockerException) as exc:
        module.fail_json(msg="%s: %s failed: %s" % (aside_name, step, exc), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
