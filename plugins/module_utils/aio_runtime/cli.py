# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""``aio``: the one command inside the container behind every operation."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys

from . import destinations, health, launcher, logtail, probes, programs, settings as aio_settings, start_reasons
from . import watchdog
from .entrypoint import exec_supervisord


def cmd_health(args, settings, environ):
    report = probes.run(settings, environ, args.component or health.COMPONENTS)
    if args.json:
        print(json.dumps(report, sort_keys=True))
    elif not args.quiet:
        for name, item in report["components"].items():
            print("%-11s %-9s %s" % (name, item["status"], item["reason"]))
    return 0 if report["status"] == health.OK else 1


def cmd_logs(args, settings, environ):
    result = logtail.read_log(settings["paths"]["logs"], args.program, args.lines, errors=args.errors,
                              secrets=aio_settings.secret_values(environ))
    if args.json:
        print(json.dumps(result))
    else:
        for lines in result.values():
            for line in lines:
                print(line)
    return 0


def cmd_run(args, settings, environ):
    start_reasons.clear(settings, args.program)
    try:
        programs.start(args.program, settings, environ)
    except (launcher.StartError, aio_settings.SettingsError) as exc:
        reason = aio_settings.redact(str(exc), aio_settings.secret_values(environ))
        launcher.log("%s cannot start: %s" % (args.program, reason))
        start_reasons.record(settings, args.program, reason)
        return 1
    return 0


def cmd_manage(args, settings, environ):
    """GlitchTip's manage.py as the app user, with the same derived connection URLs."""
    launcher.exec_as(settings["app"]["user"], ["python3", "manage.py"] + args.arguments,
                     aio_settings.app_environment(settings, environ), cwd=settings["app"]["dir"])


def cmd_psql(args, settings, environ):
    """psql on the GlitchTip database: the embedded one as the postgres superuser (root maps to it through
    pg_ident); an external one as the app role, its password and sslmode in the environment (a managed
    server gives no superuser)."""
    from . import pgtools
    pg = settings["postgres"]
    env = aio_settings.service_environment(environ)
    if aio_settings.service_external(settings, "postgres"):
        env.update(aio_settings.libpq_environment(settings, environ))
        argv = ["psql"]
    else:
        argv = ["psql", "-h", pgtools.SOCKET_DIR, "-p", str(pg["port"]), "-U", "postgres", "-d", pg["database"]]
    os.execvpe(pgtools.binary("psql"), argv + args.arguments, env)


def cmd_redis_cli(args, settings, environ):
    """redis-cli on the deployment's Redis (embedded or external) with the password from the environment
    (REDISCLI_AUTH), never on a command line."""
    redis = settings["redis"]
    if not aio_settings.redis_enabled(settings):
        sys.stderr.write("aio: this deployment runs without Redis (PostgreSQL only)\n")
        raise SystemExit(2)
    env = aio_settings.service_environment(environ)
    if environ.get(aio_settings.REDIS_PASSWORD_ENV):
        env["REDISCLI_AUTH"] = environ[aio_settings.REDIS_PASSWORD_ENV]
    argv = ["redis-cli", "-h", redis.get("host", "127.0.0.1"), "-p", str(redis["port"])]
    argv += ["-n", str(redis["db"])] if redis.get("db") else []
    argv += ["--tls"] if redis.get("tls") else []
    os.execvpe("redis-cli", argv + args.arguments, env)


def restart_log(settings):
    """The scheduled restart's own log file under the logs volume, rotated."""
    import logging
    import logging.handlers
    logger = logging.getLogger("aio.restart")
    if not logger.handlers:
        handler = logging.handlers.RotatingFileHandler(
            os.path.join(settings["paths"]["logs"], "scheduled-restart.log"), maxBytes=10 * 1024 * 1024,
            backupCount=5)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    return logger


def cmd_restart(args, settings, environ):
    from . import notify, restart, supervisor_rpc
    logger = restart_log(settings)
    secrets = aio_settings.secret_values(environ)
    logger.info("scheduled restart%s: starting", " (dry run)" if args.dry_run else "")
    report = restart.Restart(settings, environ, supervisor_rpc.connect(timeout=args.deadline + 30),
                             deadline_seconds=args.deadline).run(dry_run=args.dry_run)
    if args.notify and not args.dry_run:
        report["notifications"] = notify.notify_all(report, environ, environ.get("GLITCHTIP_DOMAIN", "glitchtip"),
                                                    timeout=args.notify_timeout)
        for receiver, outcome in report["notifications"].items():
            level = logger.info if outcome["delivered"] else logger.warning
            level("notification %s: %s after %d attempt(s) (%s)", receiver,
                  "delivered" if outcome["delivered"] else "NOT delivered", outcome["attempts"], outcome["reason"])
    for label, text in report["summary"]:
        logger.info("%s: %s", label, aio_settings.redact(str(text), secrets))
    logger.log(20 if report["ok"] else 40, "scheduled restart %s: %s", "succeeded" if report["ok"] else "FAILED",
               aio_settings.redact(report["reason"], secrets))
    text = json.dumps(aio_settings.redact_tree(report, secrets), sort_keys=True)
    if args.json:
        print(text)
    else:
        for label, line in report["summary"]:
            print("%-12s %s" % (label, aio_settings.redact(str(line), secrets)))
    return 0 if report["ok"] else 1


