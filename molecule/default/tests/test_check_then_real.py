"""Check mode predicts the real run, module by module (issue 12, must-hold 2).

Each module runs as `ansible localhost -m glitchtip.aio.NAME --check` on the scenario's
inventory, then for real with the same arguments: the real run's `changed` is the one the check
run reported, its other predictions (what retention deletes, what is restarted, the diff) are
what the real run did, and the check run wrote, removed and started nothing: the backup
directory, every table and upload, the database's OID, the programs' PIDs and the containers
of this deployment (one-off ones included) are as they were.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid

import pytest

from aio_testlib import (PROJECT_DIR, generate_data, health, program_pid, psql, recap, run_playbook, table_checksums,
                         upload_checksums, wait_healthy, web_workers)

testinfra_hosts = ["ansible://localhost"]


def run_module(name, args, *flags):
    """`ansible localhost -m glitchtip.aio.NAME -a ARGS FLAGS` on the scenario's inventory, as an operator
    would run it; (exit code, the module's result as the json callback reports it)."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(PROJECT_DIR, "collections"),
               ANSIBLE_CONFIG=os.path.join(PROJECT_DIR, "ansible.cfg"), ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
               ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_NOCOLOR="1")
    proc = subprocess.run(["ansible", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "localhost",
                           "-m", "glitchtip.aio." + name, "-a", json.dumps(args)] + list(flags),
                          capture_output=True, text=True, env=env, timeout=900, cwd=PROJECT_DIR,
                          stdin=subprocess.DEVNULL)
    try:
        result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError("no module result (%s), exit %d:\n%s\n%s" % (exc, proc.returncode, proc.stdout[-3000:],
                                                                         proc.stderr[-2000:]))
    return proc.returncode, result


def check_then_real(name, args, *flags):
    """The module in check mode, then for real; (check result, real result), each with its exit code."""
    check = run_module(name, args, "--check", *flags)
    return check, run_module(name, args, *flags)


def predicted_then_real(name, args, state, *flags):
    """The module in check mode, which must succeed and leave STATE() as it was, then for real, which
    must succeed and change exactly when the check said it would; (state before, check, real results)."""
    before = state()
    code, check = run_module(name, args, "--check", *flags)
    assert code == 0, check
    assert state() == before
    code, real = run_module(name, args, *flags)
    assert code == 0, real
    assert real["changed"] is check["changed"]
    return before, check, real


@pytest.fixture(scope="module")
def backups_dir(settings):
    return os.path.join(settings["glitchtip_data_dir"], "backups")


def backup_listing(backups_dir):
    """Every entry of the backup directory with its files and sizes (a partial one shows too)."""
    listing = {}
    for name in sorted(os.listdir(backups_dir)):
        path = os.path.join(backups_dir, name)
        listing[name] = sorted((entry, os.path.getsize(os.path.join(path, entry))) for entry in os.listdir(path)) \
            if os.path.isdir(path) else os.path.getsize(path)
    return listing


def deployment_containers(client, settings):
    """This deployment's containers (its own, set-aside ones, one-off ones), by id, name and status."""
    name = settings["glitchtip_container_name"]
    return sorted((c.id, c.name, c.status) for c in client.containers.list(all=True)
                  if c.name.startswith(name) or c.labels.get("org.glitchtip-aio.oneoff") == "true")


def programs(container):
    return {"web": program_pid(container, "web"), "web workers": web_workers(container),
            "worker": program_pid(container, "worker"), "scheduler": program_pid(container, "scheduler")}


