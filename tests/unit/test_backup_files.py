# -*- coding: utf-8 -*-
"""backup_files: the directory-format dump's names, manifest entries and compressed-stream checks.

The stream checks run on real gzip and zstd data (zstd's tests only where the zstd program is
installed, as it is in every image): a data file cut short must be named, however it was cut."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess

import pytest

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import backup_files as files

ROWS = b"".join(b"%d\tevent %d payload %s\n" % (i, i, os.urandom(24).hex().encode()) for i in range(20000))
needs_zstd = pytest.mark.skipif(not shutil.which("zstd"), reason="the zstd program is not installed")


@pytest.mark.parametrize("major, compression, label", [(17, "zstd:1", "zstd:1"), ("16", "zstd:1", "zstd:1"),
                                                       (15, "1", "gzip:1"), (13, "1", "gzip:1")])
def test_compression_is_the_fastest_level_of_what_pg_dump_of_that_major_knows(major, compression, label):
    assert files.compression_for(major) == compression
    assert files.compression_label(files.compression_for(major)) == label


def test_usable_cores_are_those_this_process_may_run_on():
    assert files.usable_cores() == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("name, problem", [
    ("roles.sql", None), ("database.dump", None), ("database/toc.dat", None), ("database/3001.dat.zst", None),
    ("database/3001.dat.gz", None), ("database/blobs.toc", None), ("database/blobs_3012.toc", None),
    ("database/blob_16384.dat.zst", None),
    ("database/3001.dat", "database/3001.dat: not a file pg_dump's directory format writes with gzip or zstd"),
    ("database/3001.dat.lz4", "database/3001.dat.lz4: not a file pg_dump's directory format writes with gzip or zstd"),
    ("database/../roles.sql", "database/../roles.sql: not a plain file name or database/<file>"),
    ("database/..", "database/..: not a file pg_dump's directory format writes with gzip or zstd"),
    ("database/sub/3001.dat.zst", "database/sub/3001.dat.zst: not a plain file name or database/<file>"),
    ("uploads/a.png", "uploads/a.png: not a plain file name or database/<file>"),
    ("/etc/passwd", "/etc/passwd: not a plain file name or database/<file>"),
    ("..", "..: not a plain file name or database/<file>"),
    ("database", "database: not a plain file name or database/<file>"),
])
def test_entry_names_are_plain_files_or_pg_dump_files_one_level_under_database(name, problem):
    assert files.entry_problem(name) == problem


def write_backup(directory, legacy=False):
    """A backup directory as run_backup leaves it before the manifest; returns its manifest."""
    os.makedirs(directory)
    (directory / "roles.sql").write_bytes(b"-- roles\n")
    if legacy:
        (directory / "database.dump").write_bytes(b"PGDMP custom")
    else:
        os.makedirs(directory / "database")
        (directory / "database" / "toc.dat").write_bytes(b"PGDMP toc")
        (directory / "database" / "3001.dat.gz").write_bytes(gzip.compress(ROWS))
    entries = files.backup_entries(str(directory))
    return files.manifest(files.backup_time("glitchtip-20261202T030000Z"), {}, entries, "gzip:1")


def test_a_directory_format_backup_lists_each_dump_file_under_database(tmp_path):
    manifest = write_backup(tmp_path / "b")
    assert sorted(manifest["files"]) == ["database/3001.dat.gz", "database/toc.dat", "roles.sql"]
    assert manifest["files"]["database/3001.dat.gz"]["sha256"] == files.sha256_file(
        str(tmp_path / "b" / "database" / "3001.dat.gz"))
    assert manifest["format"] == 2 and files.dump_member(manifest) == "database"
    assert files.compressed_members(manifest) == ["database/3001.dat.gz"]
    assert files.check_manifest_files(str(tmp_path / "b"), manifest) == []


def test_an_older_backups_custom_format_dump_is_still_a_dump(tmp_path):
    manifest = write_backup(tmp_path / "b", legacy=True)
    assert manifest["format"] == 1 and files.dump_member(manifest) == "database.dump"
    assert files.compressed_members(manifest) == []
    assert files.check_manifest_files(str(tmp_path / "b"), manifest) == []


def test_every_file_of_database_must_be_in_the_manifest(tmp_path):
    manifest = write_backup(tmp_path / "b")
    (tmp_path / "b" / "database" / "3002.dat.gz").write_bytes(gzip.compress(b""))
    assert files.check_manifest_files(str(tmp_path / "b"), manifest) == ["database/3002.dat.gz: not in the manifest"]


def test_a_manifest_without_a_dump_or_with_both_is_refused(tmp_path):
    manifest = write_backup(tmp_path / "b")
    both = dict(manifest, files=dict(manifest["files"], **{"database.dump": {"size": 0, "sha256": ""}}))
    assert "database.dump and database/: the manifest lists both dumps" in files.check_manifest_files(
        str(tmp_path / "b"), both)
    neither = dict(manifest, files={"roles.sql": manifest["files"]["roles.sql"]})
    assert files.check_manifest_files(str(tmp_path / "b"), neither) == [
        "database/toc.dat (or database.dump of an older backup): not in the manifest"]


def test_a_nested_or_foreign_entry_is_refused_without_being_read(tmp_path):
    manifest = write_backup(tmp_path / "b")
    manifest["files"]["database/sub/1.dat.gz"] = {"size": 1, "sha256": "0"}
    assert files.check_manifest_files(str(tmp_path / "b"), manifest) == [
        "database/sub/1.dat.gz: not a plain file name or database/<file>"]
    assert files.compressed_members(manifest) == ["database/3001.dat.gz"]


def cut(path, count):
    with open(path, "r+b") as handle:
        handle.truncate(os.path.getsize(path) - count)


def test_a_whole_gzip_stream_passes(tmp_path):
    path = tmp_path / "3001.dat.gz"
    path.write_bytes(gzip.compress(ROWS))
    assert files.stream_problem(str(path)) is None
    path.write_bytes(gzip.compress(b""))  # an empty table
    assert files.stream_problem(str(path)) is None


@pytest.mark.parametrize("damage", ["cut by 100 bytes", "cut by its 8-byte trailer", "cut to half", "CRC changed",
                                    "emptied"])
def test_a_cut_or_damaged_gzip_stream_is_named(tmp_path, damage):
    path = tmp_path / "3001.dat.gz"
    data = gzip.compress(ROWS)
    data = {"cut by 100 bytes": data[:-100], "cut by its 8-byte trailer": data[:-8], "cut to half": data[:len(data) // 2],
            "CRC changed": data[:-8] + bytes([data[-8] ^ 1]) + data[-7:], "emptied": b""}[damage]
    path.write_bytes(data)
    assert files.stream_problem(str(path))


@needs_zstd
def test_a_whole_zstd_stream_passes_and_a_cut_one_is_named(tmp_path):
    path = tmp_path / "3001.dat.zst"
    path.write_bytes(subprocess.run(["zstd", "-1", "-c"], input=ROWS, capture_output=True, check=True).stdout)
    assert files.stream_problem(str(path)) is None
    cut(path, 100)
    problem = files.stream_problem(str(path))
    assert problem and str(path) not in problem  # the caller names the file as the manifest does
    path.write_bytes(b"")
    assert files.stream_problem(str(path))


def test_without_the_zstd_program_the_check_says_what_is_missing(tmp_path):
    path = tmp_path / "3001.dat.zst"
    path.write_bytes(b"\x28\xb5\x2f\xfd")
    with pytest.raises(files.BackupError, match=r"^verify: cannot check the zstd stream of 3001.dat.zst: .*zstd package"):
        files.stream_problem(str(path), zstd=str(tmp_path / "no-zstd"))
