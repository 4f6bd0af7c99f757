# -*- coding: utf-8 -*-
"""Running a module's main() in the test process, the way community.docker's module tests do.

Arguments arrive through ansible.module_utils.testing.patch_module_args (check and diff mode as
the controller sets them); the Docker side is aio_fakes.FakeAio.
"""

from __future__ import annotations

import json

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec

from aio_fakes import DB_PASSWORD, FakeAio, ModuleExit, undocumented


@pytest.fixture
def run_module(monkeypatch):
    """run(module, args, check_mode=False, diff=False) -> the module's result dict (failed or not)."""

    def exit_json(self, **result):
        raise ModuleExit(dict(result, failed=False))

    def fail_json(self, msg, **result):
        raise ModuleExit(dict(result, msg=msg, failed=True))

    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)

    def run(module, args, check_mode=False, diff=False):
        with patch_module_args(dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)):
            with pytest.raises(ModuleExit) as caught:
                module.main()
        result = caught.value.result
        # What no_log and the controller would do with the result is not the module's business here,
        # but a secret must never be in it in the first place.
        assert DB_PASSWORD not in json.dumps(result, default=str)
        return result

    return run


@pytest.fixture
def undocumented_keys():
    """undocumented_keys(module, result) -> the keys of result that module's RETURN does not document."""
    return undocumented


@pytest.fixture
def aio(monkeypatch):
    fake = FakeAio()
    monkeypatch.setattr(container_exec, "AioContainer", fake.connect)
    return fake
