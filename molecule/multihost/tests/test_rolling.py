"""A rolling re-deploy: every container is replaced (a changed environment value), one host
at a time, while a prober keeps asking both webs for /_health/ every ~50 ms. A load balancer
in front of web1 and web2 must always have one to send requests to."""

from __future__ import annotations

import json
import threading
import time
import uuid

from aio_testlib import CONVERGE, http, run_playbook
from mh_testlib import HOSTS, WEB_HOSTS, app_containers, env_of, secret_values, started_at, web_url

INTERVAL = 0.05
# Short, but not so short that a busy 2-core machine booting the next container makes a
# healthy web look down (a load balancer's check waits seconds).
TIMEOUT = 1.0


class Prober(threading.Thread):
    """Records (wall time, {web host: answered 200}) per probe instant until stopped."""

    def __init__(self, urls):
        super().__init__(daemon=True)
        self.urls, self.samples, self.stopping = urls, [], threading.Event()

    def run(self):
        while not self.stopping.is_set():
            instant = time.time()
            self.samples.append((instant, {host: self.ok(url) for host, url in self.urls.items()}))
            self.stopping.wait(max(0.0, INTERVAL - (time.time() - instant)))

    @staticmethod
    def ok(url):
        try:
            return http(url, timeout=TIMEOUT)[0] == 200
        except OSError:  # refused, reset, timed out: down for a load balancer too
            return False


def down_windows(samples, host):
    """[(first, last)] wall times of each run of consecutive failed probes of one web."""
    windows, start, last = [], None, None
    for instant, result in samples:
        if not result[host]:
            start = instant if start is None else start
            last = instant
        elif start is not None:
            windows.append((start, last))
            start = None
    if start is not None:
        windows.append((start, last))
    return windows


def longest_service_gap(samples):
    """Longest time between two probe instants at which some web answered (a load balancer's view)."""
    answered = [instant for instant, result in samples if any(result.values())]
    return max((b - a for a, b in zip(answered, answered[1:])), default=0.0)


def print_figures(samples, windows):
    """The bench table (bench/rolling.sh shows it; pytest -s or a failure too)."""
    print("\n| measure | value |\n|---|---|")
    print("| probes (every %.0f ms, %.0f s timeout, both webs) | %d |" % (INTERVAL * 1000, TIMEOUT, len(samples)))
    for host, host_windows in sorted(windows.items()):
        print("| %s down while replaced | %s |" % (host, ", ".join("%.2f s" % (last - first + INTERVAL)
                                                                  for first, last in host_windows) or "never"))
    print("| probe instants with both webs down | %d |"
          % sum(1 for _instant, result in samples if not any(result.values())))
    print("| longest gap between answers from either web | %.2f s |" % longest_service_gap(samples))


def longest_both_down(samples):
    longest, start = 0.0, None
    for instant, result in samples:
        if not any(result.values()):
            start = instant if start is None else start
            longest = max(longest, instant - start)
        else:
            start = None
    return longest


def test_rolling_redeploy_keeps_one_web_answering(client, hostvars):
    before = {host: c.id for host, c in app_containers(client, hostvars).items()}
    marker = uuid.uuid4().hex
    prober = Prober({host: web_url(hostvars, host, "/_health/") for host in WEB_HOSTS})
    prober.start()
    time.sleep(1)  # a few probes of the steady state first
    try:
        result = run_playbook(CONVERGE, "-e", json.dumps({"glitchtip_extra_environment": {"AIO_TEST_ROLL": marker}}))
    finally:
        time.sleep(1)
        prober.stopping.set()
        prober.join()
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    for value in secret_values(hostvars):
        assert value not in output

    after = app_containers(client, hostvars)
    for host in HOSTS:
        assert after[host].id != before[host], "%s was not replaced" % host
        assert env_of(after[host]).get("AIO_TEST_ROLL") == marker, host

    samples = prober.samples
    assert len(samples) > 50, "too few probes (%d) to judge" % len(samples)
    assert all(samples[0][1].values()), "not every web answered before the deploy: %s" % samples[0][1]
    both_down = [instant for instant, answered in samples if not any(answered.values())]
    assert not both_down, ("%d of %d probes found both webs down; longest gap %.2fs"
                           % (len(both_down), len(samples), longest_both_down(samples)))

    # Each web was seen down (so the prober really watched the replacement), and the
    # two downtimes are disjoint and in deploy order: serial, each healthy before the next.
    windows = {host: down_windows(samples, host) for host in WEB_HOSTS}
    print_figures(samples, windows)
    assert all(windows.values()), "a replaced web was never seen down: %s" % windows
    spans = {host: (w[0][0], w[-1][1]) for host, w in windows.items()}
    first, second = sorted(WEB_HOSTS, key=lambda host: spans[host][0])
    assert spans[first][1] < spans[second][0], "downtimes overlap: %s" % spans
    # The second web's new container started only after the first answered again.
    assert started_at(after[second]) > spans[first][1], (started_at(after[second]), spans)
