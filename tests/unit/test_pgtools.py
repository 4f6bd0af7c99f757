# -*- coding: utf-8 -*-
"""pgtools.py: SQL quoting, the role/database bootstrap SQL, pg_hba.conf and the server and client major versions."""

from __future__ import annotations

import os
import re

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import pgtools


def parse_literal(text, start=0):
    """Read one standard-conforming SQL string literal at text[start]; return (value, end index)."""
    assert text[start] == "'", "expected a string literal at %r" % text[start:start + 20]
    value, i = [], start + 1
    while True:
        j = text.index("'", i)
        value.append(text[i:j])
        if text[j + 1:j + 2] == "'":
            value.append("'")
            i = j + 2
        else:
            return "".join(value), j + 1


def parse_ident(text, start=0):
    """Read one double-quoted SQL identifier at text[start]; return (name, end index)."""
    assert text[start] == '"'
    name, i = [], start + 1
    while True:
        j = text.index('"', i)
        name.append(text[i:j])
        if text[j + 1:j + 2] == '"':
            name.append('"')
            i = j + 2
        else:
            return "".join(name), j + 1


@pytest.mark.parametrize("value,quoted", [
    ("plain", "'plain'"),
    ("it's", "'it''s'"),
    ("''", "''''''"),
    ("back\\slash", "'back\\slash'"),
    ("", "''"),
    ("中文🚀", "'中文🚀'"),
])
def test_quote_literal(value, quoted):
    assert pgtools.quote_literal(value) == quoted
    assert parse_literal(quoted) == (value, len(quoted))


def test_quote_literal_refuses_nul():
    with pytest.raises(ValueError, match="NUL"):
        pgtools.quote_literal("a\x00b")


@pytest.mark.parametrize("value,quoted", [
    ("glitchtip", '"glitchtip"'),
    ('we"ird', '"we""ird"'),
    ("it's", '"it\'s"'),
    ('""', '""""""'),
    ("Mixed Case", '"Mixed Case"'),
])
def test_quote_ident(value, quoted):
    assert pgtools.quote_ident(value) == quoted
    assert parse_ident(quoted) == (value, len(quoted))


def bootstrap_statements(sql):
    lines = sql.split("\n")
    assert lines[-1] == "", "the script ends with a newline"
    assert len(lines) == 4
    return lines[:3]


@pytest.mark.parametrize("password", ["it's a \\ secret", "'", "\\", "''\\'\\\\'", "x'; DROP ROLE postgres; --",
                                      "中文'🚀\\"])
def test_password_only_as_a_correctly_quoted_literal(password):
    sql = pgtools.ensure_role_and_database_sql("glitchtip", "glitchtip", password)
    create_role, alter_role, create_db = bootstrap_statements(sql)
    prefix = 'ALTER ROLE "glitchtip" WITH LOGIN PASSWORD '
    assert alter_role.startswith(prefix)
    value, end = parse_literal(alter_role, len(prefix))
    assert value == password
    assert alter_role[end:] == ";"
    # Nowhere else: not in the other statements, and only once in the script.
    assert sql.count(pgtools.quote_literal(password)) == 1
    for statement in (create_role, create_db):
        assert pgtools.quote_literal(password) not in statement
        if len(password) > 2:
            assert password not in statement


@pytest.mark.parametrize("role,database", [
    ("glitchtip", "glitchtip"),
    ("o'brien", 'data"base'),
    ('we"ird\'role', "db's \"name\""),
    ("用户", "数据库"),
])
def test_role_and_database_names_are_quoted(role, database):
    sql = pgtools.ensure_role_and_database_sql(role, database, "pw")
    create_role, alter_role, create_db = bootstrap_statements(sql)

    # SELECT '<CREATE ROLE ...>' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '<role>')\gexec
    assert create_role.startswith("SELECT ")
    generated, end = parse_literal(create_role, len("SELECT "))
    rest = create_role[end:]
    assert rest.startswith(" WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = ")
    checked, end2 = parse_literal(rest, len(" WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = "))
    assert checked == role
    assert rest[end2:] == ")\\gexec"
    assert generated.startswith("CREATE ROLE ")
    name, end3 = parse_ident(generated, len("CREATE ROLE "))
    assert name == role
    assert generated[end3:] == " LOGIN"

    assert alter_role.startswith("ALTER ROLE ")
    name, end = parse_ident(alter_role, len("ALTER ROLE "))
    assert name == role
    assert alter_role[end:] == " WITH LOGIN PASSWORD 'pw';"

    # SELECT '<CREATE DATABASE ...>' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '<db>')\gexec
    generated, end = parse_literal(create_db, len("SELECT "))
    rest = create_db[end:]
    marker = " WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = "
    assert rest.startswith(marker)
    checked, end2 = parse_literal(rest, len(marker))
    assert checked == database
    assert rest[end2:] == ")\\gexec"
    assert generated.startswith("CREATE DATABASE ")
    db_name, end3 = parse_ident(generated, len("CREATE DATABASE "))
    assert db_name == database
    assert generated[end3:end3 + len(" OWNER ")] == " OWNER "
    owner, end4 = parse_ident(generated, end3 + len(" OWNER "))
    assert owner == role
    assert generated[end4:] == " ENCODING 'UTF8' TEMPLATE template0"


