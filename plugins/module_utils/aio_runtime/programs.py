# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""How each supervisord program starts: PostgreSQL, Redis, migrate, and the app's own."""

from __future__ import annotations

import os
import pwd

from . import entrypoint, launcher, pgtools, settings as aio_settings


def _own(path, user, mode):
    """Make a data directory belong to its service, fixing only what is wrong."""
    entry = pwd.getpwnam(user)
    os.makedirs(path, exist_ok=True)
    stat = os.stat(path)
    if (stat.st_uid, stat.st_gid) != (entry.pw_uid, entry.pw_gid):
        for root, dirs, files in os.walk(path):
            for name in [root] + [os.path.join(root, item) for item in dirs + files]:
                os.lchown(name, entry.pw_uid, entry.pw_gid)
    os.chmod(path, mode)


def postgres_argv(settings, pgdata):
    pg = settings["postgres"]
    argv = [pgtools.binary("postgres"), "-D", pgdata,
            "-c", "listen_addresses=%s" % ("*" if pg.get("listen_all") else "127.0.0.1"),
            "-c", "port=%d" % int(pg["port"]),
            "-c", "unix_socket_directories=%s" % pgtools.SOCKET_DIR,
            "-c", "password_encryption=scram-sha-256",
            "-c", "hba_file=%s" % os.path.join(pgdata, "pg_hba.conf"),
            "-c", "ident_file=%s" % os.path.join(pgdata, "pg_ident.conf")]
    for key, value in sorted(pg.get("parameters", {}).items()):
        argv += ["-c", "%s=%s" % (key, value)]
    return argv


def start_postgres(settings, environ):
    pgdata = settings["paths"]["pgdata"]
    major = pgtools.server_major()
    _own(os.path.dirname(pgdata), "postgres", 0o700)
    os.makedirs(pgtools.SOCKET_DIR, exist_ok=True)
    _own(pgtools.SOCKET_DIR, "postgres", 0o2775)
    env = aio_settings.service_environment(environ)
    version_file = os.path.join(pgdata, "PG_VERSION")
    if not os.path.exists(version_file):
        launcher.log("initialising PostgreSQL %s cluster in %s (UTF8, C.UTF-8)" % (major, pgdata))
        code = launcher.run_as("postgres", [pgtools.binary("initdb"), "-D", pgdata, "-U", "postgres", "-E", "UTF8",
                                            "--locale=C.UTF-8", "--auth-local=peer", "--auth-host=scram-sha-256"],
                               env)
        if code != 0:
            raise launcher.StartError("initdb failed with exit code %d" % code)
    with open(version_file) as handle:
        cluster_major = handle.read().strip()
    if cluster_major != major:
        raise launcher.StartError("data directory holds a PostgreSQL %s cluster but the image has PostgreSQL %s; "
                                  "upgrade it with pg_upgrade or restore a backup" % (cluster_major, major))
    entry = pwd.getpwnam("postgres")
    for name, text in (("pg_hba.conf", pgtools.hba_lines(settings["postgres"].get("listen_all", False))),
                       ("pg_ident.conf", pgtools.ident_lines())):
        path = os.path.join(pgdata, name)
        with open(path, "w") as handle:
            handle.write(text)
        os.chown(path, entry.pw_uid, entry.pw_gid)
        os.chmod(path, 0o600)
    launcher.exec_as("postgres", postgres_argv(settings, pgdata), env)


def redis_config(settings, password):
    """redis.conf text; it reaches redis-server on stdin, so the password touches no file."""
    redis = settings["redis"]
    if any(char in password for char in "\n\r\x00"):
        raise launcher.StartError("%s must not contain newlines or NUL" % aio_settings.REDIS_PASSWORD_ENV)
    lines = [
        "bind %s" % ("* -::*" if redis.get("listen_all") else "127.0.0.1 -::1"),
        "port %d" % int(redis["port"]),
        "protected-mode %s" % ("no" if redis.get("listen_all") and password else "yes"),
        "daemonize no",
        'logfile ""',
        "dir %s" % settings["paths"]["redis"],
        "appendonly yes",
        "appendfsync everysec",
        "save 900 1 300 10 60 10000",
        "maxmemory %s" % redis["maxmemory"],
        # Queued tasks live in Redis: evicting keys would silently drop them.
        "maxmemory-policy %s" % redis["maxmemory_policy"],
    ]
    if password:
        # Double-quoted redis.conf strings take backslash escapes.
        lines.append('requirepass "%s"' % password.replace("\\", "\\\\").replace('"', '\\"'))
    return "\n".join(lines) + "\n"


def start_redis(settings, environ):
    _own(settings["paths"]["redis"], "redis", 0o750)
    config = redis_config(settings, environ.get(aio_settings.REDIS_PASSWORD_ENV, ""))
    read_end, write_end = os.pipe()
    # The whole config fits in the pipe buffer, so it can be written before exec.
    os.write(write_end, config.encode("utf-8"))
    os.close(write_end)
    os.dup2(read_end, 0)
    os.close(read_end)
    launcher.exec_as("redis", ["redis-server", "-"], aio_settings.service_environment(environ))


