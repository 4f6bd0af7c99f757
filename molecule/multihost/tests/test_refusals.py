"""Deploys the play must refuse, each before any container is touched: the message names
the variable or the service (and the host:port it tried), and no secret is printed."""

from __future__ import annotations

import json
import os

import pytest

from aio_testlib import CONVERGE, run_playbook
from mh_testlib import HERE, identities, pg, secret_values

TWO_BEATS = os.path.join(HERE, "..", "refusals", "two-beats.yml")


def extra(**variables):
    return ["-e", json.dumps(variables)]


CASES = {
    # Two schedulers would send every periodic task twice.
    "two beat hosts": (["-i", TWO_BEATS], ["glitchtip_beat", "web2", "worker1"]),
    "external PostgreSQL unreachable": (extra(glitchtip_external_db_host="glitchtip-aio-mh-nowhere"),
                                        ["PostgreSQL", "glitchtip-aio-mh-nowhere:5432"]),
    # A real login, not only a TCP connect: the right host with a wrong password fails too.
    "external PostgreSQL refuses the login": (extra(glitchtip_external_db_password="not-the-password"),
                                              ["PostgreSQL", "glitchtip-aio-mh-postgres:5432"]),
    "external Redis unreachable": (extra(glitchtip_external_redis_url="redis://glitchtip-aio-mh-nowhere:6379/0"),
                                   ["Redis", "glitchtip-aio-mh-nowhere:6379"]),
    "embedded and external PostgreSQL both set": (extra(glitchtip_embedded_postgres=True),
                                                  ["glitchtip_embedded_postgres", "both set"]),
    "several hosts without a shared secret key": (extra(glitchtip_secret_key=""), ["glitchtip_secret_key"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_before_any_container_changes(client, hostvars, case):
    args, expected = CASES[case]
    before = identities(client, hostvars)
    migrations = pg(client, "SELECT count(*) FROM django_migrations")
    result = run_playbook(CONVERGE, *args)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    missing = [text for text in expected if text not in output]
    assert not missing, "%s not named in:\n%s" % (missing, output[-3000:])
    for value in secret_values(hostvars):
        assert value not in output, "a secret is printed"
    assert identities(client, hostvars) == before
    assert pg(client, "SELECT count(*) FROM django_migrations") == migrations
