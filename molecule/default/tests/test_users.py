"""Users through playbooks/users.yml: they log in, runs are idempotent, passwords stay secret.

Real container, real login over HTTP, flags read back from PostgreSQL. Every test
makes its own users and organization (uuid names), so the order does not matter.
"""

from __future__ import annotations

import glob
import json
import os
import pty
import re
import select
import time
import urllib.error
import urllib.request
import uuid

import pytest
import yaml

from aio_testlib import PROJECT_DIR, psql, run_playbook

testinfra_hosts = ["ansible://localhost"]


def unique(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


def new_password():
    return "Pw!%s" % uuid.uuid4().hex


def user_row(container, email):
    """'superuser|staff|active' as t/f, or '' when there is no such user."""
    return psql(container, "SELECT is_superuser || '|' || is_staff || '|' || is_active FROM users_user "
                           "WHERE email = '%s'" % email)


def membership_role(container, email, slug):
    return psql(container, "SELECT m.role FROM organizations_organizationuser m "
                           "JOIN users_user u ON u.id = m.user_id JOIN organizations_organization o "
                           "ON o.id = m.organization_id WHERE u.email = '%s' AND o.slug = '%s'" % (email, slug))


@pytest.fixture
def organization(container):
    slug = unique("org")
    psql(container, "INSERT INTO organizations_organization (name, slug, created) VALUES ('%s', '%s', now())"
         % (slug, slug))
    return slug


@pytest.fixture
def vars_file(tmp_path):
    """Writes extra vars to a 0600 file, as an (unencrypted) vault stand-in for -e @file."""
    def write(data):
        path = tmp_path / ("%s.yml" % uuid.uuid4().hex)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
        path.chmod(0o600)
        return "@%s" % path
    return write


def run_users(*args):
    proc = run_playbook("users.yml", "-v", *args, timeout=600)
    proc.output = proc.stdout + proc.stderr
    # The YAML callback folds long messages over lines: compare with whitespace collapsed.
    proc.text = " ".join(proc.stdout.split())
    return proc


def recap(proc):
    found = re.search(r"^localhost\s+:.*?changed=(\d+).*?failed=(\d+)", proc.stdout, re.M)
    assert found, proc.output
    return {"changed": int(found.group(1)), "failed": int(found.group(2))}


def login(settings, email, password):
    """HTTP status of the web app's login (the stand-in answers like allauth's headless API: 200 or 400)."""
    request = urllib.request.Request(
        "http://127.0.0.1:%s/_allauth/browser/v1/auth/login" % settings["glitchtip_container_web_host_port"],
        data=json.dumps({"email": email, "password": password}).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def assert_secret(proc, *passwords):
    for password in passwords:
        assert password not in proc.output


def assert_not_in_logs(settings, *passwords):
    """No log file of the container (supervisord, web, worker, migrate, ...) holds a password."""
    logs = glob.glob(os.path.join(settings["glitchtip_data_dir"], "logs", "*"))
    assert logs
    for path in logs:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        for password in passwords:
            assert password not in text, path


def test_inventory_user_logs_in_and_a_second_run_changes_nothing(settings, container, organization, vars_file):
    admin, member = unique("admin") + "@example.com", unique("member") + "@example.com"
    admin_password, member_password = new_password(), new_password()
    # As in an inventory: glitchtip_users references vault variables.
    extra = vars_file({
        "vault_test_admin_password": admin_password, "vault_test_member_password": member_password,
        "glitchtip_users": [
            {"email": admin, "password": "{{ vault_test_admin_password }}", "superuser": True,
             "organizations": [{"slug": organization, "role": "owner"}]},
            {"email": member, "password": "{{ vault_test_member_password }}", "name": "Member",
             "organizations": [{"slug": organization}]},
        ]})
    first = run_users("-e", extra)
    assert first.returncode == 0, first.output
    assert recap(first) == {"changed": 1, "failed": 0}
    assert_secret(first, admin_password, member_password)

    assert login(settings, admin, admin_password) == 200
    assert login(settings, admin, admin_password + "x") == 400
    assert login(settings, member, member_password) == 200
    assert login(settings, member, admin_password) == 400
    assert user_row(container, admin) == "true|true|true"      # superuser implies staff
    assert user_row(container, member) == "false|false|true"
    assert membership_role(container, admin, organization) == "owner"
    assert membership_role(container, member, organization) == "member"

    second = run_users("-e", extra)
    assert second.returncode == 0, second.output
    assert recap(second) == {"changed": 0, "failed": 0}
    assert "%s unchanged" % admin in second.text
    assert_secret(second, admin_password, member_password)
    assert_not_in_logs(settings, admin_password, member_password)


def test_one_user_password_reset_flags_and_role(settings, container, organization, vars_file):
    email = unique("one") + "@example.com"
    old, new = new_password(), new_password()
    # user_password as an extra var skips the prompt, as a vault file would.
    created = run_users("-e", "user_email=%s" % email, "-e", "user_organization=%s" % organization,
                        "-e", "user_role=admin", "-e", vars_file({"user_password": old}))
    assert created.returncode == 0, created.output
    assert recap(created)["changed"] == 1
    assert login(settings, email, old) == 200
    assert membership_role(container, email, organization) == "admin"

    reset = run_users("-e", "user_email=%s" % email, "-e", "user_staff=true", "-e", "user_organization=%s"
                      % organization, "-e", "user_role=manager", "-e", vars_file({"user_password": new}))
    assert reset.returncode == 0, reset.output
    assert "changed: is_staff, password, organization:%s" % organization in reset.text
    assert login(settings, email, new) == 200
    assert login(settings, email, old) == 400
    assert user_row(container, email) == "false|true|true"
    assert membership_role(container, email, organization) == "manager"
    assert_secret(reset, old, new)

    # on_create: an existing user's password is left alone.
    kept = run_users("-e", "user_email=%s" % email, "-e", "user_update_password=on_create",
                     "-e", vars_file({"user_password": new_password()}))
    assert recap(kept) == {"changed": 0, "failed": 0}, kept.output
    assert login(settings, email, new) == 200

    deactivated = run_users("-e", "user_email=%s" % email, "-e", "user_active=false")
    assert recap(deactivated)["changed"] == 1, deactivated.output
    assert user_row(container, email) == "false|true|false"
    assert login(settings, email, new) == 400
    # No password given (and no terminal to ask on): the stored one is kept.
    reactivated = run_users("-e", "user_email=%s" % email, "-e", "user_active=true")
    assert "changed: is_active" in reactivated.text, reactivated.output
    assert login(settings, email, new) == 200
    assert_not_in_logs(settings, old, new)


def test_check_mode_reports_a_change_and_writes_nothing(settings, container, organization, vars_file):
    email = unique("check") + "@example.com"
    password = new_password()
    extra = vars_file({"glitchtip_users": [{"email": email, "password": password, "superuser": True,
                                            "organizations": [{"slug": organization, "role": "admin"}]}]})
    checked = run_users("--check", "-e", extra)
    assert checked.returncode == 0, checked.output
    assert recap(checked)["changed"] == 1
    assert "would change: email, is_superuser, is_staff, password, organization:%s" % organization in checked.text
    assert user_row(container, email) == ""
    assert login(settings, email, password) == 400

    assert run_users("-e", extra).returncode == 0
    other = new_password()
    changed = vars_file({"glitchtip_users": [{"email": email, "password": other, "active": False,
                                              "organizations": [{"slug": organization, "role": "owner"}]}]})
    checked = run_users("--check", "-e", changed)
    assert recap(checked)["changed"] == 1, checked.output
    assert "would change: is_active, password, organization:%s" % organization in checked.text
    assert user_row(container, email) == "true|true|true"
    assert membership_role(container, email, organization) == "admin"
    assert login(settings, email, password) == 200
    assert_secret(checked, password, other)
    assert_not_in_logs(settings, password, other)


def test_unknown_organization_fails_and_changes_nothing(settings, container, organization, vars_file):
    email = unique("ghost") + "@example.com"
    ghost = unique("no-such-org")
    password = new_password()
    extra = vars_file({"glitchtip_users": [{"email": email, "password": password, "superuser": True,
                                            "organizations": [{"slug": organization}, {"slug": ghost}]}]})
    failed = run_users("-e", extra)
    assert failed.returncode != 0
    assert recap(failed)["failed"] == 1
    assert "organization '%s' does not exist" % ghost in failed.text
    assert user_row(container, email) == ""
    assert psql(container, "SELECT count(*) FROM organizations_organizationuser m JOIN organizations_organization o "
                           "ON o.id = m.organization_id WHERE o.slug = '%s'" % organization) == "0"
    assert_secret(failed, password)
    assert_not_in_logs(settings, password)


def test_a_bad_field_is_named(settings, container, vars_file):
    email = unique("bad") + "@example.com"
    failed = run_users("-e", vars_file({"glitchtip_users": [{"email": email, "superuser": "maybe"}]}))
    assert failed.returncode != 0
    assert "superuser" in failed.text
    assert user_row(container, email) == ""


def run_on_terminal(args, answers, timeout=300):
    """ansible-playbook on a pseudo-terminal, as an operator runs it; answers each prompt as it appears.

    Returns (exit code, everything the terminal showed).
    """
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT_DIR, "collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_CONFIG=os.path.join(PROJECT_DIR, "ansible.cfg"), ANSIBLE_DISPLAY_FAILED_STDERR="false")
    argv = ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"],
            os.path.join(PROJECT_DIR, "playbooks", "users.yml")] + list(args)
    pid, fd = pty.fork()     # the child gets the terminal as its controlling tty, as a login shell would
    if pid == 0:
        try:
            os.execvpe(argv[0], argv, env)
        finally:
            os._exit(127)
    shown, pending, deadline = b"", list(answers), time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:          # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                shown += chunk
            if pending and shown.count(b"Password for") > len(answers) - len(pending):
                os.write(fd, pending.pop(0).encode() + b"\n")
        else:
            os.kill(pid, 9)
    finally:
        os.close(fd)
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")


def test_prompted_password_is_not_echoed_and_logs_in(settings, container):
    email = unique("prompt") + "@example.com"
    password = new_password()
    code, shown = run_on_terminal(["-e", "user_email=%s" % email, "-e", "user_superuser=true"], [password, password])
    assert code == 0, shown
    assert "Password for %s" % email in shown
    assert "confirm Password for %s" % email in shown
    assert password not in shown                  # private: the terminal never echoed it
    assert login(settings, email, password) == 200
    assert user_row(container, email) == "true|true|true"
    assert_not_in_logs(settings, password)
