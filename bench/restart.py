#!/usr/bin/env python3
"""Issue 3 figures, printed as a table (measured, never asserted):

- web downtime during the scheduled restart: GET /_health/ every 100 ms (2 s client
  timeout) through the published port while `aio restart` runs; failed probes and the
  longest gap between two successful answers;
- time of one health check (`aio health --json`, all components, and without the
  worker's heartbeat wait).

Usage: bench/restart.py CONTAINER URL   (e.g. glitchtip-aio-bench http://127.0.0.1:18900)
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
import urllib.request

import docker

PROBE_INTERVAL = 0.1  # seconds; each probe may take up to its 2 s timeout


def probe_loop(url, stop, results):
    last_ok = time.monotonic()
    while not stop.is_set():
        started = time.monotonic()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                ok = response.status == 200
        except OSError:
            ok = False
        now = time.monotonic()
        results["probes"] += 1
        if ok:
            results["longest_gap"] = max(results["longest_gap"], now - last_ok)
            last_ok = now
        else:
            results["failed"] += 1
        time.sleep(max(0.0, PROBE_INTERVAL - (now - started)))


def timed_exec(container, cmd):
    started = time.monotonic()
    result = container.exec_run(cmd)
    return time.monotonic() - started, result


def main():
    name, url = sys.argv[1], sys.argv[2].rstrip("/") + "/_health/"
    container = docker.from_env().containers.get(name)
    results = {"probes": 0, "failed": 0, "longest_gap": 0.0}
    stop = threading.Event()
    thread = threading.Thread(target=probe_loop, args=(url, stop, results))
    thread.start()
    time.sleep(1.0)
    seconds, restart = timed_exec(container, ["/usr/local/bin/aio", "restart", "--json"])
    time.sleep(1.0)
    stop.set()
    thread.join()
    report = json.loads(restart.output)

    full, partial = [], []
    for _ in range(10):
        full.append(timed_exec(container, ["/usr/local/bin/aio", "health", "--json"])[0])
        partial.append(timed_exec(container, ["/usr/local/bin/aio", "health", "--json", "--component", "supervisor",
                                              "--component", "postgres", "--component", "redis",
                                              "--component", "web", "--component", "host"])[0])

    print("| measure | value | target |")
    print("|---|---|---|")
    print("| scheduled restart result | %s in %.1f s (%s) | ok |" % ("ok" if report["ok"] else "FAILED", seconds,
                                                                 report["reason"]))
    print("| web probes during restart (every 100 ms, 2 s timeout) | %d sent, %d failed | 0 failed |"
          % (results["probes"], results["failed"]))
    print("| longest gap between good answers | %.3f s | <= 1 s |" % results["longest_gap"])
    print("| one health check, all components (10 runs) | mean %.2f s, max %.2f s | <= 1 s |"
          % (statistics.mean(full), max(full)))
    print("| one health check without the worker heartbeat wait | mean %.2f s, max %.2f s | <= 1 s |"
          % (statistics.mean(partial), max(partial)))


if __name__ == "__main__":
    main()
