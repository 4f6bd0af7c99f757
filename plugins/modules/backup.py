#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: backup
short_description: Verified, checksummed, atomic backup of a GlitchTip all-in-one container
description:
  - Runs the in-container C(aio backup) through the Docker API.
  - Writes C(database/) (pg_dump's directory format, one job per usable core; C(toc.dat) and one file per table,
    compressed by zstd level 1 with pg_dump 16+, gzip level 1 with pg_dump 15), C(roles.sql), C(uploads.tar.gz) of
    C(/code/uploads) and optionally C(redis.rdb), plus C(manifest.json) with the size and SHA-256 of each file (those
    of the dump as C(database/<file>)), into a hidden partial directory; fsyncs, verifies (checksums, each table's
    compressed stream to its end, and a full read of every archive, which C(pg_restore --list) alone is not), then
    renames it to its final name and fsyncs the parent. A killed or failed backup leaves nothing under a final name.
    pg_dump writes straight to the files, so its exit code is never lost in a pipe.
  - Retention by count and/or age runs only after a successful backup and never deletes the newest one.
version_added: 0.1.0
author: glitchtip-aio contributors (!UNKNOWN)
extends_documentation_fragment:
  - glitchtip.aio.container
  - glitchtip.aio.attributes
  - glitchtip.aio.attributes.actiongroup_container
attributes:
  check_mode:
    support: full
    details: Says which backup would be written (reported as C(changed), as the real run is) and what retention
      would delete; writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Every run writes a new backup; that is its purpose.
options:
  keep_count:
    description: Keep at least this many newest backups.
    type: int
  keep_days:
    description: Keep backups younger than this many days.
    type: int
  redis:
    description: Include a Redis snapshot (BGSAVE) in the backup.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Nightly-style backup keeping a week
  glitchtip.aio.backup:
    container: glitchtip-aio
    keep_count: 7
    keep_days: 7
  register: backup
"""

RETURN = r"""
job:
  description: Always C(backup).
  returned: when aio backup ran
  type: str
dry_run:
  description: Whether this was a check mode run.
  returned: success
  type: bool
reason:
  description: What was written (C(written and verified)), what would be, or why it failed.
  returned: when aio backup ran
  type: str
  sample: written and verified
failed_step:
  description: The step that failed (C(prepare), C(write), C(verify), C(redis), ...).
  returned: failure
  type: str
versions:
  description: GlitchTip and PostgreSQL server versions recorded in the manifest.
  returned: success, outside check mode
  type: dict
  sample: {glitchtip: "5.2", postgres: "15.8"}
path:
  description: Backup directory inside the container (under /data/backups, the host's <data_dir>/backups).
  returned: success
  type: str
  sample: /data/backups/glitchtip-20261127T030100Z
name:
  description: Backup name.
  returned: success
  type: str
  sample: glitchtip-20261127T030100Z
files:
  description: Size and SHA-256 of each file, by its path in the backup (C(roles.sql), C(database/toc.dat), ...).
  returned: success, outside check mode
  type: dict
size:
  description: Total bytes.
  returned: success, outside check mode
  type: int
seconds:
  description: Duration including verification.
  returned: success, outside check mode
  type: float
deleted:
  description: Backups retention removed.
  returned: success, outside check mode
  type: list
  elements: str
would_delete:
  description: In check mode, what retention would remove.
  returned: check mode
  type: list
  elements: str
destinations:
  description:
    - The further destinations of C(glitchtip_backup_destinations), by kind, each sent the backup once it was kept
      locally - C(ok), C(reason), C(deleted) (its own retention) or C(failed_step); in check mode what each would do.
    - A failed copy does not fail the task (the local backup is kept); RV(reason) names it.
  returned: success, when further destinations are configured
  type: dict
  sample:
    sftp: {ok: true, repository: "sftp:glitchtip@backup.example.net:/srv/backups/restic", snapshot: 66771157,
           bytes_sent: 6823, files_verified: 12, deleted: [], reason: "stored and read back (12 files equal to the manifest)"}
    s3: {ok: false, failed_step: repository, reason: "repository: s3: cannot open the repository at ..."}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec


def main():
    module = AnsibleModule(
        argument_spec=dict(
            container_exec.CONTAINER_ARGUMENTS,
            keep_count=dict(type="int"),
            keep_days=dict(type="int"),
            redis=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    container_exec.require_docker(module)
    for option in ("keep_count", "keep_days"):
        if module.params[option] is not None and module.params[option] < 1:
            module.fail_json(msg="%s must be 1 or more, got %d" % (option, module.params[option]))
    args = ["backup"]
    for option, flag in (("keep_count", "--keep-count"), ("keep_days", "--keep-days")):
        if module.params[option] is not None:
            args += [flag, str(module.params[option])]
    if module.params["redis"]:
        args.append("--redis")
    if module.check_mode:
        args.append("--dry-run")
    container_exec.finish_job(module, args, timeout=3600)


if __name__ == "__main__":
    main()
