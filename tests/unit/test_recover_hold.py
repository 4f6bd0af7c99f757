# -*- coding: utf-8 -*-
"""The recovery's hold file: the deploy writes it where the runtime looks for it."""

from __future__ import annotations

import os

import yaml

from ansible_collections.glitchtip.aio.plugins.module_utils import postgres_upgrade as pgu
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import entrypoint

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def test_the_deploy_writes_the_recovery_hold_where_the_runtime_reads_it():
    with open(os.path.join(ROOT, "roles", "container", "vars", "main.yml"), encoding="utf-8") as handle:
        role_vars = yaml.safe_load(handle)
    # <data_dir>/postgres is the container's /data/postgres, the cluster's parent (the upgrade's record too).
    expected = "{{ glitchtip_data_dir }}/%s" % os.path.join(os.path.dirname(pgu.CLUSTER_DIR),
                                                            entrypoint.RECOVER_HOLD_FILE)
    assert role_vars["_glitchtip_recover_hold"] == expected
    assert pgu.HOLD_FILE == os.path.join(os.path.dirname(pgu.CLUSTER_DIR), entrypoint.UPGRADE_HOLD_FILE)


def test_recover_yml_looks_for_the_cluster_and_the_hold_where_they_are():
    """Its first play runs no role, so it names the two files itself: the cluster's PG_VERSION and the hold."""
    with open(os.path.join(ROOT, "playbooks", "recover.yml"), encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    [look] = [task for task in plays[0]["tasks"] if task.get("register") == "_glitchtip_recover_found"]
    assert look["ansible.builtin.stat"]["path"] == "{{ glitchtip_play_data_dir }}/postgres/{{ item }}"
    assert look["loop"] == [os.path.relpath(os.path.join(pgu.CLUSTER_DIR, "PG_VERSION"), "postgres"),
                            entrypoint.RECOVER_HOLD_FILE]