def _print_report(report, as_json, environ):
    text = json.dumps(aio_settings.redact_tree(report, aio_settings.secret_values(environ)), sort_keys=True,
                      default=str)
    if as_json:
        print(text)
    else:
        print("%s: %s" % ("ok" if report.get("ok") else "FAILED", report.get("reason")))


def cmd_backup(args, settings, environ):
    from . import backup
    try:
        report = backup.run_backup(settings, environ, keep_count=args.keep_count, keep_days=args.keep_days,
                                   include_redis=args.redis, dry_run=args.dry_run, root=args.dir)
    except backup.BackupError as exc:
        report = {"job": "backup", "ok": False, "failed_step": str(exc).split(":", 1)[0], "reason": str(exc)}
    failed = destinations.failed(report.get("destinations"))
    if args.notify_failure and (failed or not report["ok"]):
        # The nightly job: a failed off-host copy is heard of even though the local backup is kept.
        from . import notify
        report["summary"] = [("failed step", report.get("failed_step") or "sending to " + ", ".join(failed)),
                             ("reason", report["reason"])]
        # Said as a failure (red, "FAILED"): the local backup is kept, but a copy the operator counts on is not.
        report["notifications"] = notify.notify_all(dict(report, ok=False), environ,
                                                    environ.get("GLITCHTIP_DOMAIN", "glitchtip"))
    _print_report(report, args.json, environ)
    return 0 if report["ok"] else 1


def cmd_restore(args, settings, environ):
    from . import backup
    try:
        report = backup.Restore(settings, environ, deadline_seconds=args.deadline).run(
            args.backup, keep_rollback=args.keep_rollback, dry_run=args.dry_run, source=args.source)
    except backup.BackupError as exc:
        # Refused before anything was touched (no such backup, bad checksums, unreadable archive).
        report = {"job": "restore", "ok": False, "failed_step": str(exc).split(":", 1)[0], "touched": False,
                  "reason": "refused, nothing was changed: %s" % exc}
    _print_report(report, args.json, environ)
    return 0 if report["ok"] else 1


def _startup_migrate_running(settings):
    """True while the container's own migrate program runs: two migrates at once could collide."""
    import xmlrpc.client
    from . import supervisor_rpc
    if "migrate" not in settings["programs"]:
        return False
    try:
        state = supervisor_rpc.connect().supervisor.getProcessInfo("migrate")["statename"]
    except (OSError, xmlrpc.client.Error):  # no supervisord (one-off container): nothing runs beside us
        return False
    return state in ("STARTING", "RUNNING", "BACKOFF")


def cmd_migrate(args, settings, environ):
    from . import maintenance, notify
    if _startup_migrate_running(settings):
        report = {"job": "migrate", "ok": False, "changed": False, "failed_step": "busy",
                  "reason": "the container's own migrate program is running (container start); try again when "
                            "it has finished"}
    else:
        report = maintenance.Maintenance(settings, environ).run(check=args.check,
                                                                migrations=not args.partitions_only)
    if args.partitions_only:
        report["job"] = "partitions"
    if not report["ok"] and args.notify_failure:
        # The quiet scheduled job: nobody reads its success, everybody must hear of its failure.
        report["summary"] = [("failed step", report.get("failed_step")), ("reason", report["reason"])]
        report["notifications"] = notify.notify_all(report, environ, environ.get("GLITCHTIP_DOMAIN", "glitchtip"))
    if args.quiet:
        if not report["ok"]:
            sys.stderr.write("%s FAILED: %s\n" % (
                report["job"], aio_settings.redact(report["reason"], aio_settings.secret_values(environ))))
            for step in report["steps"][-1:]:
                for line in step["output"]:
                    sys.stderr.write("  %s\n" % line)
    else:
        _print_report(report, args.json, environ)
    return 0 if report["ok"] else 1


def cmd_user(args, settings, environ):
    """One JSON request on stdin (the password never touches argv), one JSON report on stdout."""
    from . import user_runner
    report = user_runner.run(settings, environ, sys.stdin.read())
    print(json.dumps(aio_settings.redact_tree(report, aio_settings.secret_values(environ)), sort_keys=True))
    return 0 if report["ok"] else 1


def cmd_preflight(args, settings, environ):
    from . import preflight
    report = preflight.run(settings, environ)
    _print_report(report, args.json, environ)
    return 0 if report["ok"] else 1


