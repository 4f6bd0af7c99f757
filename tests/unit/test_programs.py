# -*- coding: utf-8 -*-
"""programs.py: the redis.conf it writes, the PostgreSQL command line, and the migrate program held for a
PostgreSQL upgrade's restore."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import entrypoint, launcher, pgtools, programs

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def image_defaults():
    with open(os.path.join(REPO_ROOT, "roles", "image", "defaults", "main.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture
def settings():
    defaults = image_defaults()
    return {
        "redis": {"port": 6379, "listen_all": False, "maxmemory": defaults["glitchtip_image_redis_maxmemory"],
                  "maxmemory_policy": defaults["glitchtip_image_redis_maxmemory_policy"]},
        "postgres": {"port": 5432, "listen_all": False,
                     "parameters": dict(defaults["glitchtip_image_postgres_parameters"], jit="off")},
        "paths": {"redis": "/data/redis", "pgdata": "/data/postgres/data"},
    }


def redis_split_args(line):
    """Split a redis.conf line the way Redis' sdssplitargs does (double quotes take backslash escapes)."""
    args, i, n = [], 0, len(line)
    while True:
        while i < n and line[i].isspace():
            i += 1
        if i >= n:
            return args
        current, in_double, in_single = [], False, False
        while True:
            c = line[i] if i < n else None
            if in_double:
                if c is None:
                    raise ValueError("unbalanced double quotes")
                if c == "\\" and i + 3 < n and line[i + 1] == "x" and all(
                        h in "0123456789abcdefABCDEF" for h in line[i + 2:i + 4]):
                    current.append(chr(int(line[i + 2:i + 4], 16)))
                    i += 3
                elif c == "\\" and i + 1 < n:
                    current.append({"n": "\n", "r": "\r", "t": "\t", "b": "\b", "a": "\a"}.get(line[i + 1],
                                                                                          line[i + 1]))
                    i += 1
                elif c == '"':
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_double = False
                    i += 1
                    break
                else:
                    current.append(c)
            elif in_single:
                if c is None:
                    raise ValueError("unbalanced single quotes")
                if c == "\\" and i + 1 < n and line[i + 1] == "'":
                    current.append("'")
                    i += 1
                elif c == "'":
                    if i + 1 < n and not line[i + 1].isspace():
                        raise ValueError("closing quote must be followed by a space")
                    in_single = False
                    i += 1
                    break
                else:
                    current.append(c)
            else:
                if c is None or c.isspace():
                    break
                if c == '"':
                    in_double = True
                elif c == "'":
                    in_single = True
                else:
                    current.append(c)
            i += 1
        args.append("".join(current))


def directives(config):
    result = {}
    for line in config.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            args = redis_split_args(line)
            result.setdefault(args[0], []).append(args[1:])
    return result


def test_redis_split_args_helper_understands_escapes():
    assert redis_split_args(r'requirepass "a\"b\\c\x41"') == ["requirepass", 'a"b\\cA']
    with pytest.raises(ValueError):
        redis_split_args('requirepass "a"b')


def test_redis_config_defaults(settings):
    config = programs.redis_config(settings, "")
    assert config.endswith("\n")
    found = directives(config)
    assert found["maxmemory-policy"] == [["noeviction"]], "queued tasks must never be evicted"
    assert found["maxmemory"] == [["512mb"]]
    assert found["bind"] == [["127.0.0.1", "-::1"]]
    assert found["port"] == [["6379"]]
    assert found["protected-mode"] == [["yes"]]
    assert found["daemonize"] == [["no"]]
    assert found["appendonly"] == [["yes"]]
    assert found["dir"] == [["/data/redis"]]
    assert "requirepass" not in found


def test_redis_default_policy_is_noeviction():
    assert image_defaults()["glitchtip_image_redis_maxmemory_policy"] == "noeviction"


def test_redis_binds_everywhere_only_when_listen_all(settings):
    settings["redis"]["listen_all"] = True
    found = directives(programs.redis_config(settings, "secret-password"))
    assert found["bind"] == [["*", "-::*"]]
    assert found["protected-mode"] == [["no"]]
    # Without a password Redis keeps protected mode, i.e. refuses clients from outside.
    found = directives(programs.redis_config(settings, ""))
    assert found["bind"] == [["*", "-::*"]]
    assert found["protected-mode"] == [["yes"]]


