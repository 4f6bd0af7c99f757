# -*- coding: utf-8 -*-
"""notify.py: delivery judgements, bounded retries, redaction, against a real local HTTP server."""

from __future__ import annotations

import http.client
import http.server
import json
import socket
import socketserver
import threading
import time
import urllib.error

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import notify

SECRET_KEY = "s3cr3t-value-xyz"
DB_PASSWORD = "dbpass-abc"


# ---------------------------------------------------------------- judgements


def test_feishu_code_0_is_delivered():
    assert notify.feishu_delivered(200, '{"code":0,"msg":"success","data":{}}')[0] is True


def test_feishu_refusal_with_http_200_is_not_delivered():
    delivered, reason = notify.feishu_delivered(200, '{"code":19001,"msg":"x"}')
    assert delivered is False
    assert "19001" in reason and "x" in reason


def test_feishu_old_style_status_code():
    assert notify.feishu_delivered(200, '{"StatusCode":0,"StatusMessage":"success"}')[0] is True
    delivered, reason = notify.feishu_delivered(200, '{"StatusCode":9499,"StatusMessage":"Bad Request"}')
    assert delivered is False
    assert "9499" in reason and "Bad Request" in reason


def test_feishu_non_json_body():
    delivered, reason = notify.feishu_delivered(200, "<html>gateway</html>")
    assert delivered is False
    assert "JSON" in reason


def test_feishu_json_without_code_is_not_delivered():
    assert notify.feishu_delivered(200, "{}")[0] is False


def test_feishu_http_error():
    delivered, reason = notify.feishu_delivered(500, '{"code":0}')
    assert delivered is False
    assert "500" in reason


@pytest.mark.parametrize("body", ["null", "[]", '"ok"', "0"])
def test_feishu_non_object_json_is_a_reason_not_a_crash(body):
    delivered, _reason = notify.feishu_delivered(200, body)
    assert delivered is False


@pytest.mark.parametrize("status, delivered", [(200, True), (201, True), (204, True), (299, True), (199, False),
                                               (302, False), (404, False), (500, False)])
def test_webhook_delivered_is_any_2xx(status, delivered):
    result, reason = notify.webhook_delivered(status, "whatever")
    assert result is delivered
    assert reason == "HTTP %d" % status


# ---------------------------------------------------------------- deliver() with fakes


class FakePost:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def __call__(self, url, payload, timeout):
        self.calls.append((url, payload, timeout))
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


class RecordingSleep:
    def __init__(self):
        self.calls = []

    def __call__(self, seconds):
        self.calls.append(seconds)


def test_deliver_first_try():
    post, sleep = FakePost((200, '{"code":0}')), RecordingSleep()
    outcome = notify.deliver("http://x/hook", {"a": 1}, notify.feishu_delivered, timeout=2.5, sleep=sleep, post=post)
    assert outcome == {"delivered": True, "attempts": 1, "reason": "code 0"}
    assert post.calls == [("http://x/hook", {"a": 1}, 2.5)]
    assert sleep.calls == []


def test_deliver_always_failing_retries_with_backoff():
    post, sleep = FakePost((200, '{"code":19001,"msg":"bad sign"}')), RecordingSleep()
    outcome = notify.deliver("http://x/hook", {}, notify.feishu_delivered, attempts=3, sleep=sleep, post=post)
    assert outcome["delivered"] is False
    assert outcome["attempts"] == 3
    assert "19001" in outcome["reason"]
    assert len(post.calls) == 3
    assert sleep.calls == [1.0, 2.0]  # no sleep after the last attempt


def test_deliver_backoff_scales():
    post, sleep = FakePost((500, "")), RecordingSleep()
    outcome = notify.deliver("http://x", {}, notify.webhook_delivered, attempts=4, backoff=0.5, sleep=sleep, post=post)
    assert outcome == {"delivered": False, "attempts": 4, "reason": "HTTP 500"}
    assert sleep.calls == [0.5, 1.0, 1.5]


def test_deliver_succeeds_on_second_attempt():
    post, sleep = FakePost((503, ""), (200, "{}")), RecordingSleep()
    outcome = notify.deliver("http://x", {}, notify.webhook_delivered, sleep=sleep, post=post)
    assert outcome == {"delivered": True, "attempts": 2, "reason": "HTTP 200"}
    assert sleep.calls == [1.0]


