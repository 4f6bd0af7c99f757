# -*- coding: utf-8 -*-
"""One list of secret-bearing settings (aio_runtime/settings.py), read by every reader.

Each secret-bearing setting is written into log lines, in the forms a program may print
it (as given, URL-quoted, inside the derived connection URLs, an SMTP password decoded),
and read back through every way the project shows a log or a report: the ``logs``
module and ``aio logs`` (logtail.read_log), the health module's failure log tails
(container_exec.program_log_tails), the scheduled restart's notifications
(notify.notify_all), and the deploy's masks (the glitchtip.aio secret filters).
"""

from __future__ import annotations

import argparse
import json
import os
from urllib.parse import quote

import pytest
import yaml

from ansible_collections.glitchtip.aio.plugins.filter import secrets as secrets_filter
from ansible_collections.glitchtip.aio.plugins.module_utils import container_exec
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import cli, logtail, notify
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import settings as aio_settings

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MASK = "********"

SMTP_PASSWORD = "smtp p@ss/wörd"
# Every secret-bearing setting the container can be given. The DB and Redis passwords are the
# embedded services' generated ones or, with external services, the vault's: the same names.
SECRET_ENVIRON = {
    "SECRET_KEY": "django-secret-key-0123456789abcdefghij",
    "AIO_DB_PASSWORD": "db-p@ss:w/rd%?#&",
    "AIO_REDIS_PASSWORD": "redis pass+word=1",
    "AIO_FEISHU_WEBHOOK_URL": "https://open.feishu.cn/open-apis/bot/v2/hook/feishu-token-42",
    "AIO_NOTIFY_WEBHOOK_URL": "https://hooks.example.net/services/T000/B000/webhook-token-7",
    "EMAIL_URL": "smtp+tls://mailer%%40example.net:%s@smtp.example.net:587" % quote(SMTP_PASSWORD, safe=""),
    "AIO_BACKUP_ENCRYPTION_KEY": "backup-repository-key-0123456789abcdefghij",
}
PUBLIC_ENVIRON = {"GLITCHTIP_DOMAIN": "https://glitchtip.example.net", "TZ": "UTC", "PATH": "/usr/bin",
                  "DEFAULT_FROM_EMAIL": "glitchtip@example.net"}
ENVIRON = dict(PUBLIC_ENVIRON, **SECRET_ENVIRON)
SETTINGS = {"postgres": {"user": "glitchtip", "database": "glitchtip", "port": 5432}, "redis": {"port": 6379},
            "web": {"port": 8000}, "profile": {"broker_env": ["REDIS_URL"]}}


def leaked_forms(name, value):
    """What must never be readable of one secret-bearing setting."""
    if name == "EMAIL_URL":
        return [value, SMTP_PASSWORD, quote(SMTP_PASSWORD, safe="")]
    return [value, quote(value, safe="")]


def log_lines(name, value):
    """Lines a program could write with one setting in them."""
    lines = ["%s=%s" % (name, value), "quoted %s" % quote(value, safe="")]
    if name == "EMAIL_URL":
        lines.append("SMTPAuthenticationError: 535 for mailer@example.net with %s" % SMTP_PASSWORD)
    if name == "AIO_DB_PASSWORD":
        lines.append("DATABASE_URL=%s" % aio_settings.database_url(SETTINGS, ENVIRON))
    if name == "AIO_REDIS_PASSWORD":
        lines.append("REDIS_URL=%s" % aio_settings.redis_url(SETTINGS, ENVIRON))
    return lines


ALL_LINES = [line for name, value in SECRET_ENVIRON.items() for line in log_lines(name, value)]


def assert_redacted(texts):
    texts = list(texts)
    assert texts, "the reader returned nothing to check"
    joined = "\n".join(texts)
    for name, value in SECRET_ENVIRON.items():
        for form in leaked_forms(name, value):
            assert form not in joined, "%s leaked as %r" % (name, form)
    assert MASK in joined


def inspect_attrs():
    return {"Config": {"Env": ["%s=%s" % item for item in ENVIRON.items()]},
            "Mounts": [{"Destination": "/data/logs", "Type": "bind", "Source": "/srv/glitchtip-aio/logs"}]}


@pytest.fixture
def log_dir(tmp_path):
    text = "".join(line + "\n" for line in ALL_LINES)
    for name in ("web.log", "web.err.log", "migrate.log", "migrate.err.log", "worker.err.log"):
        (tmp_path / name).write_text(text, encoding="utf-8")
    # Single-file logs: their "errors" are lines at WARN or worse.
    (tmp_path / "supervisord.log").write_text("".join("WARN " + line + "\n" for line in ALL_LINES), encoding="utf-8")
    return tmp_path