def machine_state(client, container, settings, backups_dir):
    """What a check run must leave exactly as it was."""
    return {"backups": backup_listing(backups_dir), "containers": deployment_containers(client, settings),
            "tables": table_checksums(container), "uploads": upload_checksums(settings),
            "database oid": psql(container, "SELECT oid FROM pg_database WHERE datname = 'glitchtip'"),
            "databases": psql(container, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
            "programs": programs(container)}


def fresh_backup(container):
    """A new backup written by the in-container aio command; its name."""
    result = container.exec_run(["/usr/local/bin/aio", "backup", "--json"], demux=True)
    stdout, stderr = result.output
    assert result.exit_code == 0, (stdout, stderr)
    return json.loads(stdout.decode())["name"]


def test_backup_check_predicts_the_backup_and_what_retention_deletes(client, container, settings, backups_dir):
    wait_healthy(container)
    # A backup older than keep_days (a manifest under a backup's name is what retention counts):
    # the one thing retention deletes, so the prediction is a name, not an empty list.
    old = "glitchtip-20000102T030100Z"
    os.makedirs(os.path.join(backups_dir, old))
    try:
        with open(os.path.join(backups_dir, old, "manifest.json"), "w", encoding="utf-8") as handle:
            handle.write("{}")
        args = {"container": settings["glitchtip_container_name"], "keep_days": 1}
        before, check, real = predicted_then_real(
            "backup", args, lambda: machine_state(client, container, settings, backups_dir))
        assert check["changed"] is True and check["dry_run"] is True
        assert check["would_delete"] == [old]
        assert real["deleted"] == check["would_delete"]
        after = backup_listing(backups_dir)
        assert set(after) == set(before["backups"]) - {old} | {real["name"]}
    finally:
        shutil.rmtree(os.path.join(backups_dir, old), ignore_errors=True)


def test_restart_check_predicts_what_is_restarted_and_what_is_refused(client, container, settings, backups_dir):
    wait_healthy(container)
    args = {"container": settings["glitchtip_container_name"], "deadline": 60}
    before, check, real = predicted_then_real(
        "restart", args, lambda: machine_state(client, container, settings, backups_dir))
    assert check["changed"] is True and check["would_restart"] == ["web", "worker"], check
    assert check["restarted"] == []
    assert real["restarted"] == check["would_restart"]
    after = programs(container)
    assert after["worker"] != before["programs"]["worker"]
    assert not set(after["web workers"]) & set(before["programs"]["web workers"])
    assert after["scheduler"] == before["programs"]["scheduler"]  # not predicted, not restarted
    wait_healthy(container)

    # Redis down: the check predicts no change, and the real run changes nothing.
    supervisorctl = ["supervisorctl", "-c", "/etc/supervisor/supervisord.conf"]
    container.exec_run(supervisorctl + ["stop", "redis"])
    try:
        pids = {name: program_pid(container, name) for name in ("web", "worker")}
        check, real = check_then_real("restart", dict(args, deadline=20))
        assert check[0] != 0 and check[1]["changed"] is False and check[1]["would_restart"] == [], check[1]
        assert real[0] != 0 and real[1]["changed"] is check[1]["changed"], real[1]
        assert real[1]["restarted"] == []
        assert "redis down" in check[1]["msg"] and "redis down" in real[1]["msg"]
        assert {name: program_pid(container, name) for name in ("web", "worker")} == pids
    finally:
        container.exec_run(supervisorctl + ["start", "redis"])
    wait_healthy(container)


def test_restore_check_predicts_the_swap_and_a_refusal(client, container, settings, backups_dir):
    wait_healthy(container)
    name = fresh_backup(container)
    generate_data(container, "after-backup-%s" % uuid.uuid4().hex[:6])  # the restore has something to undo
    args = {"container": settings["glitchtip_container_name"], "backup": name}
    before, check, real = predicted_then_real(
        "restore", args, lambda: machine_state(client, container, settings, backups_dir))
    assert check["changed"] is True and check["dry_run"] is True
    assert check["backup"].endswith("/" + name)
    assert any(step.startswith("swap the scratch database in") for step in check["would"]), check["would"]
    done = [step["step"] for step in real["steps"]]
    assert "swap" in done
    assert ("uploads" in done) == ("replace the uploads" in check["would"])
    assert psql(container, "SELECT oid FROM pg_database WHERE datname = 'glitchtip'") != before["database oid"]
    assert table_checksums(container) != before["tables"]  # the rows written after the backup are gone
    wait_healthy(container)

    # A backup that is not there: refused in check mode and for real, unchanged both times.
    before = machine_state(client, container, settings, backups_dir)
    check, real = check_then_real("restore", dict(args, backup="glitchtip-19990101T000000Z"))
    assert check[0] != 0 and check[1]["changed"] is False, check[1]
    assert real[0] != 0 and real[1]["changed"] is check[1]["changed"], real[1]
    assert machine_state(client, container, settings, backups_dir) == before


def user_row(container, email):
    return psql(container, "SELECT is_superuser || '|' || is_staff || '|' || is_active FROM users_user "
                           "WHERE email = '%s'" % email)


def test_user_check_predicts_the_change_and_its_diff(client, container, settings, backups_dir):
    wait_healthy(container)
    slug = "check-%s" % uuid.uuid4().hex[:10]
    psql(container, "INSERT INTO organizations_organization (name, slug, created) VALUES ('%s', '%s', now())"
         % (slug, slug))
    email = "%s@example.com" % slug
    password = "Pw!%s" % uuid.uuid4().hex
    args = {"container": settings["glitchtip_container_name"], "email": email, "password": password,
            "superuser": True, "organizations": [{"slug": slug, "role": "admin"}]}
    for change, expected_row in ((args, "true|true|true"), (dict(args, active=False), "true|true|false")):
        _before, check, real = predicted_then_real(
            "user", change, lambda: machine_state(client, container, settings, backups_dir), "--diff")
        assert check["changed"] is True and check["diff"]["before"] != check["diff"]["after"]
        # A new user's id is the database's to give: the check run cannot know it (None), all else it predicts.
        assert dict(real["diff"], after=dict(real["diff"]["after"], id=None)) == \
            dict(check["diff"], after=dict(check["diff"]["after"], id=None))
        assert user_row(container, email) == expected_row
        assert password not in json.dumps(check) + json.dumps(real)

        # Run again: nothing left to change, predicted and real.
        check, real = check_then_real("user", change, "--diff")
        assert check[0] == 0 and real[0] == 0, (check, real)
        assert check[1]["changed"] is False and real[1]["changed"] is False


def test_data_tree_check_predicts_the_paths_and_their_diff(settings):
    root = "/tmp/glitchtip-aio-molecule-check-%s" % uuid.uuid4().hex[:8]
    os.makedirs(os.path.join(root, "wrong-mode"))
    os.chmod(os.path.join(root, "wrong-mode"), 0o755)
    os.makedirs(os.path.join(root, "right"))
    os.chmod(os.path.join(root, "right"), 0o700)
    uid = os.getuid()
    args = {"directories": [{"path": os.path.join(root, "new", "deep"), "owner": uid, "mode": "0750"},
                            {"path": os.path.join(root, "wrong-mode"), "owner": uid, "mode": "u=rwx,go="},
                            {"path": os.path.join(root, "right"), "owner": uid, "mode": "0700"}]}

    def tree():
        return sorted((os.path.relpath(d, root), oct(os.stat(d).st_mode & 0o7777)) for d, _dirs, _files in os.walk(root))

    try:
        _before, check, real = predicted_then_real("data_tree", args, tree, "--diff")
        assert check["changed"] is True
        assert check["changed_paths"] == [os.path.join(root, "new", "deep"), os.path.join(root, "wrong-mode")]
        assert real["changed_paths"] == check["changed_paths"] and real["diff"] == check["diff"]
        assert ("wrong-mode", "0o700") in tree() and ("new/deep", "0o750") in tree()

        check, real = check_then_real("data_tree", args, "--diff")
        assert check[1]["changed"] is False and real[1]["changed"] is False, (check, real)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def task_message(stdout, task):
    """The msg of a debug task in ansible-playbook's output (printed as JSON: no YAML folding to undo)."""
    start = stdout.index("=> {", stdout.index("TASK [%s]" % task)) + len("=> ")
    return json.JSONDecoder().raw_decode(stdout, start)[0]["msg"]


def live_rows(container):
    """The live database's events and organizations: how many, and which."""
    return {table: psql(container, "SELECT count(*) || ':' || coalesce(string_agg(id::text, ',' ORDER BY id), '') "
                                   "FROM %s" % table) for table in ("events_event", "organizations_organization")}


def test_restore_playbook_check_says_what_it_verified_and_would_do(client, container, settings, backups_dir):
    """restore.yml --check as an operator runs it: the backup named, what was verified, the steps a real run
    would take, nothing changed; then the real run changes what the check said it would."""
    wait_healthy(container)
    name = fresh_backup(container)
    generate_data(container, "after-playbook-backup-%s" % uuid.uuid4().hex[:6])
    rows, before = live_rows(container), machine_state(client, container, settings, backups_dir)

    checked = run_playbook("restore.yml", "--check", "-e", "backup=%s" % name,
                           env={"ANSIBLE_CALLBACK_RESULT_FORMAT": "json"})
    assert checked.returncode == 0, checked.stdout[-3000:]
    message = task_message(checked.stdout, "Report")
    with open(os.path.join(backups_dir, name, "manifest.json"), encoding="utf-8") as handle:
        checksums = len(json.load(handle)["files"])  # database/<file> entries: one per table, and more
    assert message[0] == ("%s verified (manifest, %d checksums and a full read of every archive ok); "
                          "nothing was changed" % (name, checksums)), message
    planned = [line for line in message if line.startswith("would ")]
    assert planned == [
        "would restore database/ (directory format, parallel jobs) into a scratch database beside a full read of it",
        "would stop scheduler, worker, web once that read has passed",
        "would swap the scratch database in for glitchtip, keeping the replaced one until healthy",
        "would replace the uploads",
        "would start web again and wait until it answers, then worker, scheduler and wait until healthy",
        "would drop the replaced database",
    ], message
    assert message[-1] == "steps taken: verify", message
    assert recap(checked)["changed"] == 1
    assert live_rows(container) == rows
    assert machine_state(client, container, settings, backups_dir) == before
    assert health(container)["status"] == "ok"

    restored = run_playbook("restore.yml", "-e", "backup=%s" % name)
    assert restored.returncode == 0, restored.stdout[-3000:]
    assert recap(restored)["changed"] == recap(checked)["changed"]
    assert live_rows(container) != rows
    wait_healthy(container)
