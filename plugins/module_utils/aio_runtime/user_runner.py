# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The root half of ``aio user``: check the request, hand it to Django as the app user.

The request, password included, travels on stdin only: never in argv (visible in
``ps``) nor in the environment (visible in /proc/PID/environ to the same user).
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess

from . import launcher, settings as aio_settings, user_request

# /usr/local/lib/glitchtip-aio in the image: the directory holding the aio_runtime package.
RUNTIME_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_SECONDS = 300


def child_environment(settings, environ):
    """The app's environment plus the runtime package on PYTHONPATH."""
    env = aio_settings.app_environment(settings, environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [RUNTIME_PARENT, env.get("PYTHONPATH")]))
    entry = pwd.getpwnam(settings["app"]["user"])
    env.update(HOME=entry.pw_dir, USER=entry.pw_name, LOGNAME=entry.pw_name)
    return env


def failure(reason):
    return {"ok": False, "changed": False, "reason": reason}


def read_report(code, stdout, stderr, secrets):
    """The child's JSON report, or a failure quoting its stderr (redacted) when it printed none."""
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    tail = " | ".join(stderr.strip().splitlines()[-5:])
    return failure("the Django step failed (exit %s) without a report: %s"
                   % (code, aio_settings.redact(tail, secrets) or "no output"))


def run(settings, environ, text):
    try:
        request = user_request.parse_request(json.loads(text))
    except ValueError as exc:
        return failure(str(exc))
    secrets = aio_settings.secret_values(environ) + ([request["password"]] if request["password"] else [])
    try:
        env = child_environment(settings, environ)
        # -m with cwd /code: /code is sys.path[0] (GlitchTip's packages), not our runtime directory.
        proc = subprocess.run(["python3", "-m", "aio_runtime.django_user"], input=text, capture_output=True,
                              text=True, cwd=settings["app"]["dir"], env=env, timeout=TIMEOUT_SECONDS,
                              preexec_fn=lambda: launcher.drop_privileges(settings["app"]["user"]), check=False)
    except (OSError, KeyError, aio_settings.SettingsError, subprocess.TimeoutExpired) as exc:
        return failure(aio_settings.redact("cannot run the Django step: %s" % exc, secrets))
    return read_report(proc.returncode, proc.stdout, proc.stderr, secrets)
