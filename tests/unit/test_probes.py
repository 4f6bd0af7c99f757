# -*- coding: utf-8 -*-
"""probes.py: RESP encoding/decoding, Celery heartbeats over a real tiny RESP server, probe_worker's verdicts."""

from __future__ import annotations

import base64
import io
import json
import os
import socket
import socketserver
import threading
import time

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health, probes

CHANNEL = "/0.celeryev/worker.heartbeat"
PASSWORD = "redis-pw-123"

EVENT = {"hostname": "celery@glitchtip", "utcoffset": 0, "pid": 42, "clock": 12, "freq": 1.0, "active": 2,
         "processed": 17, "loadavg": [0.1, 0.2, 0.3], "sw_ident": "py-celery", "sw_ver": "5.3.6", "sw_sys": "Linux",
         "timestamp": 1717000000.125, "type": "worker-heartbeat"}
DECODED = {"hostname": "celery@glitchtip", "active": 2, "processed": 17, "freq": 1.0, "timestamp": 1717000000.125}


def envelope(event=EVENT, encoding="base64"):
    """kombu's message envelope as Celery publishes it on the fanout channel."""
    body = json.dumps(event)
    if encoding == "base64":
        body = base64.b64encode(body.encode("utf-8")).decode("ascii")
    return json.dumps({"body": body, "content-encoding": "utf-8", "content-type": "application/json",
                       "headers": {}, "properties": {"delivery_mode": 1, "priority": 0, "body_encoding": encoding,
                                                    "delivery_info": {"exchange": "celeryev",
                                                                      "routing_key": "worker.heartbeat"},
                                                    "delivery_tag": "0b6e1c3e"}})


# ---------------------------------------------------------------- decode_heartbeat


def test_decode_heartbeat_base64_envelope():
    assert probes.decode_heartbeat(envelope()) == DECODED


def test_decode_heartbeat_plain_body_and_bytes():
    assert probes.decode_heartbeat(envelope(encoding="utf-8")) == DECODED
    assert probes.decode_heartbeat(envelope().encode("utf-8")) == DECODED


def test_decode_heartbeat_missing_fields_are_none():
    assert probes.decode_heartbeat(envelope({"hostname": "h"})) == {"hostname": "h", "active": None,
                                                                    "processed": None, "freq": None,
                                                                    "timestamp": None}


@pytest.mark.parametrize("raw", [
    "", "not json", "{", "[1, 2]", '"text"', "null", None, 42,
    '{"body": "!!! not base64 !!!", "properties": {"body_encoding": "base64"}}',
    json.dumps({"body": base64.b64encode(b"not json").decode(), "properties": {"body_encoding": "base64"}}),
    json.dumps({"body": base64.b64encode(b"\xff\xfe").decode(), "properties": {"body_encoding": "base64"}}),
    '{"body": 5}',
    '{"properties": "x"}',
])
def test_decode_heartbeat_garbage_is_empty(raw):
    assert probes.decode_heartbeat(raw) == {}


@pytest.mark.parametrize("body", [b"[1, 2]", b"7", b'"x"', b"null"])
def test_decode_heartbeat_non_object_body_is_empty(body):
    raw = json.dumps({"body": base64.b64encode(body).decode(), "properties": {"body_encoding": "base64"}})
    assert probes.decode_heartbeat(raw) == {}


# ---------------------------------------------------------------- RESP encoding / parsing


def test_resp_command_encoding():
    assert probes._resp_command("PING") == b"*1\r\n$4\r\nPING\r\n"
    assert probes._resp_command("AUTH", "pw") == b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n"
    assert probes._resp_command("SUBSCRIBE", CHANNEL) == (
        b"*2\r\n$9\r\nSUBSCRIBE\r\n$%d\r\n%s\r\n" % (len(CHANNEL), CHANNEL.encode()))
    # Lengths are in bytes, not characters.
    assert probes._resp_command("AUTH", "pässwört") == "*2\r\n$4\r\nAUTH\r\n$10\r\npässwört\r\n".encode("utf-8")
    # Binary-safe: CRLF inside an argument is carried by the length, not taken as a terminator.
    assert probes._resp_command("AUTH", "a\r\nb") == b"*2\r\n$4\r\nAUTH\r\n$4\r\na\r\nb\r\n"
    assert probes._resp_command("AUTH", "") == b"*2\r\n$4\r\nAUTH\r\n$0\r\n\r\n"


