# -*- coding: utf-8 -*-
"""molecule/resources/registry.py: the loopback registry the push test logs in to."""

from __future__ import annotations

import base64
import importlib.util
import os
import shutil
import socket
import urllib.error
import urllib.request
import warnings

import pytest
import yaml

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC = importlib.util.spec_from_file_location("registry", os.path.join(REPO_ROOT, "molecule", "resources", "registry.py"))
registry = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(registry)


def check_password(password, hashed):
    try:
        import bcrypt
        return bcrypt.checkpw(password.encode(), hashed.encode())
    except ImportError:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt
        return crypt.crypt(password, hashed) == hashed


def test_the_hash_is_bcrypt_and_verifies():
    hashed = registry.hash_password("s3cret pass")
    assert hashed.startswith("$2")
    assert check_password("s3cret pass", hashed)
    assert not check_password("s3cret pasS", hashed)


def test_config_has_auth_only_when_asked(tmp_path):
    with_auth = yaml.safe_load(registry.config_text(5055, str(tmp_path), True))
    assert with_auth["http"]["addr"] == "127.0.0.1:5055"
    assert with_auth["auth"]["htpasswd"]["path"] == str(tmp_path / "htpasswd")
    assert "auth" not in yaml.safe_load(registry.config_text(5055, str(tmp_path), False))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(shutil.which("docker-registry") is None, reason="docker-registry not installed")
def test_a_real_registry_wants_the_password_then_stops(tmp_path):
    port = free_port()
    registry.start(port, str(tmp_path), "tester", "pw-unit-test")
    try:
        assert registry.status(port) == 401
        request = urllib.request.Request("http://127.0.0.1:%d/v2/" % port)
        request.add_header("Authorization", "Basic " + base64.b64encode(b"tester:pw-unit-test").decode())
        with urllib.request.urlopen(request, timeout=5) as response:
            assert response.status == 200
        with pytest.raises(RuntimeError, match="already answers"):
            registry.start(port, str(tmp_path / "second"))
    finally:
        assert registry.stop(port, str(tmp_path))
    assert registry.status(port) is None
    assert not registry.stop(port, str(tmp_path))
