#!/usr/bin/env python3
"""Issue 15 figures, printed as a table (measured, never asserted): a change of glitchtip_version on one
all-in-one host with the embedded PostgreSQL, on a generated database (ROWS events; the default makes
about 1 GiB, as bench/backup.py), with GET /_health/ probed every 100 ms (2 s timeout) through the
published port (bench/restart.py's prober):

- the rolled-back upgrade: 5.2 -> the 6.2-broken stand-in (its migration fails half-way): deploy wall
  time, then the failed probes and the longest gap between good answers (the service downtime);
- the upgrade 5.2 -> 6.2.0 (the 6.2 stand-in): the same.

Both deploys include the pre-upgrade backup (written and verified). The images are built before the
measured deploys (playbooks/build.yml): an image build is not part of the downtime, it runs before the
old container is touched.

Usage: bench/upgrade.py [ROWS]   (default 750000; its own container glitchtip-aio-vup-bench, data dir
/tmp/glitchtip-aio-vup-bench, port 18710; removed at the end). Needs the stand-ins:
molecule/resources/build-standin.sh 5.2 6.2-broken
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time

import docker

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from backup import psql  # noqa: E402  (bench/backup.py)
from restart import probe_loop  # noqa: E402  (bench/restart.py: every 100 ms, 2 s timeout)

NAME, DATA, PORT = "glitchtip-aio-vup-bench", "/tmp/glitchtip-aio-vup-bench", 18710
BASE = "glitchtip-aio-test/glitchtip-standin:"
VERSIONS = {"5.2": BASE + "5.2", "6.2.1": BASE + "6.2-broken", "6.2.0": BASE + "6.2"}


def deploy(version, *extra, playbook="deploy.yml", base=None, name=NAME, data=DATA, port=PORT):
    """The playbook on its own container, data directory and port (bench/pgupgrade.py passes its own)."""
    args = ["ansible-playbook", playbook, "-i", "inventories/local",
            "-e", "glitchtip_version=%s" % version, "-e", "glitchtip_image_base=%s" % (base or VERSIONS[version]),
            "-e", "glitchtip_image_pull_base=never", "-e", "glitchtip_host_manage_docker=false",
            "-e", "glitchtip_data_dir=%s" % data, "-e", "glitchtip_container_name=%s" % name,
            "-e", "glitchtip_image_name=%s" % name, "-e", "glitchtip_container_web_host_port=%d" % port,
            "-e", "glitchtip_container_web_host_address=127.0.0.1", "-e", "glitchtip_domain=http://localhost:%d" % port,
            "-e", "glitchtip_container_wait_timeout=600"] + list(extra)
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, "collections"), ANSIBLE_NOCOLOR="1")
    started = time.monotonic()
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return time.monotonic() - started, result


def build_image(version):
    """The AIO image of VERSION, built outside the measured deploys (playbooks/build.yml)."""
    return deploy(version, playbook="playbooks/build.yml")


def under_probe(version, run=None, port=PORT):
    """deploy(version), or RUN() (bench/pgupgrade.py's own deploy), while PORT's /_health/ is probed:
    (seconds, result, probe figures)."""
    results = {"probes": 0, "failed": 0, "longest_gap": 0.0}
    stop = threading.Event()
    thread = threading.Thread(target=probe_loop, args=("http://127.0.0.1:%d/_health/" % port, stop, results))
    thread.start()
    time.sleep(1.0)
    try:
        seconds, result = run() if run else deploy(version)
        time.sleep(1.0)
    finally:
        stop.set()
        thread.join()
    return seconds, result, results


def cleanup(client):
    for name in (NAME, NAME + "-pre-upgrade"):
        try:
            client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
    for image in client.images.list(name=NAME):
        client.images.remove(image.id, force=True)
    shutil.rmtree(DATA, ignore_errors=True)


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 750000
    client = docker.from_env()
    cleanup(client)
    try:
        seconds, result = deploy("5.2")
        if result.returncode != 0:
            raise SystemExit("the 5.2 deploy failed:\n%s" % result.stdout[-3000:])
        container = client.containers.get(NAME)
        psql(container, "INSERT INTO organizations_organization (name, slug, created) VALUES ('bench', 'bench', now())")
        psql(container, "INSERT INTO projects_project (organization_id, name, slug, dsn_key, created) "
                        "SELECT id, 'bench', 'bench', md5(random()::text), now() FROM organizations_organization "
                        "WHERE slug = 'bench'")
        generate, _ = psql(container, (
            "INSERT INTO events_event (project_id, event_id, received, payload, processed) "
            "SELECT (SELECT id FROM projects_project WHERE slug = 'bench'), gen_random_uuid(), now(), "
            "jsonb_build_object('message', (SELECT string_agg(md5(random()::text || g), '') FROM generate_series(1, 40) g "
            "WHERE g > i * 0)), true FROM generate_series(1, %d) i") % rows)
        _s, size = psql(container, "SELECT pg_database_size('glitchtip')")
        _s, count = psql(container, "SELECT count(*) FROM events_event")

        rows_out, messages = [], []
        for version, label in (("6.2.1", "5.2 -> 6.2-broken (migration fails half-way), rolled back"),
                               ("6.2.0", "5.2 -> 6.2.0")):
            build_seconds, built = build_image(version)
            if built.returncode != 0:
                raise SystemExit("building the %s image failed:\n%s" % (version, built.stdout[-3000:]))
            seconds, result, probes = under_probe(version)
            container = client.containers.get(NAME)
            running = container.labels.get("org.glitchtip-aio.glitchtip-version")
            _s, after = psql(container, "SELECT count(*) FROM events_event")
            rolled_back = "ROLLED BACK" in result.stdout
            outcome = ("deploy failed, rolled back" if rolled_back else
                       "deploy ok" if result.returncode == 0 else "deploy FAILED without rollback")
            rows_out.append((label, seconds, probes, outcome, running, after.strip(), build_seconds))
            if rolled_back:
                message = re.search(r"The change of GlitchTip .*?before deploying again\.", " ".join(result.stdout.split()))
                messages.append(message.group(0) if message else "(message not found)")
            if result.returncode != 0 and not rolled_back:
                print(result.stdout[-3000:])

        print("| measure | value |")
        print("|---|---|")
        print("| generated database | %.2f GiB (%s events), generated in %.0f s |"
              % (int(size) / 2 ** 30, count.strip(), generate))
        for label, seconds, probes, outcome, running, after, build_seconds in rows_out:
            print("| %s: deploy wall time (image built before, %.0f s) | %.1f s (%s; then runs %s, %s events) |"
                  % (label, build_seconds, seconds, outcome, running, after))
            print("| %s: web probes every 100 ms | %d sent, %d failed |" % (label, probes["probes"], probes["failed"]))
            print("| %s: downtime (longest gap between good answers) | %.1f s |" % (label, probes["longest_gap"]))
        for message in messages:
            print("\nthe rolled-back deploy's failure message:\n%s" % message)
    finally:
        cleanup(client)


if __name__ == "__main__":
    main()
