# -*- coding: utf-8 -*-
"""The web worker class the image installs (roles/image/files/glitchtip_aio_gunicorn.py), run for real.

A real gunicorn master on loopback with a WSGI app, clients connecting without pause, and the
master told to reload (HUP) again and again, as the scheduled restart does: every request must
be answered. gunicorn's stock gthread worker closes connections it accepted but had not yet
read when it exits (benoitc/gunicorn#3380); with many reloads that shows as resets here.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

pytest.importorskip("gunicorn")

FILES = os.path.join(os.path.dirname(__file__), "..", "..", "roles", "image", "files")
APP = '''
import time

def app(environ, start_response):
    time.sleep(0.002)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]
'''


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/_health/")
        response = connection.getresponse()
        return response.status == 200 and response.read() == b"ok"
    finally:
        connection.close()


def serve_and_reload(tmp_path, worker_class, reloads=12):
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.path.abspath(FILES)]))
    master = subprocess.Popen([sys.executable, "-m", "gunicorn", "app:app", "--bind", "127.0.0.1:%d" % port,
                               "--workers", "2", "--threads", "2", "--preload", "--worker-class", worker_class,
                               "--graceful-timeout", "10"],
                              cwd=str(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if get(port):
                    break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)
        counts, failures, stop = {"sent": 0}, [], threading.Event()

        def client():
            while not stop.is_set():
                counts["sent"] += 1
                try:
                    if not get(port):
                        failures.append("bad answer")
                except OSError as exc:
                    failures.append(repr(exc))

        clients = [threading.Thread(target=client) for _ in range(4)]
        for thread in clients:
            thread.start()
        for _ in range(reloads):
            time.sleep(0.4)
            master.send_signal(signal.SIGHUP)
        time.sleep(1.5)
        stop.set()
        for thread in clients:
            thread.join()
        return counts["sent"], failures
    finally:
        master.terminate()
        master.wait(timeout=30)


def test_graceful_worker_answers_every_request_across_reloads(tmp_path):
    sent, failures = serve_and_reload(tmp_path, "glitchtip_aio_gunicorn.GracefulThreadWorker")
    assert sent > 200, "too few requests (%d) to judge" % sent
    assert not failures, "%d of %d requests failed: %s" % (len(failures), sent, failures[:5])
