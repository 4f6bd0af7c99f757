# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""supervisord's XML-RPC interface over its unix socket.

States come from ``getAllProcessInfo``, never from parsing ``supervisorctl``
text (which exits 0 while a program loops in BACKOFF).
"""

from __future__ import annotations

import http.client
import socket
import xmlrpc.client

DEFAULT_SOCKET = "/run/glitchtip-aio/supervisor.sock"


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path, timeout):
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host):
        return _UnixHTTPConnection(self._path, self._timeout)


def connect(path=DEFAULT_SOCKET, timeout=5.0):
    """A ServerProxy talking to supervisord through its unix socket."""
    return xmlrpc.client.ServerProxy("http://localhost/RPC2", transport=_UnixTransport(path, timeout),
                                     allow_none=True)


def process_infos(proxy):
    """``getAllProcessInfo`` as a dict keyed by program name."""
    return {info["name"]: info for info in proxy.supervisor.getAllProcessInfo()}
