#!/usr/bin/env python3
"""Ingest figures (issue 10), printed as a table (measured, never asserted).

Against a deployed AIO container: idle memory, then CLIENTS threads posting ~3 KB error events
to the store endpoint for SECONDS; accepted/s (HTTP 200), errors, stored/s during the burst
(events the worker marked processed), the broker queue at the end of the burst, how long the
backlog takes to drain afterwards, and the container's peak memory.

Then the worker's own pace, apart from the web's: with the worker stopped, the same clients post
for SECONDS into the queue; the worker is started again and the backlog is timed until every
event is stored (stored/s from the first stored event, and from the worker's start, which
includes its start-up). On one 2-core machine the load generator and the web share the cores
with the worker, so the burst's stored/s is bounded by what the web accepts; the backlog is not.

Usage: bench/ingest.py CONTAINER URL [SECONDS] [CLIENTS...]
       (e.g. bench/ingest.py glitchtip-aio-bench http://127.0.0.1:18900 30 8 32)

Memory is the container's cgroup usage less its inactive page cache (what `docker stats` shows).
"""

from __future__ import annotations

import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid

import docker

import backup  # bench/backup.py: this directory is on sys.path when run as bench/ingest.py

DRAIN_LIMIT = 180  # seconds to wait for the backlog after the burst


def psql(container, sql):
    """The rows of one statement as text (bench/backup.py's psql, which also times it)."""
    return backup.psql(container, sql)[1].strip()


def queue_length(container):
    """Messages waiting in the broker's queues, as `aio health` reports them (0 without Redis)."""
    result = container.exec_run(["/usr/local/bin/aio", "health", "--json", "--component", "redis"])
    redis = json.loads(result.output.decode()).get("components", {}).get("redis", {})
    return sum(redis.get("details", {}).get("queues", {}).values())


def memory_bytes(container):
    stats = container.stats(stream=False)["memory_stats"]
    detail = stats.get("stats", {})
    inactive = detail.get("total_inactive_file", detail.get("inactive_file", 0))
    return stats.get("usage", 0) - inactive


def make_project(container):
    slug = "bench-%s" % uuid.uuid4().hex[:8]
    key = uuid.uuid4().hex
    project_id = psql(container, "WITH o AS (INSERT INTO organizations_organization (name, slug, created) "
                                 "VALUES ('%s', '%s', now()) RETURNING id) "
                                 "INSERT INTO projects_project (organization_id, name, slug, dsn_key, created) "
                                 "SELECT id, 'p', 'p', '%s', now() FROM o RETURNING id" % (slug, slug, key))
    return int(project_id.splitlines()[0]), key


def event_body():
    """A Sentry-like error event of about 3 KB."""
    frames = [{"filename": "app/module_%d.py" % i, "function": "handler_%d" % i, "lineno": 10 + i,
               "context_line": "    result = compute(value, %d)  # %s" % (i, "x" * 40)} for i in range(18)]
    return json.dumps({"event_id": uuid.uuid4().hex, "level": "error", "platform": "python",
                       "exception": {"values": [{"type": "ValueError", "value": "bad value " + "y" * 200,
                                                 "stacktrace": {"frames": frames}}]},
                       "tags": {"release": "bench", "env": "bench"}}).encode()


