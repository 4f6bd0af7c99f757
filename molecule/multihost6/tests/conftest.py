"""Fixtures of the multihost6 scenario: web1, worker1 (also the beat host) and worker2 on the 6.2
stand-in, sharing multihost's external PostgreSQL and Valkey/Redis stand-ins. Tests act on all
hosts at once, so none takes testinfra's per-host `host` fixture."""

from __future__ import annotations

import os
import sys

import docker
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
# multihost's helpers (inventory, SQL on the external PostgreSQL) and, through them, the default
# scenario's; appended, so this directory's modules come first.
sys.path.append(os.path.join(HERE, "..", "..", "multihost", "tests"))

from mh_testlib import inventory  # noqa: E402

HOSTS = ("web1", "worker1", "worker2")
WORKER_HOSTS = ("worker1", "worker2")


@pytest.fixture(scope="session")
def hostvars():
    return inventory()["hostvars"]


@pytest.fixture(scope="session")
def client():
    return docker.from_env()


@pytest.fixture
def containers(client, hostvars):
    """{host: its GlitchTip container}, fresh from the engine."""
    return {host: client.containers.get(hostvars[host]["glitchtip_container_name"]) for host in HOSTS}
