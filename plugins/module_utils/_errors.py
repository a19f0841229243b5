# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Exceptions shared by the collection's modules and plugins.

Every message is written for the person running the play: it names the file,
key, bucket/object or archive member at fault, and never carries a secret.
"""

from __future__ import annotations


class FleetopsError(Exception):
    """Base class; ``str(exc)`` is the user-facing message."""


class RepoInfoError(FleetopsError):
    """A repo-info document is malformed, inconsistent or cannot be resolved."""

    def __init__(self, source: str, problem: str, key: str | None = None, value: object = None) -> None:
        self.source = source
        self.key = key
        self.value = value
        where = source if key is None else "%s: key %r" % (source, key)
        if value is not None:
            problem = "%s (value %r)" % (problem, value)
        super().__init__("%s: %s" % (where, problem))


class LayoutError(FleetopsError):
    """A module name, channel, file name or checksum sidecar is not valid."""


class S3Error(FleetopsError):
    """An S3 request failed after retries; names the bucket and key.

    ``transient`` says whether another attempt later could succeed (5xx, 429,
    connection errors, timeouts) as opposed to a refusal (403, 404, 412).
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        self.transient = transient
        super().__init__(message)


class IntegrityError(FleetopsError):
    """Downloaded bytes do not match the expected sha256 or size."""


class ArchiveError(FleetopsError):
    """An archive is unreadable or holds a member outside the allow-list."""

    def __init__(self, archive: str, problem: str, member: str | None = None) -> None:
        self.archive = archive
        self.member = member
        where = archive if member is None else "%s: member %r" % (archive, member)
        super().__init__("%s: %s" % (where, problem))
