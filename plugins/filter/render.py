# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Filters the image templates use to escape values for supervisord and Dockerfile syntax; health rows, the
components a deploy waits for, the backup destinations' container environment and their report lines."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.glitchtip.aio.plugins.module_utils import render
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import destinations, health
from ansible_collections.glitchtip.aio.plugins.module_utils.aio_runtime import settings as aio_settings


def _wrap(function):
    def filter_(value, *args):
        try:
            return function(value, *args)
        except ValueError as exc:
            raise AnsibleFilterError(str(exc)) from exc
    filter_.__name__ = function.__name__
    filter_.__doc__ = function.__doc__
    return filter_


def health_row(component):
    """One readable line of a health component for playbook output."""
    return "%-10s %-8s %7.1f ms  %s" % (
        component.get("name"), component.get("status"), float(component.get("elapsed_ms", 0)), component.get("reason"))


def health_wait_components(roles, after_start=False):
    """The components a deploy's health wait asks for (aio_runtime/health.py deploy_wait_components); ROLES a list
    or AIO_ROLES' comma list."""
    if isinstance(roles, str):  # AIO_ROLES' comma list, parsed as the runtime parses it
        roles = aio_settings.server_roles({aio_settings.ROLES_ENV: roles})
    return health.deploy_wait_components(list(roles or []), bool(after_start))


def backup_destination_environment(config):
    """glitchtip_backup_destinations as the container environment the runtime reads (aio_runtime/destinations.py)."""
    try:
        return destinations.environment(config or {})
    except destinations.BackupError as exc:
        raise AnsibleFilterError("glitchtip_backup_destinations: %s" % str(exc).split(": ", 1)[-1]) from exc


def backup_destination_problems(config):
    """What is wrong with glitchtip_backup_destinations, in words (aio_runtime/destinations.py problems); []: nothing."""
    return destinations.problems(config)


def backup_destination_packages(config):
    """The Debian packages the image needs for glitchtip_backup_destinations (each destination_<kind>.py's PACKAGES)."""
    return destinations.packages(config)


def backup_copy_lines(outcomes):
    """One line per off-host copy of a backup (aio_runtime/destinations.py outcome_lines)."""
    return destinations.outcome_lines(outcomes or {})


def backup_copy_failures(outcomes):
    """The destinations whose copy failed, by name (aio_runtime/destinations.py failed)."""
    return destinations.failed(outcomes)


class FilterModule:
    def filters(self):
        filters = {name: _wrap(getattr(render, name)) for name in (
            "supervisor_value", "supervisor_quoted", "supervisor_environment", "program_name", "image_reference",
            "container_environment", "registry_host")}
        filters["health_row"] = health_row
        filters["health_wait_components"] = health_wait_components
        filters["backup_destination_environment"] = backup_destination_environment
        filters["backup_destination_problems"] = backup_destination_problems
        filters["backup_destination_packages"] = backup_destination_packages
        filters["backup_copy_lines"] = backup_copy_lines
        filters["backup_copy_failures"] = backup_copy_failures
        return filters