# The one list.

def test_every_secret_the_container_role_passes_is_in_the_runtime_list():
    with open(os.path.join(REPO_ROOT, "roles", "container", "vars", "main.yml"), encoding="utf-8") as handle:
        role_vars = yaml.safe_load(handle)
    assert set(role_vars["_glitchtip_secret_env"]) <= set(aio_settings.SECRET_ENV_NAMES)
    assert "EMAIL_URL" in aio_settings.SECRET_ENV_NAMES
    assert set(SECRET_ENVIRON) == set(aio_settings.SECRET_ENV_NAMES), "this test must cover every name"


def test_the_backup_key_reaches_the_container_only_beside_the_destinations_it_opens():
    with open(os.path.join(REPO_ROOT, "roles", "container", "vars", "main.yml"), encoding="utf-8") as handle:
        role_vars = yaml.safe_load(handle)
    assert aio_settings.BACKUP_KEY_ENV in role_vars["_glitchtip_backup_key_env"]
    assert "if _glitchtip_backup_destination_env else {}" in role_vars["_glitchtip_backup_key_env"]
    assert "_glitchtip_backup_key_env" in role_vars["_glitchtip_environment"]


# An OpenSSH private key (a throwaway made for this test) as a destination's setting carries it.
PRIVATE_KEY = """-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBd0p3O3lZ1iX7r0yV4dWlG6u2wYk3X0p6c8h8H9m2y7wAAAJgAAAAAAAAA
AAAAAAtzc2gtZWQyNTUxOQAAACBd0p3O3lZ1iX7r0yV4dWlG6u2wYk3X0p6c8h8H9m2y7w
-----END OPENSSH PRIVATE KEY-----
"""


def test_a_multi_line_secret_is_masked_a_line_at_a_time_too():
    environ = {"AIO_BACKUP_TO_SFTP_PRIVATE_KEY": PRIVATE_KEY, "AIO_BACKUP_TO_SFTP_HOST": "backup.example.net"}
    values = aio_settings.secret_values(environ)
    lines = PRIVATE_KEY.splitlines()
    assert values[0] == PRIVATE_KEY
    assert set(values[1:]) == set(lines[1:-1]), "each base64 line, not the BEGIN/END lines"
    # A program printing the key line by line (ssh's debug output, a traceback) leaks none of it.
    printed = "\n".join("debug1: %s" % line for line in lines)
    redacted = aio_settings.redact(printed, values)
    assert all(line not in redacted for line in lines[1:-1])
    assert "BEGIN OPENSSH PRIVATE KEY" in redacted
    assert aio_settings.is_secret("AIO_BACKUP_TO_SFTP_PRIVATE_KEY", PRIVATE_KEY)
    assert not aio_settings.is_secret("AIO_BACKUP_TO_SFTP_HOST", "backup.example.net")


def test_no_role_task_keeps_its_own_list_of_secret_names():
    # The masks read the runtime's list through the filters; a name spelled out in a task
    # (the old EMAIL_URL rejectattr) would be a second list that drifts.
    tasks_dir = os.path.join(REPO_ROOT, "roles", "container", "tasks")
    for name in os.listdir(tasks_dir):
        with open(os.path.join(tasks_dir, name), encoding="utf-8") as handle:
            text = handle.read()
        for secret_name in aio_settings.SECRET_ENV_NAMES:
            assert secret_name not in text, "%s names %s" % (name, secret_name)


@pytest.mark.parametrize("url, expected", [
    ("consolemail://", []),
    ("smtp://smtp.example.net:25", []),
    ("", []),
    ("smtp://user@smtp.example.net", ["smtp://user@smtp.example.net"]),
    ("smtp://u:p%40ss@h:587", ["smtp://u:p%40ss@h:587", "p%40ss", "p@ss"]),
    ("smtp://u:p@ss@h", ["smtp://u:p@ss@h", "p@ss", "p@ss"]),
    ("smtp://u:pw@[::1", ["smtp://u:pw@[::1"]),     # unparsable: all of it
])
def test_secret_values_of_an_email_url_are_its_credentials_only(url, expected):
    assert aio_settings.secret_values({"EMAIL_URL": url}) == expected


