#!/usr/bin/env python3
"""A real Docker registry on loopback for the push test: Debian's docker-registry (Distribution 2.8).

    registry.py start PORT DIR [--user USER --password-file FILE]
    registry.py stop PORT DIR

It runs as a plain process (no container, no TLS) on 127.0.0.1:PORT with its storage,
config, log and pid file in DIR. Docker treats 127.0.0.0/8 as an insecure registry, so
plain HTTP is accepted; with --user, htpasswd basic auth is on (Distribution accepts it
without TLS), so a push has to log in first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

BINARY = "docker-registry"


def hash_password(password):
    """A bcrypt hash, the only format Distribution's htpasswd accepts."""
    try:
        import bcrypt  # pylint: disable=import-outside-toplevel
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt()).decode()
    except ImportError:
        pass
    try:
        import warnings  # pylint: disable=import-outside-toplevel
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import crypt  # pylint: disable=import-outside-toplevel,deprecated-module
    except ImportError as exc:  # Python 3.13 dropped crypt
        raise RuntimeError("no bcrypt: pip install bcrypt (Python 3.13+ has no crypt module)") from exc
    hashed = crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))
    if not hashed or not hashed.startswith("$2"):
        raise RuntimeError("this libc's crypt() has no bcrypt: pip install bcrypt")
    return hashed


def config_text(port, directory, auth):
    lines = [
        "version: 0.1",
        "log:",
        "  level: info",
        "storage:",
        "  filesystem:",
        "    rootdirectory: %s" % os.path.join(directory, "storage"),
        "  delete:",
        "    enabled: true",
        "http:",
        "  addr: 127.0.0.1:%d" % port,
    ]
    if auth:
        lines += ["auth:", "  htpasswd:", "    realm: glitchtip-aio-test",
                  "    path: %s" % os.path.join(directory, "htpasswd")]
    return "\n".join(lines) + "\n"


def status(port):
    """HTTP status of GET /v2/ (200 open, 401 auth required), or None when nothing answers."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/v2/" % port, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def start(port, directory, user=None, password=None, timeout=15):
    if shutil.which(BINARY) is None:
        raise RuntimeError("%s is not installed (apt-get install docker-registry; scripts/setup.sh --test)" % BINARY)
    if status(port) is not None:
        raise RuntimeError("something already answers on 127.0.0.1:%d" % port)
    os.makedirs(os.path.join(directory, "storage"), exist_ok=True)
    if user:
        with open(os.path.join(directory, "htpasswd"), "w", encoding="utf-8") as handle:
            handle.write("%s:%s\n" % (user, hash_password(password)))
    config = os.path.join(directory, "config.yml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(config_text(port, directory, bool(user)))
    with open(os.path.join(directory, "registry.log"), "ab") as log:
        # Its own session: the registry outlives this helper and is stopped by its pid.
        process = subprocess.Popen([BINARY, "serve", config], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    with open(os.path.join(directory, "registry.pid"), "w", encoding="utf-8") as handle:
        handle.write("%d\n" % process.pid)
    deadline = time.monotonic() + timeout
    while status(port) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            stop(port, directory)
            with open(os.path.join(directory, "registry.log"), encoding="utf-8", errors="replace") as handle:
                raise RuntimeError("registry did not come up on port %d:\n%s" % (port, handle.read()[-2000:]))
        time.sleep(0.1)
    return process.pid


def stop(port, directory, timeout=10):
    """Stop the registry this helper started in `directory` (by its pid file, nothing else)."""
    pid_file = os.path.join(directory, "registry.pid")
    try:
        with open(pid_file, encoding="utf-8") as handle:
            pid = int(handle.read().strip())
    except FileNotFoundError:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # Reap it when it is our child; otherwise just probe whether it is gone.
                if os.waitpid(pid, os.WNOHANG)[0] == pid:
                    break
            except ChildProcessError:
                os.kill(pid, 0)
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    os.unlink(pid_file)
    while status(port) is not None and timeout > 0:
        time.sleep(0.1)
        timeout -= 0.1
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("port", type=int)
    parser.add_argument("directory")
    parser.add_argument("--user")
    parser.add_argument("--password-file", help="file holding the password (kept out of the process list)")
    args = parser.parse_args(argv)
    directory = os.path.abspath(args.directory)
    if args.action == "stop":
        print("stopped" if stop(args.port, directory) else "not running")
        return 0
    password = None
    if args.user:
        if not args.password_file:
            parser.error("--user needs --password-file")
        with open(args.password_file, encoding="utf-8") as handle:
            password = handle.read().strip()
    pid = start(args.port, directory, args.user, password)
    print("registry on 127.0.0.1:%d (pid %d, %s)" % (args.port, pid, "htpasswd auth" if args.user else "no auth"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
