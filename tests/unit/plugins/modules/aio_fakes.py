# -*- coding: utf-8 -*-
"""The fakes the module tests run against (conftest.py turns them into fixtures).

exit_json and fail_json raise ModuleExit so a test can read the result; FakeAio is the container
as container_exec.AioContainer shows it, with a scripted report per aio command and every exec
and one-off container recorded.
"""


from __future__ import annotations

import json

import yaml
from docker.errors import NotFound

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec

SECRET_KEY = "k" * 50
DB_PASSWORD = "db-s3cret"
IMAGE = "glitchtip-aio:0123456789abcdef"
IMAGE_ID = "sha256:" + "1" * 64
OTHER_IMAGE_ID = "sha256:" + "2" * 64
# Keys Ansible itself adds to or reads from any module result; the rest must be in RETURN.
ANSIBLE_RESULT_KEYS = {"changed", "failed", "msg", "diff", "skipped", "invocation", "warnings", "deprecations"}


class ModuleExit(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


def undocumented(module, result):
    """Keys of RESULT that the module's RETURN does not document."""
    documented = set(yaml.safe_load(module.RETURN) or {})
    return set(result) - documented - ANSIBLE_RESULT_KEYS


def container_attrs(image_id=IMAGE_ID, running=True, networks=("bridge",), log_dir=None):
    attrs = {
        "Id": "c0ffee", "Image": image_id, "RestartCount": 0,
        "State": {"Status": "running" if running else "exited", "Running": running, "Restarting": False,
                  "ExitCode": 0, "StartedAt": "2026-11-27T12:00:00Z", "Health": {"Status": "healthy"}},
        "Config": {"Env": ["SECRET_KEY=" + SECRET_KEY, "AIO_DB_PASSWORD=" + DB_PASSWORD, "PATH=/usr/bin"]},
        "NetworkSettings": {"Networks": {name: {} for name in networks}},
        "Mounts": [],
    }
    if log_dir:
        attrs["Mounts"].append({"Type": "bind", "Source": str(log_dir), "Destination": container_exec.LOG_MOUNT})
    return attrs


class FakeOneoff:
    def __init__(self, client, code, report):
        self.client, self.code, self.report = client, code, report
        self.removed = False

    def start(self):
        pass

    def wait(self, timeout=None):
        return {"StatusCode": self.code}

    def logs(self, stdout=True, stderr=True):
        return json.dumps(self.report).encode() if stdout else b""

    def remove(self, force=False):
        self.removed = True


class FakeClient:
    """What container_exec uses of docker.DockerClient: images by id, one-off containers."""

    def __init__(self, aio):
        self.aio = aio
        self.api = self
        self.containers = self
        self.images = {IMAGE: IMAGE_ID}
        self.created = []

    def inspect_image(self, image):
        if image not in self.images:
            raise NotFound("No such image: %s" % image)
        return {"Id": self.images[image]}

    def create(self, image, command=None, **kwargs):
        code, report = self.aio.answer(command)
        oneoff = FakeOneoff(self, code, report)
        self.created.append({"image": image, "command": command, "oneoff": oneoff, **kwargs})
        return oneoff


class FakeAio(container_exec.AioContainer):
    """The named AIO container: attrs, a scripted aio report per command, every exec recorded."""

    def __init__(self):  # pylint: disable=super-init-not-called
        self.name = "glitchtip-aio"
        self.attrs = container_attrs()
        self.reports = {}
        self.execs = []
        self.client = FakeClient(self)
        self.connected_with = None

    def connect(self, name, docker_host=None, timeout=60):
        """Stands in for the AioContainer class: the module 'connects' to this one."""
        self.name = name
        self.connected_with = {"name": name, "docker_host": docker_host, "timeout": timeout}
        return self

    def answer(self, args):
        code, report = self.reports[args[0]]
        return code, report

    def inspect(self):
        return self.attrs

    def exec_aio(self, args, environment=None):
        self.execs.append({"args": list(args), "environment": environment})
        code, report = self.answer(args)
        return code, report if isinstance(report, str) else json.dumps(report), ""

    def exec_aio_input(self, args, data):
        self.execs.append({"args": list(args), "stdin": json.loads(data.decode())})
        code, report = self.answer(args)
        return code, json.dumps(report) + "\n", ""
