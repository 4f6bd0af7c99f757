# -*- coding: utf-8 -*-
# Copyright: glitchtip-aio contributors
# MIT License (see LICENSE)
"""Where verified backups go: the seam between writing a backup and keeping it.

``aio backup`` writes and verifies every backup in the local destination (``<data_dir>/backups``,
destination_local.py), applies its retention, then hands the verified directory to each further
destination, in the order the deployment lists them. Each one's outcome is reported under its name:
a failing off-host copy is said so beside the local success, never in place of it.

A destination is a ``Destination``: ``name``; ``store(directory, manifest_)`` keeps a verified backup
and returns what it did (a dict for the report); ``list()`` its backups as (name, time), oldest
first; ``prune(now)`` applies its own retention and returns the names it deleted;
``fetch(which, into)`` gives a local directory holding backup ``which`` (a name or "latest").

Its settings travel generically. The inventory's ``glitchtip_backup_destinations`` maps a kind to its
settings (``{restic: {repository: ..., keep_days: 30}}``); ``environment()`` (the container role's
``glitchtip.aio.backup_destination_environment`` filter) turns that into ``AIO_BACKUP_DESTINATIONS``
(the kinds, in order) and one ``AIO_BACKUP_TO_<KIND>_<SETTING>`` each, and ``options()`` reads them back.
Settings named like secrets (``password``, ``key_secret``: settings.SECRET_NAME_PATTERN) are secret by
that name, so redaction and the deploy's no_log need no list of them.

Adding a destination (issue 13's off-host copies: destination_sftp.py, destination_s3.py): write
``destination_<kind>.py`` next to this file with ``from_options(options, environ)`` returning a
``Destination`` (refusing bad settings with BackupError "prepare: ..."; ENVIRON holds the repository
key), ``problems(options)`` (the same refusals in words, for the deploy's validation) and ``PACKAGES``
(the Debian packages the image needs for it), document its settings in that file's docstring and in
the README, and test it in ``tests/unit/test_destination_<kind>.py``. Nothing else names it:
``further()`` imports the module of each kind configured, the image role installs ``packages()`` and
copies every ``aio_runtime/*.py``.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import time

from . import settings as aio_settings
from .backup_files import BackupError

DESTINATIONS_ENV = "AIO_BACKUP_DESTINATIONS"  # comma list of kinds, in the order they are sent to
OPTION_PREFIX = aio_settings.BACKUP_DESTINATION_PREFIX
LOCAL = "local"  # always first: the backup is written there; it is not listed in DESTINATIONS_ENV
# No underscore in a kind: AIO_BACKUP_TO_<KIND>_<SETTING> must split back unambiguously.
_KIND = re.compile(r"^[a-z][a-z0-9]*$")
_SETTING = re.compile(r"^[a-z][a-z0-9_]*$")


class Destination:
    """One place backups are kept. Subclasses set ``name`` and implement the four methods."""

    name = None

    def store(self, directory, manifest_):
        """Keep the verified backup DIRECTORY (MANIFEST_ is its manifest, read once); a dict for the report."""
        raise NotImplementedError

    def list(self):
        """Backups kept here as (name, time), oldest first."""
        raise NotImplementedError

    def prune(self, now):
        """This destination's retention applied at NOW; the names deleted."""
        raise NotImplementedError

    def fetch(self, which, into):
        """A local directory holding backup WHICH (a name or "latest"), fetched under INTO where needed."""
        raise NotImplementedError


def _is_kind(kind):
    """The naming rule for a kind: lowercase letters and digits (AIO_BACKUP_TO_<KIND>_<SETTING> splits back), not local."""
    return isinstance(kind, str) and bool(_KIND.match(kind)) and kind != LOCAL


def _kind_problem(kind):
    return "%r is not a backup destination kind (lowercase letters and digits, not %r)" % (kind, LOCAL)


