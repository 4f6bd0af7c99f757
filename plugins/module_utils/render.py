# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Escaping for the syntaxes the image role renders into: supervisord and Dockerfile; the
container environment's values as strings.

Pure functions, no Ansible imports: the filter plugin and the unit tests use them.
A value that cannot be represented is refused with ValueError naming what is wrong.
"""

from __future__ import annotations

import re

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PROGRAM_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
# registry[:port]/path[:tag][@digest], lower-case path components as Docker requires.
_IMAGE_REFERENCE = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$")


def refuse_control(value, what):
    """NUL and line breaks end a config line early; nothing can escape them safely."""
    if not isinstance(value, str):
        value = str(value)
    for char, name in (("\x00", "NUL"), ("\n", "newline"), ("\r", "carriage return")):
        if char in value:
            raise ValueError("%s must not contain a %s character" % (what, name))
    return value


def supervisor_value(value, what="value"):
    """A bare supervisord option value: '%' is supervisord's expansion character."""
    value = refuse_control(value, what)
    if re.search(r"\s[;#]", value):
        raise ValueError("%s: a ';' or '#' after white space would start a supervisord comment" % what)
    return value.replace("%", "%%")


def supervisor_quoted(value, what="value"):
    """A quoted token for supervisord's key="value" lists (environment=).

    supervisord reads the line with ConfigParser, which cuts a ';' or '#' that
    follows white space as a comment, then splits it with a non-POSIX shlex that
    knows no backslash escapes and strips every quote character from both ends.
    So the value is wrapped in whichever quote it does not contain, and what no
    quoting can carry is refused.
    """
    value = refuse_control(value, what)
    if re.search(r"\s[;#]", value):
        raise ValueError("%s: a ';' or '#' after white space would start a supervisord comment" % what)
    if value[:1] in ("'", '"') or value[-1:] in ("'", '"'):
        raise ValueError("%s must not start or end with a quote character" % what)
    if '"' not in value:
        quote = '"'
    elif "'" not in value:
        quote = "'"
    else:
        raise ValueError("%s must not contain both single and double quotes" % what)
    return quote + value.replace("%", "%%") + quote


def supervisor_environment(mapping, what="environment"):
    """environment=KEY="value",... for a supervisord program section."""
    items = []
    for key, value in sorted(mapping.items()):
        if not _ENV_NAME.fullmatch(str(key)):
            raise ValueError("%s: %r is not a valid environment variable name" % (what, key))
        items.append("%s=%s" % (key, supervisor_quoted(str(value), "%s.%s" % (what, key))))
    return ",".join(items)


def program_name(value):
    if not _PROGRAM_NAME.fullmatch(str(value)):
        raise ValueError("program name %r must match %s" % (value, _PROGRAM_NAME.pattern))
    return value


def image_reference(value, what="image"):
    """A Docker image reference, refused unless it is one (it lands in FROM)."""
    value = refuse_control(value, what)
    if not _IMAGE_REFERENCE.fullmatch(value):
        raise ValueError("%s %r is not a Docker image reference (registry/name:tag)" % (what, value))
    return value


def environment_value(value):
    """One setting as the container environment holds it: booleans as ``true``/``false`` (what
    GlitchTip and the runtime parse), lists comma-joined (ALLOWED_HOSTS, AIO_ROLES), None empty."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(environment_value(item) for item in value)
    return str(value)


def container_environment(settings, *more):
    """The container environment: `settings` with every value as a string (environment_value),
    then each of `more` merged on top, later ones winning, their values as str() gives them
    (an operator's glitchtip_extra_environment passes through as written)."""
    environment = {str(name): environment_value(value) for name, value in (settings or {}).items()}
    for mapping in more:
        environment.update({str(name): str(value) for name, value in (mapping or {}).items()})
    return environment


DOCKER_HUB = "docker.io"


def registry_host(reference, kind="repository"):
    """The registry a repository reference is pushed to (kind "repository": its first part when that is
    a host, with a dot or a port or localhost, else Docker Hub), or the one a login URL names (kind "url",
    with or without scheme and path). Docker Hub's hosts (index.docker.io ...) all count as docker.io."""
    if kind == "url":
        host = reference.split("://")[-1].split("/")[0]
    elif kind == "repository":
        first, slash, _rest = reference.partition("/")
        host = first if slash and ("." in first or ":" in first or first == "localhost") else DOCKER_HUB
    else:
        raise ValueError("registry_host: kind must be repository or url, got %r" % (kind,))
    return DOCKER_HUB if host == DOCKER_HUB or host.endswith("." + DOCKER_HUB) else host
