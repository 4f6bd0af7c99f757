#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: restore
short_description: Restore a GlitchTip all-in-one container from a verified backup, with a way back
description:
  - Runs the in-container C(aio restore) through the Docker API.
  - Verifies the manifest, every checksum and a full read of every archive; a bad backup is refused before anything
    running is touched. The full read of the dump (each table's compressed stream to its end, then pg_restore's read)
    runs beside the restore into a scratch database (parallel jobs, stop on the first error), and web, worker and
    scheduler are stopped only once it has passed. Backups of the directory format (C(database/)) and older ones with
    C(database.dump) (custom format) restore alike.
  - Then it refuses new connections and terminates remaining sessions, swaps the scratch database in by rename in one
    transaction, restores uploads, starts web alone and waits until it answers, then worker and scheduler, and waits
    until all are healthy. The replaced database is kept until then (and afterwards with O(keep_rollback)).
  - On any failure the live database and uploads are put back as they were, the services are started again, and the
    error names the step that failed.
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Verifies the backup (manifest, checksums, a full read of every archive) and returns in RV(would) what a
      real run would do, reported as C(changed) as the real run is; changes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
options:
  backup:
    description: Backup name (C(glitchtip-YYYYmmddTHHMMSSZ)), a path under C(/data/backups), or C(latest).
    type: str
    default: latest
  source:
    description:
      - Where the backup is - V(local), the backups volume, or a further destination configured in
        C(glitchtip_backup_destinations) (V(sftp), V(s3)), from which it is fetched into the backups volume, read back
        against its manifest like a local one, and removed after the restore.
      - With the local backups lost (a new disk, a new host), V(sftp) or V(s3) brings the data back.
    type: str
    default: local
  keep_rollback:
    description: Keep the replaced database (renamed C(glitchtip_rollback_<time>)) after a successful restore.
    type: bool
    default: false
  deadline:
    description: Seconds the services may take to be healthy after the swap.
    type: int
    default: 120
"""

EXAMPLES = r"""
- name: Restore the newest backup
  glitchtip.aio.restore:
    container: glitchtip-aio
    backup: latest

- name: Restore the newest backup of the off-host SFTP repository
  glitchtip.aio.restore:
    container: glitchtip-aio
    backup: latest
    source: sftp
"""

RETURN = r"""
job:
  description: Always C(restore).
  returned: when aio restore ran
  type: str
dry_run:
  description: Whether this was a check mode run.
  returned: when the backup was found
  type: bool
manifest:
  description: The verified backup's manifest (created, versions, compression, files with size and SHA-256).
  returned: check mode, when the backup verified
  type: dict
touched:
  description: Always V(false) when present; the backup was refused before anything was touched.
  returned: when the backup was refused
  type: bool
seconds:
  description: Duration of the restore.
  returned: outside check mode, when the backup was accepted
  type: float
backup:
  description: The backup restored (or refused); C(<source>:<name>) when it came from a further destination.
  returned: when found
  type: str
source:
  description: The further destination the backup was fetched from.
  returned: when O(source) is not V(local) and the backup was fetched
  type: str
reason:
  description: What was restored, what was verified (check mode), or why it failed.
  returned: always
  type: str
steps:
  description: Each step with what it did and when (seconds from the start).
  returned: when the backup was accepted
  type: list
  elements: dict
would:
  description: In check mode, the steps a real run would take, in order.
  returned: check mode, when the backup verified
  type: list
  elements: str
  sample: ["restore database/ (directory format, parallel jobs) into a scratch database beside a full read of it",
           "stop scheduler, worker, web once that read has passed"]
failed_step:
  description: The step that failed.
  returned: failure
  type: str
rollback_database:
  description: Name of the kept replaced database with O(keep_rollback).
  returned: success
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            backup=dict(type="str", default="latest"),
            keep_rollback=dict(type="bool", default=False),
            source=dict(type="str", default="local"),
            deadline=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    args = ["restore", module.params["backup"], "--deadline", str(module.params["deadline"])]
    if module.params["source"] != "local":  # only then: a container of an older image knows no --from
        args += ["--from", module.params["source"]]
    if module.params["keep_rollback"]:
        args.append("--keep-rollback")
    if module.check_mode:
        args.append("--dry-run")
    container_exec.finish_job(module, args, timeout=3600)


if __name__ == "__main__":
    main()
