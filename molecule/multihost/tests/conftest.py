"""Fixtures of the multihost scenario. Tests here act on all three hosts at once, so none
of them takes testinfra's per-host `host` fixture: each runs once."""

from __future__ import annotations

import docker
import pytest

from mh_testlib import app_containers, inventory


@pytest.fixture(scope="session")
def inv():
    return inventory()


@pytest.fixture(scope="session")
def hostvars(inv):
    return inv["hostvars"]


@pytest.fixture(scope="session")
def client():
    return docker.from_env()


@pytest.fixture
def containers(client, hostvars):
    return app_containers(client, hostvars)
