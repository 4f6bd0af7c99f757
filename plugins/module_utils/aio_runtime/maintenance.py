# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio migrate``: migrations and partition maintenance on demand, and the quiet scheduled partition job.

Changed is what the tools said: a migration was pending (``showmigrations --plan``
lists it as ``[ ]``), or partition maintenance had something to do (5.x: django-postgres-extra's
``pgpartition`` says "Nothing to be done." otherwise). Check mode asks the same
questions without applying anything (``--plan``, ``pgpartition --dry``).

GlitchTip 6.x's ``maintain_partitions`` has no dry run and reports every table it looked at:
there, the database's list of tables before and after says whether it changed anything, and
check mode cannot ask it (it says so).
"""

from __future__ import annotations

import re

from . import launcher, settings as aio_settings

NOTHING_TO_DO = "Nothing to be done."
OUTPUT_LINES = 60

_PLAN_LINE = re.compile(r"^\[(?P<mark>[ X])\]\s+(?P<name>\S+)")


def pending_migrations(plan_text):
    """Migrations ``showmigrations --plan`` lists as not applied ('[ ]'), in order."""
    pending = []
    for line in plan_text.splitlines():
        match = _PLAN_LINE.match(line.strip())
        if match and match.group("mark") == " ":
            pending.append(match.group("name"))
    return pending


def partitions_changed(output):
    return NOTHING_TO_DO not in output


def table_list(settings, environ):
    """The database's tables (partitions are tables), for telling whether a maintenance run created or
    dropped any; None when they cannot be read (then any run counts as a change)."""
    from . import probes
    code, out, _err = probes.psql(settings, environ, "SELECT string_agg(schemaname || '.' || tablename, ',' "
                                  "ORDER BY schemaname, tablename) FROM pg_tables "
                                  "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')", timeout=30)
    return out if code == 0 else object()


def _tail(text, secrets):
    lines = [aio_settings.redact(line, secrets) for line in text.splitlines()]
    return lines[-OUTPUT_LINES:]


class Maintenance:
    """Runs the profile's maintenance commands as the app user with the app's environment."""

    def __init__(self, settings, environ, run=None, timeout=3600, tables=None):
        self.settings = settings
        self.commands = settings["maintenance"]
        self.secrets = aio_settings.secret_values(environ)
        app_env = aio_settings.app_environment(settings, environ)
        self._run = run or (lambda argv: launcher.capture_as(settings["app"]["user"], argv, app_env,
                                                             cwd=settings["app"]["dir"], timeout=timeout))
        self._tables = tables or (lambda: table_list(settings, environ))

    def _step(self, name, key):
        argv = self.commands[key]
        code, output = self._run(argv)
        return {"name": name, "command": " ".join(argv), "exit_code": code, "output": _tail(output, self.secrets)}, \
            output

    def run(self, check=False, migrations=True, partitions=True):
        report = {"job": "migrate", "ok": True, "changed": False, "check": check, "steps": [], "pending": [],
                  "reason": "nothing to do"}
        did = []
        if migrations:
            step, output = self._step("plan", "plan")
            report["steps"].append(step)
            if step["exit_code"] != 0:
                return self._failed(report, step, "cannot list migrations")
            report["pending"] = pending_migrations(output)
            if report["pending"] and not check:
                step, _output = self._step("migrate", "migrate")
                report["steps"].append(step)
                if step["exit_code"] != 0:
                    return self._failed(report, step, "migrations failed")
            if report["pending"]:
                did.append("%s %d migration(s)" % ("would apply" if check else "applied", len(report["pending"])))
        if partitions and check and "partitions_dry" not in self.commands:
            report["steps"].append({"name": "partitions", "command": " ".join(self.commands["partitions"]),
                                    "exit_code": None, "changed": False, "skipped": True,
                                    "output": ["this GlitchTip's partition maintenance has no dry run: not run in check mode"]})
        elif partitions:
            before = None if "partitions_dry" in self.commands else self._tables()
            step, output = self._step("partitions", "partitions_dry" if check else "partitions")
            report["steps"].append(step)
            if step["exit_code"] != 0:
                step["changed"] = False
                return self._failed(report, step, "partition maintenance failed")
            step["changed"] = partitions_changed(output) if before is None else self._tables() != before
            if step["changed"]:
                did.append("partitions %s" % ("would change" if check else "changed"))
        report["changed"] = bool(did)
        if did:
            report["reason"] = "; ".join(did)
        return report

    def _failed(self, report, step, what):
        report.update(ok=False, failed_step=step["name"],
                      reason="%s: %s exited with %d: %s"
                      % (what, step["command"], step["exit_code"], (step["output"] or ["no output"])[-1]))
        return report
