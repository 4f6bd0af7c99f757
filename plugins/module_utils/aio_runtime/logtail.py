# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The last lines of a log without reading all of a large file."""

from __future__ import annotations

import os


def tail_lines(path, lines, block=None):
    """Last ``lines`` complete lines of path ([] when missing or lines <= 0).

    Reads a block from the end; a line cut by the block's start is dropped, so a
    secret split across the cut can never escape redaction half-printed.
    """
    if lines <= 0:
        return []
    block = block or max(8192, lines * 512)
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            start = max(0, size - block)
            handle.seek(start)
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return []
    found = data.splitlines()
    if start > 0 and found:
        found = found[1:]
    return found[-lines:]
