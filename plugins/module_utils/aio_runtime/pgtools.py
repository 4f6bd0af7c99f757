# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Finding and calling the PostgreSQL binaries installed in the image.

The major version is detected from what the package manager installed, never
hard-coded: the image role installs the distribution's default PostgreSQL.
"""

from __future__ import annotations

import glob
import os

PG_LIB = "/usr/lib/postgresql"
SOCKET_DIR = "/run/postgresql"


class PostgresNotInstalled(Exception):
    pass


def installed_major(lib_dir=PG_LIB):
    """The one installed major version (e.g. "15"), from /usr/lib/postgresql/<major>/bin."""
    majors = sorted(major for major in (os.path.basename(os.path.dirname(os.path.dirname(path)))
                                        for path in glob.glob(os.path.join(lib_dir, "*", "bin", "postgres")))
                    if major.replace(".", "").isdigit())
    if not majors:
        raise PostgresNotInstalled("no PostgreSQL server under %s" % lib_dir)
    # Several majors only happen mid-upgrade; the newest is the one the image was built for.
    return max(majors, key=lambda major: [int(part) for part in major.split(".")])


def binary(name, lib_dir=PG_LIB):
    return os.path.join(lib_dir, installed_major(lib_dir), "bin", name)


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
