# -*- coding: utf-8 -*-
"""maintenance.py: what ``aio migrate`` decides from what manage.py printed (commands replaced by a script)."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import maintenance

SECRET = "s3cret-db-pass"

PLAN_APPLIED = """[X]  contenttypes.0001_initial
[X]  users.0001_initial
"""
PLAN_PENDING = PLAN_APPLIED + """[ ]  events.0002_partitions
[ ]  events.0003_index  (depends on events.0002_partitions)
"""

SETTINGS = {
    "app": {"user": "app", "dir": "/code"},
    "postgres": {"user": "glitchtip", "database": "glitchtip", "port": 5432},
    "redis": {"port": 6379},
    "web": {"port": 8000},
    "profile": {"broker_env": ["REDIS_URL"]},
    "maintenance": {"plan": ["plan"], "migrate": ["migrate"], "partitions": ["pgpartition", "--yes"],
                    "partitions_dry": ["pgpartition", "--dry"]},
}


class Script:
    """Answers each command with a canned (code, output) and records what ran."""

    def __init__(self, **answers):
        self.answers = answers
        self.ran = []

    def __call__(self, argv):
        self.ran.append(" ".join(argv))
        return self.answers[" ".join(argv).replace(" ", "_").replace("-", "")]


def run(script, **options):
    return maintenance.Maintenance(SETTINGS, {"AIO_DB_PASSWORD": SECRET}, run=script).run(**options)


def test_pending_migrations_parses_the_plan():
    assert maintenance.pending_migrations(PLAN_PENDING) == ["events.0002_partitions", "events.0003_index"]
    assert maintenance.pending_migrations(PLAN_APPLIED) == []
    assert maintenance.pending_migrations("System check identified no issues.\n") == []


def test_nothing_pending_and_nothing_to_partition_is_unchanged():
    script = Script(plan=(0, PLAN_APPLIED), pgpartition_yes=(0, "Nothing to be done.\n"))
    report = run(script)
    assert report["ok"] and not report["changed"]
    assert script.ran == ["plan", "pgpartition --yes"]  # migrate itself never ran


def test_pending_migrations_are_applied_then_partitions():
    script = Script(plan=(0, PLAN_PENDING), migrate=(0, "Applying events.0002... OK\n"),
                    pgpartition_yes=(0, "  + events_p2026_12\nOperations applied.\n"))
    report = run(script)
    assert report["ok"] and report["changed"]
    assert script.ran == ["plan", "migrate", "pgpartition --yes"]
    assert report["reason"] == "applied 2 migration(s); partitions changed"
    assert report["steps"][1]["output"] == ["Applying events.0002... OK"]


def test_check_mode_applies_nothing_and_says_what_would_change():
    script = Script(plan=(0, PLAN_PENDING), pgpartition_dry=(0, "  + events_p2026_12\n"))
    report = run(script, check=True)
    assert report["ok"] and report["changed"]
    assert script.ran == ["plan", "pgpartition --dry"]
    assert report["reason"] == "would apply 2 migration(s); partitions would change"


def test_a_failed_migration_is_a_failure_and_partitions_do_not_run():
    script = Script(plan=(0, PLAN_PENDING),
                    migrate=(1, "Applying events.0002...\ndjango.db.utils.OperationalError: password %s failed\n"
                             % SECRET))
    report = run(script)
    assert not report["ok"] and report["failed_step"] == "migrate"
    assert script.ran == ["plan", "migrate"]
    assert "migrations failed: migrate exited with 1" in report["reason"]
    assert SECRET not in str(report) and "********" in report["reason"]


def test_partitions_only_skips_the_plan():
    script = Script(pgpartition_yes=(2, "psycopg2.OperationalError: could not connect\n"))
    report = run(script, migrations=False)
    assert not report["ok"] and report["failed_step"] == "partitions"
    assert script.ran == ["pgpartition --yes"]


@pytest.mark.parametrize("lines", [10, 200])
def test_output_is_bounded(lines):
    script = Script(plan=(0, PLAN_PENDING), migrate=(0, "".join("line %d\n" % i for i in range(lines))),
                    pgpartition_yes=(0, "Nothing to be done."))
    step = run(script)["steps"][1]
    assert len(step["output"]) == min(lines, maintenance.OUTPUT_LINES)
    assert step["output"][-1] == "line %d" % (lines - 1)


# ---------------------------------------------------------------- GlitchTip 6.x: maintain_partitions

SETTINGS_6 = dict(SETTINGS, maintenance={"plan": ["plan"], "migrate": ["migrate"],
                                         "partitions": ["maintain_partitions"]})
# maintain_partitions reports every table it looked at, changed or not.
MAINTAIN_OUTPUT = ("Maintaining daily UUIDv7 partitions for issue_events_issueevent...\n"
                   "Cleaning up old partitions for issue_events_issueevent (retention: 90 days)...\n"
                   "Partition maintenance complete.\n")


class Tables:
    """The database's table list as successive reads return it."""

    def __init__(self, *lists):
        self.lists, self.reads = list(lists), 0

    def __call__(self):
        self.reads += 1
        return self.lists.pop(0)


def run6(script, tables, **options):
    return maintenance.Maintenance(SETTINGS_6, {"AIO_DB_PASSWORD": SECRET}, run=script, tables=tables).run(**options)


def test_6x_partitions_unchanged_when_the_table_list_is(tmp_path):
    script = Script(plan=(0, PLAN_APPLIED), maintain_partitions=(0, MAINTAIN_OUTPUT))
    report = run6(script, Tables("public.a,public.b", "public.a,public.b"))
    assert report["ok"] and not report["changed"], report
    assert script.ran == ["plan", "maintain_partitions"]


def test_6x_partitions_changed_when_tables_came_or_went():
    script = Script(plan=(0, PLAN_APPLIED), maintain_partitions=(0, MAINTAIN_OUTPUT))
    report = run6(script, Tables("public.a", "public.a,public.a_p2026_12_01"))
    assert report["ok"] and report["changed"]
    assert report["reason"] == "partitions changed"


def test_6x_check_mode_does_not_run_what_has_no_dry_run():
    script = Script(plan=(0, PLAN_PENDING))
    tables = Tables()
    report = run6(script, tables, check=True)
    assert script.ran == ["plan"] and tables.reads == 0
    assert report["ok"] and report["reason"] == "would apply 2 migration(s)"
    step = report["steps"][-1]
    assert step["skipped"] and not step["changed"] and "no dry run" in step["output"][0]


def test_6x_failed_partition_maintenance_is_a_failure():
    script = Script(plan=(0, PLAN_APPLIED), maintain_partitions=(1, "psycopg.OperationalError: boom\n"))
    report = run6(script, Tables("public.a"))
    assert not report["ok"] and report["failed_step"] == "partitions"
