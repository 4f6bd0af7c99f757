# -*- coding: utf-8 -*-
"""meta/runtime.yml's action group against the modules themselves and the playbooks that use it.

module_defaults: {group/glitchtip.aio.container: {container: ...}} hands every module of the group
those options: a module without them fails with "Unsupported parameters", and one that has them
but is left out silently falls back to its default container. So the group is pinned here to the
argument specs the modules' main() really builds, not to a list written a second time.
"""

from __future__ import annotations

import importlib
import os

import pytest
import yaml
from ansible.module_utils import basic

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))
MODULES = sorted(name[:-3] for name in os.listdir(os.path.join(REPO, "plugins", "modules"))
                 if name.endswith(".py") and not name.startswith("_"))
GROUP = "container"
FQCN_PREFIX = "glitchtip.aio."


class SpecSeen(Exception):
    def __init__(self, argument_spec):
        super().__init__("argument spec")
        self.argument_spec = argument_spec


def argument_spec(name, monkeypatch):
    """The argument_spec module NAME's main() hands AnsibleModule (nothing else of main() runs)."""
    def capture(self, argument_spec, **_kwargs):
        raise SpecSeen(argument_spec)

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    module = importlib.import_module("ansible_collections.glitchtip.aio.plugins.modules." + name)
    with pytest.raises(SpecSeen) as seen:
        module.main()
    return seen.value.argument_spec


def runtime_group():
    with open(os.path.join(REPO, "meta", "runtime.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["action_groups"][GROUP]


def test_the_group_is_exactly_the_modules_with_the_container_options(monkeypatch):
    sharing = [name for name in MODULES
               if all(argument_spec(name, monkeypatch).get(option) == spec
                      for option, spec in container_exec.CONTAINER_ARGUMENTS.items())]
    assert sharing, "no module takes the container options"
    assert sorted(runtime_group()) == sharing


def test_no_module_has_a_container_option_of_its_own_spelling(monkeypatch):
    # A module with a `container` option spelled differently (another default, another type) would
    # take the group's value with another meaning.
    for name in MODULES:
        spec = argument_spec(name, monkeypatch)
        for option in container_exec.CONTAINER_ARGUMENTS:
            assert option not in spec or spec[option] == container_exec.CONTAINER_ARGUMENTS[option], (name, option)


@pytest.mark.parametrize("name", MODULES)
def test_each_module_documents_its_membership_as_the_runtime_says(name):
    module = importlib.import_module("ansible_collections.glitchtip.aio.plugins.modules." + name)
    fragments = yaml.safe_load(module.DOCUMENTATION).get("extends_documentation_fragment", [])
    assert ("glitchtip.aio.attributes.actiongroup_container" in fragments) == (name in runtime_group())
    assert ("glitchtip.aio.container" in fragments) == (name in runtime_group())


def tasks_of(items, directory):
    """Every task of a task list, inside blocks and imported or included task files (static names only)."""
    for task in items or []:
        for key in ("block", "rescue", "always"):
            yield from tasks_of(task.get(key), directory)
        for key in ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks", "import_tasks", "include_tasks"):
            if key in task and "{{" not in str(task[key]):
                path = os.path.join(directory, task[key] if isinstance(task[key], str) else task[key]["file"])
                with open(path, encoding="utf-8") as handle:
                    yield from tasks_of(yaml.safe_load(handle), directory)
        yield task


PLAYBOOKS = sorted(name for name in os.listdir(os.path.join(REPO, "playbooks")) if name.endswith(".yml"))


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_operator_playbooks_set_the_container_once_through_the_group(playbook):
    directory = os.path.join(REPO, "playbooks")
    with open(os.path.join(directory, playbook), encoding="utf-8") as handle:
        plays = yaml.safe_load(handle)
    members = {FQCN_PREFIX + name for name in runtime_group()}
    for play in plays:
        calls = [(task.get("name"), module, task[module]) for task in tasks_of(play.get("tasks"), directory)
                 for module in members if module in task]
        if not calls:
            continue
        defaults = (play.get("module_defaults") or {}).get("group/%s%s" % (FQCN_PREFIX, GROUP)) or {}
        assert "container" in defaults, "%s: play %r calls %s without module_defaults for the group" % (
            playbook, play.get("name"), sorted({module for _name, module, _args in calls}))
        for task_name, module, args in calls:
            assert "container" not in (args or {}), "%s: task %r sets container again" % (playbook, task_name)
