"""Fixtures every test file of the scenario shares: the inventory's settings, the container, the secrets."""

from __future__ import annotations

import os

import docker
import pytest
import yaml


@pytest.fixture(scope="module")
def settings(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def client():
    return docker.from_env()


@pytest.fixture(scope="module")
def container(client, settings):
    return client.containers.get(settings["glitchtip_container_name"])


@pytest.fixture(scope="module")
def secrets(settings):
    with open(os.path.join(settings["glitchtip_data_dir"], "secrets.yml"), encoding="utf-8") as handle:
        stored = yaml.safe_load(handle)
    assert set(stored) == {"secret_key", "db_password", "redis_password"}
    return stored


@pytest.fixture(scope="module")
def sink(container):
    """A real HTTP webhook receiver inside the container, emptied for each test module."""
    from aio_testlib import Sink
    return Sink(container)
