# -*- coding: utf-8 -*-
"""container_exec.py: the parts that need no Docker engine (inspect summary, log tails)."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec

SECRET = "s3cr3t/p@ss word"
QUOTED_SECRET = "s3cr3t%2Fp%40ss%20word"


def inspect_attrs(**state):
    base = {"Status": "running", "Running": True, "Restarting": False, "ExitCode": 0,
            "StartedAt": "2026-11-27T12:00:00.000000000Z", "Health": {"Status": "healthy", "Log": []}}
    base.update(state)
    return {"Id": "abc", "Image": "sha256:1234", "RestartCount": 2, "State": base,
            "Config": {"Env": ["SECRET_KEY=" + "k" * 40, "AIO_DB_PASSWORD=" + SECRET, "PATH=/usr/bin",
                               "AIO_REDIS_PASSWORD=", "WEIRD=a=b"]}}


def test_state_summary_of_a_running_container():
    assert container_exec.state_summary(inspect_attrs()) == {
        "exists": True, "status": "running", "running": True, "restarting": False, "exit_code": 0,
        "restart_count": 2, "health": "healthy", "started_at": "2026-11-27T12:00:00.000000000Z",
        "image": "sha256:1234"}


def test_state_summary_of_an_exited_container_without_health():
    attrs = inspect_attrs(Status="exited", Running=False, ExitCode=137, Health=None)
    del attrs["RestartCount"]
    summary = container_exec.state_summary(attrs)
    assert summary["status"] == "exited"
    assert summary["running"] is False
    assert summary["exit_code"] == 137
    assert summary["health"] is None
    assert summary["restart_count"] == 0


@pytest.mark.parametrize("attrs", [None, {}])
def test_state_summary_of_a_missing_container(attrs):
    assert container_exec.state_summary(attrs) == {"exists": False, "status": "absent"}


def test_secret_values_come_from_the_container_environment():
    # No Docker engine needed: secret_values only reads the attrs it is given.
    container = container_exec.AioContainer.__new__(container_exec.AioContainer)
    assert sorted(container.secret_values(inspect_attrs())) == sorted([SECRET, "k" * 40])
    assert container.secret_values({}) == []


def write_log(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_read_log_tail_returns_the_last_lines_redacted(tmp_path):
    log = tmp_path / "web.log"
    lines = ["line %03d" % i for i in range(200)]
    lines[197] = "connecting with password %s" % SECRET
    lines[198] = "DATABASE_URL=postgres://glitchtip:%s@127.0.0.1:5432/glitchtip" % QUOTED_SECRET
    write_log(log, lines)
    tail = container_exec.read_log_tail(str(log), 5, [SECRET])
    assert tail == ["line 195", "line 196", "connecting with password ********",
                    "DATABASE_URL=postgres://glitchtip:********@127.0.0.1:5432/glitchtip", "line 199"]
    assert not any(SECRET in line or QUOTED_SECRET in line for line in tail)


def test_read_log_tail_of_a_short_file(tmp_path):
    log = tmp_path / "short.log"
    write_log(log, ["only", "two"])
    assert container_exec.read_log_tail(str(log), 40, []) == ["only", "two"]


def test_read_log_tail_reads_a_large_file_from_the_end(tmp_path):
    log = tmp_path / "big.log"
    write_log(log, ["%06d %s" % (i, "x" * 100) for i in range(20000)])   # about 2 MB
    tail = container_exec.read_log_tail(str(log), 3, [])
    assert [line.split()[0] for line in tail] == ["019997", "019998", "019999"]


def test_read_log_tail_of_a_missing_file_is_empty(tmp_path):
    assert container_exec.read_log_tail(str(tmp_path / "missing.log"), 10, [SECRET]) == []


def test_read_log_tail_survives_invalid_utf8(tmp_path):
    log = tmp_path / "bin.log"
    log.write_bytes(b"ok\n\xff\xfe broken\n")
    assert container_exec.read_log_tail(str(log), 2, []) == ["ok", "\ufffd\ufffd broken"]


def test_read_log_tail_of_zero_lines_is_empty(tmp_path):
    log = tmp_path / "web.log"
    write_log(log, ["a", "b", "c"])
    assert container_exec.read_log_tail(str(log), 0, []) == []


def test_read_log_tail_never_leaks_part_of_a_secret(tmp_path):
    log = tmp_path / "web.log"
    # The block read is the last 8192 bytes: make it start 10 characters before the secret ends.
    tail_part = "y" * (8192 - 10 - 1)
    log.write_text("password=" + SECRET + tail_part + "\n", encoding="utf-8")
    lines = container_exec.read_log_tail(str(log), 1, [SECRET])
    assert not any(SECRET[-10:] in line for line in lines)


def test_program_log_tails(tmp_path):
    write_log(tmp_path / "web.log", ["web out", "token " + SECRET])
    write_log(tmp_path / "web.err.log", ["web err"])
    write_log(tmp_path / "migrate.err.log", ["migration failed"])
    tails = container_exec.program_log_tails(str(tmp_path), ["web", "migrate", "worker"], 10, [SECRET])
    assert set(tails) == {"web", "migrate", "worker"}
    for program in tails.values():
        assert set(program) == {"stdout", "stderr"}
    assert tails["web"] == {"stdout": ["web out", "token ********"], "stderr": ["web err"]}
    assert tails["migrate"] == {"stdout": [], "stderr": ["migration failed"]}
    assert tails["worker"] == {"stdout": [], "stderr": []}


def test_program_log_tails_of_no_programs(tmp_path):
    assert container_exec.program_log_tails(str(tmp_path), [], 10, []) == {}


def test_host_log_dir_is_the_bind_mount_of_the_log_directory():
    attrs = {"Mounts": [{"Type": "bind", "Source": "/srv/g/postgres", "Destination": "/data/postgres"},
                        {"Type": "bind", "Source": "/srv/g/logs", "Destination": "/data/logs"}]}
    assert container_exec.host_log_dir(attrs) == "/srv/g/logs"
    assert container_exec.host_log_dir({"Mounts": [{"Type": "volume", "Source": "/var/lib/docker/v/_data",
                                                     "Destination": "/data/logs"}]}) is None
    assert container_exec.host_log_dir(None) is None


def fake_exec(server, reply_frames):
    """A Docker exec on the far end of a socket: reads stdin to EOF, then answers in frames."""
    received = b""
    while True:
        chunk = server.recv(65536)
        if not chunk:
            break
        received += chunk
    for stream, payload in reply_frames(received):
        server.sendall(struct.pack(">BxxxL", stream, len(payload)) + payload)
    server.close()
    return received


@pytest.mark.parametrize("wrap", [False, True], ids=["socket", "SocketIO"])
def test_exchange_sends_stdin_to_eof_and_demultiplexes_the_output(wrap):
    client_side, server_side = socket.socketpair()
    data = b'{"email": "a@example.com", "password": "p"}' + b"x" * 300000   # larger than a socket buffer
    seen = {}

    def serve():
        seen["stdin"] = fake_exec(server_side, lambda got: [(1, b'{"ok": '), (2, b"warning\n"),
                                                            (1, b"true}\n")])

    thread = threading.Thread(target=serve)
    thread.start()
    sock = socket.SocketIO(client_side, "rwb") if wrap else client_side
    try:
        stdout, stderr = container_exec.exchange(sock, data)
    finally:
        sock.close()
        client_side.close()
    thread.join(10)
    assert seen["stdin"] == data
    assert (stdout, stderr) == (b'{"ok": true}\n', b"warning\n")


def test_exchange_with_no_output():
    client_side, server_side = socket.socketpair()
    thread = threading.Thread(target=fake_exec, args=(server_side, lambda got: []))
    thread.start()
    try:
        assert container_exec.exchange(client_side, b"{}") == (b"", b"")
    finally:
        client_side.close()
    thread.join(10)
