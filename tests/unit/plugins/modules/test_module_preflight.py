# -*- coding: utf-8 -*-
"""glitchtip.aio.preflight: arguments, result shape, check mode creating no one-off container."""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.modules import preflight

from aio_fakes import DB_PASSWORD, IMAGE, OTHER_IMAGE_ID, container_attrs

OK = {"job": "preflight", "ok": True, "reason": "PostgreSQL at db.example.net:5432: ok",
      "checks": {"postgres": {"address": "db.example.net:5432", "ok": True, "reason": "SELECT 1 as glitchtip"}}}
DOWN = {"job": "preflight", "ok": False, "reason": "PostgreSQL at db.example.net:5432: connection refused",
        "checks": {"postgres": {"address": "db.example.net:5432", "ok": False, "reason": "connection refused"}}}
ARGS = {"image": IMAGE, "environment": {"AIO_DB_HOST": "db.example.net"},
        "secret_environment": {"AIO_DB_PASSWORD": DB_PASSWORD}}


def test_image_is_required(run_module, aio):
    result = run_module(preflight, {})
    assert result["failed"] and "image" in result["msg"]


def test_a_real_run_logs_in_from_a_one_off_container_and_changes_nothing(run_module, aio, undocumented_keys):
    aio.reports["preflight"] = (0, OK)
    result = run_module(preflight, dict(ARGS, timeout=30))
    assert result["changed"] is False and result["checks"] == OK["checks"]
    [created] = aio.client.created
    assert created["command"] == ["preflight", "--json"] and created["oneoff"].removed
    assert undocumented_keys(preflight, result) == set()


def test_a_failure_names_the_service_and_address(run_module, aio):
    aio.reports["preflight"] = (1, DOWN)
    result = run_module(preflight, ARGS)
    assert result["failed"] and "db.example.net:5432" in result["msg"] and result["changed"] is False


def test_check_mode_answers_like_the_real_run_from_the_container_of_that_image(run_module, aio):
    aio.reports["preflight"] = (1, DOWN)
    checked = run_module(preflight, ARGS, check_mode=True)
    assert aio.client.created == []
    assert aio.execs[0]["environment"] == {"AIO_DB_HOST": "db.example.net", "AIO_DB_PASSWORD": DB_PASSWORD}
    real = run_module(preflight, ARGS)
    assert checked["failed"] is real["failed"] is True and checked["checks"] == real["checks"]


def test_check_mode_skips_rather_than_create_a_container(run_module, aio, undocumented_keys):
    aio.attrs = container_attrs(image_id=OTHER_IMAGE_ID)
    result = run_module(preflight, ARGS, check_mode=True)
    assert result["skipped"] is True and result["changed"] is False and not result["failed"]
    assert "runs another image" in result["reason"]
    assert aio.client.created == [] and aio.execs == []
    assert undocumented_keys(preflight, result) == set()