def _check_kind(kind):
    if not _is_kind(kind):
        raise BackupError("prepare: %s" % _kind_problem(kind))


def available():
    """The kinds this collection (or image) has a destination_<kind>.py for, local aside."""
    here = os.path.dirname(os.path.abspath(__file__))
    return sorted(name[len("destination_"):-len(".py")] for name in os.listdir(here)
                  if name.startswith("destination_") and name.endswith(".py") and name != "destination_%s.py" % LOCAL)


def problems(config, kinds_here=None):
    """What is wrong with glitchtip_backup_destinations (kind → settings), in words; [] when nothing is.
    The deploy's validation asks before anything changes, so a kind no file provides (KINDS_HERE, by
    default available()) is refused there, not by every nightly backup."""
    kinds_here = available() if kinds_here is None else kinds_here
    found = _name_problems(config)
    if found:
        return found
    for kind, settings in (config or {}).items():
        if kind not in kinds_here:
            found.append("%r: no such destination (built in: %s)" % (kind, ", ".join(kinds_here) or "none yet"))
        elif kind in available():
            found.extend(_module(kind).problems(_as_text(settings or {})))
    return found


def packages(config):
    """The Debian packages the configured destinations need in the image, sorted, each once."""
    return sorted({package for kind in (config or {}) if _is_kind(kind) and kind in available()
                   for package in _module(kind).PACKAGES})


def _as_text(settings):
    """Settings as the runtime reads them back from the environment (text; None as empty)."""
    return {name: "" if value is None else str(value) for name, value in settings.items()}


def _module(kind):
    return importlib.import_module("%s.destination_%s" % (__package__, kind))


def _name_problems(config):
    """The kinds and setting names that the environment's naming rule cannot carry."""
    found = []
    for kind, settings in (config or {}).items():
        if not _is_kind(kind):
            found.append(_kind_problem(kind))
        settings = {} if settings is None else settings
        if not isinstance(settings, dict):
            found.append("%r: its settings must be a mapping of setting name to value" % (kind,))
            continue
        found.extend("%s: %r is not a setting name (lowercase letters, digits and _)" % (kind, setting)
                     for setting in settings if not isinstance(setting, str) or not _SETTING.match(setting))
    return found


def environment(config):
    """The container environment of glitchtip_backup_destinations (kind → settings): {} when there are none."""
    if not config:
        return {}
    wrong = _name_problems(config)
    if wrong:
        raise BackupError("prepare: %s" % "; ".join(wrong))
    env = {DESTINATIONS_ENV: ",".join(config)}
    for kind, settings in config.items():
        for setting, value in (settings or {}).items():
            env["%s%s_%s" % (OPTION_PREFIX, kind.upper(), setting.upper())] = value
    return env


def kinds(environ):
    """The further destinations' kinds, in order."""
    return [kind.strip() for kind in environ.get(DESTINATIONS_ENV, "").split(",") if kind.strip()]


def options(environ, kind):
    """One kind's settings from the environment, by their inventory names."""
    prefix = "%s%s_" % (OPTION_PREFIX, kind.upper())
    return {name[len(prefix):].lower(): value for name, value in environ.items() if name.startswith(prefix)}


def further(environ):
    """The configured further destinations, built before anything is written: an unknown kind or bad
    settings fail the backup at prepare, not after the dump."""
    built = []
    for kind in kinds(environ):
        _check_kind(kind)
        try:
            module = _module(kind)
        except ImportError as exc:
            raise BackupError("prepare: no backup destination of kind %r in this image (%s)" % (kind, exc)) from exc
        built.append(module.from_options(options(environ, kind), environ))
    return built


def named(environ, kind):
    """The configured further destination of KIND (restore's source); BackupError "select" when there is none."""
    configured = kinds(environ)
    if kind not in configured:
        raise BackupError("select: no backup destination %r is configured here (configured: %s)"
                          % (kind, ", ".join([LOCAL] + configured)))
    return further({DESTINATIONS_ENV: kind, **{name: value for name, value in environ.items()
                                               if name != DESTINATIONS_ENV}})[0]


