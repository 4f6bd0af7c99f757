# -*- coding: utf-8 -*-
"""roles/common/vars/main.yml: every release a user may name resolves to the process profile of its
line, rendered by Ansible's own templar from the real variable files (no play, no Docker)."""

from __future__ import annotations

import os

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VAR_FILES = ["roles/common/defaults/main.yml", "roles/image/defaults/main.yml", "roles/common/vars/main.yml"]
HEALTH_FILE = "/run/glitchtip-aio-worker/health"


@pytest.fixture(scope="module")
def variables():
    loader = DataLoader()
    values = {}
    for path in VAR_FILES:
        values.update(loader.load_from_file(os.path.join(REPO_ROOT, path), trusted_as_template=True))
    return loader, values


def resolve(variables, expression, **overrides):
    loader, values = variables
    context = dict(values, inventory_hostname="h1", groups={"all": ["h1"], "glitchtip": ["h1"]}, **overrides)
    return Templar(loader=loader, variables=context).template(trust_as_template(expression))


@pytest.mark.parametrize("version, profile, base", [
    ("5.1", "5.1", "glitchtip/glitchtip:v5.1"),
    ("5.2", "5.2", "glitchtip/glitchtip:v5.2"),
    ("5.2.9", "5.2", "glitchtip/glitchtip:v5.2.9"),
    ("6.0", "6", "glitchtip/glitchtip:6.0"),
    ("6.1", "6", "glitchtip/glitchtip:6.1"),
    ("6.1.0", "6", "glitchtip/glitchtip:6.1.0"),
    ("6.2", "6", "glitchtip/glitchtip:6.2"),
    ("6.2.0", "6", "glitchtip/glitchtip:6.2.0"),
])
def test_each_release_resolves_to_its_profile_and_upstream_tag(variables, version, profile, base):
    assert resolve(variables, "{{ glitchtip_profile_name }}", glitchtip_version=version) == profile
    # Upstream tags 5.x images v5.2 and 6.x ones 6.1.0: no v.
    assert resolve(variables, "{{ glitchtip_image_base }}", glitchtip_version=version) == base


@pytest.mark.parametrize("version", ["6.0", "6.1", "6.2.0"])
def test_6x_worker_is_upstreams_runworker_with_its_scheduler_and_health_file(variables, version):
    worker = resolve(variables, "{{ glitchtip_programs.worker }}", glitchtip_version=version)
    assert worker["command"] == ["python3", "manage.py", "runworker", "--scheduler", "--health-check-file", HEALTH_FILE]
    assert worker["environment"] == {"IS_WORKER": "true"}
    assert worker["liveness"] == {"file": HEALTH_FILE, "max_age_seconds": 15}
    assert "beat_arguments" not in worker  # the scheduler runs in every worker, under django-vtasks' lock
    assert resolve(variables, "{{ glitchtip_profile.broker_env }}", glitchtip_version=version) == ["VALKEY_URL"]
    assert resolve(variables, "{{ glitchtip_profile.scheduler_in_every_worker }}", glitchtip_version=version) is True


def test_6x_web_is_granian_never_gunicorn(variables):
    # The 6.x image has no gunicorn: nothing of the 6.x profile may call it.
    web = resolve(variables, "{{ glitchtip_programs.web }}", glitchtip_version="6.2.0")
    assert web["command"][:6] == ["python3", "-m", "granian", "--interface", "asgi", "glitchtip.asgi:application"]
    assert web["command"][web["command"].index("--port") + 1] == "8000"
    assert web["command"][web["command"].index("--respawn-interval") + 1] == "10"
    assert web["reload_signal"] == "HUP"
    assert "gunicorn" not in str(resolve(variables, "{{ glitchtip_programs }}", glitchtip_version="6.2.0"))
    assert resolve(variables, "{{ glitchtip_profile.web_server_module }}", glitchtip_version="6.2.0") == "granian"
    maintenance = resolve(variables, "{{ glitchtip_profile.maintenance }}", glitchtip_version="6.2.0")
    assert maintenance["partitions"] == ["python3", "manage.py", "maintain_partitions"]
    assert "partitions_dry" not in maintenance