def test_secret_and_public_environment_split_by_the_one_list():
    assert aio_settings.secret_environment(ENVIRON) == SECRET_ENVIRON
    assert aio_settings.public_environment(ENVIRON) == PUBLIC_ENVIRON
    assert secrets_filter.secret_environment(ENVIRON) == SECRET_ENVIRON
    assert secrets_filter.public_environment(ENVIRON) == PUBLIC_ENVIRON
    assert secrets_filter.secret_environment(None) == {}


def test_environ_from_entries_keeps_equals_signs_in_values():
    assert aio_settings.environ_from_entries(["A=b=c", "EMPTY=", "NOEQUALS"]) == {"A": "b=c", "EMPTY": ""}
    assert aio_settings.environ_from_entries(None) == {}


# Every reader.

@pytest.mark.parametrize("program, errors", [("web", False), ("migrate", True), ("supervisor", True)])
def test_logs_module_reader_redacts_every_secret(log_dir, program, errors):
    # plugins/modules/logs.py: the container's secrets from docker inspect, then logtail.read_log.
    secrets = container_exec.environment_secrets(inspect_attrs())
    streams = logtail.read_log(str(log_dir), program, 100, errors=errors, secrets=secrets)
    assert_redacted(line for lines in streams.values() for line in lines)


def test_aio_logs_command_redacts_every_secret(log_dir, capsys):
    args = argparse.Namespace(program="web", errors=False, lines=100, json=True)
    assert cli.cmd_logs(args, {"paths": {"logs": str(log_dir)}}, ENVIRON) == 0
    streams = json.loads(capsys.readouterr().out)
    assert_redacted(line for lines in streams.values() for line in lines)


def test_health_log_tails_redact_every_secret(log_dir):
    # plugins/modules/health.py on failure: AioContainer.secret_values(attrs) and program_log_tails.
    container = container_exec.AioContainer.__new__(container_exec.AioContainer)
    tails = container_exec.program_log_tails(str(log_dir), ["web", "migrate", "worker"], 100,
                                             container.secret_values(inspect_attrs()))
    assert_redacted(line for streams in tails.values() for lines in streams.values() for line in lines)


def test_notification_text_redacts_every_secret():
    sent = []

    def post(url, payload, timeout):
        sent.append(payload)
        return 200, '{"code":0}'

    report = {"job": "scheduled-restart", "ok": False, "reason": ALL_LINES[0],
              "summary": [("log", line) for line in ALL_LINES]}
    outcomes = notify.notify_all(report, ENVIRON, "glitchtip.example.net", post=post, sleep=lambda s: None)
    assert set(outcomes) == {"feishu", "webhook"} and len(sent) == 2
    assert_redacted(aio_settings.strings_in(sent))
    assert_redacted([json.dumps(sent, ensure_ascii=False)])


def test_deploy_diff_mask_redacts_new_and_old_secrets():
    # roles/container/tasks/main.yml: the docker_container diff, "before" holding older values.
    old = {name: "old-" + value for name, value in SECRET_ENVIRON.items() if name != "EMAIL_URL"}
    old["EMAIL_URL"] = "smtp://mailer:old-smtp-secret@smtp.example.net:587"
    diff = {"before": {"env": ["%s=%s" % item for item in dict(PUBLIC_ENVIRON, **old).items()]},
            "after": {"env": ["%s=%s" % item for item in ENVIRON.items()] + ["NOTE=%s" % line for line in ALL_LINES]}}
    masked = secrets_filter.redact_secrets(diff, ENVIRON)
    texts = list(aio_settings.strings_in(masked))
    assert_redacted(texts)
    assert not any("old-" in text for text in texts)
    assert "TZ=UTC" in masked["after"]["env"] and "EMAIL_URL=" + MASK in masked["before"]["env"]


def test_deploy_diff_mask_redacts_secrets_an_operator_added():
    # glitchtip_extra_environment: the old and the new value of a key named like a secret.
    environ = dict(ENVIRON, STRIPE_SECRET_KEY="sk_live_new0123456789")
    diff = {"before": {"env": ["STRIPE_SECRET_KEY=sk_live_old0123456789", "SENTRY_URL=https://u:oldpass@s.example"]},
            "after": {"env": ["STRIPE_SECRET_KEY=sk_live_new0123456789", "TZ=UTC"]}}
    masked = secrets_filter.redact_secrets(diff, environ)
    assert masked == {"before": {"env": ["STRIPE_SECRET_KEY=" + MASK, "SENTRY_URL=" + MASK]},
                      "after": {"env": ["STRIPE_SECRET_KEY=" + MASK, "TZ=UTC"]}}


