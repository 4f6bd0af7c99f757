# -*- coding: utf-8 -*-
"""glitchtip.aio.migrate: arguments, result shape, check mode (no one-off container) predicting changed."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.modules import migrate

from aio_fakes import DB_PASSWORD, IMAGE, OTHER_IMAGE_ID, container_attrs

STEP = {"name": "plan", "command": "manage.py showmigrations --plan", "exit_code": 0, "output": ["[ ] events.0002"]}
APPLIED = {"job": "migrate", "ok": True, "changed": True, "check": False, "steps": [STEP], "pending": ["events.0002"],
           "reason": "applied 1 migration(s)"}
WOULD = dict(APPLIED, check=True, reason="would apply 1 migration(s)")
NOTHING = {"job": "migrate", "ok": True, "changed": False, "check": False, "steps": [STEP], "pending": [],
           "reason": "nothing to do"}
ONEOFF = {"image": IMAGE, "environment": {"AIO_DB_HOST": "db.example.net", "AIO_DB_PORT": 5432},
          "secret_environment": {"AIO_DB_PASSWORD": DB_PASSWORD}, "networks": ["bridge"]}


def test_options_become_aio_arguments(run_module, aio):
    aio.reports["migrate"] = (0, NOTHING)
    run_module(migrate, {"partitions_only": True, "timeout": 60})
    assert aio.execs == [{"args": ["migrate", "--partitions-only", "--json"], "environment": None}]
    assert aio.connected_with["timeout"] == 60


def test_changed_is_the_runtime_s_and_every_key_documented(run_module, aio, undocumented_keys):
    for report, changed in ((APPLIED, True), (NOTHING, False)):
        aio.reports["migrate"] = (0, report)
        result = run_module(migrate, {})
        assert result["changed"] is changed and result["pending"] == report["pending"]
        assert undocumented_keys(migrate, result) == set()


def test_check_mode_predicts_the_real_run(run_module, aio):
    aio.reports["migrate"] = (0, WOULD)
    checked = run_module(migrate, {}, check_mode=True)
    assert aio.execs[0]["args"] == ["migrate", "--check", "--json"]
    aio.reports["migrate"] = (0, APPLIED)
    assert checked["changed"] is run_module(migrate, {})["changed"] is True


def test_a_failed_migration_fails_with_its_step(run_module, aio):
    aio.reports["migrate"] = (1, dict(NOTHING, ok=False, failed_step="migrate", reason="migrate: exited with 1"))
    result = run_module(migrate, {})
    assert result["failed"] and result["failed_step"] == "migrate" and result["changed"] is False


def test_with_image_a_real_run_uses_a_one_off_container_it_removes(run_module, aio):
    aio.reports["migrate"] = (0, APPLIED)
    result = run_module(migrate, ONEOFF)
    assert result["changed"] is True and aio.execs == []
    [created] = aio.client.created
    assert created["image"] == IMAGE and created["command"] == ["migrate", "--json"]
    assert created["environment"] == {"AIO_DB_HOST": "db.example.net", "AIO_DB_PORT": "5432",
                                      "AIO_DB_PASSWORD": DB_PASSWORD}
    assert created["oneoff"].removed


def test_with_image_check_mode_runs_in_the_container_of_that_image_and_creates_nothing(run_module, aio):
    aio.reports["migrate"] = (0, WOULD)
    checked = run_module(migrate, ONEOFF, check_mode=True)
    assert aio.client.created == []
    assert aio.execs == [{"args": ["migrate", "--check", "--json"],
                          "environment": {"AIO_DB_HOST": "db.example.net", "AIO_DB_PORT": "5432",
                                          "AIO_DB_PASSWORD": DB_PASSWORD}}]
    aio.reports["migrate"] = (0, APPLIED)
    assert checked["changed"] is run_module(migrate, ONEOFF)["changed"] is True


def test_with_image_check_mode_skips_when_the_container_cannot_stand_in(run_module, aio, undocumented_keys):
    cases = {"runs another image": container_attrs(image_id=OTHER_IMAGE_ID),
             "is not running": container_attrs(running=False),
             "is not on network(s) backend": container_attrs(networks=("bridge",)),
             "does not exist": None}
    for why, attrs in cases.items():
        aio.attrs = attrs
        args = dict(ONEOFF, networks=["backend"]) if "network" in why else ONEOFF
        result = run_module(migrate, args, check_mode=True)
        assert result["skipped"] is True and result["changed"] is False and not result["failed"]
        assert why in result["reason"] and "no one-off container" in result["reason"]
        assert undocumented_keys(migrate, result) == set()
    assert aio.client.created == [] and aio.execs == []


def test_with_an_image_that_does_not_exist_check_mode_skips(run_module, aio):
    result = run_module(migrate, dict(ONEOFF, image="glitchtip-aio:missing"), check_mode=True)
    assert result["skipped"] is True and "image glitchtip-aio:missing does not exist" in result["reason"]
