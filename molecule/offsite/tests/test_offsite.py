"""Off-host copies against real repositories: an SFTP server and an S3-compatible one (moto), both on
this machine's Docker engine (prepare.yml). Every verified backup goes to both as an encrypted restic
snapshot and is read back against its manifest; a failed copy is reported and sent to the webhooks,
a wrong key and a corrupted repository are refused before anything live is touched, retention
applies on the repository, and a lost host comes back from a repository alone.

The tests run in file order and build on each other (one deployment).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import uuid

import docker
import pytest
import yaml

from aio_testlib import (Sink, aio, generate_data, health, http, playbook_under_probe, psql, recap, run_playbook,
                         store_processed_event, table_checksums, upload_checksums, wait_healthy)

testinfra_hosts = ["ansible://localhost"]

SFTP_SERVER = "glitchtip-aio-oh-sftp"
S3_SERVER = "glitchtip-aio-oh-s3"
NETWORK = "glitchtip-aio-oh"
REPOSITORY = "/srv/repo/glitchtip/restic"  # the sftp destination's path + /restic
KEY_NAME = "backup_encryption_key"
STATE = {}


@pytest.fixture(scope="module")
def engine():
    return docker.from_env()


def the_container(engine, settings):
    return engine.containers.get(settings["glitchtip_container_name"])


def stored_secrets(settings):
    with open(os.path.join(settings["glitchtip_data_dir"], "secrets.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def said(result):
    return " ".join(result.stdout.split())


def backup_report(container, *args, environment=None):
    code, out, err = aio(container, "backup", "--json", *args, environment=environment)
    assert out.strip(), "aio backup printed nothing (exit %d): %s" % (code, err)
    return code, json.loads(out)


def repository_backups(container):
    """{destination: [backup names]} as the container's own runtime lists each repository."""
    script = ("import json, os, sys; sys.path.insert(0, '/usr/local/lib/glitchtip-aio');"
              "from aio_runtime import destinations;"
              "print(json.dumps({d.name: [n for n, _t in d.list()] for d in destinations.further(os.environ)}))")
    code, out = container.exec_run(["python3", "-c", script])
    assert code == 0, out.decode()
    return json.loads(out.decode())


def sftp_files(engine):
    code, out = engine.containers.get(SFTP_SERVER).exec_run(["find", REPOSITORY, "-type", "f"])
    assert code == 0, out.decode()
    return out.decode().split()


def test_the_key_is_generated_once_said_where_it_is_and_never_printed(engine, settings):
    secrets_file = os.path.join(settings["glitchtip_data_dir"], "secrets.yml")
    first = stored_secrets(settings)
    assert len(first[KEY_NAME]) == 64 and oct(os.stat(secrets_file).st_mode)[-3:] == "600"
    # A first deploy again, as on a host that never had a key: nothing was backed up off-host yet.
    with open(secrets_file, "w", encoding="utf-8") as handle:
        yaml.safe_dump({k: v for k, v in first.items() if k != KEY_NAME}, handle)
    os.chmod(secrets_file, 0o600)
    result = run_playbook("deploy.yml")
    assert result.returncode == 0, result.stdout[-4000:]
    key = stored_secrets(settings)[KEY_NAME]
    assert key != first[KEY_NAME] and len(key) == 64
    text = said(result)
    assert "A backup encryption key was generated for the off-host repositories: %s in %s" % (
        KEY_NAME, secrets_file) in text
    assert "grep %s %s" % (KEY_NAME, secrets_file) in text
    assert key not in result.stdout + result.stderr
    container = the_container(engine, settings)
    assert container.attrs["Config"]["Env"].count("AIO_BACKUP_ENCRYPTION_KEY=" + key) == 1
    wait_healthy(container)
    # The next run: the same key, nothing said, nothing changed.
    again = run_playbook("deploy.yml")
    assert again.returncode == 0 and recap(again)["changed"] == 0, again.stdout[-4000:]
    assert "was generated" not in said(again) and stored_secrets(settings)[KEY_NAME] == key
    # The app's own processes never see the key or a destination's credentials.
    pids = container.exec_run(["pgrep", "-f", "runworker|gunicorn|granian"]).output.decode().split()
    assert pids
    for pid in pids:  # read as the process's own user: root in the container may not (no CAP_SYS_PTRACE)
        owner = container.exec_run(["stat", "-c", "%u", "/proc/%s" % pid]).output.decode().strip()
        code, out = container.exec_run(["cat", "/proc/%s/environ" % pid], user=owner)
        assert code == 0 and b"SECRET_KEY=" in out, out[:300]
        for name in (b"AIO_BACKUP_TO_", b"AIO_BACKUP_ENCRYPTION_KEY="):  # credentials, key; the kinds list is no secret
            assert name not in out, "process %s sees %s" % (pid, name.decode())


