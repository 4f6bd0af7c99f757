# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio preflight``: can this container reach its external services? Asked before a deploy replaces anything.

Runs in a one-off container from the new image, with the environment and networks the
real container will have, so it tests the same DNS, routes, TLS and credentials. A real
login (PostgreSQL: SELECT 1 as the app role; Redis: AUTH and PING), not an open port.
"""

from __future__ import annotations

from . import health, probes, settings as aio_settings

NAMES = {"postgres": "PostgreSQL", "redis": "Redis"}


def run(settings, environ):
    checks, failures = {}, []
    for name, probe in (("postgres", probes.probe_postgres), ("redis", probes.probe_redis)):
        if not aio_settings.service_external(settings, name):
            continue
        component = probe(settings, environ)
        reachable = component["status"] in (health.OK, health.DEGRADED)
        checks[name] = {"address": aio_settings.service_address(settings, name), "ok": reachable,
                        "reason": component["reason"]}
        if not reachable:
            failures.append(component["reason"])
    if not checks:
        reason = "no external service configured"
    elif failures:
        reason = "; ".join(failures)
    else:
        reason = "; ".join("%s at %s: ok" % (NAMES[name], check["address"]) for name, check in checks.items())
    return {"job": "preflight", "ok": not failures, "checks": checks, "reason": reason}
