# -*- coding: utf-8 -*-
"""playbooks/vars/play.yml: the operator plays that run no role fall back to the roles' defaults.

Inventory values must win over these, so they cannot be loaded from the roles' defaults files (a
play's vars_files outrank the inventory): the fallbacks are written again, and pinned here."""

from __future__ import annotations

import os
import re

import yaml

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def load(*parts):
    with open(os.path.join(REPO_ROOT, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def test_the_play_fallbacks_are_the_role_defaults():
    play = load("playbooks", "vars", "play.yml")
    defaults = dict(load("roles", "common", "defaults", "main.yml"), **load("roles", "container", "defaults", "main.yml"))
    fallbacks = {name: re.fullmatch(r"\{\{ (\w+) \| default\('([^']*)'\) \}\}", value) for name, value in play.items()
                 if name not in ("glitchtip_play_become", "glitchtip_play_db_external")}
    assert all(fallbacks.values()), fallbacks
    assert {match.group(1): match.group(2) for match in fallbacks.values()} == {
        name: defaults[name] for name in ("glitchtip_container_name", "glitchtip_data_dir")}


def test_the_plays_external_database_rule_is_roles_common_s():
    """recover.yml decides by it whether the deploy restored already (the embedded cluster) or restore.yml must."""
    play = load("playbooks", "vars", "play.yml")
    role = load("roles", "common", "vars", "main.yml")
    assert role["glitchtip_db_external"] == "{{ glitchtip_external_db_host | length > 0 }}"
    assert play["glitchtip_play_db_external"] == "{{ (glitchtip_external_db_host | default('')) | length > 0 }}"
