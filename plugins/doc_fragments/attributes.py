# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""What the attributes of every module mean (each module says its own support)."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return a C(changed) prediction without modifying the target.
  diff_mode:
    description: Returns details on what has changed (or would change in check mode) when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode with the same arguments, the second run reports no change.
      - This assumes that the system it controls or queries has not changed in a relevant way in between.
"""

    # The modules that reach the AIO container, with the options of doc_fragments/container.py.
    ACTIONGROUP_CONTAINER = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/glitchtip.aio.container) in C(module_defaults) to set O(container) and O(docker_host)
      once for every module of the group.
    support: full
    membership:
      - glitchtip.aio.container
"""
