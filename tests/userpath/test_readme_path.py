"""The README's path, as a new user walks it: its commands as written, the defaults untouched.

`scripts/deploy.sh -i inventories/local` with only the base image pointed at the stand-in (a
test fixture: the real image cannot be pulled here), so the container name, image name, port 8000
and /srv/glitchtip-aio are the defaults every new user gets. Then the same command again
(nothing changes, the container is not restarted), `health.yml`, and the collection as users
install it: the built tarball in a temporary collections path, its playbook run from outside
the repository, against the same deployment.

These tests change the machine (a container on port 8000, /srv/glitchtip-aio): they refuse to
run where a deployment they did not make exists, and remove what they made at the end.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request

import docker
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# The default GlitchTip version is 6.x: its stand-in.
STANDIN = os.environ.get("GLITCHTIP_AIO_STANDIN", "glitchtip-aio-test/glitchtip-standin:6.2")
# The defaults of roles/common/defaults/main.yml and roles/container/defaults/main.yml, as a user gets them.
CONTAINER = "glitchtip-aio"
IMAGE = "glitchtip-aio"
DATA_DIR = "/srv/glitchtip-aio"
URL = "http://127.0.0.1:8000"
# Left in the data directory by these tests: a directory without it is somebody's deployment.
MARKER = os.path.join(DATA_DIR, ".made-by-glitchtip-aio-tests")


def user_environment():
    """The environment of a root shell on a fresh machine: none of the test runner's Ansible settings."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("ANSIBLE_", "MOLECULE_", "PYTEST_", "VIRTUAL_ENV"))}
    env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    return env


def run(argv, cwd=REPO, env=None, timeout=1800):
    started = time.monotonic()
    proc = subprocess.run(argv, cwd=cwd, env=env or user_environment(), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)
    print("$ %s  (%.0f s, exit %d)" % (" ".join(argv), time.monotonic() - started, proc.returncode))
    return proc


def recap(proc, host="localhost"):
    lines = [line for line in proc.stdout.splitlines() if re.match(r"^%s\s+:\s+ok=" % re.escape(host), line)]
    assert lines, "no PLAY RECAP line for %s; exit %d:\n%s\n%s" % (host, proc.returncode, proc.stdout[-4000:],
                                                                 proc.stderr[-2000:])
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", lines[-1])}


def health_body():
    with urllib.request.urlopen(URL + "/_health/", timeout=5) as response:
        return response.status, response.read().decode()


def remove_deployment(client):
    for container in client.containers.list(all=True, filters={"name": "^/%s$" % CONTAINER}):
        container.remove(force=True)
    # By tag: an image id may also carry another deployment's tags (same rendered context).
    for image in client.images.list(name=IMAGE):
        for tag in image.tags:
            if tag.startswith(IMAGE + ":"):
                client.images.remove(tag)
    shutil.rmtree(DATA_DIR, ignore_errors=True)


@pytest.fixture(scope="module")
def client():
    return docker.from_env()


@pytest.fixture(scope="module", autouse=True)
def clean_machine(client):
    """A machine without a deployment, before and after; never one these tests did not make."""
    if os.path.isdir(DATA_DIR) and not os.path.exists(MARKER):
        pytest.fail("%s exists and was not made by these tests: refusing to touch a real deployment "
                    "(run the suite on a machine without one)" % DATA_DIR)
    if not os.path.isdir(DATA_DIR) and client.containers.list(all=True, filters={"name": "^/%s$" % CONTAINER}):
        pytest.fail("a container named %s exists without %s: refusing to touch it" % (CONTAINER, DATA_DIR))
    remove_deployment(client)
    client.images.get(STANDIN)  # built by molecule/resources/build-standin.sh (scripts/test.sh)
    yield
    remove_deployment(client)


def deploy_as_the_readme_says():
    proc = run(["scripts/deploy.sh", "-i", "inventories/local", "-e", "glitchtip_image_base=%s" % STANDIN])
    if os.path.isdir(DATA_DIR):
        open(MARKER, "w").close()
    return proc


