"""The sftp and s3 destinations' settings: what the deploy refuses before anything changes, and the
restic repository each becomes (the same checks, the runtime's from_options)."""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
import subprocess

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import (
    destination_s3, destination_sftp, destinations, restic)
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime.backup_files import BackupError

HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3Snc7eVnWJfuvTJXh1aUbq7bBiTdfSnpzyHwf2bbLv root@backup"
PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n" \
              "-----END OPENSSH PRIVATE KEY-----\n"
CA = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ\n-----END CERTIFICATE-----\n"
SFTP = {"host": "backup.example.net", "user": "glitchtip", "path": "/srv/backups/glitchtip", "host_key": HOST_KEY,
        "private_key": PRIVATE_KEY}
S3 = {"endpoint": "s3.eu-central-1.amazonaws.com", "bucket": "acme-glitchtip", "access_key_id": "AKIAEXAMPLE",
      "secret_access_key": "wJalrXUtnFEMI/K7MDENG"}
ENVIRON = {restic.ENCRYPTION_KEY_ENV: "repository-key-0123456789"}


def test_good_settings_have_no_problem():
    assert destination_sftp.problems(SFTP) == []
    assert destination_sftp.problems(dict(SFTP, port="2222", keep_days=90)) == []
    assert destination_s3.problems(S3) == []
    assert destination_s3.problems(dict(S3, endpoint="minio.lan:9000", path="host1/gt", region="eu-central-1",
                                        ca_cert=CA, keep_days="7")) == []
    assert destinations.problems({"sftp": SFTP, "s3": S3}) == []


@pytest.mark.parametrize("change, problem", [
    ({"host": ""}, "sftp: host required"),
    ({"private_key": None, "host_key": None}, "sftp: host_key and private_key required"),
    ({"host": "backup example"}, "sftp: host 'backup example' is not a host name or address"),
    ({"port": "22x"}, "sftp: port must be a whole number from 1 to 65535, got '22x'"),
    ({"port": 0}, "sftp: port must be a whole number from 1 to 65535, got 0"),
    ({"keep_days": "0"}, "sftp: keep_days must be a whole number from 1 to 36500, got '0'"),
    ({"path": "backups"}, "sftp: path must be absolute, got 'backups'"),
    ({"user": "a b"}, "sftp: user 'a b' is not a user name"),
    ({"host_key": "AAAAC3NzaC1lZDI1NTE5"}, "sftp: host_key must be one line 'TYPE BASE64'"),
    ({"host_key": HOST_KEY + "\n" + HOST_KEY}, "sftp: host_key must be one line 'TYPE BASE64'"),
    ({"private_key": "/root/.ssh/id_ed25519"}, "sftp: private_key must be the text of a PEM PRIVATE KEY"),
    ({"password": "x"}, "sftp: unknown setting(s) password (known: host, host_key, keep_days, path, port, "
                        "private_key, user)"),
])
def test_the_sftp_destination_refuses_what_it_cannot_use(change, problem):
    found = destination_sftp.problems(dict(SFTP, **change))
    assert len(found) == 1 and found[0].startswith(problem), found
    with pytest.raises(BackupError, match="^prepare: " + re.escape(problem.split(" '")[0])):
        destination_sftp.from_options(dict(SFTP, **change), ENVIRON)


@pytest.mark.parametrize("change, problem", [
    ({"bucket": "", "secret_access_key": ""}, "s3: bucket and secret_access_key required"),
    ({"endpoint": "https://s3.example.net"}, "s3: endpoint is host or host:port, without a scheme"),
    ({"endpoint": "s3.example.net/bucket"}, "s3: endpoint is host or host:port, without a scheme"),
    ({"endpoint": "s3.example.net:99999"}, "s3: endpoint's port must be a whole number from 1 to 65535"),
    ({"bucket": "Acme_Backups"}, "s3: bucket 'Acme_Backups' is not an S3 bucket name"),
    ({"path": "a b"}, "s3: path 'a b': letters, digits"),
    ({"ca_cert": "/etc/ssl/ca.pem"}, "s3: ca_cert must be the text of a PEM CERTIFICATE"),
    ({"secret_key": "x"}, "s3: unknown setting(s) secret_key"),
])
def test_the_s3_destination_refuses_what_it_cannot_use(change, problem):
    found = destination_s3.problems(dict(S3, **change))
    assert len(found) == 1 and found[0].startswith(problem), found


