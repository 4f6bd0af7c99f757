# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The ``sftp`` destination: an encrypted restic repository on an SSH server (restic.py).

Settings (``glitchtip_backup_destinations: {sftp: {...}}``):

- ``host``, ``user``, ``path`` (absolute; the repository is ``<path>/restic``): required;
- ``port``: 22 by default;
- ``host_key``: the server's public host key, one line as in its ``ssh_host_*_key.pub`` (``ssh-ed25519
  AAAA...``): the only key accepted, so a server that is not this one is refused, never trusted;
- ``private_key``: the text of an OpenSSH private key without a passphrase whose public half is in the
  server's authorized_keys (secret: by its name, never logged);
- ``keep_days``: snapshots older than this are deleted from the repository, never the newest (30).

The repository key is ``AIO_BACKUP_ENCRYPTION_KEY`` (restic.py). ssh runs in batch mode with only
that key and that host key: no agent, no password prompt, no ~/.ssh.
"""

from __future__ import annotations

import re

from . import restic, setting_checks as check
from .backup_files import BackupError

KIND = "sftp"
PACKAGES = restic.PACKAGES + ("openssh-client",)
SETTINGS = ("host", "port", "user", "path", "host_key", "private_key", "keep_days")
_HOST_KEY = re.compile(r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com)"
                       r" [A-Za-z0-9+/]+={0,3}( .*)?$")
_USER = re.compile(r"^[A-Za-z0-9._][A-Za-z0-9._-]*$")


def problems(settings):
    """What is wrong with SETTINGS, in words; [] when nothing is."""
    settings = settings or {}
    host_key = str(settings.get("host_key") or "").strip()
    path = str(settings.get("path") or "")
    return check.found(
        check.unknown(KIND, settings, SETTINGS),
        check.required(KIND, settings, ("host", "user", "path", "host_key", "private_key")),
        check.host(KIND, "host", settings.get("host")),
        check.integer(KIND, "port", settings.get("port"), 1, 65535),
        check.integer(KIND, "keep_days", settings.get("keep_days"), 1, 36500),
        "%s: user %r is not a user name" % (KIND, settings["user"])
        if settings.get("user") and not _USER.match(str(settings["user"])) else None,
        "%s: path must be absolute, got %r" % (KIND, path) if path and not path.startswith("/") else None,
        "%s: host_key must be one line 'TYPE BASE64' as in the server's ssh_host_*_key.pub, got %r"
        % (KIND, host_key[:40]) if host_key and ("\n" in host_key or not _HOST_KEY.match(host_key)) else None,
        check.pem(KIND, "private_key", settings.get("private_key"), "PRIVATE KEY"),
    )


def known_hosts_line(host, port, host_key):
    """ssh's known_hosts line for HOST:PORT holding HOST_KEY (its type and key; the comment dropped)."""
    kind, key = host_key.split()[:2]
    name = host if int(port) == 22 else "[%s]:%d" % (host, int(port))
    return "%s %s %s" % (name, kind, key)


def ssh_command(user, host, port):
    """The ssh restic starts for its SFTP connection ({dir}: the command's private key directory)."""
    return ("ssh -i {dir}/id -o IdentitiesOnly=yes -o IdentityAgent=none -o UserKnownHostsFile={dir}/known_hosts"
            " -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o BatchMode=yes"
            " -o ServerAliveInterval=30 -o ConnectTimeout=20 -p %d %s@%s -s sftp" % (int(port), user, host))


def from_options(options, environ):
    wrong = problems(options)
    if wrong:
        raise BackupError("prepare: %s" % "; ".join(wrong))
    host, user, port = options["host"], options["user"], int(options.get("port") or 22)
    path = options["path"].rstrip("/") or ""
    return restic.Repository(
        KIND, "sftp:%s@%s:%s/restic" % (user, host, path), environ.get(restic.ENCRYPTION_KEY_ENV),
        keep_days=int(options.get("keep_days") or restic.DEFAULT_KEEP_DAYS),
        options=["-o", "sftp.command=%s" % ssh_command(user, host, port)],
        key_files={"id": options["private_key"].strip() + "\n",
                   "known_hosts": known_hosts_line(host, port, options["host_key"].strip())})