def test_first_deploy_of_the_readme_serves_glitchtip(client):
    proc = deploy_as_the_readme_says()
    totals = recap(proc)
    assert proc.returncode == 0 and totals["failed"] == 0, proc.stdout[-6000:]
    container = client.containers.get(CONTAINER)
    assert container.status == "running"
    # The same rendered context gives the same image id, which another deployment's tags may share.
    assert container.attrs["Config"]["Image"].startswith(IMAGE + ":")
    assert os.stat(os.path.join(DATA_DIR, "secrets.yml")).st_mode & 0o777 == 0o600
    assert health_body() == (200, "ok")
    # The summary of the default version (whichever it is) at the default URL, in the default container.
    assert re.search(r"GlitchTip [\d.]+ at http://localhost:8000 ", proc.stdout), proc.stdout[-2000:]
    assert "Container %s: ok, image %s:" % (CONTAINER, IMAGE) in proc.stdout


def test_second_deploy_changes_nothing_and_restarts_nothing(client):
    before = client.containers.get(CONTAINER).attrs
    proc = deploy_as_the_readme_says()
    totals = recap(proc)
    assert proc.returncode == 0 and totals["failed"] == 0, proc.stdout[-6000:]
    assert totals["changed"] == 0, proc.stdout[-6000:]
    after = client.containers.get(CONTAINER).attrs
    assert (after["Id"], after["State"]["StartedAt"]) == (before["Id"], before["State"]["StartedAt"])
    assert health_body() == (200, "ok")


def test_health_playbook_reports_every_component_ok():
    proc = run([".venv/bin/ansible-playbook", "glitchtip.aio.health", "-i", "inventories/local"])
    assert proc.returncode == 0, proc.stdout[-4000:]
    for component in ("supervisor", "postgres", "redis", "web", "worker", "host"):
        assert re.search(r"^\s*\W*%s\s+ok\s+[\d.]+ ms" % component, proc.stdout, re.M), (component, proc.stdout[-4000:])


def test_installed_collection_tarball_deploys_from_outside_the_repository(client, tmp_path):
    """The tarball users install: built, installed into an empty collections path, its playbook run
    from another directory. Same deployment, same rendered image context: nothing changes."""
    venv_bin = os.path.join(REPO, ".venv", "bin")
    proc = run([os.path.join(venv_bin, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path)])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tarball, = glob.glob(str(tmp_path / "glitchtip-aio-*.tar.gz"))
    members = subprocess.run(["tar", "-tzf", tarball], capture_output=True, text=True, check=True).stdout.split()
    # tests/sanity ships (ansible-test's ignore file); nothing else of the test suite does.
    assert not [m for m in members if m.startswith(("molecule/", "tests/unit", "tests/userpath", ".venv/", "backups/",
                                                    "collections/"))], members
    collections = tmp_path / "collections"
    # --no-deps: Galaxy is unreachable; community.docker & co. come with the ansible package.
    # From outside the repository: there its ansible.cfg's collections path (the working tree) would
    # count glitchtip.aio as installed already and skip the install.
    proc = run([os.path.join(venv_bin, "ansible-galaxy"), "collection", "install", "--no-deps", "-p",
                str(collections), tarball], cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (collections / "ansible_collections" / "glitchtip" / "aio" / "playbooks" / "deploy.yml").is_file()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    env = dict(user_environment(), ANSIBLE_COLLECTIONS_PATH=str(collections))
    before = client.containers.get(CONTAINER).attrs
    proc = run([os.path.join(venv_bin, "ansible-playbook"), "glitchtip.aio.deploy",
                "-i", os.path.join(REPO, "inventories", "local"), "-e", "glitchtip_image_base=%s" % STANDIN],
               cwd=str(outside), env=env)
    totals = recap(proc)
    assert proc.returncode == 0 and totals["failed"] == 0, proc.stdout[-6000:]
    assert totals["changed"] == 0, proc.stdout[-6000:]
    after = client.containers.get(CONTAINER).attrs
    assert after["State"]["StartedAt"] == before["State"]["StartedAt"]
    info = json.loads(run([os.path.join(venv_bin, "ansible-galaxy"), "collection", "list", "glitchtip.aio",
                           "--format", "json"], env=env).stdout or "{}")
    assert any(path.startswith(str(collections)) for path in info), info
