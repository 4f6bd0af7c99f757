# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The PostgreSQL-major upgrade of the embedded cluster, its pure part (plugins/modules/postgres_upgrade.py
does the Docker and file work): what a data directory and an image carry, what a deploy must do about
it, and the record that lets any step be undone.

Each image carries one PostgreSQL major (its Debian release's), so a new base image of another release
brings a server that cannot open the cluster: the deploy upgrades by a verified dump of the old
container and a restore into a fresh cluster of the new major, keeping the old cluster as the way back.
"""

from __future__ import annotations

import json
import os

from .aio_runtime import health as health_rules

# The PostgreSQL (and Redis) major each Debian release gives, for when the new image is not built
# yet (check mode): then its base image's /etc/os-release is all there is to go on.
DEBIAN_POSTGRES = {"bullseye": 13, "bookworm": 15, "trixie": 17}
DEBIAN_REDIS = {"bullseye": "6", "bookworm": "7", "trixie": "8"}

# Inside the image (templates/build/install-packages.sh.j2 writes it from what was really installed).
CARRIES_FILE = "/etc/glitchtip-aio/carries.json"
OS_RELEASE_FILES = ("/usr/lib/os-release", "/etc/os-release")  # /etc/os-release is a link to the first

# On the host, below glitchtip_data_dir (the container sees <data_dir>/postgres as /data/postgres).
CLUSTER_DIR = "postgres/data"
HOLD_FILE = "postgres/aio-upgrade.json"  # aio_runtime.entrypoint.UPGRADE_HOLD_FILE, beside the cluster

NONE, UPGRADE, REFUSE = "none", "upgrade", "refuse"


def read_cluster_major(data_dir):
    """The major of the cluster in the data directory (its PG_VERSION), or None when there is none yet."""
    path = os.path.join(data_dir, CLUSTER_DIR, "PG_VERSION")
    try:
        with open(path) as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    if not text.isdigit():
        raise ValueError("%s holds %r, not a PostgreSQL major" % (path, text[:40]))
    return int(text)


def os_release_codename(text):
    """VERSION_CODENAME of an os-release file's text, or None."""
    for line in text.splitlines():
        key, _sep, value = line.partition("=")
        if key.strip() == "VERSION_CODENAME":
            return value.strip().strip("\"'") or None
    return None


def parse_carries(text):
    """The image's record of what it carries: {"postgres_major": int or None, "redis_version": str or None, ...}."""
    data = json.loads(text)
    major = str(data.get("postgres_major") or "")
    return {"postgres_major": int(major) if major.isdigit() else None,
            "redis_version": data.get("redis_version") or None,
            "debian": data.get("debian") or None}


def major_of_release(codename, base_image):
    """The PostgreSQL major Debian CODENAME gives; ValueError naming the base image when unknown."""
    if codename not in DEBIAN_POSTGRES:
        raise ValueError("glitchtip_image_base: cannot tell which PostgreSQL major %s would bring: its Debian "
                         "release is %s, not one of %s; build the image first (a real run reads it from the image)"
                         % (base_image, codename or "unknown", ", ".join(sorted(DEBIAN_POSTGRES))))
    return DEBIAN_POSTGRES[codename]


def decide(cluster_major, image_major, auto_upgrade, hold=None):
    """What the deploy does about the cluster: {"action": none|upgrade|refuse, "message": ...}."""
    if hold is not None:
        return {"action": REFUSE, "message": (
            "an interrupted PostgreSQL upgrade left its record at %s (PostgreSQL %s → %s, the old cluster kept at %s, "
            "the backup at %s); nothing was changed: put the old cluster back in place of %s, delete the record "
            "and deploy again" % (hold.get("record"), hold.get("cluster_major"), hold.get("image_major"),
                                  hold.get("old_cluster"), hold.get("backup"), hold.get("cluster")))}
    if cluster_major is None:
        return {"action": NONE, "message": "no PostgreSQL cluster yet: the image's PostgreSQL %s will create one"
                                           % image_major}
    if cluster_major == image_major:
        return {"action": NONE, "message": "PostgreSQL %d: the image carries the cluster's major" % cluster_major}
    arrow = "PostgreSQL %d → %d" % (cluster_major, image_major)
    if cluster_major > image_major:
        return {"action": REFUSE, "message": (
            "%s: refused: the data directory holds a PostgreSQL %d cluster and the new image carries PostgreSQL %d, "
            "which cannot read it (there is no downgrade); nothing was changed: keep a base image whose Debian "
            "release gives PostgreSQL %d or newer" % (arrow, cluster_major, image_major, cluster_major))}
    if not auto_upgrade:
        return {"action": REFUSE, "message": (
            "%s: refused: glitchtip_postgres_auto_upgrade is false; nothing was changed: set it to true to upgrade "
            "by dump and restore, or keep a base image with PostgreSQL %d" % (arrow, cluster_major))}
    return {"action": UPGRADE, "message": "%s: will upgrade by dump and restore" % arrow}


def plan_diff(cluster_major, image_major, action, cluster):
    """The diff a --check --diff run shows."""
    before = "PostgreSQL %s cluster in %s\n" % (cluster_major, cluster) if cluster_major else "no cluster\n"
    if action == UPGRADE:
        after = ("PostgreSQL %d cluster in %s, restored from a verified backup of the running container; "
                 "the PostgreSQL %d cluster kept beside it\n" % (image_major, cluster, cluster_major))
    else:
        after = before
    return {"before": before, "after": after}


def aside_names(data_dir, cluster_major, stamp):
    """Where the old cluster and a copy of the Redis data wait as the way back."""
    return {"cluster": os.path.join(data_dir, CLUSTER_DIR),
            "old_cluster": os.path.join(data_dir, "postgres", "data-pg%d-%s" % (cluster_major, stamp)),
            "redis": os.path.join(data_dir, "redis"),
            "old_redis": os.path.join(data_dir, "redis-before-pg-upgrade-%s" % stamp),
            "record": os.path.join(data_dir, HOLD_FILE)}


def old_container_name(container, cluster_major):
    """The old container's name while the new one runs (the way back, with its own config and image)."""
    return "%s-pg%d-old" % (container, cluster_major)


# What the restore waits for in the new container (readiness() reads their report).
READINESS_COMPONENTS = ("supervisor", "postgres")


def readiness(report):
    """The new container's ``aio health`` report (READINESS_COMPONENTS) reduced to what the restore waits for,
    as a report for health_rules.wait_until_healthy: ok once PostgreSQL answers and the migrate program, where the
    container runs one, has finished, so the restore's swap never cuts a migration short (the migrate program
    creates the role and the empty database, and holds the migrations for the restore to run on the restored data:
    aio_runtime.programs.held_for_restore).

    The held app programs (configured, not started while the record exists) are left out of the supervisor
    component; a failed migration stays in it, so the wait ends at once. Without supervisord's answer nothing
    tells whether a migration runs: not ready.
    """
    components = report.get("components") or {}
    postgres = components.get("postgres") or health_rules.component("postgres", health_rules.UNKNOWN, "no answer")
    ready = {"postgres": postgres}
    supervisor = components.get("supervisor")
    programs = ((supervisor or {}).get("details") or {}).get("programs")
    if programs is None:
        ready["supervisor"] = supervisor or health_rules.component("supervisor", health_rules.UNKNOWN, "no answer")
    elif "migrate" in programs:
        migrate = programs["migrate"]
        ready["supervisor"] = dict(supervisor, status=migrate.get("status", health_rules.UNKNOWN),
                                   reason="migrate %s" % migrate.get("reason"), details={"programs": {"migrate": migrate}})
    return {"status": health_rules.worst(item["status"] for item in ready.values()), "components": ready}


def downtime_seconds(record, now):
    return round(now - record["stopped_at"], 1) if record.get("stopped_at") else None
