# -*- coding: utf-8 -*-
"""A Docker engine for the modules that set containers aside (set_aside, postgres_upgrade): containers by name,
with the low-level API calls container_aside.apply makes, and an AIO container (aio_fakes.FakeAio) in it."""

from __future__ import annotations

import copy
import itertools

from docker.errors import NotFound

from aio_fakes import FakeAio, container_attrs

_starts = itertools.count(1)


def box(id_, running=True, policy="unless-stopped", image="sha256:" + "1" * 64):
    attrs = container_attrs(image_id=image, running=running)
    attrs["Id"] = id_
    attrs["HostConfig"] = {"RestartPolicy": {"Name": policy, "MaximumRetryCount": 0}}
    return attrs


class Engine:
    def __init__(self):
        self.containers = {}
        self.calls = []
        self.api = self

    def add(self, name, attrs):
        attrs["Name"] = "/" + name
        self.containers[name] = attrs
        return attrs

    def _get(self, name):
        if name not in self.containers:
            raise NotFound("No such container: %s" % name)
        return self.containers[name]

    def inspect_container(self, name):
        return copy.deepcopy(self._get(name))

    def stop(self, name, timeout=None):
        self.calls.append(("stop", name))
        self._get(name)["State"].update(Running=False, Status="exited")

    def start(self, name):
        self.calls.append(("start", name))
        self._get(name)["State"].update(Running=True, Status="running",
                                        StartedAt="2026-11-27T13:00:%02dZ" % next(_starts))

    def update_container(self, name, restart_policy=None):
        self.calls.append(("update", name, restart_policy["Name"]))
        self._get(name)["HostConfig"]["RestartPolicy"] = dict(restart_policy)

    def rename(self, name, new_name):
        self.calls.append(("rename", name, new_name))
        attrs = self.containers.pop(name)
        self.add(new_name, attrs)

    def remove_container(self, name, force=False):
        self.calls.append(("remove", name))
        self.containers.pop(self._get(name)["Name"].lstrip("/"))

    def logs(self, name, tail=None):
        return b"last log line"


class EngineAio(FakeAio):
    """FakeAio whose container is whatever the engine holds under its name."""

    def __init__(self):
        super().__init__()
        self.engine = Engine()
        self.client = self.engine
        self.attrs = None

    def inspect(self):
        try:
            return self.engine.inspect_container(self.name)
        except NotFound:
            return None
