#!/usr/bin/env python3
"""Issue 4 figures, printed as a table (measured, never asserted), on a generated database of
at least 1 GiB: `aio backup` against raw `pg_dump -Fc` on the same data, `aio restore` against
raw `pg_restore` into a fresh database, and the backup's size.

Usage: bench/backup.py CONTAINER [ROWS]   (the container's data is replaced by generated rows)
"""

from __future__ import annotations

import json
import sys
import time

import docker


def run(container, cmd, user="root"):
    started = time.monotonic()
    result = container.exec_run(cmd, user=user)
    seconds = time.monotonic() - started
    if result.exit_code != 0:
        raise SystemExit("%s failed: %s" % (" ".join(cmd), result.output.decode()[-2000:]))
    return seconds, result.output.decode()


def psql(container, sql, database="glitchtip"):
    return run(container, ["psql", "-h", "/run/postgresql", "-d", database, "-XAtq", "-v", "ON_ERROR_STOP=1",
                           "-c", sql], user="postgres")


def main():
    container = docker.from_env().containers.get(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 750000
    psql(container, "INSERT INTO organizations_organization (name, slug, created) VALUES ('bench', 'bench', now()) "
                    "ON CONFLICT DO NOTHING")
    psql(container, "INSERT INTO projects_project (organization_id, name, slug, dsn_key, created) "
                    "SELECT id, 'bench', 'bench', md5(random()::text), now() FROM organizations_organization "
                    "WHERE slug = 'bench' AND NOT EXISTS (SELECT FROM projects_project WHERE slug = 'bench')")
    generate, _ = psql(container, (
        "INSERT INTO events_event (project_id, event_id, received, payload, processed) "
        "SELECT (SELECT id FROM projects_project WHERE slug = 'bench'), gen_random_uuid(), now(), "
        "jsonb_build_object('message', (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 40) g "
        "WHERE g > i * 0)), true FROM generate_series(1, %d) i") % rows)
    _s, size = psql(container, "SELECT pg_database_size('glitchtip')")
    size_gib = int(size) / 2 ** 30

    raw_dump, _ = run(container, ["sh", "-c", "pg_dump -Fc -Z 6 -d glitchtip -f /tmp/raw.dump"], user="postgres")
    _s, raw_size = run(container, ["stat", "-c", "%s", "/tmp/raw.dump"])
    aio_backup, out = run(container, ["/usr/local/bin/aio", "backup", "--json"])
    report = json.loads(out)

    psql(container, "CREATE DATABASE bench_raw_restore", database="postgres")
    raw_restore, _ = run(container, ["pg_restore", "-d", "bench_raw_restore", "/tmp/raw.dump"], user="postgres")
    psql(container, "DROP DATABASE bench_raw_restore", database="postgres")
    run(container, ["rm", "-f", "/tmp/raw.dump"])
    aio_restore, out = run(container, ["/usr/local/bin/aio", "restore", report["name"], "--json"])
    restore_report = json.loads(out)

    print("| measure | value | target |")
    print("|---|---|---|")
    print("| generated database | %.2f GiB (%d events), generated in %.0f s | >= 1 GiB |" % (size_gib, rows, generate))
    print("| raw pg_dump -Fc -Z 6 | %.1f s, %.0f MB | - |" % (raw_dump, int(raw_size) / 1e6))
    print("| aio backup (dump, uploads, checksums, full read, rename) | %.1f s = %.2fx raw, %.0f MB | <= 1.25x |"
          % (aio_backup, aio_backup / raw_dump, report["size"] / 1e6))
    print("| raw pg_restore into a new database | %.1f s | - |" % raw_restore)
    print("| aio restore (verify, scratch restore, swap, uploads, services healthy) | %.1f s = %.2fx raw (%s) "
          "| <= 1.3x |" % (aio_restore, aio_restore / raw_restore, "ok" if restore_report["ok"] else "FAILED"))
    steps = {s["step"]: s["at"] for s in restore_report.get("steps", [])}
    print("\nrestore steps (seconds from start): %s" % ", ".join("%s %.1f" % item for item in steps.items()))


if __name__ == "__main__":
    main()