def test_each_backup_is_sent_to_both_repositories_encrypted_and_read_back(engine, settings):
    container = the_container(engine, settings)
    marker = "oh-%s" % uuid.uuid4().hex[:6]
    generate_data(container, marker)
    result = run_playbook("backup.yml", "-v")
    assert result.returncode == 0, result.stdout[-4000:]
    text = said(result)
    assert re.search(r"written and verified; sent to (sftp, s3|s3, sftp)", text), text[-3000:]
    for name, scheme in (("sftp", "sftp:"), ("s3", "s3:https://")):  # each copy's own line, without -v too
        assert re.search(r"%s: snapshot [0-9a-f]{8} in %s\S+: [0-9.]+ \w+ sent, stored and read back \(\d+ files "
                         r"equal to the manifest\), in [0-9.]+ s" % (name, re.escape(scheme)), text), text[-3000:]
    code, report = backup_report(container)
    assert code == 0 and report["ok"], report
    local_files = len(report["files"]) + 1  # and manifest.json
    for name in ("sftp", "s3"):
        outcome = report["destinations"][name]
        assert outcome["ok"] and outcome["files_verified"] == local_files, outcome
        assert outcome["reason"] == "stored and read back (%d files equal to the manifest)" % local_files
    # What each copy sent, restic's own count (deduplication pays on big data: bench/offsite.py's figures;
    # here each dump's toc.dat and restic's own metadata are most of it).
    for name in ("sftp", "s3"):
        assert isinstance(report["destinations"][name]["bytes_sent"], int), report["destinations"][name]
    print("bytes sent, second backup: sftp %s, s3 %s (local backup %d bytes)" % (
        report["destinations"]["sftp"]["bytes_sent"], report["destinations"]["s3"]["bytes_sent"], report["size"]))
    listed = repository_backups(container)
    assert listed["sftp"][-1] == listed["s3"][-1] == report["name"] and len(listed["sftp"]) == 2
    # Encrypted at rest: the marker the rows carry is nowhere in the repository's files.
    code, out = engine.containers.get(SFTP_SERVER).exec_run(["grep", "-rl", marker, REPOSITORY])
    assert code == 1 and not out, out.decode()
    STATE["marker"] = marker


def test_a_failed_copy_keeps_the_local_backup_and_is_sent_to_the_webhooks(engine, settings):
    container = the_container(engine, settings)
    sink = Sink(container)
    network = engine.networks.get(NETWORK)
    network.disconnect(SFTP_SERVER)
    try:
        code, report = backup_report(container, "--notify-failure",
                                     environment={"AIO_NOTIFY_WEBHOOK_URL": sink.url("/generic")})
        played = run_playbook("backup.yml")
    finally:
        network.connect(SFTP_SERVER)
    # The playbook fails, so a script running it sees the copy missing; the local backup is kept.
    assert played.returncode != 0
    assert re.search(r"glitchtip-\d{8}T\d{6}Z is kept and verified in \S+/backups, but sftp did not get it",
                     said(played)), said(played)[-3000:]
    assert re.search(r"sftp: FAILED in [0-9.]+ s: repository: sftp: cannot open the repository", said(played))
    assert code == 0 and report["ok"], report  # the local backup is kept and verified
    assert os.path.isfile(os.path.join(settings["glitchtip_data_dir"], "backups", report["name"], "manifest.json"))
    sftp, s3 = report["destinations"]["sftp"], report["destinations"]["s3"]
    assert not sftp["ok"] and sftp["failed_step"] == "repository", sftp
    assert "cannot open the repository at sftp:backup@glitchtip-aio-oh-sftp" in sftp["reason"]
    assert s3["ok"], s3
    assert "sending to sftp FAILED" in report["reason"]
    # health says so beside the age of each last good copy, without calling GlitchTip unhealthy.
    seen = health(container)
    offsite = seen["components"]["offsite"]
    assert offsite["status"] == "degraded" and "sftp: last good copy" in offsite["reason"], offsite
    assert "last attempt FAILED" in offsite["reason"] and "s3: last good copy 0.0 h ago" in offsite["reason"]
    assert seen["status"] == "ok", seen
    assert report["notifications"]["webhook"]["delivered"] is True, report["notifications"]
    [received] = [json.loads(item["body"]) for item in sink.received() if item["path"] == "/generic"]
    assert received["job"] == "backup" and received["ok"] is False
    assert received["summary"]["failed step"] == "sending to sftp"
    # The private key and the repository key are in nothing printed or sent.
    key = stored_secrets(settings)[KEY_NAME]
    with open("/tmp/glitchtip-aio-oh-fixtures/client/id_ed25519", encoding="utf-8") as handle:
        private_lines = [line for line in handle.read().splitlines() if line and not line.startswith("-----")]
    everything = json.dumps(report) + json.dumps(sink.received())
    assert key not in everything and not any(line in everything for line in private_lines)


