# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The scheduled restart: conditional, verified and reported.

PostgreSQL and Redis are checked first; when either is not healthy nothing above
them is touched. Otherwise web is reloaded gracefully (HUP: gunicorn on 5.x and
granian on 6.x replace their workers while the master keeps the socket, so no
request is refused), the worker is restarted, each is waited for with a deadline,
and everything is checked again. The worker is ready when its own liveness signal
says so (Celery's heartbeat, django-vtasks' health-check file written by the new
process). The result is what the checks saw, never "a PID exists".
"""

from __future__ import annotations

import datetime
import os
import time
import xmlrpc.client

from . import health, probes

# The programs a restart acts on, in order, and what it does to each (a host runs one or both).
APP_STEPS = {"web": "reload web", "worker": "restart the worker"}


def children(pid, proc="/proc"):
    """PIDs whose parent is pid (the web server's workers under its master)."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def snapshot(report_):
    """PIDs and resource figures worth comparing before/after."""
    components = report_.get("components", {})
    programs = components.get("supervisor", {}).get("details", {}).get("programs", {})
    host = components.get("host", {}).get("details", {})
    web_pid = programs.get("web", {}).get("pid", 0)
    return {
        "status": report_.get("status"),
        "pids": {name: program.get("pid", 0) for name, program in programs.items()},
        "web_workers": children(web_pid) if web_pid else [],
        "memory_used": host.get("memory_used"),
        "disk_percent": host.get("disk_percent"),
        "load": host.get("load"),
        # The off-host copies' ages (advisory: never a reason the restart failed), where they are configured.
        "offsite": components.get("offsite", {}).get("reason"),
        "postgres_connections": components.get("postgres", {}).get("details", {}).get("connections"),
    }


def _wait(condition, deadline_seconds, interval=health.POLL_SECONDS, clock=time.monotonic, sleep=time.sleep):
    """Poll condition() (returns (done, detail)) until done or the deadline; returns (done, detail, seconds)."""
    started = clock()
    while True:
        done, detail = condition()
        if done or clock() - started >= deadline_seconds:
            return done, detail, round(clock() - started, 2)
        sleep(interval)


def backing_services_refusal(pre):
    """Why the restart must not touch web/worker (PostgreSQL or Redis not ok), or None."""
    bad = ["%s %s: %s" % (name, pre["components"][name]["status"], pre["components"][name]["reason"])
           for name in ("postgres", "redis") if name in pre["components"]
           and pre["components"][name]["status"] != health.OK]
    return "; ".join(bad) or None


class Restart:
    def __init__(self, settings, environ, rpc, deadline_seconds=120, run_probes=probes.run):
        self.settings = settings
        self.environ = environ
        self.rpc = rpc
        self.deadline = deadline_seconds
        self.run_probes = run_probes

    def probe(self, components=health.COMPONENTS):
        return self.run_probes(self.settings, self.environ, components)

    def reload_web(self, before):
        spec = self.settings["programs"]["web"]
        old_workers = set(before["web_workers"])
        old_master = before["pids"].get("web")
        running = self.rpc.supervisor.getProcessInfo("web")["statename"] == "RUNNING"
        if spec.get("reload_signal") and running:
            self.rpc.supervisor.signalProcess("web", spec["reload_signal"])
            action = "graceful reload (%s)" % spec["reload_signal"]
        else:
            if running:
                self.rpc.supervisor.stopProcess("web", True)
            self.rpc.supervisor.startProcess("web", True)
            action = "restart"

        def ready():
            web = self.probe(["web"])["components"]["web"]
            master = self.rpc.supervisor.getProcessInfo("web")["pid"]
            workers = set(children(master)) if master else set()
            replaced = bool(workers) and not (workers & old_workers) if spec.get("reload_signal") \
                else master != old_master
            return replaced and web["status"] == health.OK, "web %s, workers %s" % (web["reason"], sorted(workers))

        done, detail, seconds = _wait(ready, self.deadline)
        return {"program": "web", "action": action, "ok": done, "seconds": seconds, "detail": detail}

    def restart_worker(self, before):
        old = before["pids"].get("worker")
        if self.rpc.supervisor.getProcessInfo("worker")["statename"] in ("RUNNING", "STARTING", "BACKOFF"):
            self.rpc.supervisor.stopProcess("worker", True)
        self.rpc.supervisor.startProcess("worker", True)

        def ready():
            worker = self.probe(["supervisor", "worker"])["components"]["worker"]
            pid = self.rpc.supervisor.getProcessInfo("worker")["pid"]
            return pid != old and worker["status"] == health.OK, worker["reason"]

        done, detail, seconds = _wait(ready, self.deadline)
        return {"program": "worker", "action": "restart", "ok": done, "seconds": seconds, "detail": detail}

    def run(self, dry_run=False):
        started = time.monotonic()
        report = {"job": "scheduled-restart", "started_at": datetime.datetime.now().astimezone().isoformat(),
                  "dry_run": dry_run, "steps": [], "restarted": []}
        pre = self.probe()
        report["before"] = snapshot(pre)
        refusal = backing_services_refusal(pre)
        if refusal:
            report.update(ok=False, reason="restarted nothing: %s" % refusal)
        elif dry_run:
            # What a real run would restart, so check mode can say whether anything would change.
            report["would_restart"] = [program for program in APP_STEPS if program in self.settings["programs"]]
            actions = [APP_STEPS[program] for program in report["would_restart"]]
            report.update(ok=True, reason="would %s" % " and ".join(actions) if actions
                          else "nothing to restart on this host")
        else:
            # A web host has no worker to restart, a worker host no web server.
            for step in [step for program, step in (("web", self.reload_web), ("worker", self.restart_worker))
                         if program in self.settings["programs"]]:
                try:
                    result = step(report["before"])
                except (xmlrpc.client.Fault, OSError) as exc:  # supervisord refused or did not answer
                    result = {"program": step.__name__.split("_")[-1], "action": step.__name__.split("_")[0],
                              "ok": False, "seconds": 0, "detail": "supervisord: %s" % exc}
                report["steps"].append(result)
                report["restarted"].append(result["program"])
                if not result["ok"]:
                    break
            post = self.probe()
            report["after"] = snapshot(post)
            report["post_check"] = {name: {"status": item["status"], "reason": item["reason"]}
                                    for name, item in post["components"].items()}
            failed_steps = [s["program"] for s in report["steps"] if not s["ok"]]
            if failed_steps:
                report.update(ok=False, reason="%s not ready within %ds" % (", ".join(failed_steps), self.deadline))
            elif post["status"] != health.OK:
                bad = ["%s: %s" % (n, c["reason"]) for n, c in post["components"].items() if c["status"] != health.OK]
                report.update(ok=False, reason="post-check not healthy: %s" % "; ".join(bad))
            else:
                report.update(ok=True, reason="%s restarted and healthy" % " and ".join(report["restarted"]))
        report["seconds"] = round(time.monotonic() - started, 2)
        report["summary"] = summary(report)
        return report


def summary(report):
    """(label, text) pairs for notifications: figures only, never environment values."""
    lines = [("result", report["reason"])]
    before, after = report.get("before", {}), report.get("after", {})
    for step in report.get("steps", []):
        lines.append((step["program"], "%s in %.1fs (%s)"
                      % (step["action"], step["seconds"], "ready" if step["ok"] else "NOT ready")))
    if after:
        lines.append(("web workers", "%s -> %s" % (before.get("web_workers"), after.get("web_workers"))))
        lines.append(("worker pid", "%s -> %s" % (before.get("pids", {}).get("worker"),
                                                  after.get("pids", {}).get("worker"))))
    figures = after or before
    if figures.get("memory_used") is not None:
        lines.append(("memory", "%.0f MB" % (figures["memory_used"] / 1e6)))
    if figures.get("disk_percent") is not None:
        lines.append(("disk", "%.1f%% used" % figures["disk_percent"]))
    if figures.get("load"):
        lines.append(("load", " ".join(str(x) for x in figures["load"])))
    if figures.get("offsite"):
        lines.append(("off-host backups", figures["offsite"]))
    lines.append(("duration", "%.1fs" % report.get("seconds", 0)))
    return lines
