"""restic.py's pure parts: reading back a snapshot against the manifest, restic's JSON, its messages.

The commands themselves run against real SFTP and S3 servers in tests/offsite."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import tarfile

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup_files as files, restic
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime.backup_files import BackupError

DIRECTORY = "/data/backups/glitchtip-20261203T020000Z"


def tar_of(members):
    """A tar stream of {name: bytes} (and directories for names ending in /), as restic dump writes one."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            if name.endswith("/"):
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


def digest(data):
    return len(data), hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name, expected", [
    ("data/backups/glitchtip-20261203T020000Z/database/toc.dat", "database/toc.dat"),
    ("/data/backups/glitchtip-20261203T020000Z/manifest.json", "manifest.json"),
    ("./data/backups/glitchtip-20261203T020000Z/roles.sql", "roles.sql"),
    ("elsewhere/roles.sql", "elsewhere/roles.sql"),  # not under the directory: kept, so it shows as extra
])
def test_member_names_are_the_manifests_names(name, expected):
    assert restic.member_name(name, DIRECTORY) == expected


def test_a_snapshot_read_back_is_hashed_file_by_file_without_touching_the_disk():
    stream = tar_of({"data/": b"", "data/backups/glitchtip-20261203T020000Z/": b"",
                     "data/backups/glitchtip-20261203T020000Z/roles.sql": b"CREATE ROLE x;",
                     "data/backups/glitchtip-20261203T020000Z/database/toc.dat": b"\x00" * 3000})
    assert restic.tar_digests(stream, DIRECTORY) == {"roles.sql": digest(b"CREATE ROLE x;"),
                                                     "database/toc.dat": digest(b"\x00" * 3000)}


def test_every_difference_from_the_manifest_is_named():
    expected = {"roles.sql": digest(b"a"), "database/toc.dat": digest(b"bb"), "uploads.tar.gz": digest(b"ccc"),
                "manifest.json": digest(b"{}")}
    found = {"roles.sql": digest(b"a"), "database/toc.dat": digest(b"bX"), "uploads.tar.gz": digest(b"cc"),
             "stray.bin": digest(b"?")}
    assert restic.read_back_problems(found, expected) == [
        "database/toc.dat: SHA-256 read back differs",
        "manifest.json: missing from the repository",
        "uploads.tar.gz: 2 bytes read back, 3 stored",
        "stray.bin: in the repository, not in the manifest"]
    assert restic.read_back_problems(expected, expected) == []


def test_what_a_snapshot_must_hold_is_the_manifest_and_the_manifest_itself(tmp_path):
    (tmp_path / "roles.sql").write_bytes(b"CREATE ROLE x;")
    manifest_ = files.manifest(datetime.datetime(2026, 12, 3, tzinfo=datetime.timezone.utc), {},
                               files.backup_entries(str(tmp_path)), "zstd:1")
    (tmp_path / files.MANIFEST).write_text(json.dumps(manifest_), encoding="utf-8")
    expected = restic.expected_files(str(tmp_path), manifest_)
    assert expected == {"roles.sql": digest(b"CREATE ROLE x;"),
                        files.MANIFEST: digest((tmp_path / files.MANIFEST).read_bytes())}


def test_the_backup_summary_is_found_among_restics_progress_lines():
    out = "\n".join([json.dumps({"message_type": "status", "percent_done": 0.5}), "not json {",
                     json.dumps({"message_type": "summary", "snapshot_id": "abc123", "data_added": 6823}), ""])
    assert restic.summary_line(out) == {"message_type": "summary", "snapshot_id": "abc123", "data_added": 6823}
    assert restic.summary_line(json.dumps({"message_type": "status"})) is None


def test_only_our_snapshots_are_backups_oldest_first():
    snapshots = [
        {"id": "b" * 64, "tags": ["glitchtip-aio", "glitchtip-20261203T020000Z"]},
        {"id": "a" * 64, "tags": ["glitchtip-20261202T020000Z", "glitchtip-aio"]},
        {"id": "c" * 64, "tags": ["someone-elses"]},
        {"id": "d" * 64, "tags": ["glitchtip-aio"]},  # ours but no backup name: not a backup
        {"id": "e" * 64, "tags": None},
    ]
    assert restic.snapshot_backups(snapshots) == [
        ("glitchtip-20261202T020000Z", datetime.datetime(2026, 12, 2, 2, tzinfo=datetime.timezone.utc), "a" * 64),
        ("glitchtip-20261203T020000Z", datetime.datetime(2026, 12, 3, 2, tzinfo=datetime.timezone.utc), "b" * 64)]
    assert restic.snapshot_backups(None) == []


