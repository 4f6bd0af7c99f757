# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Finding and calling the PostgreSQL binaries installed in the image.

The major versions are detected from what the package manager installed, never
hard-coded: the image role installs the distribution's default PostgreSQL, or only
its client (``postgresql-client``: psql, pg_dump, pg_restore, pg_isready,
pg_dumpall, but no ``bin/postgres``) when the services are external. The two
majors are kept apart: the **server** major is what the embedded cluster must
match; the **client** major is what pg_dump can dump (a server of the same or
an older major) and restore (archives of the same or an older pg_dump).
"""

from __future__ import annotations

import glob
import os
import re

PG_LIB = "/usr/lib/postgresql"
SOCKET_DIR = "/run/postgresql"
# A program only the server package has, and one every client package has.
SERVER_PROGRAM = "postgres"
CLIENT_PROGRAM = "pg_dump"


class PostgresNotInstalled(Exception):
    pass


def _numeric(major):
    return [int(part) for part in major.split(".")]


def majors_with(name, lib_dir=None):
    """Installed majors (e.g. ["15", "17"], oldest first) whose /usr/lib/postgresql/<major>/bin has `name`."""
    lib_dir = lib_dir or PG_LIB
    majors = [os.path.basename(os.path.dirname(os.path.dirname(path)))
              for path in glob.glob(os.path.join(glob.escape(lib_dir), "*", "bin", name))]
    return sorted((major for major in majors if re.match(r"^[0-9]+(\.[0-9]+)?$", major)), key=_numeric)


def newest_major_with(name, lib_dir=None, what=None):
    """The newest major that has `name`. Several majors happen mid-upgrade, or when a newer
    client is added for an external server; the newest is the one the image was built for."""
    lib_dir = lib_dir or PG_LIB
    majors = majors_with(name, lib_dir)
    if not majors:
        raise PostgresNotInstalled("no PostgreSQL %s under %s (looked for <major>/bin/%s)"
                                   % (what or name, lib_dir, name))
    return majors[-1]


def server_major(lib_dir=None):
    """The PostgreSQL server's major (e.g. "17"); PostgresNotInstalled on a client-only image."""
    return newest_major_with(SERVER_PROGRAM, lib_dir, what="server")


def client_major(lib_dir=None):
    """The major of the client tools (pg_dump, pg_restore, psql), with or without a server."""
    return newest_major_with(CLIENT_PROGRAM, lib_dir, what="client")


def binary(name, lib_dir=None):
    """Full path of a PostgreSQL program from the newest major that has it: the server's programs
    (postgres, initdb) from the server package, the clients' from the newest client."""
    return os.path.join(lib_dir or PG_LIB, newest_major_with(name, lib_dir), "bin", name)


def version_major(version):
    """17 of "17.2 (Debian 17.2-1)", 16 of "16beta1", 9 of "9.6.24" (older than any client since 10)."""
    match = re.match(r"^\s*([0-9]+)", version or "")
    if not match:
        raise ValueError("not a PostgreSQL version: %r" % version)
    return int(match.group(1))


# Session settings pg_restore sends at the start of every session whatever the server's major
# (PostgreSQL's _doSetFixedOutputState), each with the first major that knows it. A server older
# than the client rejects them ("unrecognized configuration parameter"): a newer client is the
# normal case with a managed PostgreSQL (the image's client comes from its Debian release).
SESSION_SETTINGS_SINCE = {"transaction_timeout": 17}

_SET_LINE = re.compile(rb"^SET ([a-z_]+) = .*;$")
_COPY_START = re.compile(rb"^COPY .* FROM stdin;$")


def settings_unknown_to(server, client):
    """Session settings a pg_restore of major `client` sends that a server of major `server` rejects."""
    return sorted(name for name, since in SESSION_SETTINGS_SINCE.items() if server < since <= client)


def without_settings(lines, names):
    """The lines (bytes) of a pg_restore script, less its ``SET <name> = ...;`` statements for `names`.

    Only statements are looked at: a COPY's data rows (from ``COPY ... FROM stdin;`` to ``\\.``)
    pass untouched, whatever they hold."""
    names = {name.encode() for name in names}
    in_copy = False
    for line in lines:
        bare = line.rstrip(b"\r\n")
        if in_copy:
            in_copy = bare != b"\\."
        elif _COPY_START.match(bare):
            in_copy = True
        else:
            match = _SET_LINE.match(bare)
            if match and match.group(1) in names:
                continue
        yield line


def quote_literal(value):
    """SQL string literal (standard_conforming_strings is on since 9.1)."""
    if "\x00" in value:
        raise ValueError("NUL byte cannot be stored in PostgreSQL")
    return "'" + value.replace("'", "''") + "'"


def quote_ident(value):
    if "\x00" in value:
        raise ValueError("NUL byte cannot be part of a PostgreSQL identifier")
    return '"' + value.replace('"', '""') + '"'


def ensure_role_and_database_sql(role, database, password):
    """Idempotent SQL that creates the app role and database and (re)sets the password.

    Run through psql's stdin as the postgres superuser, so the password never
    appears on a command line; re-setting it on every start makes a changed
    secret take effect (the old deployment never did).
    """
    return "\n".join([
        "SELECT 'CREATE ROLE %s LOGIN' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)\\gexec"
        % (quote_ident(role).replace("'", "''"), quote_literal(role)),
        "ALTER ROLE %s WITH LOGIN PASSWORD %s;" % (quote_ident(role), quote_literal(password)),
        "SELECT 'CREATE DATABASE %s OWNER %s ENCODING ''UTF8'' TEMPLATE template0' "
        "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = %s)\\gexec"
        % (quote_ident(database).replace("'", "''"), quote_ident(role).replace("'", "''"), quote_literal(database)),
        "",
    ])


IDENT_MAP = "aio_admin"


def ident_lines():
    """pg_ident.conf: the OS users allowed to log in as the postgres role over the socket."""
    return "# Managed by glitchtip-aio; rewritten at every start.\n%s postgres postgres\n%s root postgres\n" % (
        IDENT_MAP, IDENT_MAP)


def hba_lines(listen_all):
    """pg_hba.conf: peer for the postgres OS user, scram-sha-256 for everyone else."""
    lines = [
        "# Managed by glitchtip-aio; rewritten at every start.",
        # root may act as postgres too (backup and restore tools), through pg_ident's map.
        "local   all   postgres                  peer map=%s" % IDENT_MAP,
        "local   all   all                       scram-sha-256",
        "host    all   all       127.0.0.1/32    scram-sha-256",
        "host    all   all       ::1/128         scram-sha-256",
    ]
    if listen_all:
        lines.append("host    all   all       all             scram-sha-256")
    return "\n".join(lines) + "\n"