def test_redis_loopback_keeps_protected_mode_with_a_password(settings):
    found = directives(programs.redis_config(settings, "secret-password"))
    assert found["bind"] == [["127.0.0.1", "-::1"]]
    assert found["protected-mode"] == [["yes"]]


@pytest.mark.parametrize("password", [
    "simple",
    'dou"ble',
    "back\\slash",
    'both\\"mixed\\\\"',
    "\\x41\\n\\t",                 # literal backslash sequences, not escapes
    "ends-with-backslash\\",
    '"',
    "'single' quotes",
    "with spaces  and\ttab",
    "# not a comment ; either",
    "中文密码🚀",
])
def test_requirepass_round_trips(settings, password):
    config = programs.redis_config(settings, password)
    found = directives(config)
    assert found["requirepass"] == [[password]]
    assert len([line for line in config.splitlines() if line.startswith("requirepass")]) == 1


@pytest.mark.parametrize("password", ["a\nb", "a\rb", "a\x00b", "trailing\n"])
def test_requirepass_refuses_line_breaks_and_nul(settings, password):
    with pytest.raises(launcher.StartError, match="AIO_REDIS_PASSWORD"):
        programs.redis_config(settings, password)


@pytest.fixture
def fake_binary(monkeypatch):
    monkeypatch.setattr(pgtools, "binary", lambda name, lib_dir=pgtools.PG_LIB: "/usr/lib/postgresql/99/bin/" + name)


def options(argv):
    assert len(argv[3:]) % 2 == 0
    pairs = list(zip(argv[3::2], argv[4::2]))
    assert all(flag == "-c" for flag, _ in pairs)
    return [value.split("=", 1) for _, value in pairs]


def test_postgres_argv(settings, fake_binary):
    argv = programs.postgres_argv(settings, "/data/postgres/data")
    assert argv[:3] == ["/usr/lib/postgresql/99/bin/postgres", "-D", "/data/postgres/data"]
    opts = options(argv)
    as_dict = dict(opts)
    assert as_dict["listen_addresses"] == "127.0.0.1"
    assert as_dict["port"] == "5432"
    assert as_dict["unix_socket_directories"] == pgtools.SOCKET_DIR
    assert as_dict["password_encryption"] == "scram-sha-256"
    assert as_dict["hba_file"] == "/data/postgres/data/pg_hba.conf"
    for key, value in settings["postgres"]["parameters"].items():
        assert [key, str(value)] in opts
    assert as_dict["shared_buffers"] == "128MB"
    assert as_dict["jit"] == "off"
    assert all(isinstance(arg, str) for arg in argv)


def test_postgres_argv_listen_all(settings, fake_binary):
    settings["postgres"]["listen_all"] = True
    settings["postgres"]["port"] = "5433"
    as_dict = dict(options(programs.postgres_argv(settings, "/pg")))
    assert as_dict["listen_addresses"] == "*"
    assert as_dict["port"] == "5433"


def test_postgres_argv_parameters_stay_single_arguments(settings, fake_binary):
    settings["postgres"]["parameters"] = {"search_path": '"$user", public', "work_mem": 4096}
    argv = programs.postgres_argv(settings, "/pg")
    assert argv[-4:] == ["-c", 'search_path="$user", public', "-c", "work_mem=4096"]


def test_postgres_argv_without_parameters(settings, fake_binary):
    del settings["postgres"]["parameters"]
    assert len(programs.postgres_argv(settings, "/pg")) == 3 + 2 * 6


def test_start_unknown_program_is_a_start_error():
    with pytest.raises(launcher.StartError, match="no program 'nope'"):
        programs.start("nope", {"programs": {}}, {})


def test_the_liveness_file_of_an_earlier_process_is_removed_before_the_worker_starts(tmp_path, monkeypatch):
    owned = []
    monkeypatch.setattr(programs, "_own", lambda path, user, mode: owned.append((path, user, mode)))
    path = tmp_path / "worker" / "health"
    path.parent.mkdir()
    path.write_text("old")
    spec = {"liveness": {"file": str(path), "max_age_seconds": 15}}
    programs.reset_liveness_file({"app": {"user": "app"}}, spec)
    assert not path.exists()
    assert owned == [(str(path.parent), "app", 0o700)]
    programs.reset_liveness_file({"app": {"user": "app"}}, spec)  # no file: nothing to do
    programs.reset_liveness_file({"app": {"user": "app"}}, {})     # no liveness file at all
    assert len(owned) == 2