def send(destinations, directory, manifest_, now):
    """DIRECTORY (verified, kept locally) stored in each destination and its retention applied there:
    {name: outcome}, every outcome with ok and reason, one failure never stopping the next."""
    outcomes = {}
    for destination in destinations:
        started = time.monotonic()
        try:
            outcome = dict(destination.store(directory, manifest_))
            outcome.update(deleted=destination.prune(now))
            outcome.setdefault("reason", "stored")
            outcome["ok"] = True
        # Any exception: the local backup is already kept, so a broken copy is reported, not raised past it.
        except Exception as exc:
            step = str(exc).split(":", 1)[0] if isinstance(exc, BackupError) else exc.__class__.__name__
            outcome = {"ok": False, "failed_step": step, "reason": str(exc)}
        outcome["seconds"] = round(time.monotonic() - started, 2)
        outcomes[destination.name] = outcome
    return outcomes


STATE_FILE = ".destinations.json"  # in the local backups directory, beside the backups: what health reads


def read_state(root):
    """{kind: {last_good, backup, snapshot, last_attempt, last_ok, last_reason}} of each destination; {} when
    nothing was sent yet (or the file is unreadable: health then says no good copy)."""
    try:
        with open(os.path.join(root, STATE_FILE), encoding="utf-8") as handle:
            state = json.load(handle)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def record(root, outcomes, backup_name, now):
    """OUTCOMES of sending BACKUP_NAME at NOW kept in STATE_FILE (written whole, then renamed)."""
    state = read_state(root)
    for kind, outcome in outcomes.items():
        entry = dict(state.get(kind) or {}, last_attempt=now.isoformat(), last_ok=bool(outcome.get("ok")))
        if outcome.get("ok"):
            entry.update(last_good=now.isoformat(), backup=backup_name, snapshot=outcome.get("snapshot"),
                         last_reason=None)
        else:
            entry["last_reason"] = outcome.get("reason")
        state[kind] = entry
    path = os.path.join(root, STATE_FILE)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
    os.replace(path + ".tmp", path)


def failed(outcomes):
    """The names of the destinations whose copy failed, sorted ([] with none configured)."""
    return sorted(name for name, outcome in (outcomes or {}).items() if not outcome.get("ok", True))


def _size(count):
    """COUNT bytes in the unit that reads best (B, KiB, MiB, GiB)."""
    if not isinstance(count, int):
        return "an unknown amount"
    for unit in ("B", "KiB", "MiB"):
        if count < 1024:
            return "%d %s" % (count, unit) if unit == "B" else "%.1f %s" % (count, unit)
        count /= 1024.0
    return "%.1f GiB" % count


def outcome_lines(outcomes):
    """One line per destination, in the order sent: what was stored where, how much went over the wire and what
    was read back, or why the copy failed (backup.yml's report)."""
    lines = []
    for name, outcome in outcomes.items():
        if outcome.get("ok"):
            lines.append("%s: snapshot %s in %s: %s sent, %s, in %s s" % (
                name, outcome.get("snapshot"), outcome.get("repository"), _size(outcome.get("bytes_sent")),
                outcome.get("reason"), outcome.get("seconds")))
        else:
            lines.append("%s: FAILED in %s s: %s" % (name, outcome.get("seconds"), outcome.get("reason")))
    return lines


def summary(outcomes):
    """The report's words for the further destinations' outcomes ("" when there are none)."""
    if not outcomes:
        return ""
    bad = failed(outcomes)
    if not bad:
        return "; sent to %s" % ", ".join(outcomes)
    return "; sending to %s FAILED (%s)" % (", ".join(bad), "; ".join(
        "%s: %s" % (name, outcomes[name]["reason"]) for name in bad))