def _reply(data):
    return probes._read_reply(io.BytesIO(data))


def test_read_reply_simple_types():
    assert _reply(b"+OK\r\n") == "OK"
    assert _reply(b"+PONG\r\n") == "PONG"
    assert _reply(b":5\r\n") == "5"
    assert _reply(b":-3\r\n") == "-3"
    assert _reply(b"$-1\r\n") is None


def test_read_reply_bulk_strings():
    assert _reply(b"$3\r\nabc\r\n") == "abc"
    assert _reply(b"$0\r\n\r\n") == ""
    assert _reply(b"$4\r\na\r\nb\r\n") == "a\r\nb"           # CRLF inside bulk data
    assert _reply("$6\r\npässw\r\n".encode("utf-8")) == "pässw"  # length in bytes
    info = b"# Memory\r\nused_memory:1024\r\nmaxmemory:0\r\n"
    assert _reply(b"$%d\r\n%s\r\n" % (len(info), info)) == info.decode()


def test_read_reply_arrays():
    assert _reply(b"*2\r\n$3\r\nfoo\r\n:1\r\n") == ["foo", "1"]
    assert _reply(b"*0\r\n") == []
    assert _reply(b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$-1\r\n") == ["message", "ch", None]
    assert _reply(b"*2\r\n*1\r\n+a\r\n*2\r\n:1\r\n:2\r\n") == [["a"], ["1", "2"]]


def test_read_reply_consecutive_replies_from_one_stream():
    stream = io.BytesIO(b"+OK\r\n*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n$3\r\nabc\r\n")
    assert probes._read_reply(stream) == "OK"
    assert probes._read_reply(stream) == ["subscribe", "ch", "1"]
    assert probes._read_reply(stream) == "abc"
    with pytest.raises(OSError, match="connection closed"):
        probes._read_reply(stream)


def test_read_reply_error_raises_redis_error():
    with pytest.raises(probes.RedisError, match="ERR wrong number of arguments"):
        _reply(b"-ERR wrong number of arguments\r\n")
    with pytest.raises(probes.RedisError, match="WRONGPASS"):
        _reply(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
    # An error inside an array raises as well.
    with pytest.raises(probes.RedisError, match="NOAUTH"):
        _reply(b"*2\r\n+OK\r\n-NOAUTH Authentication required.\r\n")


def test_read_reply_closed_or_unknown():
    with pytest.raises(OSError, match="connection closed"):
        _reply(b"")
    with pytest.raises(OSError, match="unexpected reply"):
        _reply(b"HTTP/1.1 400 Bad Request\r\n")


# ---------------------------------------------------------------- a real tiny RESP server on 127.0.0.1


def _bulk(text):
    data = text.encode("utf-8") if isinstance(text, str) else text
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _array(*items):
    return b"*%d\r\n" % len(items) + b"".join(items)


class _RespHandler(socketserver.StreamRequestHandler):
    """Just enough Redis: AUTH, SUBSCRIBE (then maybe publish), PING; parsed independently of probes.py."""

    def _command(self):
        line = self.rfile.readline()
        if not line:
            return None
        assert line.startswith(b"*"), line
        args = []
        for _ in range(int(line[1:])):
            length = int(self.rfile.readline()[1:])
            args.append(self.rfile.read(length + 2)[:-2].decode("utf-8"))
        return args

    def handle(self):
        server = self.server
        while True:
            try:
                command = self._command()
            except OSError:
                return
            if command is None:
                return
            server.commands.append(command)
            verb = command[0].upper()
            if verb == "AUTH":
                if command[-1] == server.password:
                    self.wfile.write(b"+OK\r\n")
                else:
                    self.wfile.write(b"-WRONGPASS invalid username-password pair or user is disabled.\r\n")
            elif verb == "SUBSCRIBE":
                self.wfile.write(_array(_bulk("subscribe"), _bulk(command[1]), b":1\r\n"))
                self.wfile.flush()
                if server.publish:
                    time.sleep(server.delay)
                    for raw in server.publish:
                        if isinstance(raw, bytes):
                            self.wfile.write(raw)
                        else:
                            self.wfile.write(_array(_bulk("message"), _bulk(command[1]), _bulk(raw)))
                        self.wfile.flush()
            elif verb == "PING":
                self.wfile.write(b"+PONG\r\n")
            else:
                self.wfile.write(b"-ERR unknown command '%s'\r\n" % command[0].encode())
            self.wfile.flush()


class _RespServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True


@pytest.fixture
def resp_server():
    servers = []

    def start(password=PASSWORD, publish=(), delay=0.2):
        server = _RespServer(("127.0.0.1", 0), _RespHandler)
        server.password, server.publish, server.delay, server.commands = password, list(publish), delay, []
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append(server)
        return server, server.server_address[1]

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_redis_commands_against_the_tiny_server(resp_server):
    server, port = resp_server()
    assert probes.redis_commands({"port": port}, PASSWORD, [("PING",)]) == ["PONG"]
    assert server.commands == [["AUTH", PASSWORD], ["PING"]]


def test_wait_for_heartbeat_returns_the_published_heartbeat(resp_server):
    server, port = resp_server(publish=[envelope()], delay=0.2)
    started = time.monotonic()
    beat = probes.wait_for_heartbeat({"port": port}, PASSWORD, CHANNEL, 2.0)
    elapsed = time.monotonic() - started
    assert beat == DECODED
    assert 0.15 <= elapsed < 1.5
    assert server.commands == [["AUTH", PASSWORD], ["SUBSCRIBE", CHANNEL]]


def test_wait_for_heartbeat_skips_pushes_that_are_not_messages(resp_server):
    other = _array(_bulk("subscribe"), _bulk("other-channel"), b":2\r\n")
    server, port = resp_server(publish=[other, envelope()], delay=0.05)
    assert probes.wait_for_heartbeat({"port": port}, PASSWORD, CHANNEL, 2.0) == DECODED


def test_wait_for_heartbeat_without_password_sends_no_auth(resp_server):
    server, port = resp_server(password=None, publish=[envelope()], delay=0.05)
    assert probes.wait_for_heartbeat({"port": port}, "", CHANNEL, 2.0) == DECODED
    assert server.commands == [["SUBSCRIBE", CHANNEL]]


def test_wait_for_heartbeat_nothing_published_is_none(resp_server):
    server, port = resp_server(publish=[])
    started = time.monotonic()
    assert probes.wait_for_heartbeat({"port": port}, PASSWORD, CHANNEL, 0.5) is None
    elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 1.5
    assert server.commands == [["AUTH", PASSWORD], ["SUBSCRIBE", CHANNEL]]


def test_wait_for_heartbeat_wrong_password_raises_redis_error(resp_server):
    server, port = resp_server(password="other")
    with pytest.raises(probes.RedisError, match="WRONGPASS"):
        probes.wait_for_heartbeat({"port": port}, PASSWORD, CHANNEL, 0.5)
    assert server.commands == [["AUTH", PASSWORD]]


def test_wait_for_heartbeat_refused_connection_raises_oserror():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(OSError):
        probes.wait_for_heartbeat({"port": port}, "", CHANNEL, 0.5)


# ---------------------------------------------------------------- probe_worker


def _settings(port=6379, heartbeat=True, redis=True):
    programs = {"worker": {"kind": "service"}}
    if redis:
        programs["redis"] = {"kind": "service"}
    profile = {"worker_heartbeat": {"channel": CHANNEL, "wait_seconds": 0.5}} if heartbeat else {}
    return {"profile": profile, "programs": programs, "redis": {"port": port}}


def _supervisor(state="RUNNING", pid=4242, worker=True):
    infos = {"redis": {"name": "redis", "statename": "RUNNING", "pid": 7}}
    kinds = {"redis": "service"}
    if worker:
        infos["worker"] = {"name": "worker", "statename": state, "pid": pid if state == "RUNNING" else 0}
        kinds["worker"] = "service"
    return health.supervisor_component(kinds, infos)


@pytest.fixture
def no_redis(monkeypatch):
    """Any attempt to reach Redis fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError("Redis must not be contacted")

    monkeypatch.setattr(probes, "wait_for_heartbeat", forbidden)
    monkeypatch.setattr(probes.socket, "create_connection", forbidden)


@pytest.mark.parametrize("state, status", [("FATAL", health.DOWN), ("BACKOFF", health.DOWN),
                                           ("STARTING", health.DEGRADED)])
def test_probe_worker_process_not_running_skips_redis(no_redis, state, status):
    result = probes.probe_worker(_settings(), {"AIO_REDIS_PASSWORD": PASSWORD}, _supervisor(state))
    assert result["name"] == "worker"
    assert result["status"] == status
    assert state.lower() in result["reason"].lower()
    assert result["reason"].startswith("process ")


def test_probe_worker_not_configured(no_redis):
    result = probes.probe_worker(_settings(), {}, _supervisor(worker=False))
    assert result["status"] == health.UNKNOWN
    assert "no worker" in result["reason"]


def test_probe_worker_supervisor_did_not_answer(no_redis):
    result = probes.probe_worker(_settings(), {}, health.supervisor_component({"worker": "service"}, None))
    assert result["status"] == health.UNKNOWN


@pytest.mark.parametrize("settings", [_settings(heartbeat=False), _settings(redis=False)])
def test_probe_worker_without_a_liveness_signal_is_never_ok_by_process(no_redis, settings):
    # "A PID exists" proves nothing: without a signal to read the verdict is unknown, not ok.
    result = probes.probe_worker(settings, {}, _supervisor())
    assert result["status"] == health.UNKNOWN
    assert "process running" in result["reason"]
    assert result["details"]["pid"] == 4242


def test_probe_worker_no_heartbeat_in_window_is_unknown(monkeypatch):
    calls = []

    def fake_wait(port, password, channel, wait_seconds):
        calls.append((port, password, channel, wait_seconds))
        return None

    monkeypatch.setattr(probes, "wait_for_heartbeat", fake_wait)
    result = probes.probe_worker(_settings(port=6390), {"AIO_REDIS_PASSWORD": PASSWORD}, _supervisor())
    assert result["status"] == health.UNKNOWN
    assert "no heartbeat within 0.5s" in result["reason"]
    assert calls == [({"port": 6390}, PASSWORD, CHANNEL, 0.5)]


@pytest.mark.parametrize("error", [OSError("Connection refused"), probes.RedisError("NOAUTH Authentication required")])
def test_probe_worker_cannot_listen_is_unknown(monkeypatch, error):
    def fake_wait(*args):
        raise error

    monkeypatch.setattr(probes, "wait_for_heartbeat", fake_wait)
    result = probes.probe_worker(_settings(), {}, _supervisor())
    assert result["status"] == health.UNKNOWN
    assert "cannot listen for heartbeats" in result["reason"] and str(error) in result["reason"]


def test_probe_worker_heartbeat_is_ok(monkeypatch):
    monkeypatch.setattr(probes, "wait_for_heartbeat", lambda *args: dict(DECODED))
    result = probes.probe_worker(_settings(), {}, _supervisor())
    assert result["status"] == health.OK
    assert result["reason"] == "heartbeat from celery@glitchtip (2 active)"
    assert result["details"]["heartbeat"] == DECODED


def test_probe_worker_end_to_end_with_the_tiny_server(resp_server):
    server, port = resp_server(publish=[envelope()], delay=0.1)
    result = probes.probe_worker(_settings(port=port), {"AIO_REDIS_PASSWORD": PASSWORD}, _supervisor())
    assert result["status"] == health.OK, result["reason"]
    assert result["details"]["heartbeat"]["hostname"] == "celery@glitchtip"
    assert server.commands == [["AUTH", PASSWORD], ["SUBSCRIBE", CHANNEL]]


def test_probe_worker_end_to_end_silent_worker_is_unknown(resp_server):
    _server, port = resp_server(publish=[])
    result = probes.probe_worker(_settings(port=port), {"AIO_REDIS_PASSWORD": PASSWORD}, _supervisor())
    assert result["status"] == health.UNKNOWN
    assert "no heartbeat" in result["reason"]


# ---------------------------------------------------------------- probe_worker, 6.x health-check file

STARTED = 1_800_000_000.0


def _vtasks_settings(path):
    return {"profile": {"broker_env": ["VALKEY_URL"]},
            "programs": {"worker": {"kind": "service", "liveness": {"file": str(path), "max_age_seconds": 15}}},
            "redis": {"port": 6379}}


def _vtasks_supervisor(state="RUNNING", start=STARTED):
    info = {"name": "worker", "statename": state, "pid": 77 if state == "RUNNING" else 0, "start": start}
    return health.supervisor_component({"worker": "service"}, {"worker": info})


def _touch(path, mtime):
    path.write_text("1")
    os.utime(str(path), (mtime, mtime))


def test_vtasks_worker_fresh_file_is_ok(no_redis, tmp_path):
    path = tmp_path / "health"
    _touch(path, STARTED + 20)
    result = probes.probe_worker(_vtasks_settings(path), {}, _vtasks_supervisor(), clock=lambda: STARTED + 24)
    assert result["status"] == health.OK, result["reason"]
    assert result["reason"] == "health-check file touched 4s ago"
    assert result["details"]["health_check_file"] == str(path)


def test_vtasks_worker_stale_file_is_down_whatever_supervisord_says(no_redis, tmp_path):
    # The process is RUNNING (e.g. frozen with SIGSTOP, or its event loop blocked): only the file tells.
    path = tmp_path / "health"
    _touch(path, STARTED + 20)
    result = probes.probe_worker(_vtasks_settings(path), {}, _vtasks_supervisor(), clock=lambda: STARTED + 36)
    assert result["status"] == health.DOWN
    assert "not touched for 16s (limit 15s)" in result["reason"]


def test_vtasks_worker_file_of_a_previous_process_proves_nothing(no_redis, tmp_path):
    path = tmp_path / "health"
    _touch(path, STARTED - 30)  # fresh enough, but written before this process started
    starting = probes.probe_worker(_vtasks_settings(path), {}, _vtasks_supervisor(), clock=lambda: STARTED + 5)
    assert starting["status"] == health.DEGRADED
    assert "no health-check file yet" in starting["reason"]
    late = probes.probe_worker(_vtasks_settings(path), {}, _vtasks_supervisor(), clock=lambda: STARTED + 40)
    assert late["status"] == health.DOWN
    assert "no health-check file 40s after the start" in late["reason"]


def test_vtasks_worker_missing_file(no_redis, tmp_path):
    settings = _vtasks_settings(tmp_path / "absent")
    assert probes.probe_worker(settings, {}, _vtasks_supervisor(), clock=lambda: STARTED + 3)["status"] == health.DEGRADED
    assert probes.probe_worker(settings, {}, _vtasks_supervisor(), clock=lambda: STARTED + 16)["status"] == health.DOWN


def test_vtasks_worker_process_state_comes_first(no_redis, tmp_path):
    path = tmp_path / "health"
    _touch(path, STARTED + 20)
    result = probes.probe_worker(_vtasks_settings(path), {}, _vtasks_supervisor("BACKOFF"), clock=lambda: STARTED + 21)
    assert result["status"] == health.DOWN
    assert result["reason"].startswith("process ")


def test_vtasks_worker_never_listens_to_redis(no_redis, tmp_path):
    # The 6.x worker's liveness is local: a PostgreSQL-only container (no Redis at all) judges it the same.
    path = tmp_path / "health"
    _touch(path, STARTED + 20)
    settings = _vtasks_settings(path)
    assert "redis" not in settings["programs"]
    result = probes.probe_worker(settings, {}, _vtasks_supervisor(), clock=lambda: STARTED + 22)
    assert result["status"] == health.OK


def test_postgres_probe_reports_the_task_queue_in_postgres_only_mode(monkeypatch):
    queries = []

    def fake_psql(settings, environ, sql, timeout=5.0):
        queries.append(sql)
        return (0, "1|3", "") if sql.startswith("SELECT 1") else (0, "42", "")

    monkeypatch.setattr(probes, "psql", fake_psql)
    settings = {"postgres": {"user": "glitchtip", "port": 5432}, "redis": {"port": 6379, "enabled": False},
                "profile": {"postgres_queue_table": "db_queuedtask"}}
    result = probes.probe_postgres(settings, {})
    assert result["status"] == health.OK and result["details"]["queues"] == {"db_queuedtask": 42}
    assert queries[1] == "SELECT count(*) FROM \"db_queuedtask\" WHERE status = 'QUEUED'"
    queries.clear()
    settings["redis"]["enabled"] = True  # with Valkey the queue is there, not in the database
    assert "queues" not in probes.probe_postgres(settings, {})["details"] and len(queries) == 1
