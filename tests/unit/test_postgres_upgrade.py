# -*- coding: utf-8 -*-
"""postgres_upgrade.py: what a data directory and an image carry, and what the deploy does about it."""

from __future__ import annotations

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils import postgres_upgrade as pgu


def cluster(tmp_path, text):
    data = tmp_path / "postgres" / "data"
    data.mkdir(parents=True)
    (data / "PG_VERSION").write_text(text, encoding="utf-8")
    return str(tmp_path)


def test_the_cluster_major_is_its_pg_version_and_none_without_a_cluster(tmp_path):
    assert pgu.read_cluster_major(str(tmp_path)) is None
    assert pgu.read_cluster_major(cluster(tmp_path, "15\n")) == 15


def test_a_pg_version_that_is_no_major_is_an_error_naming_the_file(tmp_path):
    with pytest.raises(ValueError, match="PG_VERSION holds 'garbage'"):
        pgu.read_cluster_major(cluster(tmp_path, "garbage"))


def test_the_debian_release_gives_the_major_when_the_image_is_not_built():
    text = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nVERSION_CODENAME=trixie\nID=debian\n'
    assert pgu.os_release_codename(text) == "trixie"
    assert pgu.major_of_release("trixie", "b") == 17
    assert pgu.major_of_release(pgu.os_release_codename('VERSION_CODENAME="bookworm"\n'), "b") == 15
    assert pgu.os_release_codename("ID=alpine\n") is None
    with pytest.raises(ValueError, match="glitchtip_image_base: cannot tell .* my/base .* release is unknown"):
        pgu.major_of_release(None, "my/base")


def test_the_images_record_of_what_it_carries():
    carries = pgu.parse_carries('{"postgres_major": "17", "redis_version": "8.0.2", "debian": "trixie"}')
    assert carries == {"postgres_major": 17, "redis_version": "8.0.2", "debian": "trixie"}
    assert pgu.parse_carries('{"postgres_major": "", "redis_version": ""}')["postgres_major"] is None


@pytest.mark.parametrize("cluster_major, image_major, auto, action, words", [
    (None, 17, True, "none", "no PostgreSQL cluster yet"),
    (15, 15, True, "none", "PostgreSQL 15: the image carries the cluster's major"),
    (15, 17, True, "upgrade", "PostgreSQL 15 → 17: will upgrade by dump and restore"),
    (15, 17, False, "refuse", "PostgreSQL 15 → 17: refused: glitchtip_postgres_auto_upgrade is false; nothing was changed"),
    (17, 15, True, "refuse", "PostgreSQL 17 → 15: refused: the data directory holds a PostgreSQL 17 cluster"),
])
def test_the_decision(cluster_major, image_major, auto, action, words):
    answer = pgu.decide(cluster_major, image_major, auto)
    assert answer["action"] == action
    assert answer["message"].startswith(words)


def test_an_interrupted_upgrades_record_is_a_refusal_saying_where_the_old_cluster_is():
    answer = pgu.decide(15, 17, True, {"record": "/d/postgres/aio-upgrade.json", "cluster_major": 15,
                                       "image_major": 17, "old_cluster": "/d/postgres/data-pg15-x",
                                       "backup": "/d/backups/b", "cluster": "/d/postgres/data"})
    assert answer["action"] == "refuse"
    assert "/d/postgres/data-pg15-x" in answer["message"] and "/d/backups/b" in answer["message"]


def test_the_diff_says_what_the_cluster_becomes():
    diff = pgu.plan_diff(15, 17, "upgrade", "/d/postgres/data")
    assert diff["before"] == "PostgreSQL 15 cluster in /d/postgres/data\n"
    assert diff["after"].startswith("PostgreSQL 17 cluster in /d/postgres/data, restored from a verified backup")
    assert pgu.plan_diff(15, 15, "none", "/d")["after"] == pgu.plan_diff(15, 15, "none", "/d")["before"]


def test_the_way_back_sits_beside_the_cluster_on_the_same_filesystem():
    names = pgu.aside_names("/d", 15, "20261202T030000Z")
    assert names["old_cluster"] == "/d/postgres/data-pg15-20261202T030000Z"
    assert names["record"] == "/d/postgres/aio-upgrade.json"
    assert pgu.old_container_name("glitchtip-aio", 15) == "glitchtip-aio-pg15-old"
    assert pgu.downtime_seconds({"stopped_at": 100.0}, 112.34) == 12.3


def program(status, state, reason):
    return {"status": status, "state": state, "reason": reason}


def seen(postgres="ok", programs=None):
    """An `aio health --component supervisor --component postgres` report of the new container."""
    components = {"postgres": {"name": "postgres", "status": postgres, "reason": "SELECT 1", "details": {}}}
    if programs is not False:
        components["supervisor"] = {"name": "supervisor", "status": "down", "reason": "web STOPPED",
                                    "details": {"programs": dict(programs or {}, web=program("down", "STOPPED",
                                                                                            "STOPPED"))}}
    return {"status": "down", "components": components}


def test_ready_for_the_restore_once_postgresql_answers_and_the_migration_finished():
    done = pgu.readiness(seen(programs={"migrate": program("ok", "EXITED", "finished (exit 0)")}))
    assert done["status"] == "ok" and set(done["components"]) == {"postgres", "supervisor"}
    # The held web program (configured, not started) is no reason to wait.
    assert list(done["components"]["supervisor"]["details"]["programs"]) == ["migrate"]
    running = pgu.readiness(seen(programs={"migrate": program("degraded", "RUNNING", "still running")}))
    assert running["status"] == "degraded" and running["components"]["supervisor"]["reason"] == "migrate still running"
    assert pgu.readiness(seen(postgres="down", programs={"migrate": program("ok", "EXITED", "x")}))["status"] == "down"


def test_without_a_migrate_program_postgresql_is_enough_and_without_supervisord_nothing_is():
    assert pgu.readiness(seen())["status"] == "ok"
    assert pgu.readiness(seen(programs=False))["status"] == "unknown"
    assert pgu.readiness({"status": "unknown", "components": {}})["status"] == "unknown"


def test_a_failed_migration_ends_the_wait_for_the_restore():
    from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import health

    failed = pgu.readiness(seen(programs={"migrate": program("down", "EXITED", "failed (exit 1)")}))
    assert health.hopeless(failed) == {"programs": ["migrate"], "reason": "migrate failed for good"}