def test_bootstrap_sql_is_idempotent_by_construction():
    sql = pgtools.ensure_role_and_database_sql("glitchtip", "glitchtip", "pw")
    assert sql.count("WHERE NOT EXISTS") == 2
    assert "DROP" not in sql


def hba_entries(text):
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("listen_all", [False, True])
def test_hba_lines(listen_all):
    text = pgtools.hba_lines(listen_all)
    assert text.endswith("\n")
    entries = hba_entries(text)
    for entry in entries:
        assert entry[0] in ("local", "host")
        if entry[0] == "host":
            assert entry[-1] == "scram-sha-256"
        if "peer" in entry:
            assert entry[:3] == ["local", "all", "postgres"]
    # Peer only for the postgres role, and only for the OS users pg_ident maps to it.
    peer = [e for e in entries if "peer" in e]
    assert peer == [["local", "all", "postgres", "peer", "map=%s" % pgtools.IDENT_MAP]]
    assert {e[-1] for e in entries if "peer" not in e} == {"scram-sha-256"}, "no trust, md5 or password methods"
    addresses = [e[3] for e in entries if e[0] == "host"]
    assert "127.0.0.1/32" in addresses and "::1/128" in addresses
    assert ("all" in addresses) == listen_all
    # peer comes first, so the postgres OS user is never asked for a password it has not got.
    assert entries[0] == ["local", "all", "postgres", "peer", "map=%s" % pgtools.IDENT_MAP]


def test_ident_map_lets_only_root_and_postgres_act_as_postgres():
    lines = [line.split() for line in pgtools.ident_lines().splitlines() if line and not line.startswith("#")]
    assert lines == [[pgtools.IDENT_MAP, "postgres", "postgres"], [pgtools.IDENT_MAP, "root", "postgres"]]


def make_pg(lib, *majors, binary="postgres"):
    for major in majors:
        bin_dir = os.path.join(str(lib), major, "bin")
        os.makedirs(bin_dir, exist_ok=True)
        with open(os.path.join(bin_dir, binary), "w") as handle:
            handle.write("#!/bin/sh\n")


# What Debian's packages put under /usr/lib/postgresql/<major>/bin (the parts that matter here).
CLIENT_PROGRAMS = ("psql", "pg_dump", "pg_restore", "pg_isready", "pg_dumpall")
SERVER_PROGRAMS = CLIENT_PROGRAMS + ("postgres", "initdb")  # postgresql-N depends on postgresql-client-N


def make_install(lib, major, programs):
    for name in programs:
        make_pg(lib, major, binary=name)


def test_server_major_picks_the_newest(tmp_path):
    make_pg(tmp_path, "15", "16")
    assert pgtools.server_major(str(tmp_path)) == "16"


def test_server_major_compares_numerically(tmp_path):
    make_pg(tmp_path, "9.6", "10", "13")
    assert pgtools.server_major(str(tmp_path)) == "13"
    make_pg(tmp_path, "100")
    assert pgtools.server_major(str(tmp_path)) == "100"


def test_server_major_ignores_dirs_without_a_server(tmp_path):
    make_pg(tmp_path, "15")
    make_pg(tmp_path, "17", binary="psql")        # client only
    os.makedirs(os.path.join(str(tmp_path), "18"))
    os.makedirs(os.path.join(str(tmp_path), "lost+found", "bin"))
    make_pg(tmp_path, "lost+found")               # not a major
    assert pgtools.server_major(str(tmp_path)) == "15"


def test_server_major_with_nothing_installed(tmp_path):
    with pytest.raises(pgtools.PostgresNotInstalled, match=re.escape(str(tmp_path))):
        pgtools.server_major(str(tmp_path))
    with pytest.raises(pgtools.PostgresNotInstalled):
        pgtools.server_major(str(tmp_path / "missing"))


