# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Publishing one artifact to one or many buckets (the seed's "one source, many stores").

Per target: pack (with ``${BUCKET_NAME}``/``${REPO_NAME}`` substituted in
deploy.sh/upgrade.sh), then upload the archive, its ``.sha256`` sidecar and, for
REL/DIST packages, the repo-info sidecar. A release tag is written once: the
archive goes up with a conditional create (If-None-Match: *); finding it already
there with the same content completes an interrupted publish, with other content
it is an error unless ``force``. The ``developer`` channel is overwritten.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import tempfile
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError, LayoutError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.archive import pack, read_member
from ansible_collections.fleetops.release.plugins.module_utils._fetch.fetch import hash_file
from ansible_collections.fleetops.release.plugins.module_utils._repo import layout as _layout
from ansible_collections.fleetops.release.plugins.module_utils._repo.repoinfo import parse
from ansible_collections.fleetops.release.plugins.module_utils._repo.versions import DEVELOPER, is_tag
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import AlreadyExists, S3Store, s3_url

MAX_SIDECAR = 64 * 1024


class PublishError(FleetopsError):
    """Publishing refused or failed; ``results`` holds the targets already done."""

    def __init__(self, message: str, results: list | None = None) -> None:
        self.results = results or []
        super().__init__(message)


class Source:
    """What to publish: paths to pack, or an existing tarball."""

    def __init__(self, kind: str, name: str, channel: str, bin_name: str | None = None, paths: list | None = None,
                 chdir: str | None = None, archive: str | None = None, repo_info: str | None = None,
                 substitute: bool = True) -> None:
        self.kind = kind
        self.name = name
        self.channel = channel
        self.bin_name = bin_name if kind == "src" else name
        self.paths = paths or []
        self.chdir = chdir or os.getcwd()
        self.archive = archive
        self.repo_info_path = repo_info
        self.substitute = substitute
        if kind == "src" and not bin_name:
            raise PublishError("kind=src needs bin_name (the SRC package is <bin_name>.tar.gz)")
        if bool(self.paths) == bool(archive):
            raise PublishError("give either paths to pack or an existing archive, not both or neither")
        self.key = _layout.artifact_key(name, channel, self.bin_name)

    def entries(self) -> list[tuple[str, str]]:
        out = []
        for rel in self.paths:
            full = rel if os.path.isabs(rel) else os.path.join(self.chdir, rel)
            if not os.path.lexists(full):
                raise PublishError("path to pack does not exist: %s" % full)
            arcname = os.path.normpath(os.path.relpath(full, self.chdir))
            if arcname.startswith(".."):
                arcname = os.path.basename(os.path.normpath(full))
            out.append((full, arcname))
        return out

    def build(self, workdir: str, substitutions: dict[str, str]) -> str:
        """The archive to upload for one target (a fresh pack, or the given tarball)."""
        if self.archive:
            if not os.path.isfile(self.archive):
                raise PublishError("archive does not exist: %s" % self.archive)
            return self.archive
        variant = hashlib.sha256(repr(sorted(substitutions.items())).encode()).hexdigest()[:12]
        out = os.path.join(workdir, "%s-%s%s" % (variant, self.bin_name, _layout.ARCHIVE_SUFFIX))
        if not os.path.exists(out):
            pack(self.entries(), out, substitutions=substitutions if self.substitute else None)
        return out

    def repo_info_text(self, archive: str) -> bytes | None:
        """The repo-info of a REL/DIST package: the given file, else the archive's own member."""
        if self.kind == "src":
            return None
        if self.repo_info_path:
            with open(self.repo_info_path, "rb") as handle:
                data = handle.read(MAX_SIDECAR + 1)
            source = self.repo_info_path
        else:
            data = read_member(archive, _layout.REPO_INFO_NAME, MAX_SIDECAR)
            label = self.archive or "the package packed from %s" % self.chdir
            source = "%s:%s" % (self.archive, _layout.REPO_INFO_NAME) if self.archive else os.path.join(self.chdir, _layout.REPO_INFO_NAME)
        if data is None:
            raise PublishError("%s: a %s package must contain a repo-info file at its top (or set repo_info)" % (label, self.kind.upper()))
        info = parse(data, source, kind="dist" if self.kind == "dist" else "rel")
        if info.rel_branch != self.channel:
            raise PublishError("%s: key 'rel_branch': it says %r but the package is being published to channel %r"
                               % (source, info.rel_branch, self.channel))
        return data


