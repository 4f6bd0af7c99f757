#!/usr/bin/env python3
"""Issue 11 figures, printed as a table (measured, never asserted): a PostgreSQL-major upgrade, 15 -> 17,
by changing only glitchtip_image_base from the bookworm stand-in (PostgreSQL 15) to the trixie one (17),
on bench/backup.py's generated database (ROWS events over 8 tables, default 750000: about 1.2 GiB), with
GET /_health/ probed every 100 ms (2 s timeout) through the published port (bench/restart.py's prober):
the deploy's wall time, failed probes, the longest gap between good answers (the downtime as users see it)
and the downtime the deploy reports (old container stopped -> restored service healthy).

The new image is built before the measured deploy (playbooks/build.yml): a build runs before the old
container is touched.

Usage: bench/pgupgrade.py [ROWS]   (its own container glitchtip-aio-pgu-bench, data dir
/tmp/glitchtip-aio-pgu-bench, port 18720; removed at the end). Needs the stand-ins:
molecule/resources/build-standin.sh 5.2 5.2-bookworm
"""

from __future__ import annotations

import re
import shutil
import sys
import docker

from backup import generate, psql  # noqa: E402  (bench/backup.py)
from upgrade import BASE, deploy as deploy_as, under_probe  # noqa: E402  (bench/upgrade.py)

NAME, DATA, PORT = "glitchtip-aio-pgu-bench", "/tmp/glitchtip-aio-pgu-bench", 18720
OLD, NEW = BASE + "5.2-bookworm", BASE + "5.2"


def deploy(base, playbook="deploy.yml"):
    return deploy_as("5.2", playbook=playbook, base=base, name=NAME, data=DATA, port=PORT)


def cleanup(client):
    for container in client.containers.list(all=True):
        if container.name == NAME or container.name.startswith(NAME + "-"):
            container.remove(force=True)
    for image in client.images.list(name=NAME):
        client.images.remove(image.id, force=True)
    shutil.rmtree(DATA, ignore_errors=True)


def counts(container, tables):
    return {table: psql(container, "SELECT count(*) FROM %s" % table)[1].strip() for table in tables}


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 750000
    client = docker.from_env()
    cleanup(client)
    try:
        _seconds, result = deploy(OLD)
        if result.returncode != 0:
            raise SystemExit("the deploy on %s failed:\n%s" % (OLD, result.stdout[-3000:]))
        container = client.containers.get(NAME)
        generate_seconds, size, tables = generate(container, rows)
        before = counts(container, tables)
        _s, version_before = psql(container, "SHOW server_version")
        build_seconds, built = deploy(NEW, playbook="playbooks/build.yml")
        if built.returncode != 0:
            raise SystemExit("building the image on %s failed:\n%s" % (NEW, built.stdout[-3000:]))

        seconds, result, probes = under_probe("5.2", run=lambda: deploy(NEW), port=PORT)
        if result.returncode != 0:
            raise SystemExit("the upgrade deploy failed:\n%s" % result.stdout[-4000:])
        container = client.containers.get(NAME)
        _s, version_after = psql(container, "SHOW server_version")
        after = counts(container, tables)
        reported = re.search(r"upgraded by dump and restore, ([0-9.]+)s of downtime", " ".join(result.stdout.split()))

        print("| measure | value |")
        print("|---|---|")
        print("| generated database | %.2f GiB over %d tables (%s events), generated in %.0f s |"
              % (size / 2 ** 30, len(tables), sum(int(n) for n in before.values()), generate_seconds))
        print("| PostgreSQL | %s -> %s; every table's row count equal after: %s |"
              % (version_before.split()[0], version_after.split()[0], "yes" if after == before else "NO %s" % after))
        print("| upgrade deploy wall time (image built before, %.0f s) | %.1f s |" % (build_seconds, seconds))
        print("| downtime the deploy reports (old container stopped -> restored service healthy) | %s s |"
              % (reported.group(1) if reported else "(not found)"))
        print("| web probes every 100 ms | %d sent, %d failed |" % (probes["probes"], probes["failed"]))
        print("| downtime seen by the prober (longest gap between good answers) | %.1f s |" % probes["longest_gap"])
    finally:
        cleanup(client)


if __name__ == "__main__":
    main()