def test_an_email_url_without_credentials_is_shown():
    environ = {"EMAIL_URL": "consolemail://", "SECRET_KEY": "k" * 40}
    assert secrets_filter.redact_secrets({"after": {"env": ["EMAIL_URL=consolemail://"]}}, environ) == {
        "after": {"env": ["EMAIL_URL=consolemail://"]}}
    assert aio_settings.redact("EMAIL_URL=consolemail://", aio_settings.secret_values(environ)) == \
        "EMAIL_URL=consolemail://"


# The roles: the real vars file and filters, rendered by Ansible.

SPLIT_PLAYBOOK = """\
- name: The container role's environment through the secret filters
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files:
    - "{repo}/roles/common/defaults/main.yml"
    - "{repo}/roles/common/vars/main.yml"
    - "{repo}/roles/container/defaults/main.yml"
    - "{repo}/roles/container/vars/main.yml"
  tasks:
    - name: What the deploy hands to the modules
      ansible.builtin.copy:
        dest: "{out}"
        mode: "0600"
        content: "{{{{ {{'public': _glitchtip_environment | glitchtip.aio.public_environment,
                        'secret': _glitchtip_environment | glitchtip.aio.secret_environment,
                        'whole': _glitchtip_environment}} | to_json }}}}"
"""


# A destination's credentials are secret by their setting names alone.
S3_SECRETS = {"access_key_id": "AKIAEXAMPLEKEYID0001", "secret_access_key": "s3-secret/access+key=0123456789"}


@pytest.mark.slow
def test_the_container_role_splits_its_environment_with_the_runtime_list(tmp_path):
    from test_templates import ANSIBLE_PLAYBOOK, PlaybookRun

    if not ANSIBLE_PLAYBOOK:
        pytest.skip("ansible-playbook not found")
    out = str(tmp_path / "split.json")
    run = PlaybookRun(tmp_path / "run", SPLIT_PLAYBOOK.format(repo=REPO_ROOT, out=out), {
        "glitchtip_secrets": {"secret_key": SECRET_ENVIRON["SECRET_KEY"],
                              "db_password": "unused-embedded-db-password",
                              "redis_password": "unused-embedded-redis-password",
                              "backup_encryption_key": SECRET_ENVIRON["AIO_BACKUP_ENCRYPTION_KEY"]},
        "glitchtip_backup_destinations": {"s3": dict(S3_SECRETS, endpoint="s3.example.net", bucket="backups")},
        "glitchtip_external_db_host": "db.example.net",
        "glitchtip_external_db_password": SECRET_ENVIRON["AIO_DB_PASSWORD"],
        "glitchtip_external_redis_url": "redis://redis.example.net:6379/0",
        "glitchtip_external_redis_password": SECRET_ENVIRON["AIO_REDIS_PASSWORD"],
        "glitchtip_notify_feishu_webhook_url": SECRET_ENVIRON["AIO_FEISHU_WEBHOOK_URL"],
        "glitchtip_notify_webhook_url": SECRET_ENVIRON["AIO_NOTIFY_WEBHOOK_URL"],
        "glitchtip_email_url": SECRET_ENVIRON["EMAIL_URL"],
    })
    rc, log = run.result()
    assert rc == 0, log
    with open(out, encoding="utf-8") as handle:
        split = json.load(handle)
    destination_secrets = {"AIO_BACKUP_TO_S3_" + name.upper(): value for name, value in S3_SECRETS.items()}
    assert split["secret"] == dict(SECRET_ENVIRON, **destination_secrets)
    assert split["public"]["AIO_BACKUP_TO_S3_ENDPOINT"] == "s3.example.net"
    assert dict(split["public"], **split["secret"]) == split["whole"]
    public_text = json.dumps(split["public"], ensure_ascii=False)
    for name, value in SECRET_ENVIRON.items():
        for form in leaked_forms(name, value):
            assert form not in public_text, "%s reaches the shown environment" % name


