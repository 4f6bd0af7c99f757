#!/usr/bin/env python3
"""Issue 4 and issue 11 (must-hold 6) figures, printed as a table (measured, never asserted), on a
generated database of at least 1 GiB over several tables: `aio backup` against raw `pg_dump -Fc -Z 6`
on the same data, `aio restore` against raw single-job `pg_restore` into a fresh database and against
the same raw restore done by hand around the running app (stop, pg_restore, rename, start, healthy),
and the sizes, in one run. The backup is the downtime of a PostgreSQL-major upgrade (bench/pgupgrade.py).

The data: events_event and 7 tables shaped like it (bench_events_2..8, LIKE events_event INCLUDING
ALL: its unique index and primary key), ROWS events in all (default 750000, about 1.2 GiB).

Usage: bench/backup.py CONTAINER [ROWS]   (the container's data is replaced by generated rows)
       bench/backup.py --own [ROWS]        (its own container glitchtip-aio-backup-bench on the 5.2
                                            stand-in, data dir /tmp/glitchtip-aio-backup-bench, port
                                            18730; removed at the end)
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import time

import docker

TABLES = 8
# One event: a payload of 40 md5s (1280 characters that compress like the hex ids and stack traces
# of real events do); the subquery is correlated so each row gets its own.
EVENT = ("SELECT (SELECT id FROM projects_project WHERE slug = 'bench'), gen_random_uuid(), now(), "
         "jsonb_build_object('message', (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 40) g "
         "WHERE g > i * 0)), true FROM generate_series(1, %d) i")


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


def generate(container, rows):
    """ROWS events over TABLES tables shaped like events_event, two tables at a time (two cores);
    returns (seconds, database bytes, tables)."""
    started = time.monotonic()
    psql(container, "INSERT INTO organizations_organization (name, slug, created) VALUES ('bench', 'bench', now()) "
                    "ON CONFLICT DO NOTHING")
    psql(container, "INSERT INTO projects_project (organization_id, name, slug, dsn_key, created) "
                    "SELECT id, 'bench', 'bench', md5(random()::text), now() FROM organizations_organization "
                    "WHERE slug = 'bench' AND NOT EXISTS (SELECT FROM projects_project WHERE slug = 'bench')")
    tables = ["events_event"] + ["bench_events_%d" % n for n in range(2, TABLES + 1)]
    for table in tables[1:]:
        psql(container, "CREATE TABLE IF NOT EXISTS %s (LIKE events_event INCLUDING ALL)" % table)
    each = rows // len(tables)
    insert = "INSERT INTO %%s (project_id, event_id, received, payload, processed) %s" % (EVENT % each)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(lambda table: psql(container, insert % table), tables))
    psql(container, "VACUUM ANALYZE")
    _s, size = psql(container, "SELECT pg_database_size('glitchtip')")
    return time.monotonic() - started, int(size), tables


OWN = ("glitchtip-aio-backup-bench", "/tmp/glitchtip-aio-backup-bench", 18730)  # name, data dir, port


def own_container(client):
    """--own: a fresh deploy of the 5.2 stand-in (bench/upgrade.py's deploy) and a cleanup for the end."""
    import shutil

    import upgrade  # bench/upgrade.py (it imports this file's psql)

    name, data, port = OWN

    def cleanup():
        for container in client.containers.list(all=True, filters={"name": name}):
            container.remove(force=True)
        for image in client.images.list(name=name):
            client.images.remove(image.id, force=True)
        shutil.rmtree(data, ignore_errors=True)

    cleanup()
    _seconds, result = upgrade.deploy("5.2", name=name, data=data, port=port)
    if result.returncode != 0:
        cleanup()
        raise SystemExit("the bench deploy failed:\n%s" % result.stdout[-3000:])
    return client.containers.get(name), cleanup


def main():
    client = docker.from_env()
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 750000
    if sys.argv[1] == "--own":
        container, cleanup = own_container(client)
        try:
            measure(container, rows)
        finally:
            cleanup()
    else:
        measure(client.containers.get(sys.argv[1]), rows)


def raw_restore_by_hand(container, dump):
    """The same restore with the raw tools, as an operator would do it by hand: the app stopped, a single-job
    pg_restore of DUMP into a new database, swapped in by rename, the app started again, until ``aio health``
    says ok; the replaced database dropped afterwards (not counted, as the restore's own cleanup is). No
    checksum, no scratch kept apart from the live database while the app still serves: the whole time is
    downtime. (seconds until healthy, seconds of the pg_restore alone)"""
    started = time.monotonic()
    run(container, ["supervisorctl", "stop", "scheduler", "worker", "web"])
    psql(container, "CREATE DATABASE bench_raw_restore", database="postgres")
    restore_seconds, _ = run(container, ["pg_restore", "-d", "bench_raw_restore", dump], user="postgres")
    psql(container, "ALTER DATABASE glitchtip RENAME TO bench_replaced", database="postgres")
    psql(container, "ALTER DATABASE bench_raw_restore RENAME TO glitchtip", database="postgres")
    run(container, ["supervisorctl", "start", "web", "worker", "scheduler"])
    while container.exec_run(["/usr/local/bin/aio", "health", "--quiet"]).exit_code != 0:
        time.sleep(0.25)  # the restore's own health poll (health.POLL_SECONDS)
    healthy = time.monotonic() - started
    psql(container, "DROP DATABASE bench_replaced", database="postgres")
    return healthy, restore_seconds


def measure(container, rows):
    generate_seconds, size, tables = generate(container, rows)
    _s, cores = run(container, ["nproc"])

    raw_dump, _ = run(container, ["sh", "-c", "pg_dump -Fc -Z 6 -d glitchtip -f /tmp/raw.dump"], user="postgres")
    _s, raw_size = run(container, ["stat", "-c", "%s", "/tmp/raw.dump"])
    aio_backup, out = run(container, ["/usr/local/bin/aio", "backup", "--json"])
    report = json.loads(out)

    psql(container, "CREATE DATABASE bench_raw_restore", database="postgres")
    raw_restore, _ = run(container, ["pg_restore", "-d", "bench_raw_restore", "/tmp/raw.dump"], user="postgres")
    psql(container, "DROP DATABASE bench_raw_restore", database="postgres")
    by_hand, by_hand_restore = raw_restore_by_hand(container, "/tmp/raw.dump")
    run(container, ["rm", "-f", "/tmp/raw.dump"])
    aio_restore, out = run(container, ["/usr/local/bin/aio", "restore", report["name"], "--json"])
    restore_report = json.loads(out)
    _s, manifest = run(container, ["cat", "/data/backups/%s/manifest.json" % report["name"]])
    manifest = json.loads(manifest)
    data_files = [name for name in manifest["files"] if name.startswith("database/") and ".dat." in name]

    print("| measure | value | target |")
    print("|---|---|---|")
    print("| generated database | %.2f GiB over %d tables (%d events), generated in %.0f s; %s cores | >= 1 GiB |"
          % (size / 2 ** 30, len(tables), rows // len(tables) * len(tables), generate_seconds, cores.strip()))
    print("| raw pg_dump -Fc -Z 6 | %.1f s, %.0f MB | - |" % (raw_dump, int(raw_size) / 1e6))
    print("| aio backup (directory format, %s, one job per core; checksums, stream checks, full read, rename) "
          "| %.1f s = %.2fx raw, %.0f MB in %d data files | <= 1.0x |"
          % (manifest["compression"], aio_backup, aio_backup / raw_dump, report["size"] / 1e6, len(data_files)))
    print("| raw pg_restore (one job) into a new database | %.1f s | - |" % raw_restore)
    print("| aio restore (verify, parallel scratch restore beside the full read, swap, uploads, web first, "
          "services healthy) | %.1f s = %.2fx raw (%s) | <= 1.0x |"
          % (aio_restore, aio_restore / raw_restore, "ok" if restore_report["ok"] else "FAILED"))
    steps = {(step["step"], step["detail"]): step["at"] for step in restore_report.get("steps", [])}
    healthy = steps.get(("health", "ok"), aio_restore)
    # The app's stop is asked for once the full read has passed (it runs beside the scratch restore): from
    # then until web answers is the most the service was down.
    downtime = steps.get(("health", "web answers"), healthy) - steps.get(("verify", "full read ok"), 0.0)
    print("| raw restore by hand (app stopped, one-job pg_restore, rename, app started) until healthy "
          "| %.1f s (its pg_restore %.1f s), all of it downtime | - |" % (by_hand, by_hand_restore))
    print("| aio restore until every service is healthy, against the raw restore by hand | %.1f s = %.2fx | <= 1.0x |"
          % (healthy, healthy / by_hand))
    print("| aio restore downtime (the app's stop asked for until web answers), against the raw restore by hand "
          "| %.1f s = %.2fx | - |" % (downtime, downtime / by_hand))
    print("\nrestore steps (seconds from start): %s" % ", ".join(
        "%s%s %.1f" % (s["step"], " (%s)" % s["detail"] if s["step"] in ("start", "health") else "", s["at"])
        for s in restore_report.get("steps", [])))


if __name__ == "__main__":
    main()
