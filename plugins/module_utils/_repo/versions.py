# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Module names, channels and the order of release tags.

A channel is either ``developer`` (test builds, overwritten on every push) or a
release tag such as ``1.2.0`` (written once).  Both module names and channels
become S3 key segments (``<Module>/<channel>/...``), so they are restricted to a
small, path-safe alphabet.

Standard library only: this file is also shipped to managed nodes.
"""

from __future__ import annotations

import re
from typing import Iterable

from ansible_collections.fleetops.release.plugins.module_utils._errors import LayoutError

DEVELOPER = "developer"
"""The channel of test builds; every other channel is a release tag."""

MODULE_NAME_RULE = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
TAG_RULE = "1 to 128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit"

_MODULE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_TAG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_V_PREFIX = re.compile(r"[vV](?=[0-9])")
_NUMERIC_RELEASE = re.compile(r"[0-9]+(?:\.[0-9]+)*")
_DIGITS_OR_NOT = re.compile(r"[0-9]+|[^0-9]+")


def _describe_type(value: object) -> str:
    return type(value).__name__


def module_name_problem(name: object) -> str | None:
    """Return why ``name`` is not a valid module name, or ``None`` when it is."""
    if not isinstance(name, str):
        return "a module name must be text, not %s" % _describe_type(name)
    if name in (".", "..") or not _MODULE_NAME.fullmatch(name):
        return "not a valid module name: expected " + MODULE_NAME_RULE
    return None


def channel_problem(channel: object) -> str | None:
    """Return why ``channel`` is not ``developer`` or a valid release tag, or ``None``."""
    if not isinstance(channel, str):
        return "a channel must be text, not %s" % _describe_type(channel)
    if channel == DEVELOPER:
        return None
    if channel.casefold() == DEVELOPER:
        return "channel names are case-sensitive: write %r" % DEVELOPER
    if channel.casefold() == "none":
        return "'none' is not a channel: use %r or a release tag" % DEVELOPER
    if not _TAG.fullmatch(channel):
        return "not a valid channel: expected %r or a release tag of %s" % (DEVELOPER, TAG_RULE)
    return None


def validate_module_name(name: str, where: str) -> str:
    """Return ``name`` if it is a valid module name, else raise :class:`LayoutError`.

    ``where`` says where the value came from (an option, a file and key) and
    starts the error message.
    """
    problem = module_name_problem(name)
    if problem is not None:
        raise LayoutError("%s: %s (value %r)" % (where, problem, name))
    return name


def validate_channel(channel: str, where: str) -> str:
    """Return ``channel`` if it is ``developer`` or a valid release tag, else raise :class:`LayoutError`.

    Callers pass text; numbers are the YAML layer's business (it keeps every
    scalar a string so ``1.10`` is never read as ``1.1``).
    """
    problem = channel_problem(channel)
    if problem is not None:
        raise LayoutError("%s: %s (value %r)" % (where, problem, channel))
    return channel


def is_tag(channel: str) -> bool:
    """Tell whether ``channel`` is a release tag, that is anything but ``developer``."""
    return channel != DEVELOPER


def _natural(text: str) -> tuple:
    """Split ``text`` into digit and non-digit runs so ``rc2`` sorts before ``rc10``."""
    return tuple((0, int(run)) if run[0] in "0123456789" else (1, run) for run in _DIGITS_OR_NOT.findall(text.casefold()))


def _prerelease_part_key(part: str) -> tuple:
    # Numeric identifiers sort before alphanumeric ones, as in Semantic Versioning.
    if part.isdigit() and part.isascii():
        return (0, int(part))
    return (1, _natural(part))


def version_key(tag: str) -> tuple:
    """Return a sort key giving release tags a total order, newest largest.

    * A leading ``v``/``V`` before a digit is ignored (``v1.2.0`` is ``1.2.0``).
    * Numeric dotted parts compare as integers (``1.10.0`` > ``1.9.0``) and
      trailing zeros do not count (``1.2`` ranks with ``1.2.0``).
    * A pre-release suffix after ``-`` (``1.2.0-rc1``, ``1.2.0-beta.2``) sorts
      before the release itself; its dot-separated parts compare numerically
      where they are numbers and naturally otherwise (``rc2`` < ``rc10``).
    * Build metadata after ``+`` does not change the rank.
    * Tags that are not numeric (``latest``, ``2024.q1``) sort before every
      numeric tag, alphabetically and case-insensitively.
    * Ties between tags of equal rank (``1.2`` and ``1.2.0`` and ``v1.2.0``)
      are broken by the number of parts, then the raw text, so the order is
      deterministic.

    Raises ``ValueError`` for ``developer``, which is a channel without a version.
    """
    if not isinstance(tag, str):
        raise TypeError("a release tag must be text, not %s" % _describe_type(tag))
    if tag == DEVELOPER:
        raise ValueError("%r is a channel, not a release tag: it has no version order" % DEVELOPER)
    body = tag[1:] if _V_PREFIX.match(tag) else tag
    body = body.partition("+")[0]
    release, dash, prerelease = body.partition("-")
    if not _NUMERIC_RELEASE.fullmatch(release):
        return (0, tag.casefold(), tag)
    numbers = [int(part) for part in release.split(".")]
    part_count = len(numbers)
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    if dash:
        return (1, tuple(numbers), 0, tuple(_prerelease_part_key(part) for part in prerelease.split(".")), part_count, tag)
    return (1, tuple(numbers), 1, (), part_count, tag)


def sort_tags(tags: Iterable[str], newest_first: bool = True) -> list[str]:
    """Return ``tags`` ordered by :func:`version_key`, newest first unless told otherwise."""
    return sorted(tags, key=version_key, reverse=newest_first)
