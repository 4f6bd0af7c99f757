"""The lowest ansible-core meta/runtime.yml claims runs the collection (issue 12, must-hold 5).

CI's virtualenv pins the newest 2.19; scripts/lowest-ansible.sh keeps a second one with the
claimed floor (`requires_ansible: ">=X"`). Its ansible-playbook runs, against the container this
scenario deployed: the deploy again in check mode (every role, filter and test plugin, data_tree,
preflight, the health wait), health.yml (health module and health_row filter), a real backup.yml
and restore.yml --check of that backup. The same community collections as the main virtualenv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from aio_testlib import CONVERGE, PROJECT_DIR, recap, run_playbook, wait_healthy

testinfra_hosts = ["ansible://localhost"]


def lowest_bin():
    """The lowest ansible-core's bin directory (the virtualenv made if missing) and that version."""
    proc = subprocess.run([os.path.join(PROJECT_DIR, "scripts", "lowest-ansible.sh"), "--venv"], capture_output=True,
                          text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    with open(os.path.join(PROJECT_DIR, "meta", "runtime.yml"), encoding="utf-8") as handle:
        claimed = re.search(r'^requires_ansible: *">=([0-9.]+)"', handle.read(), re.M).group(1)
    return proc.stdout.strip(), claimed


def community_collections():
    """Where the main virtualenv's community.docker and community.general are: the ansible package puts
    them in ansible_collections/ of the site-packages that holds ansible-core."""
    import ansible
    site = os.path.dirname(os.path.dirname(ansible.__file__))
    for name in ("docker", "general"):
        assert os.path.isdir(os.path.join(site, "ansible_collections", "community", name)), site
    return site


def test_the_lowest_claimed_ansible_core_deploys_checks_and_backs_up(container, settings):
    bin_dir, claimed = lowest_bin()
    if os.path.realpath(bin_dir) == os.path.realpath(os.path.dirname(shutil.which("ansible-playbook"))):
        pytest.skip("the claimed floor %s is the pinned ansible-core: this whole scenario runs it" % claimed)
    wait_healthy(container)
    version = subprocess.run([os.path.join(bin_dir, "ansible-playbook"), "--version"], capture_output=True,
                             text=True, check=True).stdout.splitlines()[0]
    assert version.endswith("[core %s]" % claimed), version
    env = {"PATH": bin_dir + os.pathsep + os.environ["PATH"],
           "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join([os.path.join(PROJECT_DIR, "collections"),
                                                        community_collections()])}
    container.reload()
    started = container.attrs["State"]["StartedAt"]
    # side_effect.yml deploys another retention than the inventory's: check against what runs now.
    running = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
    checked = run_playbook(CONVERGE, "--check", "--diff", "-e",
                           "glitchtip_max_event_life_days=%s" % running["GLITCHTIP_MAX_EVENT_LIFE_DAYS"], env=env)
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert recap(checked)["changed"] == 0 and recap(checked)["failed"] == 0, checked.stdout[-3000:]
    container.reload()
    assert container.attrs["State"]["StartedAt"] == started

    health = run_playbook("health.yml", env=env)
    assert health.returncode == 0 and "overall: ok" in health.stdout, health.stdout[-3000:]

    backups = os.path.join(settings["glitchtip_data_dir"], "backups")
    before = set(os.listdir(backups))
    backup = run_playbook("backup.yml", env=env)
    assert backup.returncode == 0, backup.stdout[-3000:]
    (name,) = set(os.listdir(backups)) - before
    restore = run_playbook("restore.yml", "--check", "-e", "backup=%s" % name, env=env)
    assert restore.returncode == 0, restore.stdout[-3000:]
    assert "%s verified (" % name in restore.stdout
