"""The default scenario's settings fixture and helpers (aio_testlib), for the off-host scenario."""

from __future__ import annotations

import importlib.util
import os
import sys

DEFAULT_TESTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "default", "tests")
sys.path.append(DEFAULT_TESTS)

_spec = importlib.util.spec_from_file_location("aio_default_conftest", os.path.join(DEFAULT_TESTS, "conftest.py"))
_default = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_default)
settings = _default.settings