@pytest.mark.parametrize("error, expected", [
    (OSError("network is unreachable"), "network is unreachable"),
    (socket.timeout("timed out"), "timed out"),
    (ConnectionRefusedError(111, "Connection refused"), "Connection refused"),
    (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")), "Connection refused"),
    (ValueError("unknown url type: 'nope'"), "unknown url type"),
])
def test_deliver_turns_exceptions_into_reasons(error, expected):
    post, sleep = FakePost(error), RecordingSleep()
    outcome = notify.deliver("http://x", {}, notify.webhook_delivered, attempts=2, sleep=sleep, post=post)
    assert outcome["delivered"] is False
    assert outcome["attempts"] == 2
    assert expected in outcome["reason"]
    assert len(post.calls) == 2
    assert sleep.calls == [1.0]


def test_deliver_zero_attempts_sends_nothing():
    post = FakePost((200, "{}"))
    outcome = notify.deliver("http://x", {}, notify.webhook_delivered, attempts=0, post=post, sleep=RecordingSleep())
    assert outcome["delivered"] is False
    assert post.calls == []


def test_feishu_card_and_generic_payload_shape():
    report = {"job": "scheduled-restart", "ok": True, "summary": [("result", "fine"), ("worker pid", "1 -> 2")]}
    card = notify.feishu_card(report, "example.test")
    assert card["msg_type"] == "interactive"
    assert card["card"]["header"]["template"] == "green"
    title = card["card"]["header"]["title"]["content"]
    assert "scheduled-restart" in title and "succeeded" in title and "example.test" in title
    text = card["card"]["elements"][0]["text"]["content"]
    assert "**result**: fine" in text and "**worker pid**: 1 -> 2" in text
    failed = notify.feishu_card({"job": "scheduled-restart", "ok": False}, "h")
    assert failed["card"]["header"]["template"] == "red"
    assert "FAILED" in failed["card"]["header"]["title"]["content"]
    assert failed["card"]["elements"][0]["text"]["content"] == "-"
    payload = notify.generic_payload(report, "example.test")
    assert payload["job"] == "scheduled-restart" and payload["ok"] is True and payload["host"] == "example.test"
    assert payload["summary"] == {"result": "fine", "worker pid": "1 -> 2"}


# ---------------------------------------------------------------- redaction with a fake post


def _strings(value):
    """Every string (keys included) inside decoded JSON: what a receiver would display."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _capture_notify_all(report, environ):
    sent = []

    def post(url, payload, timeout):
        sent.append((url, payload))
        return 200, '{"code":0}'

    outcomes = notify.notify_all(report, environ, "host", post=post, sleep=lambda s: None)
    return outcomes, sent


def test_notify_all_without_receivers_sends_nothing():
    outcomes, sent = _capture_notify_all({"job": "j", "ok": True, "summary": []}, {"SECRET_KEY": "x"})
    assert outcomes == {} and sent == []


@pytest.mark.parametrize("secret", ['pa"ss-word-1', "pa\\ss-word-2", "pässwört-3"])
def test_notify_all_redacts_secrets_with_json_escaped_characters(secret):
    environ = {"AIO_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hook", "AIO_DB_PASSWORD": secret}
    report = {"job": "scheduled-restart", "ok": False, "reason": "login failed for %s" % secret,
              "summary": [("result", "login failed for %s" % secret)]}
    _outcomes, sent = _capture_notify_all(report, environ)
    assert sent
    for _url, payload in sent:
        assert not any(secret in text for text in _strings(payload))


def test_notify_all_never_raises_when_a_secret_looks_like_json():
    environ = {"AIO_NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hook", "AIO_REDIS_PASSWORD": "1234"}
    report = {"job": "scheduled-restart", "ok": True, "before": {"pids": {"worker": 41234}}, "summary": []}
    outcomes, _sent = _capture_notify_all(report, environ)
    assert outcomes["webhook"]["delivered"] is True


# ---------------------------------------------------------------- a real HTTP server on 127.0.0.1


class _Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.received.append((self.path, self.headers.get("Content-Type"), body))
        if self.path == "/hang":
            time.sleep(3)
        status, answer = {"/ok": (200, {"code": 0, "msg": "success"}),
                          "/bad": (200, {"code": 19001, "msg": "param invalid: incoming webhook access token "
                                                               "invalid"}),
                          "/hang": (200, {"code": 0}),
                          "/500": (500, {"error": "boom"})}.get(self.path, (404, {}))
        data = json.dumps(answer).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:  # the client gave up (the /hang case)
            pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request, client_address):
        pass


@pytest.fixture
def server():
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.received = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = "http://127.0.0.1:%d" % httpd.server_address[1]
    try:
        yield httpd, base
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_post_json_real_server(server):
    httpd, base = server
    assert notify.post_json(base + "/ok", {"x": "é"}, 2.0) == (200, '{"code": 0, "msg": "success"}')
    status, body = notify.post_json(base + "/500", {}, 2.0)
    assert status == 500 and "boom" in body
    path, content_type, sent = httpd.received[0]
    assert path == "/ok" and content_type == "application/json"
    assert json.loads(sent) == {"x": "é"}


def test_deliver_real_feishu_refusal(server):
    httpd, base = server
    sleep = RecordingSleep()
    outcome = notify.deliver(base + "/bad", {"msg_type": "text"}, notify.feishu_delivered, timeout=2.0, sleep=sleep)
    assert outcome["delivered"] is False and outcome["attempts"] == 3
    assert "19001" in outcome["reason"]
    assert [p for p, _, _ in httpd.received] == ["/bad"] * 3
    assert sleep.calls == [1.0, 2.0]


def test_notify_all_real_server_sends_redacted_card_and_payload(server):
    httpd, base = server
    url_ok, url_500 = base + "/ok", base + "/500"
    environ = {"AIO_FEISHU_WEBHOOK_URL": url_ok, "AIO_NOTIFY_WEBHOOK_URL": url_500,
               "SECRET_KEY": SECRET_KEY, "AIO_DB_PASSWORD": DB_PASSWORD, "PATH": "/usr/bin"}
    report = {
        "job": "scheduled-restart", "ok": False,
        "reason": "web not ready within 120s (SECRET_KEY=%s)" % SECRET_KEY,
        "summary": [("result", "web not ready; db password %s leaked?" % DB_PASSWORD),
                    ("config", "secret %s, feishu %s, hook %s" % (SECRET_KEY, url_ok, url_500)),
                    ("worker pid", "100 -> 200")],
        "steps": [{"program": "web", "detail": "dsn postgres://app:%s@127.0.0.1/db" % DB_PASSWORD}],
    }
    sleep = RecordingSleep()
    outcomes = notify.notify_all(report, environ, "glitchtip.example.test", timeout=2.0, sleep=sleep)

    assert outcomes["feishu"] == {"delivered": True, "attempts": 1, "reason": "code 0"}
    assert outcomes["webhook"]["delivered"] is False
    assert outcomes["webhook"]["attempts"] == 3
    assert outcomes["webhook"]["reason"] == "HTTP 500"
    assert sleep.calls == [1.0, 2.0]

    paths = [path for path, _, _ in httpd.received]
    assert paths.count("/ok") == 1 and paths.count("/500") == 3

    card = json.loads(next(body for path, _, body in httpd.received if path == "/ok"))
    assert card["msg_type"] == "interactive"
    title = card["card"]["header"]["title"]["content"]
    assert "scheduled-restart" in title and "FAILED" in title and "glitchtip.example.test" in title
    assert card["card"]["header"]["template"] == "red"
    text = card["card"]["elements"][0]["text"]["content"]
    assert "**worker pid**: 100 -> 200" in text
    assert "********" in text

    generic = json.loads(next(body for path, _, body in httpd.received if path == "/500"))
    assert generic["job"] == "scheduled-restart"
    assert generic["ok"] is False
    assert generic["summary"]["worker pid"] == "100 -> 200"
    assert "********" in generic["summary"]["config"]
    assert generic["host"] == "glitchtip.example.test"

    for _path, _ctype, body in httpd.received:
        texts = list(_strings(json.loads(body)))
        for value in (SECRET_KEY, DB_PASSWORD, url_ok, url_500, base):
            assert value.encode() not in body
            assert not any(value in text for text in texts)
    # The caller's report is left as it was.
    assert SECRET_KEY in report["reason"]


def test_deliver_real_server_hang_times_out(server):
    httpd, base = server
    started = time.monotonic()
    outcome = notify.deliver(base + "/hang", {"x": 1}, notify.webhook_delivered, timeout=0.5, attempts=2,
                             sleep=lambda s: None)
    elapsed = time.monotonic() - started
    assert outcome["delivered"] is False
    assert outcome["attempts"] == 2
    assert "timed out" in outcome["reason"] or "timeout" in outcome["reason"].lower()
    assert elapsed < 3.0
    assert [p for p, _, _ in httpd.received] == ["/hang", "/hang"]


def test_deliver_real_refused_connection():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    outcome = notify.deliver("http://127.0.0.1:%d/x" % port, {}, notify.webhook_delivered, timeout=1.0,
                             attempts=2, sleep=lambda s: None)
    assert outcome["delivered"] is False
    assert "refused" in outcome["reason"].lower()


class _NotHttpHandler(socketserver.BaseRequestHandler):
    def handle(self):
        self.request.recv(65536)
        self.request.sendall(b"SSH-2.0-OpenSSH_9.6\r\n")


def test_deliver_never_raises_on_a_non_http_answer():
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NotHttpHandler) as tcp:
        tcp.daemon_threads = True
        thread = threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            outcome = notify.deliver("http://127.0.0.1:%d/hook" % tcp.server_address[1], {}, notify.webhook_delivered,
                                     timeout=1.0, attempts=1, sleep=lambda s: None)
        finally:
            tcp.shutdown()
    assert outcome["delivered"] is False