def client_loop(url, key, stop, counts, lock):
    headers = {"Content-Type": "application/json", "X-Sentry-Auth": "Sentry sentry_key=%s" % key}
    while not stop.is_set():
        request = urllib.request.Request(url, data=event_body(), headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                ok = response.status == 200
                response.read()
        except (urllib.error.URLError, OSError):
            ok = False
        with lock:
            counts["accepted" if ok else "errors"] += 1


def processed(container, project_id):
    return int(psql(container, "SELECT count(*) FROM events_event WHERE project_id = %d AND processed" % project_id))


def post_for(container, url, key, seconds, clients):
    """CLIENTS threads posting for SECONDS: (counts, elapsed, peak memory)."""
    counts, lock, stop = {"accepted": 0, "errors": 0}, threading.Lock(), threading.Event()
    threads = [threading.Thread(target=client_loop, args=(url, key, stop, counts, lock)) for _ in range(clients)]
    peak = memory_bytes(container)
    started = time.monotonic()
    for thread in threads:
        thread.start()
    while time.monotonic() - started < seconds:
        time.sleep(1)
        peak = max(peak, memory_bytes(container))
    stop.set()
    for thread in threads:
        thread.join()
    return counts, time.monotonic() - started, peak


def supervisorctl(container, *args):
    result = container.exec_run(["supervisorctl"] + list(args))
    if result.exit_code != 0:
        raise SystemExit("supervisorctl %s: %s" % (" ".join(args), result.output.decode().strip()))


def backlog(container, base_url, seconds, clients):
    """The worker's pace on a queue filled while it was stopped."""
    project_id, key = make_project(container)
    url = "%s/api/%d/store/" % (base_url, project_id)
    supervisorctl(container, "stop", "worker")
    try:
        counts, _, _ = post_for(container, url, key, seconds, clients)
        queued = queue_length(container)
    finally:
        started = time.monotonic()
        supervisorctl(container, "start", "worker")
    first = None
    while time.monotonic() - started < DRAIN_LIMIT:
        done = processed(container, project_id)
        if done and first is None:
            first = time.monotonic()
        if done >= counts["accepted"]:
            break
        time.sleep(0.2)
    finished = time.monotonic()
    done = processed(container, project_id)
    return {"clients": clients, "backlog": counts["accepted"], "queued": queued, "stored": done,
            "from_first_per_s": done / (finished - first) if first and finished > first else 0.0,
            "from_start_per_s": done / (finished - started), "seconds": finished - started,
            "drained": done >= counts["accepted"]}


def burst(container, base_url, seconds, clients):
    project_id, key = make_project(container)
    url = "%s/api/%d/store/" % (base_url, project_id)
    counts, elapsed, peak = post_for(container, url, key, seconds, clients)
    stored = processed(container, project_id)
    queue = queue_length(container)
    drain_started = time.monotonic()
    while processed(container, project_id) < counts["accepted"] and time.monotonic() - drain_started < DRAIN_LIMIT:
        peak = max(peak, memory_bytes(container))
        time.sleep(0.5)
    drained = time.monotonic() - drain_started
    return {"clients": clients, "accepted_per_s": counts["accepted"] / elapsed, "errors": counts["errors"],
            "stored_per_s": stored / elapsed, "queue_at_end": queue, "drain_s": drained,
            "drained": processed(container, project_id) >= counts["accepted"], "peak": peak}


def main():
    name, base_url = sys.argv[1], sys.argv[2].rstrip("/")
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    client_counts = [int(arg) for arg in sys.argv[4:]] or [8, 32]
    container = docker.from_env().containers.get(name)
    time.sleep(10)  # settle after the deploy
    idle = [memory_bytes(container) for _ in range(5)]
    results = [burst(container, base_url, seconds, clients) for clients in client_counts]

    print("| clients | accepted/s | errors | stored/s during burst | queue at end | drained after | "
          "idle memory | peak memory |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print("| %d | %.0f | %d | %.0f | %d | %s | %.0f MiB | %.0f MiB |" % (
            r["clients"], r["accepted_per_s"], r["errors"], r["stored_per_s"], r["queue_at_end"],
            "%.1f s" % r["drain_s"] if r["drained"] else "NOT within %d s" % DRAIN_LIMIT,
            max(idle) / 2 ** 20, r["peak"] / 2 ** 20))

    queued = backlog(container, base_url, seconds, client_counts[0])
    print("\n| backlog (worker stopped while %d clients posted %d s) | queue | stored | stored/s from the first "
          "stored event | stored/s from the worker's start | all stored after |" % (queued["clients"], seconds))
    print("|---|---|---|---|---|---|")
    print("| %d events | %d | %d | %.0f | %.0f | %s |" % (
        queued["backlog"], queued["queued"], queued["stored"], queued["from_first_per_s"], queued["from_start_per_s"],
        "%.1f s" % queued["seconds"] if queued["drained"] else "NOT within %d s" % DRAIN_LIMIT))


if __name__ == "__main__":
    main()
