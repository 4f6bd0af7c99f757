#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: data_tree
short_description: Directories with owners and modes, in one call
description:
  - Makes each listed directory exist with the given numeric owner, group and mode. The same as a loop of
    M(ansible.builtin.file) with O(ansible.builtin.file#module:state=directory), in one module call instead of one per
    directory, which keeps a no-op deploy fast.
  - Parents are created as needed (owned by root, mode 0755).
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.attributes
attributes:
  check_mode:
    support: full
    details: Reports what would change and changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  directories:
    description: The directories.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
        required: true
      owner:
        description: Numeric uid; the group gets the same numeric id.
        type: int
        required: true
      mode:
        description:
          - Octal mode as a quoted string such as V("0750") (or the number YAML makes of an unquoted V(0750)), or a
            symbolic mode such as V(u=rwx,g=rx,o=) as M(ansible.builtin.chmod) takes it.
          - A symbolic mode applies to the directory's current mode; for a directory it creates, to the mode
            C(mkdir) gives under the current umask, as M(ansible.builtin.file) does.
        type: raw
        required: true
"""

EXAMPLES = r"""
- name: Data directory tree
  glitchtip.aio.data_tree:
    directories:
      - {path: /srv/glitchtip-aio/postgres, owner: 5101, mode: "0700"}
      - {path: /srv/glitchtip-aio/logs, owner: 0, mode: "0750"}
      - {path: /srv/glitchtip-aio/run, owner: 0, mode: "u=rwx,go="}
"""

RETURN = r"""
changed_paths:
  description: Directories created or whose owner or mode changed (or would, in check mode).
  returned: always
  type: list
  elements: str
"""

import os
import re
import stat

from ansible.module_utils.basic import AnsibleModule

OCTAL_MODE = re.compile(r"^0?[0-7]{3,4}$")


class NewDirectory:
    """The stat a directory mkdir would create now has, for a symbolic mode to apply to."""

    def __init__(self):
        umask = os.umask(0)
        os.umask(umask)
        self.st_mode = stat.S_IFDIR | (0o777 & ~umask)


def state_of(path):
    try:
        stat_ = os.stat(path)
    except FileNotFoundError:
        return None, None
    return stat_, {"uid": stat_.st_uid, "gid": stat_.st_gid, "mode": "%04o" % stat.S_IMODE(stat_.st_mode)}


def wanted_mode(mode, current_stat):
    """The numeric mode MODE asks for; ValueError when it is none."""
    if isinstance(mode, int) and not isinstance(mode, bool):
        return mode
    mode = str(mode)
    if OCTAL_MODE.match(mode):
        return int(mode, 8)
    return AnsibleModule._symbolic_mode_to_octal(current_stat or NewDirectory(), mode)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type="list", elements="dict", required=True, options=dict(
                path=dict(type="path", required=True),
                owner=dict(type="int", required=True),
                mode=dict(type="raw", required=True),
            )),
        ),
        supports_check_mode=True,
    )
    before, after, changed_paths = {}, {}, []
    for item in module.params["directories"]:
        path = item["path"]
        if not os.path.isabs(path):
            module.fail_json(msg="directories: %r is not an absolute path" % path)
        current_stat, current = state_of(path)
        try:
            mode = wanted_mode(item["mode"], current_stat)
        except ValueError as exc:
            module.fail_json(msg="directories: %s: mode %r is neither octal nor symbolic: %s" % (path, item["mode"], exc))
        wanted = {"uid": item["owner"], "gid": item["owner"], "mode": "%04o" % mode}
        if current == wanted:
            continue
        before[path], after[path] = current or "absent", wanted
        changed_paths.append(path)
        if module.check_mode:
            continue
        try:
            os.makedirs(path, exist_ok=True)
            os.chown(path, item["owner"], item["owner"])
            os.chmod(path, mode)
        except OSError as exc:
            module.fail_json(msg="cannot set up %s: %s" % (path, exc), changed_paths=changed_paths)
    result = dict(changed=bool(changed_paths), changed_paths=changed_paths)
    if module._diff:
        result["diff"] = {"before": before, "after": after}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