def ensure_database(settings, environ):
    pg = settings["postgres"]
    sql = pgtools.ensure_role_and_database_sql(pg["user"], pg["database"], environ[aio_settings.DB_PASSWORD_ENV])
    code = launcher.run_as("postgres", [pgtools.binary("psql"), "-XAq", "-v", "ON_ERROR_STOP=1",
                                        "-h", pgtools.SOCKET_DIR, "-p", str(pg["port"]), "-d", "postgres", "-f", "-"],
                           aio_settings.service_environment(environ), stdin_text=sql)
    if code != 0:
        raise launcher.StartError("could not create or update role %s / database %s (psql exit %d)"
                                  % (pg["user"], pg["database"], code))


# Django's migrate creates its record table first: a database without one was never migrated.
MIGRATED_SQL = "SELECT to_regclass('public.django_migrations') IS NOT NULL"


def migrated_answer(text):
    """psql -At's answer to MIGRATED_SQL ("t" or "f") as a bool; StartError on anything else."""
    answer = text.strip()
    if answer not in ("t", "f"):
        raise launcher.StartError("could not tell whether the database was ever migrated: psql said %r"
                                  % answer[-300:])
    return answer == "t"


def database_migrated(settings, environ):
    """Whether the app's database holds Django's record of applied migrations."""
    pg = settings["postgres"]
    code, output = launcher.capture_as("postgres", [pgtools.binary("psql"), "-XAtq", "-v", "ON_ERROR_STOP=1",
                                                    "-h", pgtools.SOCKET_DIR, "-p", str(pg["port"]),
                                                    "-d", pg["database"], "-c", MIGRATED_SQL],
                                       aio_settings.service_environment(environ), timeout=60)
    if code != 0:
        raise launcher.StartError("could not tell whether database %s was ever migrated (psql exit %d: %s)"
                                  % (pg["database"], code, output.strip()[-300:]))
    return migrated_answer(output)


def held_for_restore(settings, environ, migrated=None):
    """True while a fresh cluster waits for its restore (a PostgreSQL-major upgrade's or a recovery's hold
    file exists and the database was never migrated): the dump restored over it is an older one, so this
    version's migrations must run on the restored data (the restore starts this program again), not
    now on an empty database whose django_migrations the restore would throw away."""
    if not entrypoint.held(settings):
        return False
    return not (migrated or database_migrated)(settings, environ)


def start_migrate(settings, environ, spec):
    """One-shot: ensure role and database, then the version's migrate commands; marker on success
    ("held" instead when held_for_restore: role and database only)."""
    marker = launcher.migrate_marker(settings)
    if os.path.exists(marker):
        os.unlink(marker)
    if "postgres" in settings["programs"]:
        ensure_database(settings, environ)
        if held_for_restore(settings, environ):
            launcher.write_migrate_marker(settings, launcher.MIGRATE_HELD)
            launcher.log("held: a fresh cluster waits for its restore (%s); role and database are ready, and "
                         "the restore runs the migrations on the restored data" % entrypoint.hold_path(settings))
            return
    app_env = aio_settings.app_environment(settings, environ)
    for argv in spec["commands"]:
        launcher.log("running: %s" % " ".join(argv))
        code = launcher.run_as(settings["app"]["user"], argv, app_env, cwd=settings["app"]["dir"])
        if code != 0:
            raise launcher.StartError("%s exited with %d; web and worker stay stopped" % (" ".join(argv), code))
    launcher.write_migrate_marker(settings, launcher.MIGRATE_DONE)
    launcher.log("migrations done")


def reset_liveness_file(settings, spec):
    """The health-check file's directory belongs to the app user; a file left by an earlier process
    is removed, so only this process's touches count (health.file_liveness)."""
    path = (spec.get("liveness") or {}).get("file")
    if not path:
        return
    _own(os.path.dirname(path), settings["app"]["user"], 0o700)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def start_app_program(settings, environ, spec):
    reset_liveness_file(settings, spec)
    env = dict(aio_settings.app_environment(settings, environ), **spec.get("environment", {}))
    launcher.exec_as(settings["app"]["user"], spec["command"], env, cwd=settings["app"]["dir"])


def start(name, settings, environ):
    spec = settings["programs"].get(name)
    if spec is None:
        raise launcher.StartError("no program %r in %s" % (name, aio_settings.SETTINGS_PATH))
    launcher.wait_for(spec.get("needs", []), settings, environ, int(spec.get("wait_seconds", 300)))
    if name == "postgres":
        start_postgres(settings, environ)
    elif name == "redis":
        start_redis(settings, environ)
    elif name == "scheduler":
        from . import scheduler
        scheduler.run_forever(environ)
    elif spec["kind"] == "oneshot":
        start_migrate(settings, environ, spec)
    else:
        start_app_program(settings, environ, spec)