def test_restics_message_is_its_fatal_line_with_the_error_it_ignored_first():
    stderr = ("restoring snapshot 66771157\n"
              "ignoring error for /data/backups/x: decrypting blob <tree/c27dfbc0> failed: ciphertext verification "
              "failed\nignoring error for /data/backups/x: again\nFatal: There were 2 errors\n")
    assert restic.last_words(stderr) == (
        "Fatal: There were 2 errors (ignoring error for /data/backups/x: decrypting blob <tree/c27dfbc0> failed: "
        "ciphertext verification failed)")
    assert restic.last_words("Fatal: wrong password or no key found\n") == "Fatal: wrong password or no key found"
    assert restic.last_words("") == "no message"


def test_no_key_no_repository():
    with pytest.raises(BackupError, match=r"^prepare: sftp: no repository key: AIO_BACKUP_ENCRYPTION_KEY "
                                          r"\(set glitchtip_backup_encryption_key"):
        restic.Repository("sftp", "sftp:u@h:/r", "")


def test_every_line_of_a_key_file_is_redacted_from_what_restic_prints():
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACBd0p3O3lZ1\n" \
          "-----END OPENSSH PRIVATE KEY-----\n"
    repository = restic.Repository("sftp", "sftp:u@h:/r", "repository-key-1", key_files={"id": key},
                                   secrets=["s3-secret-value"])
    text = "Load key: b3BlbnNzaC1rZXktdjEAAAAA; pw repository-key-1; s3 s3-secret-value"
    assert restic.redact(text, repository.secrets) == "Load key: <redacted>; pw <redacted>; s3 <redacted>"


# A restic stand-in for dump --archive tar: the archive, then (a moment later, as restic's own writer
# does) the padding to the record size, dying of SIGPIPE like a Go program if the pipe was closed.
FAKE_DUMP = r'''
import io, os, signal, sys, tarfile, time
signal.signal(signal.SIGPIPE, signal.SIG_DFL)
directory = sys.argv[1]
data = open(os.path.join(directory, "manifest.json"), "rb").read()
archive = io.BytesIO()
with tarfile.open(fileobj=archive, mode="w", format=tarfile.PAX_FORMAT) as tar:
    info = tarfile.TarInfo(directory.lstrip("/") + "/manifest.json")
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
body = archive.getvalue().rstrip(b"\0")
body += b"\0" * (-len(body) % 512) + b"\0" * 1024  # up to and with the two end-of-archive blocks
body += b"\0" * (-len(body) % tarfile.RECORDSIZE)  # whole records, as tarfile reads them
sys.stdout.buffer.write(body)
sys.stdout.buffer.flush()
time.sleep(0.3)
sys.stdout.buffer.write(b"\0" * 65536)  # the padding restic writes after them
sys.stdout.buffer.flush()
'''


def test_a_read_back_drains_restics_padding_so_it_never_dies_of_sigpipe(tmp_path):
    import subprocess
    import sys

    directory = tmp_path / "glitchtip-20261203T020000Z"
    directory.mkdir()
    (directory / files.MANIFEST).write_text('{"files": {}}\n', encoding="utf-8")
    script = tmp_path / "fake_restic.py"
    script.write_text(FAKE_DUMP, encoding="utf-8")

    def popen(argv, **kwargs):
        assert argv[-5:] == ["dump", "--archive", "tar", "0123456789abcdef", str(directory)]
        return subprocess.Popen([sys.executable, str(script), str(directory)], **kwargs)

    repository = restic.Repository("sftp", "sftp:backup@host:/srv/repo/restic", "k" * 64, popen=popen)
    assert repository.read_back("0123456789abcdef", str(directory), {"files": {}}) == 1
