# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Filters that let the roles ask the runtime which container settings are secret.

The list of secret-bearing environment names and what is secret in each value (the
whole value, or only the user:password@ of a URL) is the runtime's
(aio_runtime/settings.py), so the deploy masks exactly what the container redacts.
"""

from __future__ import annotations

from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import settings as aio_settings


def secret_environment(environment):
    """The secret-bearing part of a container environment dict (for a no_log option)."""
    return aio_settings.secret_environment(environment or {})


def public_environment(environment):
    """The rest of a container environment dict, safe to show."""
    return aio_settings.public_environment(environment or {})


def redact_secrets(value, environment):
    """value (a string or a tree of lists and dicts) with every secret replaced by ********.

    The secrets are those of environment, and those of any NAME=VALUE string inside
    value: a docker_container diff's "before" side holds the old values, which may differ.
    """
    secrets = aio_settings.secret_values(_text_values(environment))
    for text in aio_settings.strings_in(value):
        secrets += aio_settings.secret_values(aio_settings.environ_from_entries([text]))
    return aio_settings.redact_tree(value, secrets)


def _text_values(environment):
    # Only to find the secrets: the split filters hand the values on untouched (still marked unsafe).
    return {str(name): str(value) for name, value in (environment or {}).items()}


class FilterModule:
    def filters(self):
        return {"secret_environment": secret_environment, "public_environment": public_environment,
                "redact_secrets": redact_secrets}