@pytest.mark.slow
def test_backup_destinations_reach_the_container_by_the_runtimes_naming_rule(tmp_path):
    """A further destination's settings need no line of the container role: each becomes
    AIO_BACKUP_TO_<KIND>_<SETTING>, as text, and one named like a secret is split off as one."""
    from test_templates import ANSIBLE_PLAYBOOK, PlaybookRun

    if not ANSIBLE_PLAYBOOK:
        pytest.skip("ansible-playbook not found")
    out = str(tmp_path / "split.json")
    run = PlaybookRun(tmp_path / "run", SPLIT_PLAYBOOK.format(repo=REPO_ROOT, out=out), {
        "glitchtip_secrets": {"secret_key": "k" * 40, "db_password": "d" * 20, "redis_password": "r" * 20},
        "glitchtip_backup_destinations": {"fake": {"repository": "sftp:backup@host:/srv/repo", "verify": True,
                                                   "password": "destination-password-1"}},
    })
    rc, log = run.result()
    assert rc == 0, log
    with open(out, encoding="utf-8") as handle:
        split = json.load(handle)
    shown = {name: value for name, value in split["public"].items() if "_DESTINATION" in name or "_TO_" in name}
    assert shown == {"AIO_BACKUP_DESTINATIONS": "fake", "AIO_BACKUP_TO_FAKE_REPOSITORY": "sftp:backup@host:/srv/repo",
                     "AIO_BACKUP_TO_FAKE_VERIFY": "true"}
    assert split["secret"]["AIO_BACKUP_TO_FAKE_PASSWORD"] == "destination-password-1"


ENVIRONMENT_PLAYBOOK = SPLIT_PLAYBOOK.replace(
    "content: \"{{{{ {{'public': _glitchtip_environment | glitchtip.aio.public_environment,\n"
    "                        'secret': _glitchtip_environment | glitchtip.aio.secret_environment,\n"
    "                        'whole': _glitchtip_environment}} | to_json }}}}\"",
    "content: \"{{{{ glitchtip_container_environment | to_json }}}}\"")


@pytest.mark.slow
def test_the_container_environment_is_every_setting_as_a_string(tmp_path):
    """The container's non-secret environment, as docker_container compares it (env: strict):
    a change here recreates every deployed container, so it is pinned value by value."""
    from test_templates import ANSIBLE_PLAYBOOK, PlaybookRun

    if not ANSIBLE_PLAYBOOK:
        pytest.skip("ansible-playbook not found")
    assert "glitchtip_container_environment | to_json" in ENVIRONMENT_PLAYBOOK
    out = str(tmp_path / "environment.json")
    run = PlaybookRun(tmp_path / "run", ENVIRONMENT_PLAYBOOK.format(repo=REPO_ROOT, out=out), {
        "glitchtip_secrets": {"secret_key": "k" * 40, "db_password": "d" * 20, "redis_password": "r" * 20},
        "glitchtip_domain": "https://errors.example.net",
        "glitchtip_debug": "yes",
        "glitchtip_max_event_life_days": 30,
        "glitchtip_external_db_host": "db.example.net",
        "glitchtip_external_db_password": "p" * 20,
        "glitchtip_extra_environment": {"WORKERS": 4, "FLAG": True, "NAME": "x"},
    })
    rc, log = run.result()
    assert rc == 0, log
    with open(out, encoding="utf-8") as handle:
        environment = json.load(handle)
    assert environment == {
        "GLITCHTIP_DOMAIN": "https://errors.example.net",
        "ALLOWED_HOSTS": "errors.example.net,localhost,127.0.0.1,[::1]",
        "CSRF_TRUSTED_ORIGINS": "https://errors.example.net",
        "DEBUG": "true",
        "ENABLE_USER_REGISTRATION": "false",
        "ENABLE_ORGANIZATION_CREATION": "false",
        "EMAIL_URL": "consolemail://",
        "DEFAULT_FROM_EMAIL": "glitchtip@localhost",
        "GLITCHTIP_MAX_EVENT_LIFE_DAYS": "30",
        "GLITCHTIP_MAX_TRANSACTION_EVENT_LIFE_DAYS": "90",
        "GLITCHTIP_MAX_FILE_LIFE_DAYS": "90",
        "TZ": "UTC",
        "AIO_RESTART_SCHEDULE": "1 3 * * *",
        "AIO_BACKUP_SCHEDULE": "30 2 * * *",
        "AIO_PARTITION_SCHEDULE": "15 1 * * *",
        "AIO_ROLES": "web,worker,beat",
        "AIO_MIGRATE_ON_START": "true",
        "AIO_BACKUP_KEEP_COUNT": "7",
        "AIO_BACKUP_KEEP_DAYS": "14",
        "AIO_DB_HOST": "db.example.net",
        "AIO_DB_PORT": "5432",
        "AIO_DB_NAME": "glitchtip",
        "AIO_DB_USER": "glitchtip",
        "AIO_DB_SSLMODE": "prefer",
        "WORKERS": "4",
        "FLAG": "True",
        "NAME": "x",
    }