def test_app_programs_get_their_profile_environment(monkeypatch):
    seen = {}
    monkeypatch.setattr(programs.launcher, "exec_as", lambda user, argv, env, cwd=None: seen.update(env=env, argv=argv))
    settings = {"app": {"user": "app", "dir": "/code"}, "postgres": {"user": "g", "database": "g", "port": 5432},
                "redis": {"port": 6379}, "web": {"port": 8000}, "profile": {"broker_env": ["VALKEY_URL"]}}
    programs.start_app_program(settings, {"AIO_DB_PASSWORD": "pw"}, {"command": ["run"], "environment": {"IS_WORKER": "true"}})
    assert seen["env"]["IS_WORKER"] == "true" and seen["argv"] == ["run"]
    assert seen["env"]["VALKEY_URL"].startswith("redis://")


@pytest.fixture
def migrate_settings(tmp_path):
    (tmp_path / "postgres" / "data").mkdir(parents=True)
    (tmp_path / "run").mkdir()
    return {"paths": {"pgdata": str(tmp_path / "postgres" / "data"), "run": str(tmp_path / "run")},
            "postgres": {"port": 5432, "user": "glitchtip", "database": "glitchtip"},
            "programs": {"postgres": {}, "migrate": {}}, "app": {"user": "app", "dir": "/code"}}


def hold(settings, name=entrypoint.UPGRADE_HOLD_FILE):
    with open(os.path.join(os.path.dirname(settings["paths"]["pgdata"]), name), "w") as handle:
        handle.write("{}")


def test_without_an_upgrade_hold_migrate_is_never_held_and_the_database_is_not_asked(migrate_settings):
    assert programs.held_for_restore(migrate_settings, {}, migrated=lambda *a: pytest.fail("asked")) is False


@pytest.mark.parametrize("name", entrypoint.HOLD_FILES)
@pytest.mark.parametrize("migrated, held", [(False, True), (True, False)])
def test_under_a_hold_migrate_is_held_only_while_the_database_was_never_migrated(migrate_settings, migrated, held,
                                                                               name):
    """A restarted container after the restore (hold file still there, the old version's tables restored)
    migrates as at any start. An upgrade's hold and a recovery's hold alike."""
    hold(migrate_settings, name)
    assert programs.held_for_restore(migrate_settings, {}, migrated=lambda *a: migrated) is held


@pytest.mark.parametrize("text, migrated", [("t\n", True), ("f", False)])
def test_psqls_answer_whether_django_migrations_exists(text, migrated):
    assert programs.migrated_answer(text) is migrated


def test_an_answer_that_is_not_a_boolean_stops_migrate_instead_of_guessing():
    with pytest.raises(launcher.StartError, match="could not tell whether the database was ever migrated: psql "
                                                  "said 'psql: error: connection refused'"):
        programs.migrated_answer("psql: error: connection refused\n")


@pytest.mark.parametrize("migrated", [False, True], ids=["held", "migrates"])
def test_a_held_migrate_creates_role_and_database_only_and_its_marker_says_held(migrate_settings, monkeypatch,
                                                                               migrated):
    hold(migrate_settings)
    ran, prepared = [], []
    monkeypatch.setattr(programs, "ensure_database", lambda settings, environ: prepared.append(True))
    monkeypatch.setattr(programs, "database_migrated", lambda settings, environ: migrated)
    monkeypatch.setattr(programs.aio_settings, "app_environment", lambda settings, environ: {})
    monkeypatch.setattr(launcher, "run_as", lambda user, argv, env, cwd=None: ran.append(argv) or 0)
    programs.start_migrate(migrate_settings, {}, {"commands": [["./bin/run-migrate.sh"]]})
    assert prepared == [True]
    assert ran == ([["./bin/run-migrate.sh"]] if migrated else [])
    assert launcher.migrate_state(migrate_settings) == (launcher.MIGRATE_DONE if migrated else launcher.MIGRATE_HELD)
