# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Options every module that reaches the AIO container shares."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  container:
    description: Name of the AIO container.
    type: str
    default: glitchtip-aio
  docker_host:
    description: Docker daemon URL; the environment's default when omitted.
    type: str
requirements:
  - Docker SDK for Python (C(docker)) on the target host
"""
