# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Reaching the AIO container from the host through the Docker SDK for Python.

The modules are thin adapters: they run the in-container ``aio`` command here
and turn its JSON into Ansible results. community.docker's own module_utils are
not a public API, so this uses the SDK directly.
"""

from __future__ import annotations

import json
import os
import socket
import time

try:
    import docker
    from docker.errors import APIError, DockerException, NotFound
    HAS_DOCKER = True
    DOCKER_IMPORT_ERROR = None
except ImportError as exc:  # reported by the module with missing_required_lib
    HAS_DOCKER = False
    DOCKER_IMPORT_ERROR = exc
    DockerException = APIError = NotFound = Exception

from .aio_runtime import health as health_rules, logtail, settings as aio_settings, watchdog


# Options of every module that reaches the container (documented in doc_fragments/container.py).
CONTAINER_ARGUMENTS = dict(
    container=dict(type="str", default="glitchtip-aio"),
    docker_host=dict(type="str"),
)


class ContainerError(Exception):
    pass


def require_docker(module):
    if not HAS_DOCKER:
        from ansible.module_utils.basic import missing_required_lib
        module.fail_json(msg=missing_required_lib("docker"), exception=str(DOCKER_IMPORT_ERROR))


class AioContainer:
    """One AIO container: its state, its secrets (for redaction) and the aio command."""

    def __init__(self, name, docker_host=None, timeout=60):
        try:
            self.client = docker.DockerClient(base_url=docker_host, timeout=timeout) if docker_host \
                else docker.from_env(timeout=timeout)
        except DockerException as exc:
            raise ContainerError("cannot reach the Docker engine: %s" % exc)
        self.name = name

    def inspect(self):
        """The container's attributes, or None when it does not exist."""
        try:
            return self.client.api.inspect_container(self.name)
        except NotFound:
            return None
        except (APIError, DockerException) as exc:
            raise ContainerError("cannot inspect container %s: %s" % (self.name, exc))

    def secret_values(self, attrs=None):
        return environment_secrets(attrs if attrs is not None else self.inspect())

    def exec_aio(self, args, environment=None):
        """Run ``aio ARGS`` as root in the container (ENVIRONMENT on top of its own); (exit code, stdout, stderr)."""
        try:
            exec_id = self.client.api.exec_create(self.name, ["/usr/local/bin/aio"] + list(args), user="root",
                                                  environment=environment)
            stdout, stderr = self.client.api.exec_start(exec_id, demux=True)
            code = self.client.api.exec_inspect(exec_id)["ExitCode"]
        except (APIError, DockerException) as exc:
            raise ContainerError("cannot run aio %s in %s: %s" % (" ".join(args), self.name, exc))
        return code, (stdout or b"").decode("utf-8", "replace"), (stderr or b"").decode("utf-8", "replace")

    def exec_aio_input(self, args, data):
        """Run ``aio ARGS`` as root with DATA (bytes) on its stdin; returns (exit code, stdout, stderr).

        For secrets: the exec's command line shows in ``docker inspect`` and ``ps``, its stdin nowhere.
        """
        try:
            exec_id = self.client.api.exec_create(self.name, ["/usr/local/bin/aio"] + list(args), user="root",
                                                  stdin=True)
            sock = self.client.api.exec_start(exec_id, socket=True)
            try:
                stdout, stderr = exchange(sock, data)
            finally:
                sock.close()
            code = self.client.api.exec_inspect(exec_id)["ExitCode"]
        except (APIError, DockerException, OSError) as exc:
            raise ContainerError("cannot run aio %s in %s: %s" % (" ".join(args), self.name, exc))
        return code, stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")

    def exec_aio_json(self, args, environment=None):
        """Run ``aio ARGS --json``; (exit code, its report). ContainerError when it prints no JSON."""
        code, out, err = self.exec_aio(list(args) + ["--json"], environment=environment)
        return code, _json_report(args, code, out, err)


def _json_report(args, code, out, err):
    try:
        return json.loads(out)
    except ValueError:
        raise ContainerError("aio %s printed no JSON (exit %d): %s" % (" ".join(args), code, (err or out)[-500:]))


def environment_secrets(attrs):
    """The secret values of a container's environment (for redaction); [] without a container."""
    if not attrs:
        return []
    return aio_settings.secret_values(aio_settings.environ_from_entries(attrs["Config"].get("Env")))


