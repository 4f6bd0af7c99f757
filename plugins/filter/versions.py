# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The version_change filter: what a change of glitchtip_version does to the data (module_utils/version_change)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.glitchtip.aio.plugins.module_utils import version_change as _vc


def version_change(running, wanted):
    """first, same, upgrade or downgrade: deploying WANTED over a container labelled RUNNING."""
    try:
        return _vc.change(running, wanted)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule:
    def filters(self):
        return {"version_change": version_change}
