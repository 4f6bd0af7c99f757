# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio``: the one command inside the container behind every operation."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import health, launcher, probes, programs, settings as aio_settings, watchdog
from .logtail import tail_lines
from .entrypoint import exec_supervisord


def program_log_paths(settings, name):
    logs = settings["paths"]["logs"]
    return {"stdout": os.path.join(logs, "%s.log" % name), "stderr": os.path.join(logs, "%s.err.log" % name)}


def cmd_health(args, settings, environ):
    report = probes.run(settings, environ, args.component or probes.COMPONENTS)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    elif not args.quiet:
        for name, item in report["components"].items():
            print("%-11s %-9s %s" % (name, item["status"], item["reason"]))
    return 0 if report["status"] == health.OK else 1


def cmd_logs(args, settings, environ):
    paths = program_log_paths(settings, args.program)
    streams = ["stderr"] if args.errors else ["stdout", "stderr"]
    secrets = aio_settings.secret_values(environ)
    result = {stream: [aio_settings.redact(line, secrets) for line in tail_lines(paths[stream], args.lines)]
              for stream in streams}
    if args.json:
        print(json.dumps(result))
    else:
        for stream in streams:
            for line in result[stream]:
                print(line)
    return 0


def cmd_run(args, settings, environ):
    try:
        programs.start(args.program, settings, environ)
    except (launcher.StartError, aio_settings.SettingsError) as exc:
        launcher.log("%s cannot start: %s" % (args.program, aio_settings.redact(str(exc),
                                                                                 aio_settings.secret_values(environ))))
        return 1
    return 0


def cmd_manage(args, settings, environ):
    """GlitchTip's manage.py as the app user, with the same derived connection URLs."""
    launcher.exec_as(settings["app"]["user"], ["python3", "manage.py"] + args.arguments,
                     aio_settings.app_environment(settings, environ), cwd=settings["app"]["dir"])


def build_parser():
    parser = argparse.ArgumentParser(prog="aio", description="glitchtip-aio in-container runtime")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("entrypoint", help="prepare the container and exec supervisord (PID 1)")
    run = sub.add_parser("run", help="start one supervisord program once its dependencies are ready")
    run.add_argument("program")
    sub.add_parser("watchdog", help="supervisord event listener")
    check = sub.add_parser("health", help="probe the services; exit 0 only when all are ok")
    check.add_argument("--json", action="store_true")
    check.add_argument("--quiet", action="store_true")
    check.add_argument("--component", action="append", choices=probes.COMPONENTS)
    manage = sub.add_parser("manage", help="run GlitchTip's manage.py as the app user")
    manage.add_argument("arguments", nargs=argparse.REMAINDER)
    logs = sub.add_parser("logs", help="last lines of one program's log, secrets redacted")
    logs.add_argument("program")
    logs.add_argument("--lines", type=int, default=50)
    logs.add_argument("--errors", action="store_true", help="stderr only")
    logs.add_argument("--json", action="store_true")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    environ = aio_settings.current_environ()
    try:
        settings = aio_settings.load_settings(os.environ.get("AIO_SETTINGS", aio_settings.SETTINGS_PATH))
    except aio_settings.SettingsError as exc:
        sys.stderr.write("aio: %s\n" % exc)
        return 2
    if args.command == "entrypoint":
        exec_supervisord(settings, environ)
    if args.command == "watchdog":
        watchdog.listen(settings)
        return 0
    handler = {"health": cmd_health, "logs": cmd_logs, "run": cmd_run, "manage": cmd_manage}[args.command]
    return handler(args, settings, environ)
