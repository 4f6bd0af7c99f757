#!/usr/bin/env python3
"""Issue 13 figures, printed as a table (measured, never asserted): off-host copies of a generated
database of at least 1 GiB (bench/backup.py's generator), beside the local `aio backup` and `aio restore`
of the same run, for each destination the container has:

- the local backup alone (the destinations switched off for that one run);
- the first off-host copy (upload + read back against the manifest + retention): wall time, bytes sent;
- the next one after ~4 % of the data changed: wall time, bytes sent (restic's deduplication);
- a restore fetched from the repository (fetch + every check + scratch restore + swap) against a
  restore of the same backup from the local disk.

Run it against a deployment whose destinations are real servers, e.g. the offsite scenario's:

    molecule converge -s offsite && bench/offsite.py glitchtip-aio-oh [ROWS]; molecule cleanup -s offsite

The container's data is replaced by generated rows (default 750000 events, about 1.2 GiB).
"""

from __future__ import annotations

import json
import os
import sys
import time

import docker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from backup import generate, psql, run  # noqa: E402  (bench/backup.py)


def aio_json(container, *args, environment=None):
    """(wall seconds, report) of one aio command; a failed one stops the bench with its report."""
    started = time.monotonic()
    result = container.exec_run(["/usr/local/bin/aio"] + list(args) + ["--json"], environment=environment, demux=True)
    seconds = time.monotonic() - started
    out = (result.output[0] or b"").decode()
    report = json.loads(out) if out.strip() else {"ok": False, "reason": (result.output[1] or b"").decode()}
    if result.exit_code != 0 or not report.get("ok"):
        raise SystemExit("aio %s failed: %s" % (" ".join(args), json.dumps(report)[-2000:]))
    return seconds, report


def backup_to(container, kind):
    """An `aio backup` sending to KIND only ("" for none): (wall seconds, report, KIND's outcome)."""
    seconds, report = aio_json(container, "backup", environment={"AIO_BACKUP_DESTINATIONS": kind})
    outcome = report.get("destinations", {}).get(kind, {})
    if kind and not outcome.get("ok"):
        raise SystemExit("sending to %s failed: %s" % (kind, outcome))
    return seconds, report, outcome


def mib(value):
    return "%.1f MiB" % (value / 1048576.0) if value is not None else "-"


def main():
    client = docker.from_env()
    container = client.containers.get(sys.argv[1])
    rows = int(sys.argv[2]) if len(sys.argv) > 2 else 750000
    environ = dict(entry.split("=", 1) for entry in container.attrs["Config"]["Env"])
    kinds = [kind for kind in environ.get("AIO_BACKUP_DESTINATIONS", "").split(",") if kind]
    if not kinds:
        raise SystemExit("%s has no backup destination (glitchtip_backup_destinations)" % sys.argv[1])

    _s, have = psql(container, "SELECT count(*) FROM pg_tables WHERE tablename LIKE 'bench_events_%'")
    if int(have.strip() or 0):  # a database an earlier run generated: measured as it is
        generate_seconds = 0.0
        _s, size = psql(container, "SELECT pg_database_size('glitchtip')")
        size = int(size.strip())
        _s, rows = psql(container, "SELECT (SELECT count(*) FROM events_event) * 8")
        rows, tables = int(rows.strip()), ["events_event"] + ["bench_events_%d" % n for n in range(2, 9)]
    else:
        generate_seconds, size, tables = generate(container, rows)
    _s, cores = run(container, ["nproc"])
    lines = [("database", "%s over %d tables (%d events), %s cores, generated in %.0f s"
              % (mib(size), len(tables), rows, cores.strip(), generate_seconds))]

    local_seconds, local, _ = backup_to(container, "")
    lines.append(("local `aio backup` (no destination)", "%.1f s, %s" % (local_seconds, mib(local["size"]))))
    for kind in kinds:
        wall, report, outcome = backup_to(container, kind)
        lines.append(("%s: first copy (whole aio backup)" % kind, "%.1f s, of which the copy %.1f s; %s sent, %d files "
                      "read back" % (wall, outcome["seconds"], mib(outcome["bytes_sent"]), outcome["files_verified"])))
    # A third of events_event's rows changed (one table of eight: ~4 % of the data): the next copies send
    # what changed, restic cutting the new dump files into chunks it mostly has not seen.
    psql(container, "UPDATE events_event SET payload = jsonb_set(payload, '{bench}', to_jsonb(random())) WHERE id % 3 = 0")
    sent = {}
    for kind in kinds:
        wall, report, outcome = backup_to(container, kind)
        sent[kind] = report["name"]
        lines.append(("%s: after 1/3 of events_event changed" % kind, "%.1f s, of which the copy %.1f s; %s sent"
                      % (wall, outcome["seconds"], mib(outcome["bytes_sent"]))))
    for kind in kinds:  # each backup restored from the local disk, then fetched from its repository
        local_seconds, _report = aio_json(container, "restore", sent[kind])
        seconds, _report = aio_json(container, "restore", "--from", kind, sent[kind])
        lines.append(("local `aio restore` of %s's copy" % kind, "%.1f s" % local_seconds))
        lines.append(("`aio restore --from %s` of it" % kind, "%.1f s = %.2fx the local restore"
                      % (seconds, seconds / local_seconds)))

    width = max(len(name) for name, _value in lines)
    print("| %s | value |\n|%s|---|" % ("measure".ljust(width), "-" * (width + 2)))
    for name, value in lines:
        print("| %s | %s |" % (name.ljust(width), value))


if __name__ == "__main__":
    main()
