# -*- coding: utf-8 -*-
"""roles/common/tasks/validate.yml: the format checks, evaluated without running a play.

Each check's ``that`` expression is read from the real file and rendered with
Jinja2 plus Ansible's own ``match`` test and the collection's test plugins,
which is what the assert task does.
"""

from __future__ import annotations

import os

import jinja2
import pytest
import yaml
from ansible.plugins.test.core import match as ansible_match, search as ansible_search

from ansible_collections.glitchtip.aio.plugins.filter import render as render_filter
from ansible_collections.glitchtip.aio.plugins.module_utils import render
from ansible_collections.glitchtip.aio.plugins.test import render as render_tests
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import launcher, programs

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_checks():
    with open(os.path.join(REPO_ROOT, "roles", "common", "tasks", "validate.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    (task,) = [task for task in tasks if task.get("name") == "Check formats and ranges"]
    variables = dict(task["vars"])
    checks = {}
    for check in variables.pop("_glitchtip_checks"):  # a variable may have several checks
        checks.setdefault(check["var"], []).append(check["that"])
    return variables, checks


PATTERNS, CHECKS = load_checks()
ENV = jinja2.Environment(undefined=jinja2.StrictUndefined)
ENV.tests["match"] = ansible_match
ENV.tests["search"] = ansible_search
ENV.filters["difference"] = lambda a, b: [item for item in a if item not in b]  # Ansible's, for lists of names
ENV.filters["bool"] = lambda value: value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes", "on")
# The collection's own Jinja tests, under the name the checks use.
ENV.tests.update({"glitchtip.aio." + name: test for name, test in render_tests.TestModule().tests().items()})
ENV.filters.update({"glitchtip.aio." + name: f for name, f in render_filter.FilterModule().filters().items()})


# A single all-in-one host with embedded services, as the checks see it unless a test says otherwise.
SINGLE_HOST = {"glitchtip_topology_split": False, "glitchtip_db_external": False, "glitchtip_redis_external": False,
               "glitchtip_external_db_host": "", "glitchtip_external_redis_url": "", "glitchtip_secret_key": "",
               "glitchtip_embedded_postgres": None, "glitchtip_embedded_redis": None, "inventory_hostname": "h1",
               "glitchtip_server_roles": ["web", "worker", "beat"], "groups": {"all": ["h1"], "glitchtip": ["h1"]},
               "glitchtip_profile": {}, "glitchtip_postgres_only": False, "glitchtip_publish_redis_port": False}


def passes(var, value, **more):
    """True when every check of `var` accepts `value` (the assert task's `item.that | bool`)."""
    context = dict(SINGLE_HOST, **PATTERNS)
    context.update({var: value}, **more)
    results = []
    for that in CHECKS[var]:
        rendered = ENV.from_string(that).render(context)
        assert rendered in ("True", "False"), rendered
        results.append(rendered == "True")
    return all(results)


def test_the_checks_this_file_relies_on_exist():
    for var in ("glitchtip_domain", "glitchtip_image_base", "glitchtip_image_name", "glitchtip_image_apt_mirror",
                "glitchtip_image_pip_index_url", "glitchtip_image_extra_packages", "glitchtip_image_pip_packages",
                "glitchtip_extra_environment", "glitchtip_db_password", "glitchtip_redis_password",
                "glitchtip_secret_key"):
        assert var in CHECKS


@pytest.mark.parametrize("var,value", [
    ("glitchtip_domain", "http://localhost:8000"),
    ("glitchtip_domain", "https://errors.example.com/sub/path"),
    ("glitchtip_domain", "http://[::1]:8000"),
    ("glitchtip_image_base", "glitchtip/glitchtip:v5.2"),
    ("glitchtip_image_base", "etservice-registry.cn-beijing.cr.aliyuncs.com/base/glitchtip-base:latest"),
    ("glitchtip_image_name", "glitchtip-aio"),
    ("glitchtip_image_name", "registry.example.com:5000/base/glitchtip-aio"),
    ("glitchtip_image_apt_mirror", ""),
    ("glitchtip_image_apt_mirror", "http://mirrors.aliyun.com/debian"),
    ("glitchtip_image_pip_index_url", "https://pypi.org/simple"),
    ("glitchtip_image_extra_packages", ["vim-tiny", "libpq5=15.8-0+deb12u1"]),
    ("glitchtip_image_pip_packages", ["gunicorn==23.0.0", "uvicorn[standard]>=0.30"]),
    ("glitchtip_extra_environment", {"CELERY_WORKER_MAX_TASKS_PER_CHILD": "1000"}),
    ("glitchtip_db_password", ""),
    ("glitchtip_db_password", "it's a \\ long \"password\" 中文"),
    ("glitchtip_redis_password", None),
    ("glitchtip_secret_key", "k" * 32),
    ("glitchtip_container_healthcheck_interval", "10s"),
    ("glitchtip_container_healthcheck_start_period", "1m30s"),
    ("glitchtip_container_healthcheck_timeout", "500ms"),
    ("glitchtip_container_healthcheck_retries", 3),
    ("glitchtip_backup_destinations", {}),
])
def test_valid_values_pass(var, value):
    assert passes(var, value)


@pytest.mark.parametrize("var,value", [
    ("glitchtip_domain", "localhost:8000"),
    ("glitchtip_domain", "ftp://example.com"),
    ("glitchtip_domain", "http://exa mple.com"),
    ("glitchtip_image_base", "evil; rm -rf /"),
    ("glitchtip_image_base", "FOO:bar"),
    ("glitchtip_image_base", "a b"),
    ("glitchtip_image_name", "glitchtip-aio:latest"),
    ("glitchtip_image_apt_mirror", "http://mirror/debian; rm -rf /"),
    ("glitchtip_image_apt_mirror", "http://mirror/debian#x"),
    ("glitchtip_image_apt_mirror", "http://mirror/deb&ian"),
    ("glitchtip_image_apt_mirror", "file:///etc"),
    ("glitchtip_image_pip_index_url", "http://x/simple --trusted-host evil"),
    ("glitchtip_image_extra_packages", ["vim; rm -rf /"]),
    ("glitchtip_image_extra_packages", ["$(id)"]),
    ("glitchtip_image_pip_packages", ["gunicorn --index-url http://evil"]),
    ("glitchtip_image_pip_packages", ["-r/etc/passwd"]),
    ("glitchtip_extra_environment", {"A-B": "x"}),
    ("glitchtip_extra_environment", {"1A": "x"}),
    ("glitchtip_db_password", "short"),
    ("glitchtip_db_password", "long enough but\nwith a newline"),
    ("glitchtip_db_password", "long enough but\x00with NUL"),
    ("glitchtip_redis_password", "long enough but\nwith a newline"),
    ("glitchtip_secret_key", "too-short"),
    ("glitchtip_secret_key", "change_me"),
    # Written into the Dockerfile's HEALTHCHECK line.
    ("glitchtip_container_healthcheck_interval", "10s CMD rm -rf /"),
    ("glitchtip_container_healthcheck_interval", "10"),
    ("glitchtip_container_healthcheck_timeout", "5s\nRUN id"),
    ("glitchtip_container_healthcheck_start_period", ""),
    ("glitchtip_container_healthcheck_retries", 0),
    # No further destination is built in yet: a kind is refused before anything changes.
    ("glitchtip_backup_destinations", {"restic": {"repository": "s3:host/bucket"}}),
    ("glitchtip_backup_destinations", {"local": {}}),
])
def test_hostile_values_fail(var, value):
    assert not passes(var, value)


@pytest.mark.parametrize("reference", [
    "glitchtip/glitchtip:v5.2", "registry.example.com:5000/base/glitchtip-base:latest", "debian",
    "glitchtip/glitchtip@sha256:" + "a" * 64, "FOO:bar", "a b", "x;rm -rf /", "glitchtip//x", "x:", "x:-y",
    "Registry.Example.COM/base/image:Tag_1", "x/Y",
])
def test_validation_and_the_dockerfile_filter_agree_on_image_references(reference):
    # The base image lands in the Dockerfile's FROM through the image_reference filter;
    # validation must refuse exactly what that filter refuses, before anything changes.
    try:
        render.image_reference(reference)
        accepted = True
    except ValueError:
        accepted = False
    assert passes("glitchtip_image_base", reference) == accepted


@pytest.mark.parametrize("var,value", [
    ("glitchtip_domain", "http://localhost:8000\n"),
    ("glitchtip_image_apt_mirror", "http://mirrors.aliyun.com/debian\n"),
    ("glitchtip_extra_environment", {"A\n": "x"}),
])
def test_trailing_newline_fails_the_format_checks(var, value):
    assert not passes(var, value)


def test_redis_password_refused_at_runtime_is_refused_by_validation_for_newline():
    # Consistency that does hold: what validation refuses, redis_config refuses too.
    value = "long enough but\nwith a newline"
    assert not passes("glitchtip_redis_password", value)
    with pytest.raises(launcher.StartError):
        programs.redis_config({"redis": {"port": 6379, "maxmemory": "1mb", "maxmemory_policy": "noeviction"},
                               "paths": {"redis": "/data/redis"}}, value)


def test_redis_password_with_carriage_return_is_refused_up_front():
    value = "long enough but\rwith a carriage return"
    with pytest.raises(launcher.StartError):
        programs.redis_config({"redis": {"port": 6379, "maxmemory": "1mb", "maxmemory_policy": "noeviction"},
                               "paths": {"redis": "/data/redis"}}, value)
    assert not passes("glitchtip_redis_password", value)


SPLIT = {"glitchtip_topology_split": True, "glitchtip_db_external": True, "glitchtip_redis_external": True,
         "glitchtip_external_db_host": "db", "glitchtip_external_redis_url": "redis://cache:6379/0",
         "glitchtip_secret_key": "k" * 50, "glitchtip_server_roles": ["web"],
         "groups": {"glitchtip_web": ["web1", "web2"], "glitchtip_worker": ["worker1"], "glitchtip_beat": ["worker1"]}}


def test_a_sound_split_topology_passes():
    for var in ("glitchtip_beat", "glitchtip_server_roles", "glitchtip_external_db_host", "glitchtip_external_redis_url",
                "glitchtip_secret_key"):
        assert passes(var, SPLIT.get(var), **{k: v for k, v in SPLIT.items() if k != var}), var


def test_two_scheduler_hosts_are_refused():
    groups = dict(SPLIT["groups"], glitchtip_beat=["worker1", "web1"], glitchtip_worker=["worker1", "web1"])
    assert not passes("glitchtip_beat", None, **dict(SPLIT, groups=groups))


def test_the_beat_host_must_run_a_worker():
    groups = dict(SPLIT["groups"], glitchtip_beat=["web1"])
    assert not passes("glitchtip_beat", None, **dict(SPLIT, groups=groups))


# 6.x: django-vtasks' scheduler runs in every worker under its lock; the beat host only hosts the
# once-per-deployment jobs (backups, partitions), so it need not run a worker, but it stays one host.
VTASKS = {"scheduler_in_every_worker": True}


def test_6x_beat_host_need_not_run_a_worker():
    groups = dict(SPLIT["groups"], glitchtip_beat=["web1"])
    assert passes("glitchtip_beat", None, **dict(SPLIT, groups=groups, glitchtip_profile=VTASKS))


def test_6x_still_one_host_for_the_once_per_deployment_jobs():
    groups = dict(SPLIT["groups"], glitchtip_beat=["worker1", "web1"], glitchtip_worker=["worker1", "web1"])
    assert not passes("glitchtip_beat", None, **dict(SPLIT, groups=groups, glitchtip_profile=VTASKS))


@pytest.mark.parametrize("var, value", [
    ("glitchtip_external_db_host", ""),          # several hosts on an embedded database
    ("glitchtip_external_redis_url", ""),
    ("glitchtip_secret_key", ""),                # a generated key would differ per host
    ("glitchtip_server_roles", []),              # a host in none of the role groups
])
def test_several_hosts_need_shared_services_and_key(var, value):
    more = dict(SPLIT, glitchtip_db_external=var != "glitchtip_external_db_host",
                glitchtip_redis_external=var != "glitchtip_external_redis_url")
    more.pop(var)
    assert not passes(var, value, **more)


def test_embedded_and_external_both_set_are_refused():
    assert not passes("glitchtip_embedded_postgres", True, glitchtip_external_db_host="db")
    assert passes("glitchtip_embedded_postgres", True)
    assert not passes("glitchtip_embedded_postgres", False)  # no database at all
    assert not passes("glitchtip_embedded_redis", True, glitchtip_external_redis_url="redis://cache")
    assert passes("glitchtip_embedded_redis", None, glitchtip_external_redis_url="redis://cache")


@pytest.mark.parametrize("url, ok", [
    ("redis://cache", True), ("rediss://cache.example.net:6380/3", True), ("redis://[2001:db8::1]:6379", True),
    ("redis://:pw@cache", False), ("http://cache", False), ("redis://cache/db", False), ("redis://cache\n", False),
])
def test_external_redis_url_format(url, ok):
    assert passes("glitchtip_external_redis_url", url) is ok


def test_external_database_needs_its_password():
    assert not passes("glitchtip_external_db_password", "", glitchtip_external_db_host="db")
    assert passes("glitchtip_external_db_password", "pw", glitchtip_external_db_host="db")
    assert passes("glitchtip_external_db_password", "")


# ---------------------------------------------------------------- PostgreSQL only

PROFILE_6 = {"postgres_queue_table": "db_queuedtask", "scheduler_in_every_worker": True}


def test_postgres_only_is_a_6x_mode():
    assert passes("glitchtip_postgres_only", True, glitchtip_profile=PROFILE_6)
    assert not passes("glitchtip_postgres_only", True, glitchtip_profile={})  # 5.x needs Redis
    assert passes("glitchtip_postgres_only", False, glitchtip_profile={})


@pytest.mark.parametrize("more", [
    {"glitchtip_external_redis_url": "redis://cache:6379/0"},
    {"glitchtip_embedded_redis": True},
    {"glitchtip_publish_redis_port": True},
])
def test_postgres_only_refuses_any_redis_beside_it(more):
    assert not passes("glitchtip_postgres_only", True, glitchtip_profile=PROFILE_6, **more)


def test_postgres_only_needs_no_redis_anywhere():
    assert passes("glitchtip_embedded_redis", False, glitchtip_postgres_only=True, glitchtip_profile=PROFILE_6)
    # Several hosts share the queue in their shared PostgreSQL.
    more = dict(SPLIT, glitchtip_redis_external=False, glitchtip_postgres_only=True, glitchtip_profile=PROFILE_6)
    more.pop("glitchtip_external_redis_url")
    assert passes("glitchtip_external_redis_url", "", **more)