def test_a_wrong_key_is_refused_by_name_and_changes_nothing(engine, settings):
    container = the_container(engine, settings)
    before = repository_backups(container)
    wrong = {"AIO_BACKUP_ENCRYPTION_KEY": "not-the-key-" + uuid.uuid4().hex}
    code, report = backup_report(container, environment=wrong)
    assert code == 0 and report["ok"], report
    for name in ("sftp", "s3"):
        outcome = report["destinations"][name]
        assert not outcome["ok"] and outcome["failed_step"] == "repository", outcome
        assert "the encryption key does not open the repository" in outcome["reason"], outcome
        assert "glitchtip_backup_encryption_key" in outcome["reason"]
    code, out, _err = aio(container, "restore", "--from", "s3", "--dry-run", "--json", environment=wrong)
    refused = json.loads(out)
    assert code == 1 and refused["touched"] is False and refused["failed_step"] == "repository", refused
    assert repository_backups(container) == before
    # A deploy given another key than the stored one refuses before writing secrets.yml or touching anything.
    secrets_before = stored_secrets(settings)
    result = run_playbook("deploy.yml", "-e", "glitchtip_backup_encryption_key=" + wrong["AIO_BACKUP_ENCRYPTION_KEY"])
    assert result.returncode != 0
    assert "glitchtip_backup_encryption_key differs from backup_encryption_key in" in said(result), said(result)[-2000:]
    assert wrong["AIO_BACKUP_ENCRYPTION_KEY"] not in result.stdout
    assert stored_secrets(settings) == secrets_before
    assert the_container(engine, settings).attrs["State"]["StartedAt"] == container.attrs["State"]["StartedAt"]


def test_retention_applies_on_the_repository_never_to_the_newest(engine, settings):
    container = the_container(engine, settings)
    # A backup from 2020, as an old nightly one would be: stored in both repositories by the runtime itself.
    script = r"""
import datetime, json, os, sys
sys.path.insert(0, '/usr/local/lib/glitchtip-aio')
from aio_runtime import backup_files as files, destinations
old = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
directory = '/tmp/old/' + files.backup_name(old)
os.makedirs(directory)
with open(directory + '/roles.sql', 'w') as out:
    out.write('-- old')
manifest_ = files.manifest(old, {}, files.backup_entries(directory), 'zstd:1')
with open(directory + '/manifest.json', 'w') as out:
    json.dump(manifest_, out)
for destination in destinations.further(os.environ):
    destination.store(directory, manifest_)
print(files.backup_name(old))
"""
    code, out = container.exec_run(["python3", "-c", script])
    assert code == 0, out.decode()
    old = out.decode().split()[-1]
    assert all(old in names for names in repository_backups(container).values())
    code, report = backup_report(container)
    assert code == 0 and report["ok"], report
    for name in ("sftp", "s3"):
        assert report["destinations"][name]["deleted"] == [old], report["destinations"][name]
    listed = repository_backups(container)
    assert all(old not in names and names[-1] == report["name"] for names in listed.values()), listed
    STATE["newest"] = report["name"]
    # Both copies good again: health.yml's offsite row says so, and the scheduled restart reports it.
    result = run_playbook("health.yml")
    assert result.returncode == 0 and re.search(r"offsite +ok .* sftp: last good copy 0\.0 h ago", said(result)), \
        said(result)[-2000:]
    code, out, _err = aio(container, "restart", "--dry-run", "--json")
    assert code == 0 and "s3: last good copy" in json.loads(out)["before"]["offsite"], out


