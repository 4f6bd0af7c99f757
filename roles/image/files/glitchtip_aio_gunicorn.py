# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""gunicorn's threaded worker with a graceful exit that answers every connection it accepted.

Installed into the app's Python by the image build and named by the web command
(``--worker-class glitchtip_aio_gunicorn.GracefulThreadWorker``).

Why: told to exit (SIGTERM, as every old worker is on a HUP reload), gunicorn's gthread worker
leaves its loop at the next turn and closes the connections it has accepted but not yet read,
unanswered (benoitc/gunicorn#3380, #3394): a client sees "connection reset" or "remote end
closed connection without response" during what should be a graceful reload. Here the worker
stops accepting (its listeners leave the poller, so the new workers take every new connection)
and keeps its loop running until the connections it holds are answered and closed, or until
graceful_timeout has passed.
"""

from __future__ import annotations

import time

from gunicorn.workers.gthread import ThreadWorker


class GracefulThreadWorker(ThreadWorker):
    draining_since = None

    def handle_exit(self, sig, frame):
        # Only a flag: the loop acts on it in its own thread, never the signal handler.
        if self.draining_since is None:
            self.draining_since = time.monotonic()

    def murder_keepalived(self):
        super().murder_keepalived()  # closes idle keep-alive connections past their timeout
        if self.draining_since is None:
            return
        for sock in self.sockets:
            if sock.fileno() in self.poller.get_map():
                self.poller.unregister(sock)
        drained = self.nr_conns <= 0 and not self.futures
        if drained or time.monotonic() - self.draining_since > self.cfg.graceful_timeout:
            self.alive = False
