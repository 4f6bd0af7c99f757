"""Helpers of the multihost scenario's tests: the inventory of every host, their containers,
SQL on the external PostgreSQL stand-in. (pytest puts this directory on sys.path.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The default scenario's helpers (run_playbook, recap, wait_healthy, ...) serve here too;
# appended, so this directory's modules come first.
sys.path.append(os.path.join(HERE, "..", "..", "default", "tests"))

WEB_HOSTS = ["web1", "web2"]
HOSTS = WEB_HOSTS + ["worker1"]
POSTGRES = "glitchtip-aio-mh-postgres"


def inventory():
    """The molecule inventory as ansible sees it: {"hostvars": {host: vars}, "groups": {group: [hosts]}}."""
    out = subprocess.run(["ansible-inventory", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "--list"],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    groups = {}

    def walk(name):
        node = data.get(name, {})
        members = set(node.get("hosts", []))
        for child in node.get("children", []):
            members |= walk(child)
        groups[name] = sorted(members)
        return members

    walk("all")
    return {"hostvars": data["_meta"]["hostvars"], "groups": groups}


def app_containers(client, hostvars):
    """{host: its GlitchTip container}, fresh from the engine."""
    return {host: client.containers.get(hostvars[host]["glitchtip_container_name"]) for host in HOSTS}


def identities(client, hostvars):
    """{host: (container id, StartedAt)}: what changes whenever a container is replaced or restarted."""
    return {host: (c.id, c.attrs["State"]["StartedAt"]) for host, c in app_containers(client, hostvars).items()}


def pg(client, sql):
    """One statement on the external database as its superuser (socket, peer); rows as unaligned text."""
    result = client.containers.get(POSTGRES).exec_run(
        ["psql", "-d", "glitchtip", "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], user="postgres")
    assert result.exit_code == 0, result.output.decode()
    return result.output.decode().strip()


def web_url(hostvars, host, path):
    return "http://127.0.0.1:%s%s" % (hostvars[host]["glitchtip_container_web_host_port"], path)


def env_of(container):
    return dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])


def secret_values(hostvars):
    """The inventory's secrets, raw and URL-quoted: none may appear in any output."""
    from urllib.parse import quote
    values = set()
    for name in ("glitchtip_external_db_password", "glitchtip_external_redis_password", "glitchtip_secret_key"):
        raw = hostvars["web1"][name]
        values |= {raw, quote(raw, safe=""), quote(raw)}
    return values


def started_at(container):
    """The container's State.StartedAt as epoch seconds (docker gives nanoseconds; Python takes micro)."""
    import datetime
    import re
    stamp = container.attrs["State"]["StartedAt"]
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", stamp)
    assert match, stamp
    seconds = datetime.datetime.fromisoformat(match.group(1) + "+00:00").timestamp()
    return seconds + float("0." + (match.group(2) or "0"))