def test_a_client_only_image_has_a_client_major_and_every_client_tool_but_no_server(tmp_path):
    """glitchtip_image_embedded_services: false installs postgresql-client alone: no bin/postgres."""
    make_install(tmp_path, "17", CLIENT_PROGRAMS)
    assert pgtools.client_major(str(tmp_path)) == "17"
    for name in CLIENT_PROGRAMS:
        assert pgtools.binary(name, str(tmp_path)) == os.path.join(str(tmp_path), "17", "bin", name)
    with pytest.raises(pgtools.PostgresNotInstalled, match=r"no PostgreSQL server under .*bin/postgres"):
        pgtools.server_major(str(tmp_path))
    with pytest.raises(pgtools.PostgresNotInstalled, match=r"no PostgreSQL initdb under"):
        pgtools.binary("initdb", str(tmp_path))


def test_server_and_client_majors_stay_apart(tmp_path):
    """A newer client added for an external server (glitchtip_image_extra_packages) serves the
    clients; the server's programs, and the major its cluster must match, stay the server's."""
    make_install(tmp_path, "15", SERVER_PROGRAMS)
    make_install(tmp_path, "17", CLIENT_PROGRAMS)
    lib = str(tmp_path)
    assert (pgtools.server_major(lib), pgtools.client_major(lib)) == ("15", "17")
    assert pgtools.binary("postgres", lib) == os.path.join(lib, "15", "bin", "postgres")
    assert pgtools.binary("initdb", lib) == os.path.join(lib, "15", "bin", "initdb")
    assert pgtools.binary("pg_dump", lib) == os.path.join(lib, "17", "bin", "pg_dump")


def test_no_client_at_all(tmp_path):
    make_pg(tmp_path, "17", binary="postgres")
    with pytest.raises(pgtools.PostgresNotInstalled, match=r"no PostgreSQL client under .*bin/pg_dump"):
        pgtools.client_major(str(tmp_path))


def test_the_default_lib_dir_is_read_when_called(tmp_path, monkeypatch):
    make_install(tmp_path, "17", CLIENT_PROGRAMS)
    monkeypatch.setattr(pgtools, "PG_LIB", str(tmp_path))
    assert pgtools.binary("psql") == os.path.join(str(tmp_path), "17", "bin", "psql")
    assert pgtools.client_major() == "17"


@pytest.mark.parametrize("version, major", [
    ("17.2", 17), ("17.2 (Debian 17.2-1.pgdg120+1)", 17), ("16beta1", 16), ("15.8", 15), ("9.6.24", 9), ("10.23", 10),
])
def test_version_major(version, major):
    assert pgtools.version_major(version) == major


@pytest.mark.parametrize("version", ["", None, "PostgreSQL", "v17"])
def test_version_major_refuses_what_is_not_a_version(version):
    with pytest.raises(ValueError):
        pgtools.version_major(version)


def test_binary_path(tmp_path):
    make_install(tmp_path, "15", SERVER_PROGRAMS)
    make_install(tmp_path, "16", SERVER_PROGRAMS)
    assert pgtools.binary("pg_isready", str(tmp_path)) == os.path.join(str(tmp_path), "16", "bin", "pg_isready")


@pytest.mark.parametrize("server, client, unknown", [
    (15, 17, ["transaction_timeout"]), (16, 17, ["transaction_timeout"]), (17, 17, []), (17, 18, []),
    (15, 15, []), (14, 16, []),  # a client older than 17 never sends it
])
def test_settings_unknown_to(server, client, unknown):
    assert pgtools.settings_unknown_to(server, client) == unknown


def test_without_settings_drops_only_those_statements_and_never_a_copys_data():
    script = [
        b"SET statement_timeout = 0;\n",
        b"SET transaction_timeout = 0;\n",
        b"SET client_encoding = 'UTF8';\n",
        b"COPY public.notes (id, body) FROM stdin;\n",
        b"1\tSET transaction_timeout = 0;\n",
        b"SET transaction_timeout = 0;\n",  # a one-column row that reads like the statement
        b"\\.\n",
        b"\\connect glitchtip\n",
        b"SET transaction_timeout = 0;\r\n",  # every session (after \connect) sends it again
        b"SELECT 1;\n",
    ]
    kept = list(pgtools.without_settings(iter(script), ["transaction_timeout"]))
    assert kept == [script[0], script[2], script[3], script[4], script[5], script[6], script[7], script[9]]
    assert list(pgtools.without_settings(iter(script), [])) == script
