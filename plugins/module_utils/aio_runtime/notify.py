# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Notifications: a Feishu group bot card and a generic JSON webhook.

Delivery is what the receiver says, not "HTTP 200": Feishu answers 200 with a
JSON ``code`` that must be 0. Timeouts and bounded retries; a failed
notification is reported, never raised. Messages are built from report fields
only (no environment values) and redacted once more before sending.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.error
import urllib.request

from . import settings as aio_settings

FEISHU_URL_ENV = aio_settings.FEISHU_URL_ENV
WEBHOOK_URL_ENV = aio_settings.WEBHOOK_URL_ENV


def _status_line(report):
    return "%s: %s" % (report.get("job", "job"), "succeeded" if report.get("ok") else "FAILED")


def feishu_card(report, host_label):
    """An interactive card for a Feishu group bot (msg_type interactive)."""
    lines = ["**%s**: %s" % (name, detail) for name, detail in report.get("summary", [])]
    return {
        "msg_type": "interactive",
        "card": {
            "config": {"wide_screen_mode": True},
            "header": {"template": "green" if report.get("ok") else "red",
                       "title": {"tag": "plain_text", "content": "GlitchTip %s on %s" % (_status_line(report),
                                                                                         host_label)}},
            "elements": [{"tag": "div", "text": {"tag": "lark_md", "content": "\n".join(lines) or "-"}}],
        },
    }


def generic_payload(report, host_label):
    return {"source": "glitchtip-aio", "host": host_label, "job": report.get("job"), "ok": bool(report.get("ok")),
            "summary": dict(report.get("summary", [])), "report": report}


def feishu_delivered(status, body):
    """Feishu answers HTTP 200 even for refused messages; only code 0 means delivered."""
    if status != 200:
        return False, "HTTP %d" % status
    try:
        answer = json.loads(body)
    except ValueError:
        return False, "answer is not JSON"
    if not isinstance(answer, dict):
        return False, "answer is not a JSON object"
    code = answer.get("code", answer.get("StatusCode"))
    if code == 0:
        return True, "code 0"
    return False, "code %s: %s" % (code, answer.get("msg", answer.get("StatusMessage", "")))


def webhook_delivered(status, body):
    return (200 <= status < 300), "HTTP %d" % status


def post_json(url, payload, timeout):
    data = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(65536).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(65536).decode("utf-8", "replace")


def deliver(url, payload, judge, timeout=5.0, attempts=3, backoff=1.0, sleep=time.sleep, post=post_json):
    """Send with bounded retries; returns {delivered, attempts, reason} and never raises."""
    reason = "not sent"
    for attempt in range(1, attempts + 1):
        try:
            status, body = post(url, payload, timeout)
            delivered, reason = judge(status, body)
        except (OSError, ValueError, http.client.HTTPException) as exc:  # timeouts, refusals, bad URLs, not HTTP
            delivered, reason = False, "%s: %s" % (type(exc).__name__, getattr(exc, "reason", exc))
        if delivered:
            return {"delivered": True, "attempts": attempt, "reason": reason}
        if attempt < attempts:
            sleep(backoff * attempt)
    return {"delivered": False, "attempts": attempts, "reason": reason}


def notify_all(report, environ, host_label, **options):
    """Send the report to every configured receiver; {receiver: outcome}."""
    secrets = aio_settings.secret_values(environ)
    # Belt and braces: the report holds no environment values, and is redacted anyway
    # (string by string: redacting its JSON text would miss escaped forms and could break it).
    clean = aio_settings.redact_tree(report, secrets)
    outcomes = {}
    if environ.get(FEISHU_URL_ENV):
        outcomes["feishu"] = deliver(environ[FEISHU_URL_ENV], feishu_card(clean, host_label), feishu_delivered,
                                     **options)
    if environ.get(WEBHOOK_URL_ENV):
        outcomes["webhook"] = deliver(environ[WEBHOOK_URL_ENV], generic_payload(clean, host_label), webhook_delivered,
                                      **options)
    return outcomes
