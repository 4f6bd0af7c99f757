# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The ``s3`` destination: an encrypted restic repository in an S3-compatible bucket (restic.py).

Settings (``glitchtip_backup_destinations: {s3: {...}}``):

- ``endpoint``: the server as ``host`` or ``host:port`` (``s3.amazonaws.com``, ``minio.example:9000``),
  always spoken to over HTTPS; ``bucket``: an existing bucket; ``access_key_id`` and
  ``secret_access_key`` (secret: by its name, never logged): required;
- ``path``: a prefix inside the bucket (the repository is ``<path>/restic``; none by default);
- ``region``: ``us-east-1`` by default;
- ``ca_cert``: the PEM text of the CA that signed the server's certificate, when it is not a public one;
- ``keep_days``: snapshots older than this are deleted from the repository, never the newest (30).

The repository key is ``AIO_BACKUP_ENCRYPTION_KEY`` (restic.py): the bucket's owner sees only
ciphertext.
"""

from __future__ import annotations

import re

from . import restic, setting_checks as check
from .backup_files import BackupError

KIND = "s3"
PACKAGES = restic.PACKAGES
SETTINGS = ("endpoint", "bucket", "path", "region", "access_key_id", "secret_access_key", "ca_cert", "keep_days")
DEFAULT_REGION = "us-east-1"
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_PATH = re.compile(r"^[A-Za-z0-9._/-]*$")


def problems(settings):
    """What is wrong with SETTINGS, in words; [] when nothing is."""
    settings = settings or {}
    endpoint = str(settings.get("endpoint") or "")
    host, _colon, port = endpoint.rpartition(":") if re.search(r":\d+$", endpoint) else (endpoint, "", None)
    bucket, path = str(settings.get("bucket") or ""), str(settings.get("path") or "")
    return check.found(
        check.unknown(KIND, settings, SETTINGS),
        check.required(KIND, settings, ("endpoint", "bucket", "access_key_id", "secret_access_key")),
        "%s: endpoint is host or host:port, without a scheme (HTTPS always), got %r" % (KIND, endpoint)
        if "://" in endpoint or "/" in endpoint else check.host(KIND, "endpoint", host),
        check.integer(KIND, "endpoint's port", port, 1, 65535),
        "%s: bucket %r is not an S3 bucket name (3-63 lowercase letters, digits, . and -)" % (KIND, bucket)
        if bucket and not _BUCKET.match(bucket) else None,
        "%s: path %r: letters, digits, . _ - and /" % (KIND, path) if not _PATH.match(path) else None,
        check.integer(KIND, "keep_days", settings.get("keep_days"), 1, 36500),
        check.pem(KIND, "ca_cert", settings.get("ca_cert"), "CERTIFICATE"),
    )


def repository_url(endpoint, bucket, path):
    return "s3:https://%s/%s/%s" % (endpoint, bucket, "/".join(part for part in (path.strip("/"), "restic") if part))


def from_options(options, environ):
    wrong = problems(options)
    if wrong:
        raise BackupError("prepare: %s" % "; ".join(wrong))
    ca_cert = (options.get("ca_cert") or "").strip()
    return restic.Repository(
        KIND, repository_url(options["endpoint"], options["bucket"], options.get("path") or ""),
        environ.get(restic.ENCRYPTION_KEY_ENV),
        keep_days=int(options.get("keep_days") or restic.DEFAULT_KEEP_DAYS),
        options=["--cacert", "{dir}/ca.pem"] if ca_cert else [],
        env={"AWS_ACCESS_KEY_ID": options["access_key_id"], "AWS_SECRET_ACCESS_KEY": options["secret_access_key"],
             "AWS_DEFAULT_REGION": options.get("region") or DEFAULT_REGION},
        key_files={"ca.pem": ca_cert} if ca_cert else {},
        secrets=[options["secret_access_key"]])
