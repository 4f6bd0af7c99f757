"""build.yml builds nothing when the tree is deployed; push.yml pushes to a real registry with a login.

The registry is Debian's docker-registry (Distribution 2.8) on a free loopback port with
htpasswd auth; the credentials come from a vars file standing in for the vault.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import socket
import urllib.request
import uuid

import docker
import pytest
import yaml

from aio_testlib import PROJECT_DIR, recap, run_playbook

testinfra_hosts = ["ansible://localhost"]


def load_registry_helper():
    spec = importlib.util.spec_from_file_location("registry", os.path.join(PROJECT_DIR, "molecule", "resources",
                                                                           "registry.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def registry(tmp_path_factory, settings, client):
    helper = load_registry_helper()
    directory = str(tmp_path_factory.mktemp("registry"))
    port = free_port()
    creds = {"user": "aio-pusher", "password": "pw-%s" % uuid.uuid4().hex}
    helper.start(port, directory, creds["user"], creds["password"])
    repository = "127.0.0.1:%d/test/%s" % (port, settings["glitchtip_image_name"])
    # The vault stand-in: the same variables inventories/et reads from vault.yml.
    vault = os.path.join(directory, "vault.yml")
    with open(vault, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"glitchtip_image_push_repository": repository,
                        "glitchtip_image_registry_url": "127.0.0.1:%d" % port,
                        "glitchtip_image_registry_username": creds["user"],
                        "glitchtip_image_registry_password": creds["password"]}, handle)
    # docker_login stores the login in ~/.docker/config.json: a HOME of its own keeps root's untouched.
    home = os.path.join(directory, "home")
    os.makedirs(home)
    yield dict(creds, port=port, repository=repository, vault=vault, env={"HOME": home})
    helper.stop(port, directory)
    for image in client.images.list(name=repository):
        for tag in image.tags:
            if tag.startswith(repository + ":"):
                client.images.remove(tag)


def push(registry, *args):
    return run_playbook("push.yml", "-v", "-e", "@" + registry["vault"], *args, env=registry["env"])


def registry_tags(registry):
    request = urllib.request.Request("http://127.0.0.1:%d/v2/%s/tags/list" % (
        registry["port"], registry["repository"].split("/", 1)[1]))
    token = base64.b64encode(("%s:%s" % (registry["user"], registry["password"])).encode()).decode()
    request.add_header("Authorization", "Basic " + token)
    with urllib.request.urlopen(request, timeout=10) as response:
        return sorted(json.load(response)["tags"])


def built_image(client, settings):
    return client.images.get("%s:latest" % settings["glitchtip_image_name"])


def test_build_on_a_deployed_tree_changes_nothing():
    result = run_playbook("build.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result)["changed"] == 0, result.stdout[-3000:]
    assert "is up to date" in result.stdout


def test_push_without_the_vault_names_the_missing_variable(registry):
    result = run_playbook("push.yml", "-e", "glitchtip_image_push_repository=%s" % registry["repository"],
                          "-e", "glitchtip_image_registry_url=127.0.0.1:%d" % registry["port"], env=registry["env"])
    assert result.returncode != 0
    assert "glitchtip_image_registry_username: empty while glitchtip_image_registry_url is set" in result.stdout


def test_push_logs_in_pushes_and_the_image_pulls_back(registry, client, settings):
    local = built_image(client, settings)
    digest_tag = next(t.split(":")[-1] for t in local.tags if not t.endswith(":latest")
                      and t.startswith(settings["glitchtip_image_name"] + ":"))

    result = push(registry)
    output = result.stdout + result.stderr
    assert result.returncode == 0, result.stdout[-3000:]
    assert registry["password"] not in output
    assert recap(result)["changed"] > 0
    assert registry_tags(registry) == sorted(["latest", digest_tag])

    # Drop the local references to the registry, then fetch them back from it.
    for tag in ("latest", digest_tag):
        client.images.remove("%s:%s" % (registry["repository"], tag))
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("%s:latest" % registry["repository"])
    for tag in ("latest", digest_tag):
        pulled = client.images.pull(registry["repository"], tag=tag,
                                    auth_config={"username": registry["user"], "password": registry["password"]})
        assert pulled.id == local.id
        assert pulled.labels["org.glitchtip-aio.context-digest"] == local.labels["org.glitchtip-aio.context-digest"]
        assert pulled.labels["org.glitchtip-aio.context-digest"].startswith(digest_tag)


def test_a_second_push_reports_no_change(registry, client, settings):
    result = push(registry)
    assert result.returncode == 0, result.stdout[-3000:]
    assert registry["password"] not in result.stdout + result.stderr
    assert recap(result)["changed"] == 0, result.stdout[-3000:]
    assert "already in the registry" in " ".join(result.stdout.split())


def test_push_check_mode_pushes_nothing(registry):
    result = push(registry, "--check")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result)["changed"] == 0
    assert "would be pushed" in " ".join(result.stdout.split())