def cmd_scheduler(args, settings, environ):
    from . import scheduler
    scheduler.run_forever(environ)
    return 0


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
    check.add_argument("--component", action="append", choices=health.COMPONENTS)
    restart = sub.add_parser("restart", help="the scheduled restart: check, reload web, restart worker, verify")
    restart.add_argument("--json", action="store_true")
    restart.add_argument("--dry-run", action="store_true", help="pre-checks only; restart nothing")
    restart.add_argument("--notify", action="store_true", help="send the report to the configured webhooks")
    restart.add_argument("--deadline", type=int, default=120, help="seconds each program may take to be ready")
    restart.add_argument("--notify-timeout", type=float, default=5.0)
    sub.add_parser("scheduler", help="run the scheduled jobs (a supervisord program)")
    backup_ = sub.add_parser("backup", help="write, verify and keep a backup; apply retention")
    backup_.add_argument("--json", action="store_true")
    backup_.add_argument("--dry-run", action="store_true")
    backup_.add_argument("--redis", action="store_true", help="include a Redis snapshot")
    backup_.add_argument("--keep-count", type=int)
    backup_.add_argument("--keep-days", type=int)
    backup_.add_argument("--dir", help="backup directory (default: the backups volume)")
    backup_.add_argument("--notify-failure", action="store_true",
                         help="send a failure, or a failed copy to a further destination, to the webhooks")
    restore_ = sub.add_parser("restore", help="verify a backup, then restore it with a swap by rename")
    restore_.add_argument("backup", nargs="?", default="latest", help="a backup name or path, or latest")
    restore_.add_argument("--json", action="store_true")
    restore_.add_argument("--from", dest="source", default="local",
                          help="where the backup is: local (the backups volume) or a configured destination (sftp, s3)")
    restore_.add_argument("--dry-run", action="store_true", help="verify only")
    restore_.add_argument("--keep-rollback", action="store_true", help="keep the replaced database")
    restore_.add_argument("--deadline", type=int, default=120)
    migrate = sub.add_parser("migrate", help="apply pending migrations, then partition maintenance")
    migrate.add_argument("--json", action="store_true")
    migrate.add_argument("--check", action="store_true", help="say what would change; apply nothing")
    migrate.add_argument("--partitions-only", action="store_true", help="partition maintenance only")
    migrate.add_argument("--quiet", action="store_true", help="print nothing unless it fails (scheduled job)")
    migrate.add_argument("--notify-failure", action="store_true", help="send a failure to the configured webhooks")
    preflight = sub.add_parser("preflight", help="log in to the external PostgreSQL and Redis (before a deploy)")
    preflight.add_argument("--json", action="store_true")
    manage = sub.add_parser("manage", help="run GlitchTip's manage.py as the app user")
    manage.add_argument("arguments", nargs=argparse.REMAINDER)
    psql = sub.add_parser("psql", help="psql on the GlitchTip database (as postgres; as the app role when external)")
    psql.add_argument("arguments", nargs=argparse.REMAINDER)
    redis_cli = sub.add_parser("redis-cli", help="redis-cli on the deployment's Redis, authenticated from the environment")
    redis_cli.add_argument("arguments", nargs=argparse.REMAINDER)
    sub.add_parser("user", help="create or update a user from a JSON request on stdin; prints a JSON report")
    logs = sub.add_parser("logs", help="last lines of one program's log, secrets redacted")
    logs.add_argument("program", choices=logtail.LOG_NAMES)
    logs.add_argument("--lines", type=int, default=50)
    logs.add_argument("--errors", action="store_true", help="stderr only (WARN and worse for single-file logs)")
    logs.add_argument("--json", action="store_true")
    return parser


# Their arguments belong to another program: argparse would take "-c ..." as its own options.
PASSTHROUGH = ("manage", "psql", "redis-cli")


def parse(argv):
    if argv and argv[0] in PASSTHROUGH:
        return argparse.Namespace(command=argv[0], arguments=list(argv[1:]))
    return build_parser().parse_args(argv)


def main(argv=None):
    args = parse(sys.argv[1:] if argv is None else argv)
    environ = aio_settings.current_environ()
    try:
        settings = aio_settings.effective(
            aio_settings.load_settings(os.environ.get("AIO_SETTINGS", aio_settings.SETTINGS_PATH)), environ)
    except aio_settings.SettingsError as exc:
        sys.stderr.write("aio: %s\n" % exc)
        return 2
    if args.command == "entrypoint":
        exec_supervisord(settings, environ)
    if args.command in ("watchdog", "scheduler"):
        # supervisord stops these with TERM: a clean exit, not "terminated by SIGTERM".
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.command == "watchdog":
        watchdog.listen(settings)
        return 0
    handler = {"health": cmd_health, "logs": cmd_logs, "run": cmd_run, "manage": cmd_manage, "restart": cmd_restart,
               "scheduler": cmd_scheduler, "backup": cmd_backup, "restore": cmd_restore,
               "migrate": cmd_migrate, "psql": cmd_psql, "redis-cli": cmd_redis_cli,
               "user": cmd_user, "preflight": cmd_preflight}[args.command]
    return handler(args, settings, environ)
