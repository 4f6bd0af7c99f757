"""remove.yml keeps every file of the data directory; purge leaves a backup outside it that restores.

Ends with the deployment redeployed, restored and healthy: other test files run after this one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import uuid

import docker
import pytest

from aio_testlib import CONVERGE, psql, recap, run_playbook, wait_healthy

testinfra_hosts = ["ansible://localhost"]


def snapshot(root):
    """{relative path: (size, sha256)} of every file under root; directories by their mode."""
    found = {}
    for directory, dirs, names in os.walk(root):
        for name in dirs:
            path = os.path.join(directory, name)
            found[os.path.relpath(path, root) + "/"] = stat.S_IMODE(os.lstat(path).st_mode)
        for name in names:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                found[os.path.relpath(path, root)] = (os.path.getsize(path), hashlib.sha256(handle.read()).hexdigest())
    return found


def markers(container, marker):
    return psql(container, "SELECT count(*) FROM organizations_organization WHERE slug = '%s'" % marker)


def converge():
    result = run_playbook(CONVERGE)
    assert result.returncode == 0, result.stdout[-3000:]


def image_tags(client, settings):
    return sorted(tag for image in client.images.list(name=settings["glitchtip_image_name"]) for tag in image.tags)


@pytest.fixture(scope="module")
def marker(client, settings):
    container = client.containers.get(settings["glitchtip_container_name"])
    wait_healthy(container)
    slug = "remove-marker-%s" % uuid.uuid4().hex[:8]
    psql(container, "INSERT INTO organizations_organization (name, slug, created) VALUES ('%s', '%s', now())"
         % (slug, slug))
    return slug


@pytest.fixture(scope="module")
def final_backup_dir(settings):
    path = settings["glitchtip_data_dir"] + "-test-final-backup"
    shutil.rmtree(path, ignore_errors=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_check_mode_removes_nothing(client, settings, marker):
    tags = image_tags(client, settings)
    result = run_playbook("remove.yml", "--check", "-e", "purge=true")
    assert result.returncode == 0, result.stdout[-3000:]
    assert recap(result)["changed"] > 0
    assert client.containers.get(settings["glitchtip_container_name"]).status == "running"
    assert image_tags(client, settings) == tags
    assert os.path.isdir(os.path.join(settings["glitchtip_data_dir"], "postgres"))


def test_remove_keeps_every_file_of_the_data_directory(client, settings, marker):
    container = client.containers.get(settings["glitchtip_container_name"])
    # Stopped by hand first, so what the running services write is settled before the snapshot.
    container.stop(timeout=120)
    before = snapshot(settings["glitchtip_data_dir"])
    assert len(before) > 100

    result = run_playbook("remove.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    with pytest.raises(docker.errors.NotFound):
        client.containers.get(settings["glitchtip_container_name"])
    assert image_tags(client, settings) == []
    assert snapshot(settings["glitchtip_data_dir"]) == before

    again = run_playbook("remove.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-3000:]
    assert snapshot(settings["glitchtip_data_dir"]) == before

    converge()
    container = client.containers.get(settings["glitchtip_container_name"])
    assert markers(container, marker) == "1"


def test_purge_refuses_without_a_running_container(client, settings):
    container = client.containers.get(settings["glitchtip_container_name"])
    container.stop(timeout=120)
    try:
        result = run_playbook("remove.yml", "-e", "purge=true")
        assert result.returncode != 0
        assert "purge_backup=false" in " ".join(result.stdout.split())
        assert client.containers.get(settings["glitchtip_container_name"]).status == "exited"
        assert os.path.isdir(os.path.join(settings["glitchtip_data_dir"], "postgres"))
    finally:
        container.start()
        wait_healthy(container)


def test_purge_backs_up_outside_then_the_backup_restores(client, settings, marker, final_backup_dir):
    data_dir = settings["glitchtip_data_dir"]
    backups_dir = os.path.join(data_dir, "backups")
    # Backups the purge did not make (earlier tests', nightly, pre-upgrade) are the operator's too.
    older = {n: snapshot(os.path.join(backups_dir, n)) for n in os.listdir(backups_dir) if n.startswith("glitchtip-")}
    assert older, "the scenario's earlier tests leave backups behind"
    result = run_playbook("remove.yml", "-e", "purge=true", "-e", "glitchtip_purge_backup_dir=%s" % final_backup_dir)
    assert result.returncode == 0, result.stdout[-3000:]
    assert not os.path.exists(data_dir)
    kept = sorted(n for n in os.listdir(final_backup_dir) if os.path.isdir(os.path.join(final_backup_dir, n)))
    assert set(older) < set(kept) and len(kept) == len(older) + 1, (sorted(older), kept)
    for old_name, files in older.items():
        assert snapshot(os.path.join(final_backup_dir, old_name)) == files, old_name
    assert "%d older backup(s) kept" % len(older) in " ".join(result.stdout.split())
    (name,) = set(kept) - set(older)  # the final backup
    assert os.path.isfile(os.path.join(final_backup_dir, name, "manifest.json"))
    secrets = os.path.join(final_backup_dir, name + ".secrets.yml")
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600

    again = run_playbook("remove.yml", "-e", "purge=true", "-e", "glitchtip_purge_backup_dir=%s" % final_backup_dir)
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-3000:]

    # The operator's way back: the secrets first (so the deploy reuses them), deploy, then restore.
    os.makedirs(data_dir, mode=0o755)
    shutil.copy2(secrets, os.path.join(data_dir, "secrets.yml"))
    converge()
    container = client.containers.get(settings["glitchtip_container_name"])
    assert markers(container, marker) == "0"
    shutil.copytree(os.path.join(final_backup_dir, name), os.path.join(data_dir, "backups", name))
    result = run_playbook("restore.yml", "-e", "backup=%s" % name)
    assert result.returncode == 0, result.stdout[-3000:]
    assert markers(container, marker) == "1"
    wait_healthy(container)
