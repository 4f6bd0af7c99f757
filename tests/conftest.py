# -*- coding: utf-8 -*-
"""Shared pytest setup: make the collection importable and register markers.

The repository is the collection itself; collections/ansible_collections/glitchtip/aio
is a symlink back to the repository root, so putting <repo>/collections on sys.path
makes ``ansible_collections.glitchtip.aio`` importable without installing anything.
"""

from __future__ import annotations

import os
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, "collections")

if COLLECTIONS_DIR not in sys.path:
    sys.path.insert(0, COLLECTIONS_DIR)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: runs ansible-playbook to render the real image build context (seconds, not ms)")


def _minimal_supervisord(directory):
    """A [supervisord] section whose paths exist, so supervisor's parser accepts it."""
    return ("[supervisord]\n"
            "logfile=%(d)s/supervisord.log\n"
            "pidfile=%(d)s/supervisord.pid\n"
            "childlogdir=%(d)s\n" % {"d": directory})


def _parse_supervisord(path):
    """supervisor's own parser (ServerOptions) over one config file; errors propagate as ValueError."""
    from supervisor.options import ServerOptions

    options = ServerOptions()
    options.configfile = str(path)
    options.process_config(do_usage=False)
    return options


def _write(path, text):
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


@pytest.fixture
def program_environment(tmp_path):
    """Write one [program:NAME] with the given environment= value; return what supervisord parsed."""
    counter = {"n": 0}

    def environment(environment_value, program="web"):
        counter["n"] += 1
        path = tmp_path / ("program-%d.conf" % counter["n"])
        _write(path, _minimal_supervisord(tmp_path)
               + "[program:%s]\ncommand=/bin/true\nenvironment=%s\n" % (program, environment_value))
        groups = {group.name: group for group in _parse_supervisord(path).process_group_configs}
        return groups[program].process_configs[0].environment

    return environment


@pytest.fixture
def supervisord_identifier(tmp_path):
    """Write identifier=<bare value>; return the string supervisord parsed (a plain string option)."""
    counter = {"n": 0}

    def identifier(bare_value):
        counter["n"] += 1
        path = tmp_path / ("identifier-%d.conf" % counter["n"])
        _write(path, _minimal_supervisord(tmp_path)
               + "identifier=%s\n[program:web]\ncommand=/bin/true\n" % bare_value)
        return _parse_supervisord(path).identifier

    return identifier