def test_the_deploys_validation_reads_each_kinds_own_checks():
    assert destinations.problems({"sftp": {"host": "b.example"}}) == [
        "sftp: user and path and host_key and private_key required"]
    # Numbers from the inventory are checked as the runtime reads them back (text).
    assert destinations.problems({"s3": dict(S3, keep_days=0)}) == [
        "s3: keep_days must be a whole number from 1 to 36500, got '0'"]


def test_each_kind_names_the_packages_the_image_needs():
    assert destinations.packages({}) == []
    assert destinations.packages({"s3": S3}) == ["restic"]
    assert destinations.packages({"sftp": SFTP, "s3": S3}) == ["openssh-client", "restic"]
    assert destinations.packages({"nosuch": {}}) == []  # refused by problems(); nothing to install


def test_the_sftp_repository_trusts_only_the_given_host_key():
    assert destination_sftp.known_hosts_line("backup.example.net", 22, HOST_KEY) == (
        "backup.example.net ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIF3Snc7eVnWJfuvTJXh1aUbq7bBiTdfSnpzyHwf2bbLv")
    assert destination_sftp.known_hosts_line("10.0.0.5", "2222", HOST_KEY).startswith("[10.0.0.5]:2222 ssh-ed25519 ")
    repository = destination_sftp.from_options(dict(SFTP, port="2222", keep_days="9"), ENVIRON)
    assert repository.url == "sftp:glitchtip@backup.example.net:/srv/backups/glitchtip/restic"
    assert repository.keep_days == 9 and repository.password == "repository-key-0123456789"
    command = repository.options[1]
    assert command.startswith("sftp.command=ssh -i {dir}/id -o IdentitiesOnly=yes")
    for option in ("StrictHostKeyChecking=yes", "BatchMode=yes", "UserKnownHostsFile={dir}/known_hosts",
                   "GlobalKnownHostsFile=/dev/null", "-p 2222 glitchtip@backup.example.net -s sftp"):
        assert option in command
    assert repository.key_files == {"id": PRIVATE_KEY,
                                    "known_hosts": destination_sftp.known_hosts_line("backup.example.net", 2222,
                                                                                     HOST_KEY)}
    assert repository.env == {}  # no credential in restic's environment beyond its key


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen not installed")
def test_the_known_hosts_line_is_what_ssh_itself_accepts(tmp_path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "srv", "-f", str(tmp_path / "k")], check=True)
    host_key = (tmp_path / "k.pub").read_text(encoding="utf-8").strip()
    (tmp_path / "known_hosts").write_text(destination_sftp.known_hosts_line("backup.example.net", 22, host_key) + "\n",
                                          encoding="utf-8")
    found = subprocess.run(["ssh-keygen", "-F", "backup.example.net", "-f", str(tmp_path / "known_hosts")],
                           capture_output=True, text=True, check=True).stdout
    assert host_key.split()[1] in found
    fingerprint = subprocess.run(["ssh-keygen", "-lf", str(tmp_path / "known_hosts"), "-E", "sha256"],
                                 capture_output=True, text=True, check=True).stdout.split()[1]
    raw = base64.b64decode(host_key.split()[1])
    assert fingerprint == "SHA256:" + base64.b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")


def test_the_s3_repository_speaks_https_with_its_own_credentials():
    repository = destination_s3.from_options(dict(S3, path="/host1/", ca_cert=CA), ENVIRON)
    assert repository.url == "s3:https://s3.eu-central-1.amazonaws.com/acme-glitchtip/host1/restic"
    assert destination_s3.repository_url("minio.lan:9000", "b", "") == "s3:https://minio.lan:9000/b/restic"
    assert repository.options == ["--cacert", "{dir}/ca.pem"] and repository.key_files == {"ca.pem": CA.strip()}
    assert repository.env == {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",
                              "AWS_DEFAULT_REGION": "us-east-1"}
    assert "wJalrXUtnFEMI/K7MDENG" in repository.secrets
    assert destination_s3.from_options(S3, ENVIRON).options == []


def test_restore_names_a_source_that_is_configured_or_says_which_are():
    environ = dict(ENVIRON, **destinations.environment({"sftp": SFTP, "s3": S3}))
    assert destinations.named(environ, "s3").url.startswith("s3:https://")
    with pytest.raises(BackupError, match=r"^select: no backup destination 'ftp' is configured here "
                                          r"\(configured: local, sftp, s3\)"):
        destinations.named(environ, "ftp")