def test_a_lost_host_comes_back_from_the_s3_repository_alone(engine, settings):
    container = the_container(engine, settings)
    base = "http://127.0.0.1:%s" % settings["glitchtip_container_web_host_port"]
    event = store_processed_event(lambda sql: psql(container, sql), base, base, "before the host was lost", 60)
    code, report = backup_report(container)
    assert code == 0 and report["destinations"]["s3"]["ok"], report
    tables, uploads = table_checksums(container), upload_checksums(settings)
    vault = stored_secrets(settings)  # what the operator kept away from the host
    # The host is lost: the container, the data directory with every local backup and secrets.yml.
    container.remove(force=True)
    shutil.rmtree(settings["glitchtip_data_dir"])
    extra = ["-e", json.dumps({"glitchtip_secret_key": vault["secret_key"], "glitchtip_db_password": vault["db_password"],
                               "glitchtip_redis_password": vault["redis_password"],
                               "glitchtip_backup_encryption_key": vault[KEY_NAME]})]
    started = time.monotonic()
    result, seen = playbook_under_probe("%s/api/0/events/%s/" % (base, event), "recover.yml", "-e", "source=s3", *extra)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stdout[-5000:]
    print("recovered from s3 in %.0f s (deploy on an empty host + restore of %s)" % (took, report["name"]))
    # The app was held until the restore: its first answer, and every one after, is the restored event; an
    # empty GlitchTip (the deploy's fresh cluster) would have answered 404.
    answers = [(at, status) for at, status in seen if status is not None]
    assert answers and all(status == 200 for _at, status in answers), answers[:10]
    assert not os.path.exists(os.path.join(settings["glitchtip_data_dir"], "postgres", "aio-recover.json"))
    assert "Recovered from s3: restored %s" % report["name"] in said(result)
    # It ended with the new host's first backup, here and in both repositories: health has a good copy.
    offsite = health(the_container(engine, settings))["components"]["offsite"]
    assert offsite["status"] == "ok" and "s3: last good copy 0.0 h ago" in offsite["reason"], offsite
    # Run again on this host, which has its database now: refused before anything changes (restore.yml is
    # the way to replace data on purpose).
    started_at = the_container(engine, settings).attrs["State"]["StartedAt"]
    again = run_playbook("recover.yml", "-e", "source=s3", *extra)
    assert again.returncode != 0
    assert "postgres/data holds a database already: recover.yml brings back a host that lost its data" in \
        said(again), said(again)[-2000:]
    assert the_container(engine, settings).attrs["State"]["StartedAt"] == started_at
    container = the_container(engine, settings)
    wait_healthy(container)
    assert table_checksums(container) == tables
    assert upload_checksums(settings) == uploads
    assert psql(container, "SELECT count(*) FROM users_user WHERE email = '%s@example.com'" % STATE["marker"]) == "1"
    backups_dir = os.path.join(settings["glitchtip_data_dir"], "backups")
    assert not [entry for entry in os.listdir(backups_dir) if entry.startswith(".fetched-")]
    status, _body = http("http://127.0.0.1:%s/_health/" % settings["glitchtip_container_web_host_port"])
    assert status == 200
    STATE["tables"] = tables


def test_a_hold_left_by_an_unfinished_recovery_is_said_before_an_ordinary_deploy_changes_anything(engine, settings):
    container = the_container(engine, settings)
    hold = os.path.join(settings["glitchtip_data_dir"], "postgres", "aio-recover.json")
    with open(hold, "w", encoding="utf-8") as handle:
        handle.write('{"source": "s3", "backup": "latest"}\n')
    try:
        result = run_playbook("deploy.yml")
    finally:
        os.unlink(hold)
    assert result.returncode != 0
    assert "an earlier recovery did not finish: %s keeps web, worker and scheduler stopped" % hold in said(result), \
        said(result)[-2000:]
    assert the_container(engine, settings).attrs["State"]["StartedAt"] == container.attrs["State"]["StartedAt"]


def test_a_corrupted_repository_is_refused_before_anything_live_is_touched(engine, settings):
    container = the_container(engine, settings)
    postmaster = psql(container, "SELECT pg_postmaster_start_time()")
    before = table_checksums(container)
    server = engine.containers.get(SFTP_SERVER)
    packs = [path for path in sftp_files(engine) if "/data/" in path]
    assert packs
    for path in packs:  # 8 bytes overwritten inside each pack file
        code, out = server.exec_run(["sh", "-c", "printf XXXXXXXX | dd of=%s bs=1 seek=64 conv=notrunc" % path])
        assert code == 0, out.decode()
    result = run_playbook("restore.yml", "-e", "source=sftp")
    assert result.returncode != 0
    text = said(result)
    assert re.search(r"refused, nothing was changed: (fetch|verify): sftp: ", text), text[-3000:]
    assert psql(container, "SELECT pg_postmaster_start_time()") == postmaster
    assert table_checksums(container) == before
    assert not [entry for entry in os.listdir(os.path.join(settings["glitchtip_data_dir"], "backups"))
                if entry.startswith(".fetched-")]
    assert psql(container, "SELECT count(*) FROM pg_database WHERE datname LIKE 'glitchtip_%'") == "0"
