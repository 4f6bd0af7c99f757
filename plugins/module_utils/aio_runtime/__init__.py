# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""The glitchtip-aio runtime: everything that happens inside the container.

Pure standard-library Python with no Ansible imports, so the same files are
imported by the collection's modules and unit tests (as module_utils) and copied
into the image, where ``/usr/local/bin/aio`` exposes them as a command.
"""