def exchange(sock, data):
    """Write DATA to an attached exec's socket, close our writing side, read its output to the end.

    SOCK is what ``exec_start(socket=True)`` returns: a SocketIO around the Unix or
    TCP socket, or a paramiko channel for ssh:// hosts. The process sees EOF on its
    stdin only once the write side is shut down. Without a TTY the output arrives
    as Docker's multiplexed frames (8-byte header: stream id, size).
    """
    from docker.utils import socket as docker_socket
    raw = sock._sock if isinstance(sock, socket.SocketIO) else sock
    raw.sendall(data)
    if hasattr(raw, "shutdown_write"):      # paramiko
        raw.shutdown_write()
    else:
        raw.shutdown(socket.SHUT_WR)
    frames = (docker_socket.demux_adaptor(*frame) for frame in docker_socket.frames_iter(sock, tty=False))
    stdout, stderr = docker_socket.consume_socket_output(frames, demux=True)
    return stdout or b"", stderr or b""


def state_summary(attrs):
    """What an operator needs from ``docker inspect``: status, restarts, exit code, Docker health."""
    if not attrs:
        return {"exists": False, "status": "absent"}
    state = attrs["State"]
    return {"exists": True, "status": state.get("Status"), "running": bool(state.get("Running")),
            "restarting": bool(state.get("Restarting")), "exit_code": state.get("ExitCode"),
            "restart_count": attrs.get("RestartCount", 0),
            "health": (state.get("Health") or {}).get("Status"), "started_at": state.get("StartedAt"),
            "image": attrs.get("Image")}


LOG_MOUNT = "/data/logs"


def host_log_dir(attrs, destination=LOG_MOUNT):
    """The host directory bound to the container's log directory, or None."""
    for mount in (attrs or {}).get("Mounts") or []:
        if mount.get("Destination") == destination and mount.get("Type") == "bind":
            return mount.get("Source")
    return None


def read_log_tail(path, lines, secrets):
    """Last lines of a host-side log file, secrets redacted."""
    return [aio_settings.redact(line, secrets) for line in logtail.tail_lines(path, lines)]


def watchdog_stop_reason(log_dir, since):
    """Why the watchdog ended the container, if it wrote so (watchdog.log) at or after `since` (epoch
    seconds); an older line is an earlier restart's."""
    path = os.path.join(log_dir, "watchdog.log")
    try:
        if os.path.getmtime(path) < since:
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            return watchdog.last_stop_reason(handle.readlines()[-50:])
    except OSError:
        return None


class HealthWatch:
    """Looks at a container's health, one ``aio health`` a look, for health_rules.wait_until_healthy.

    Each look first asks Docker: a container that is gone, not running, or started again since the
    watch began (its restart count or start time moved) is a fatal reason, the last with the watchdog's
    stop reason when LOG_DIR (the host's bind-mounted logs) holds one written meanwhile. One watch for
    the health module's wait and the PostgreSQL upgrade's.
    """

    def __init__(self, container, components=None, log_dir=None, reduce=None):
        self.container = container
        self.components = list(components or [])
        self.log_dir = log_dir
        self.reduce = reduce  # applied to each report (postgres_upgrade.readiness: ready for a restore)
        self.first_attrs = container.inspect()
        self.last_attrs = self.first_attrs
        self.since = time.time()

    def args(self):
        args = ["health"]
        for name in self.components:
            args += ["--component", name]
        return args

    def observe(self):
        """One look: (report or None, fatal reason or None)."""
        attrs = self.container.inspect()
        self.last_attrs = attrs
        if attrs is None:
            return None, "container %s does not exist" % self.container.name
        state = state_summary(attrs)
        first = state_summary(self.first_attrs)
        if state["restart_count"] > first.get("restart_count", 0) or state["started_at"] != first.get("started_at"):
            why = watchdog_stop_reason(self.log_dir, self.since - 1) if self.log_dir else None
            return None, "container restarted while waiting (restart count %d, last exit code %s)%s" % (
                state["restart_count"], state["exit_code"], ": " + why if why else "")
        if not state["running"]:
            return None, "container is %s (exit code %s)" % (state["status"], state["exit_code"])
        try:
            _code, report = self.container.exec_aio_json(self.args())
        except ContainerError as exc:
            report = {"status": health_rules.UNKNOWN, "components": {}, "error": str(exc)}
        return (self.reduce(report) if self.reduce else report), None

    def wait(self, timeout, interval):
        """health_rules.wait_until_healthy over observe: (outcome, report, reason, attempts)."""
        return health_rules.wait_until_healthy(self.observe, timeout, interval, time.monotonic, time.sleep)


def program_log_tails(log_dir, programs, lines, secrets):
    """{program: {stdout: [...], stderr: [...]}} from the bind-mounted log directory."""
    tails = {}
    for program in programs:
        tails[program] = {
            "stdout": read_log_tail(os.path.join(log_dir, "%s.log" % program), lines, secrets),
            "stderr": read_log_tail(os.path.join(log_dir, "%s.err.log" % program), lines, secrets),
        }
    return tails


