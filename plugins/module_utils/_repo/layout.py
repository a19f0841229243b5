# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The one owner of the S3 layout.

::

    <Module>/<channel>/<bin_name>.tar.gz          SRC package
    <Module>/<channel>/<Module>.tar.gz            REL package (DIST packages alike)
    <Module>/<channel>/<file>.sha256              `sha256sum` line for <file>
    <Module>/<channel>/repo-info                  repo-info sidecar of a REL/DIST package

Nothing else in the collection builds or parses object keys by hand.
"""

from __future__ import annotations

import re

from ansible_collections.fleetops.release.plugins.module_utils._errors import LayoutError
from ansible_collections.fleetops.release.plugins.module_utils._repo.versions import validate_channel, validate_module_name

ARCHIVE_SUFFIX = ".tar.gz"
SHA256_SUFFIX = ".sha256"
REPO_INFO_NAME = "repo-info"

_BIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def key_prefix(value: str | None, default: str) -> str:
    """A user's key prefix as keys start with it: ``""`` (the bucket's root) or ``"a/b/"``, never a leading ``/``.

    The one normalisation of the prefixes users give (the lock's, the audit records'); None means ``default``.
    """
    base = (value if value is not None else default).strip("/")
    return base + "/" if base else ""


def prefix(module: str, channel: str) -> str:
    """The folder of one module's channel: ``<Module>/<channel>/``."""
    return "%s/%s/" % (validate_module_name(module, "module"), validate_channel(channel, "channel"))


def artifact_key(module: str, channel: str, bin_name: str) -> str:
    """Key of ``<bin_name>.tar.gz`` in a module's channel."""
    folder = prefix(module, channel)
    if not _BIN_NAME.fullmatch(bin_name or "") or bin_name.endswith(ARCHIVE_SUFFIX):
        raise LayoutError("artifact name %r is not valid (letters, digits, '.', '_', '+', '-'; no .tar.gz suffix)" % (bin_name,))
    return folder + bin_name + ARCHIVE_SUFFIX


def rel_key(module: str, channel: str) -> str:
    """Key of a REL (or DIST) package: ``<Module>/<channel>/<Module>.tar.gz``."""
    return artifact_key(module, channel, module)


def sha256_key(key: str) -> str:
    """Key of the checksum sidecar of an artifact."""
    return key + SHA256_SUFFIX


def repo_info_key(module: str, channel: str) -> str:
    """Key of the repo-info sidecar of a REL or DIST package."""
    return prefix(module, channel) + REPO_INFO_NAME


def split_key(key: str) -> tuple[str, str, str] | None:
    """``(module, channel, file)`` for a key in the layout, else None."""
    parts = key.split("/")
    if len(parts) != 3 or not all(parts):
        return None
    try:
        validate_module_name(parts[0], "module")
        validate_channel(parts[1], "channel")
    except LayoutError:
        return None
    return parts[0], parts[1], parts[2]


def bin_name_of(filename: str) -> str | None:
    """``modulex-client`` for ``modulex-client.tar.gz``; None for anything else."""
    if filename.endswith(ARCHIVE_SUFFIX) and _BIN_NAME.fullmatch(filename[:-len(ARCHIVE_SUFFIX)] or ""):
        return filename[:-len(ARCHIVE_SUFFIX)]
    return None


def format_sha256(digest: str, filename: str) -> str:
    """One line in the format ``sha256sum`` writes (two spaces, text mode)."""
    if not _HEX64.fullmatch(digest):
        raise LayoutError("not a sha256 hex digest: %r" % (digest,))
    return "%s  %s\n" % (digest.lower(), filename)


def parse_sha256(text: str | bytes, source: str, filename: str) -> str:
    """The digest for ``filename`` in a ``sha256sum`` output.

    Accepts what people and tools really write: ``<hex>  name`` (text mode),
    ``<hex> *name`` (binary mode), a path instead of a bare name (``./x.tar.gz``,
    ``dist/x.tar.gz``), several lines, or a bare ``<hex>``. A line naming another
    file is not taken for this one.
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise LayoutError("%s: checksum file is not UTF-8 text" % source) from None
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise LayoutError("%s: checksum file is empty" % source)
    others = []
    for line in lines:
        fields = line.split(None, 1)
        digest = fields[0]
        if digest.startswith("\\"):  # sha256sum escapes lines whose name has a backslash or newline
            digest = digest[1:]
        if not _HEX64.fullmatch(digest):
            raise LayoutError("%s: not a sha256sum line: %r" % (source, line[:100]))
        if len(fields) == 1:
            if len(lines) == 1:
                return digest.lower()
            raise LayoutError("%s: a bare digest among several lines is ambiguous" % source)
        name = fields[1].lstrip("*").strip()
        if name.rsplit("/", 1)[-1] == filename:
            return digest.lower()
        others.append(name)
    raise LayoutError("%s: no checksum for %r (the file lists %s)" % (source, filename, ", ".join(repr(o) for o in others[:5])))