def _b64(digest_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(digest_hex)).decode("ascii")


def _md5(path: str) -> str:
    digest = hashlib.md5()  # nosec - compared with S3's single-part ETag, not used for security
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def existing_digest(store: S3Store, bucket: str, key: str, filename: str) -> str | None:
    """sha256 recorded for an existing object (its sidecar), None when there is none."""
    data = store.get_bytes(bucket, _layout.sha256_key(key), MAX_SIDECAR)
    if data is None:
        return None
    try:
        return _layout.parse_sha256(data, s3_url(bucket, _layout.sha256_key(key)), filename)
    except LayoutError:
        return None


def publish_target(source: Source, target: dict, store: S3Store, workdir: str, force: bool, check_mode: bool) -> dict:
    """Publish to one bucket. Returns the per-target result (no secrets in it)."""
    bucket = target["bucket"]
    repo_name = target.get("repo_name") or source.name
    subs = {"BUCKET_NAME": bucket, "REPO_NAME": repo_name}
    subs.update({k: str(v) for k, v in (target.get("substitutions") or {}).items()})
    archive = source.build(workdir, subs)
    repo_info = source.repo_info_text(archive)
    digest, size = hash_file(archive)
    filename = source.key.rsplit("/", 1)[-1]
    result = dict(bucket=bucket, key=source.key, sha256=digest, size=size, url=s3_url(bucket, source.key),
                  sha256_key=_layout.sha256_key(source.key),
                  repo_info_key=_layout.repo_info_key(source.name, source.channel) if repo_info is not None else None)

    before = existing_digest(store, bucket, source.key, filename)
    head = store.head(bucket, source.key) if before is None else None
    if before == digest:
        result["action"] = "unchanged"
    elif before is None and head is None:
        result["action"] = "create"
    elif before is None and head is not None and head.get("ETag", "").strip('"') == _md5(archive):
        result["action"] = "complete"  # an earlier publish uploaded the archive but not its sidecars
    elif is_tag(source.channel) and not force:
        raise PublishError(
            "%s: release tag %r already holds different content (sha256 %s, ours %s); tags are written once, "
            "publish a new tag or set force" % (s3_url(bucket, source.key), source.channel, before or "unknown", digest))
    else:
        result["action"] = "overwrite"
    result["changed"] = result["action"] != "unchanged"
    if check_mode or not result["changed"]:
        return result

    create_only = is_tag(source.channel) and not force and result["action"] == "create"
    if result["action"] != "complete":
        try:
            store.put_file(bucket, source.key, archive, create_only=create_only, sha256_b64=_b64(digest))
        except AlreadyExists:
            raise PublishError("%s: release tag %r was published by someone else while we were uploading; nothing overwritten"
                               % (s3_url(bucket, source.key), source.channel)) from None
    store.put_bytes(bucket, _layout.sha256_key(source.key), _layout.format_sha256(digest, filename).encode("ascii"))
    if repo_info is not None:
        store.put_bytes(bucket, _layout.repo_info_key(source.name, source.channel), repo_info, content_type="application/yaml")
    return result


def publish(source: Source, targets: list[dict], store_for: t.Callable[[dict], S3Store], force: bool = False,
            check_mode: bool = False) -> list[dict]:
    """Publish ``source`` to every target in order; stops at the first failure."""
    if source.channel == DEVELOPER:
        force = True  # developer builds are overwritten by design
    workdir = tempfile.mkdtemp(prefix="fleetops-publish-")
    results: list[dict] = []
    try:
        for target in targets:
            try:
                results.append(publish_target(source, target, store_for(target), workdir, force, check_mode))
            except FleetopsError as exc:
                raise PublishError(str(exc), results) from None
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