# Options of the modules that can run ``aio`` in a one-off container from an image (before the
# real container exists or is replaced), with the environment and networks it will have.
ONEOFF_ARGUMENTS = dict(
    image=dict(type="str"),
    environment=dict(type="dict", default={}),
    secret_environment=dict(type="dict", default={}, no_log=True),
    networks=dict(type="list", elements="str", default=[]),
)


def run_oneoff(client, image, args, environment, networks, name_prefix, timeout):
    """``aio ARGS`` in a throwaway container of image; (exit code, stdout, stderr). Always removed."""
    import uuid
    name = "%s-oneoff-%s" % (name_prefix, uuid.uuid4().hex[:8])
    try:
        container = client.containers.create(
            image, command=list(args), entrypoint=["/usr/local/bin/aio"], name=name, environment=environment,
            network=networks[0] if networks else None, labels={"org.glitchtip-aio.oneoff": "true"})
    except (APIError, DockerException) as exc:
        raise ContainerError("cannot create a one-off container from %s: %s" % (image, exc))
    try:
        for network in networks[1:]:
            client.networks.get(network).connect(container)
        container.start()
        code = container.wait(timeout=timeout)["StatusCode"]
        out = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        err = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
    except (APIError, DockerException, OSError) as exc:  # OSError: the wait timed out
        raise ContainerError("one-off aio %s from %s failed: %s" % (" ".join(args), image, exc))
    finally:
        try:
            container.remove(force=True)
        except (APIError, DockerException):
            pass
    return code, out, err


def oneoff_stand_in(container, image, networks):
    """Why the named container cannot stand in for a one-off container of IMAGE, or None when it can.

    Check mode creates no container, one-off ones included. The named container runs the same
    code when it runs the same image and reaches the same services when it is on the same
    networks; a check mode job then runs in it through exec, with the new environment.
    """
    attrs = container.inspect()
    if attrs is None:
        return "container %s does not exist" % container.name
    if not attrs["State"].get("Running"):
        return "container %s is not running" % container.name
    try:
        image_id = container.client.api.inspect_image(image)["Id"]
    except NotFound:
        return "image %s does not exist" % image
    except (APIError, DockerException) as exc:
        raise ContainerError("cannot inspect image %s: %s" % (image, exc))
    if attrs.get("Image") != image_id:
        return "container %s runs another image than %s" % (container.name, image)
    missing = sorted(set(networks) - set((attrs.get("NetworkSettings") or {}).get("Networks") or {}))
    if missing:
        return "container %s is not on network(s) %s" % (container.name, ", ".join(missing))
    return None


def run_job(module, args, timeout):
    """Run an ``aio`` job that prints a JSON report with ``ok`` and ``reason``; (report, error message).

    With the image option the job runs in a one-off container of that image; in check mode in the
    named container instead when it can stand in (see oneoff_stand_in), else not at all: the report
    then says ``skipped`` and why.
    """
    try:
        container = AioContainer(module.params["container"], module.params.get("docker_host"), timeout=timeout)
        if module.params.get("image"):
            environment = dict(module.params["environment"], **module.params["secret_environment"])
            environment = {key: str(value) for key, value in environment.items()}
            if module.check_mode:
                why_not = oneoff_stand_in(container, module.params["image"], module.params["networks"])
                if why_not:
                    return {"ok": True, "skipped": True, "steps": [],
                            "reason": "not run: check mode creates no one-off container of %s, and %s"
                                      % (module.params["image"], why_not)}, None
                code, out, err = container.exec_aio(list(args) + ["--json"], environment=environment)
            else:
                code, out, err = run_oneoff(container.client, module.params["image"], list(args) + ["--json"],
                                            environment, module.params["networks"], module.params["container"],
                                            timeout)
            report = _json_report(args, code, out, err)
        else:
            _code, report = container.exec_aio_json(args)
    except ContainerError as exc:
        return None, str(exc)
    if not report.get("ok"):
        return report, "%s failed: %s" % (report.get("job", args[0]), report.get("reason"))
    return report, None


def finish_job(module, args, timeout):
    """Run a job that always changes something when it succeeds (backup, restore) and end the module.

    changed when it succeeded or, in check mode (the job's --dry-run), would succeed: a real run
    then writes a backup or swaps the database. A failed job has changed nothing (it cleans up or
    rolls back), so failed is never changed.
    """
    report, error = run_job(module, args, timeout)
    result = dict(changed=error is None, **(report or {}))
    result.pop("ok", None)
    if error:
        module.fail_json(msg=error, **result)
    module.exit_json(**result)
