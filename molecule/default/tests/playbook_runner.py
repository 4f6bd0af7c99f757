"""Run the collection's playbooks against the scenario's inventory, as an operator would."""

from __future__ import annotations

import os
import re
import subprocess

PROJECT_DIR = os.environ.get("MOLECULE_PROJECT_DIRECTORY", os.path.abspath(os.path.join(__file__, "../../../..")))
SCENARIO_DIR = os.environ.get("MOLECULE_SCENARIO_DIRECTORY", os.path.abspath(os.path.join(__file__, "../..")))


def run_playbook(path, *args, env=None):
    """ansible-playbook on playbooks/<path> (or an absolute path); the completed process, output as text."""
    if not os.path.isabs(path):
        path = os.path.join(PROJECT_DIR, "playbooks", path)
    full_env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT_DIR, "collections"), ANSIBLE_NOCOLOR="1")
    full_env.update(env or {})
    return subprocess.run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], path] + list(args),
                          capture_output=True, text=True, env=full_env, timeout=900, cwd=PROJECT_DIR)


def recap(result):
    """{'ok': n, 'changed': n, 'failed': n, ...} of the one host's PLAY RECAP line."""
    lines = [line for line in result.stdout.splitlines() if re.match(r"^\S+\s+: ok=", line)]
    assert lines, result.stdout[-3000:] + result.stderr[-2000:]
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", lines[-1])}
