# -*- coding: utf-8 -*-
"""validate.yml's registry checks: push.yml fails up front, naming what is missing."""

from __future__ import annotations

import pytest

from test_validate import passes

ET = {"glitchtip_image_push": True,
      "glitchtip_image_push_repository": "etservice-registry.cn-beijing.cr.aliyuncs.com/base/glitchtip-base",
      "glitchtip_image_registry_url": "etservice-registry.cn-beijing.cr.aliyuncs.com",
      "glitchtip_image_registry_username": "user", "glitchtip_image_registry_password": "pw"}


def check(var, value, **changes):
    context = dict(ET, **changes)
    context.pop(var)
    return passes(var, value, **context)


@pytest.mark.parametrize("repository", ["", "registry.example.com/base/glitchtip-aio:latest", "Bad Name"])
def test_push_needs_a_repository_without_tag(repository):
    assert not check("glitchtip_image_push_repository", repository)
    assert check("glitchtip_image_push_repository", repository, glitchtip_image_push=False)


@pytest.mark.parametrize("url,repository,ok", [
    ("etservice-registry.cn-beijing.cr.aliyuncs.com", ET["glitchtip_image_push_repository"], True),
    ("https://etservice-registry.cn-beijing.cr.aliyuncs.com/", ET["glitchtip_image_push_repository"], True),
    ("127.0.0.1:5050", "127.0.0.1:5050/test/glitchtip-aio", True),
    ("localhost:5000", "localhost:5000/glitchtip-aio", True),
    ("https://index.docker.io/v1/", "someone/glitchtip-aio", True),
    ("", "someone/glitchtip-aio", True),
    ("127.0.0.1:5051", "127.0.0.1:5050/test/glitchtip-aio", False),
    ("other.example.com", ET["glitchtip_image_push_repository"], False),
    ("registry.example.com", "someone/glitchtip-aio", False),
])
def test_login_registry_is_the_repository_registry(url, repository, ok):
    assert check("glitchtip_image_registry_url", url, glitchtip_image_push_repository=repository) is ok


@pytest.mark.parametrize("var", ["glitchtip_image_registry_username", "glitchtip_image_registry_password"])
def test_a_login_needs_the_vault_credentials(var):
    assert not check(var, "")
    assert check(var, "", glitchtip_image_registry_url="")
    assert check(var, "", glitchtip_image_push=False)
    assert check(var, "x")
