# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Setting a container aside while its replacement runs, and putting it back: the one way for both
modules that keep a way back (glitchtip.aio.set_aside around a version change, glitchtip.aio.postgres_upgrade
around a PostgreSQL-major upgrade).

Aside, a container is stopped, has the restart policy ``no`` (so a restart of the Docker engine never
starts it beside its replacement on the same data directory) and another name; its image, environment,
mounts, ports and labels stay as they were. Put back, it has its name, its restart policy and is started.
plan() decides the steps from what exists; apply() runs them through the Docker SDK's low-level API.
"""

from __future__ import annotations

from .container_exec import APIError, DockerException, NotFound

ASIDE, RESTORED, ABSENT = "aside", "restored", "absent"


class AsideError(Exception):
    def __init__(self, step, message):
        super().__init__(message)
        self.step = step


def inspect(api, name):
    """The container's attributes, or None when there is none of that name."""
    try:
        return api.inspect_container(name)
    except NotFound:
        return None


def restart_policy_name(attrs):
    return ((attrs.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") or "no"


def plan(state, current, aside, restart_policy=None):
    """The steps for STATE given the inspected container (CURRENT, None when absent) and the set-aside
    one (ASIDE). With RESTART_POLICY (a name), a container already back under its name that lacks it
    (a put-back interrupted after its rename) gets it again."""
    if state == ASIDE:
        if aside is not None and current is not None and current["Id"] != aside["Id"]:
            raise ValueError("both %s and %s exist: a set-aside container is left from an earlier change that did "
                             "not finish; put it back or remove it first"
                             % (current["Name"].lstrip("/"), aside["Name"].lstrip("/")))
        if current is None:
            return []
        return (["stop"] if current["State"]["Running"] else []) + ["restart policy no", "rename"]
    if state == RESTORED:
        if aside is None:
            if current is None:
                raise ValueError("no set-aside container to put back and none running")
            policy = ["restart policy"] if restart_policy and restart_policy_name(current) != restart_policy else []
            return policy + ([] if current["State"]["Running"] else ["start"])
        return (["remove replacement"] if current is not None else []) + ["rename back", "restart policy", "start"]
    return ["remove"] if aside is not None else []


def apply(api, steps, name, aside_name, stop_timeout=60, restart_policy=None, done=None):
    """Run STEPS (from plan) on the container NAME and its set-aside name ASIDE_NAME; RESTART_POLICY is the
    dict Docker takes ({"Name": ..., "MaximumRetryCount": ...}) for "restart policy". done(step) is called
    after each step. AsideError names the step that failed."""
    for step in steps:
        try:
            if step == "stop":
                api.stop(name, timeout=stop_timeout)
            elif step == "restart policy no":
                api.update_container(name, restart_policy={"Name": "no"})
            elif step == "rename":
                api.rename(name, aside_name)
            elif step == "remove replacement":
                api.remove_container(name, force=True)
            elif step == "rename back":
                api.rename(aside_name, name)
            elif step == "restart policy":
                if not restart_policy:
                    raise ValueError("the restart policy step needs the restart policy to give back")
                api.update_container(name, restart_policy=restart_policy)
            elif step == "start":
                api.start(name)
            elif step == "remove":
                api.remove_container(aside_name, force=True)
            else:
                raise ValueError("unknown step %r" % step)
        # OSError: requests' connection errors, when the engine goes away between two steps.
        except (APIError, DockerException, OSError) as exc:
            raise AsideError(step, "%s: %s failed: %s" % (aside_name, step, exc)) from exc
        if done is not None:
            done(step)