def test_5x_keeps_celery_with_beat_on_the_beat_host_only(variables):
    worker = resolve(variables, "{{ glitchtip_programs.worker }}", glitchtip_version="5.2")
    assert worker["command"][:6] == ["python3", "-m", "celery", "-A", "glitchtip", "worker"]
    assert worker["beat_arguments"][0] == "--beat"
    assert "liveness" not in worker
    assert resolve(variables, "{{ glitchtip_profile.worker_heartbeat.channel }}", glitchtip_version="5.2")
    assert resolve(variables, "{{ glitchtip_programs.web.command[:3] }}", glitchtip_version="5.2") == \
        ["python3", "-m", "gunicorn"]


def version_check():
    with open(os.path.join(REPO_ROOT, "roles", "common", "tasks", "validate.yml"), encoding="utf-8") as handle:
        tasks = yaml.safe_load(handle)
    (task,) = [task for task in tasks if task.get("name") == "Check that the GlitchTip version names a known release line"]
    return "{{ %s }}" % task["ansible.builtin.assert"]["that"]


@pytest.mark.parametrize("version, accepted", [
    ("5.1", True), ("5.2", True), ("6.0", True), ("6.1", True), ("6.2", True), ("6.2.0", True), ("6.2.11", True),
    ("4.0", False), ("6.3", False), ("7.0", False), ("v6.2", False), ("6", False), ("6.2.0-rc1", False), ("latest", False),
])
def test_version_check(variables, version, accepted):
    assert resolve(variables, version_check(), glitchtip_version=version) is accepted


def test_postgres_only_runs_no_redis_and_bakes_it_disabled(variables):
    loader, values = variables
    image_vars = loader.load_from_file(os.path.join(REPO_ROOT, "roles", "image", "vars", "main.yml"),
                                       trusted_as_template=True)
    both = (loader, dict(values, **image_vars))
    programs = resolve(both, "{{ glitchtip_programs.keys() | list }}", glitchtip_version="6.2.0",
                       glitchtip_postgres_only=True)
    assert "redis" not in programs and "postgres" in programs and "worker" in programs
    baked = resolve(both, "{{ glitchtip_image_runtime_settings }}", glitchtip_version="6.2.0",
                    glitchtip_postgres_only=True)
    assert baked["redis"]["enabled"] is False
    assert baked["profile"]["postgres_queue_table"] == "db_queuedtask"
    assert "redis" not in baked["programs"]
    assert resolve(both, "{{ glitchtip_image_runtime_settings.redis.enabled }}", glitchtip_version="6.2.0") is True


def test_postgres_only_image_installs_nothing_of_redis(tmp_path):
    """The build script's package choice, cut from the template and run with each setting."""
    with open(os.path.join(REPO_ROOT, "templates", "build", "install-packages.sh.j2"), encoding="utf-8") as handle:
        script = handle.read()
    start = script.index('services="postgresql redis-server"')
    snippet = script[start:script.index("\n# shellcheck", start)]
    import subprocess

    def services(embedded, postgres_only):
        return subprocess.run(["sh", "-c", 'EMBEDDED_SERVICES=%s; POSTGRES_ONLY=%s; %s; printf %%s "$services"'
                               % (embedded, postgres_only, snippet)], capture_output=True, text=True, check=True).stdout

    assert services("true", "false") == "postgresql redis-server"
    assert services("true", "true") == "postgresql"
    assert services("false", "false") == "postgresql-client redis-tools"
    assert services("false", "true") == "postgresql-client"


def test_every_line_shares_one_migrate_program_and_6x_web_differs_from_5x_only_by_its_command(variables):
    # Read by Ansible's own loader: the YAML anchors and the merge key of the 6 profile resolve there.
    _loader, values = variables
    profiles = values["glitchtip_profiles"]
    assert profiles["6"]["programs"]["migrate"] == profiles["5.2"]["programs"]["migrate"]
    web5, web6 = profiles["5.2"]["programs"]["web"], profiles["6"]["programs"]["web"]
    assert {k: v for k, v in web6.items() if k != "command"} == {k: v for k, v in web5.items() if k != "command"}
    assert web6["command"] != web5["command"]
    maintenance5, maintenance6 = profiles["5.2"]["maintenance"], profiles["6"]["maintenance"]
    assert (maintenance6["plan"], maintenance6["migrate"]) == (maintenance5["plan"], maintenance5["migrate"])
    assert "partitions_dry" not in maintenance6  # maintain_partitions has no dry run
