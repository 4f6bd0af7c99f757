# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Probes that look at the running services from inside the container.

Each returns a health component (see health.py); none changes anything.
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

from . import destinations, health, launcher, pgtools, settings as aio_settings, start_reasons, supervisor_rpc


def _elapsed_ms(started):
    return (time.monotonic() - started) * 1000.0


def probe_supervisor(settings, socket_path=supervisor_rpc.DEFAULT_SOCKET):
    started = time.monotonic()
    programs = {name: spec["kind"] for name, spec in settings["programs"].items()}
    try:
        infos = supervisor_rpc.process_infos(supervisor_rpc.connect(socket_path))
    except Exception:  # any transport or RPC fault means "no answer"
        infos = None
    held = ["migrate"] if "migrate" in programs and launcher.migrate_state(settings) == launcher.MIGRATE_HELD else []
    return health.supervisor_component(programs, infos, _elapsed_ms(started), held)


def psql(settings, environ, sql, timeout=5.0):
    """Run one query as the app role over TCP with scram; returns (rc, stdout, stderr)."""
    env = aio_settings.libpq_environment(settings, environ, timeout=timeout)
    env["PATH"] = os.environ.get("PATH", "/usr/bin:/bin")
    cmd = [pgtools.binary("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout + 1, check=False)
    return proc.returncode, proc.stdout.strip(), proc.stderr.strip()


def _where(settings, name, reason):
    """External services are named with the address that failed: the operator must know where to look."""
    if aio_settings.service_external(settings, name):
        return "%s at %s: %s" % ("PostgreSQL" if name == "postgres" else "Redis",
                                 aio_settings.service_address(settings, name), reason)
    return reason


def probe_postgres(settings, environ):
    """A real login with the deployment's credentials and a query."""
    started = time.monotonic()
    try:
        rc, out, err = psql(settings, environ, "SELECT 1, (SELECT count(*) FROM pg_stat_activity)")
    except (OSError, subprocess.TimeoutExpired, pgtools.PostgresNotInstalled) as exc:
        return health.component("postgres", health.DOWN, _where(settings, "postgres", str(exc)), _elapsed_ms(started))
    if rc != 0:
        reason = aio_settings.redact(err.splitlines()[-1] if err else "psql exit %d" % rc,
                                     aio_settings.secret_values(environ))
        return health.component("postgres", health.DOWN, _where(settings, "postgres", reason), _elapsed_ms(started))
    connections = int(out.split("|")[1])
    details = {"connections": connections}
    table = settings["profile"].get("postgres_queue_table")
    if table and not aio_settings.redis_enabled(settings):
        # The task queue lives in PostgreSQL: its depth, as the Redis probe reports the lists'.
        # (The table appears with the first migration: none yet is no depth.)
        rc, out, _err = psql(settings, environ, "SELECT count(*) FROM %s WHERE status = 'QUEUED'"
                             % pgtools.quote_ident(table))
        if rc == 0 and out.isdigit():
            details["queues"] = {table: int(out)}
    return health.component("postgres", health.OK, "SELECT 1 as %s" % settings["postgres"]["user"],
                            _elapsed_ms(started), **details)


def _resp_command(*args):
    parts = ["*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode("utf-8")
        parts.append("$%d\r\n" % len(data))
        parts.append(data.decode("utf-8") + "\r\n")
    return "".join(parts).encode("utf-8")


def _read_reply(stream):
    line = stream.readline()
    if not line:
        raise OSError("connection closed")
    kind, rest = line[:1], line[1:].rstrip(b"\r\n")
    if kind in (b"+", b":"):
        return rest.decode()
    if kind == b"-":
        raise RedisError(rest.decode())
    if kind == b"$":
        length = int(rest)
        if length < 0:
            return None
        data = stream.read(length + 2)
        return data[:-2].decode("utf-8", "replace")
    if kind == b"*":
        return [_read_reply(stream) for _element in range(int(rest))]
    raise OSError("unexpected reply %r" % line[:20])


class RedisError(Exception):
    pass


def redis_connect(redis, password, timeout):
    """A connected, authenticated socket and its reader.

    redis is the settings' redis dict (port; host, tls and db when not the embedded defaults).
    TLS (rediss://) verifies the server against the system's CA bundle.
    """
    host = redis.get("host", "127.0.0.1")
    sock = socket.create_connection((host, int(redis["port"])), timeout=timeout)
    try:
        if redis.get("tls"):
            import ssl
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
        stream = sock.makefile("rb")
        if password:
            sock.sendall(_resp_command("AUTH", password))
            _read_reply(stream)
        if int(redis.get("db", 0)):
            sock.sendall(_resp_command("SELECT", str(redis["db"])))
            _read_reply(stream)
    except BaseException:
        sock.close()
        raise
    return sock, stream


def redis_commands(redis, password, commands, timeout=3.0):
    """Send commands over a plain socket (no client library in the image); returns replies."""
    sock, stream = redis_connect(redis, password, timeout)
    with sock:
        replies = []
        for command in commands:
            sock.sendall(_resp_command(*command))
            replies.append(_read_reply(stream))
        return replies


def _info_fields(text):
    fields = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            key, value = line.split(":", 1)
            fields[key] = value
    return fields


def probe_redis(settings, environ):
    started = time.monotonic()
    queues = settings["redis"].get("queues", ["celery"])
    try:
        replies = redis_commands(settings["redis"], environ.get(aio_settings.REDIS_PASSWORD_ENV, ""),
                                 [("PING",), ("INFO", "memory")] + [("LLEN", queue) for queue in queues])
    except (OSError, RedisError) as exc:
        return health.component("redis", health.DOWN, _where(settings, "redis", str(exc) or type(exc).__name__),
                                _elapsed_ms(started))
    memory = _info_fields(replies[1])
    used, maxmemory = int(memory.get("used_memory", 0)), int(memory.get("maxmemory", 0))
    status, reason = health.redis_memory_status(used, maxmemory)
    lengths = {queue: int(length) for queue, length in zip(queues, replies[2:])}
    return health.component("redis", status, reason, _elapsed_ms(started), used_memory=used, maxmemory=maxmemory,
                            policy=memory.get("maxmemory_policy"), queues=lengths)


def probe_web(settings, timeout=5.0):
    """GET the health path: proves the web server answers, nothing behind it."""
    started = time.monotonic()
    url = "http://127.0.0.1:%d%s" % (int(settings["web"]["port"]), settings["web"]["health_path"])
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            code = response.status
    except urllib.error.HTTPError as exc:
        code = exc.code
    except (OSError, ValueError) as exc:
        return health.component("web", health.DOWN, str(getattr(exc, "reason", exc)), _elapsed_ms(started))
    elapsed = _elapsed_ms(started)
    status = health.OK if code == 200 else health.DOWN
    return health.component("web", status, "HTTP %d from %s" % (code, settings["web"]["health_path"]), elapsed,
                            http_status=code, latency_ms=round(elapsed, 1))


def _cgroup_memory():
    for current, limit in (("/sys/fs/cgroup/memory.current", "/sys/fs/cgroup/memory.max"),
                           ("/sys/fs/cgroup/memory/memory.usage_in_bytes",
                            "/sys/fs/cgroup/memory/memory.limit_in_bytes")):
        try:
            with open(current) as handle:
                used = int(handle.read().strip())
            with open(limit) as handle:
                raw = handle.read().strip()
            return used, (None if raw == "max" or int(raw) >= 1 << 60 else int(raw))
        except (OSError, ValueError):
            continue
    return None, None


def probe_host(settings):
    started = time.monotonic()
    data_dir = settings["paths"]["data"]
    usage = shutil.disk_usage(data_dir)
    percent, status = health.disk_status(usage.total, usage.used)
    memory_used, memory_limit = _cgroup_memory()
    load = os.getloadavg()
    return health.component("host", status, "data volume %.1f%% used" % percent, _elapsed_ms(started),
                            disk_total=usage.total, disk_used=usage.used, disk_percent=round(percent, 1),
                            memory_used=memory_used, memory_limit=memory_limit, load=[round(x, 2) for x in load])


def probe_offsite(settings, environ, clock=None):
    """The off-host copies' ages, from what the last backups recorded (no repository is asked: a probe
    must stay cheap; the nightly backup reads each copy back)."""
    started = time.monotonic()
    now = (clock or (lambda: datetime.datetime.now(datetime.timezone.utc)))()
    state = destinations.read_state(settings["paths"]["backups"])
    return health.offsite_component(destinations.kinds(environ), state, now, _elapsed_ms(started))


def wait_for_heartbeat(redis, password, channel, wait_seconds):
    """First Celery worker heartbeat published on channel within wait_seconds, or None.

    The worker's main process sends heartbeats from its own timer, so a worker
    whose pool is busy with long tasks still sends them; a hung one does not.
    """
    sock, stream = redis_connect(redis, password, wait_seconds)
    with sock:
        sock.sendall(_resp_command("SUBSCRIBE", channel))
        _read_reply(stream)
        deadline = time.monotonic() + wait_seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            sock.settimeout(remaining)
            try:
                message = _read_reply(stream)
            except socket.timeout:
                return None
            if isinstance(message, list) and message and message[0] == "message":
                heartbeat = decode_heartbeat(message[2])
                if heartbeat.get("hostname"):  # anything unreadable on the channel proves nothing: keep waiting
                    return heartbeat


def decode_heartbeat(raw):
    """kombu's envelope: JSON whose base64 body is the event (hostname, active, processed...)."""
    try:
        envelope = json.loads(raw)
        body = envelope.get("body", "")
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body).decode("utf-8")
        event = json.loads(body)
    except (ValueError, TypeError, AttributeError):
        return {}
    if not isinstance(event, dict):
        return {}
    return {key: event.get(key) for key in ("hostname", "active", "processed", "freq", "timestamp")}


def probe_worker(settings, environ, supervisor_component, clock=time.time):
    """Process state from supervisord, liveness from the worker itself: the health-check file it
    touches (6.x, django-vtasks) or the heartbeat it publishes (5.x, Celery). Never "a PID exists".

    A Celery worker with no heartbeat within the window is "unknown", not "down": no answer over
    the network proves nothing either way. A local file not touched is definite: "down".
    """
    started = time.monotonic()
    programs = supervisor_component.get("details", {}).get("programs", {})
    worker = programs.get("worker")
    if worker is None:
        return health.component("worker", health.UNKNOWN, "no worker program configured", _elapsed_ms(started))
    if worker["status"] != health.OK:
        return health.component("worker", worker["status"], "process %s" % worker["reason"], _elapsed_ms(started),
                                pid=worker.get("pid"))
    liveness = settings["programs"].get("worker", {}).get("liveness") or {}
    if liveness.get("file"):
        try:
            mtime = os.stat(liveness["file"]).st_mtime
        except FileNotFoundError:
            mtime = None
        except OSError as exc:
            return health.component("worker", health.UNKNOWN, "cannot read the health-check file: %s" % exc,
                                    _elapsed_ms(started), pid=worker.get("pid"))
        status, reason = health.file_liveness(clock(), float(worker.get("start") or 0), mtime,
                                              float(liveness.get("max_age_seconds", 15)))
        return health.component("worker", status, reason, _elapsed_ms(started), pid=worker.get("pid"),
                                health_check_file=liveness["file"])
    beat = settings["profile"].get("worker_heartbeat")
    if not beat:
        return health.component("worker", health.UNKNOWN, "process running; this version has no liveness signal to read",
                                _elapsed_ms(started), pid=worker.get("pid"))
    if not ("redis" in settings["programs"] or aio_settings.service_external(settings, "redis")):
        return health.component("worker", health.UNKNOWN, "process running; its heartbeat travels through Redis, "
                                "which this container does not reach", _elapsed_ms(started), pid=worker.get("pid"))
    try:
        # kombu prefixes its pub/sub channels with the database number.
        channel = "/%d.%s" % (int(settings["redis"].get("db", 0)), beat["channel"].split(".", 1)[1]) \
            if beat["channel"].startswith("/0.") else beat["channel"]
        heartbeat = wait_for_heartbeat(settings["redis"], environ.get(aio_settings.REDIS_PASSWORD_ENV, ""),
                                       channel, float(beat.get("wait_seconds", 2.5)))
    except (OSError, RedisError) as exc:
        return health.component("worker", health.UNKNOWN, "cannot listen for heartbeats: %s" % exc,
                                _elapsed_ms(started), pid=worker.get("pid"))
    if heartbeat is None:
        return health.component("worker", health.UNKNOWN, "process running, no heartbeat within %ss"
                                % beat.get("wait_seconds", 2.5), _elapsed_ms(started), pid=worker.get("pid"))
    return health.component("worker", health.OK,
                            "heartbeat from %s (%s active)" % (heartbeat.get("hostname"), heartbeat.get("active")),
                            _elapsed_ms(started), pid=worker.get("pid"), heartbeat=heartbeat)


def run(settings, environ, components=health.COMPONENTS):
    """Probe the selected components and combine them into one report."""
    results = []
    supervisor = probe_supervisor(settings)
    wanted = set(components)
    if "supervisor" in wanted:
        results.append(supervisor)
    for name, probe in (("postgres", probe_postgres), ("redis", probe_redis)):
        if name in wanted and (name in settings["programs"] or aio_settings.service_external(settings, name)):
            results.append(probe(settings, environ))
    # A web-only host has no worker to probe, a worker host no web server.
    if "web" in wanted and "web" in settings["programs"]:
        results.append(probe_web(settings))
    if "worker" in wanted and "worker" in settings["programs"]:
        results.append(probe_worker(settings, environ, supervisor))
    if "host" in wanted:
        results.append(probe_host(settings))
    if "offsite" in wanted and destinations.kinds(environ):
        results.append(probe_offsite(settings, environ))
    return health.report(health.with_start_reasons(results, start_reasons.reasons(settings)))
