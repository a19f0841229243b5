# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Resolve a DIST version in a bucket into the plan of DESIGN.md (runs on the controller).

The plan is small and holds no secret: per step the module, version, action
and the REL/SRC artifacts with key, sha256, size and (where the bucket keeps
versions) the VersionId to pin. Presigned URLs are added separately, just in
time, by whoever hands the plan to a node.
"""

from __future__ import annotations

import os
import tempfile

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError, LayoutError, RepoInfoError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.archive import read_member
from ansible_collections.fleetops.release.plugins.module_utils._fetch.node_fetch import plan_walk
from ansible_collections.fleetops.release.plugins.module_utils._module import Entry
from ansible_collections.fleetops.release.plugins.module_utils._repo import layout as _layout
from ansible_collections.fleetops.release.plugins.module_utils._repo.repoinfo import MAX_BYTES, parse, resolve
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store, open_store, s3_url

PLAN_FORMAT = 1
MAX_SIDECAR = 64 * 1024
MAX_REL_PACKAGE = 64 * 1024 * 1024  # read only when a package has no repo-info sidecar


class Catalog:
    """Reads repo-info and artifact facts from one bucket, each object once."""

    def __init__(self, store: S3Store, bucket: str, allow_unverified: bool = False, pin_versions: bool = True) -> None:
        self.store = store
        self.bucket = bucket
        self.allow_unverified = allow_unverified
        self.pin_versions = pin_versions and store.versioning_enabled(bucket)
        self.warnings: list[str] = []
        self._infos: dict = {}

    def repo_info(self, module: str, channel: str, kind: str):
        """The parsed repo-info of ``<module>/<channel>``: its sidecar, else the package's own member."""
        cache_key = (module, channel)
        if cache_key in self._infos:
            return self._infos[cache_key]
        try:
            key = _layout.repo_info_key(module, channel)
        except LayoutError as exc:
            raise RepoInfoError(s3_url(self.bucket), str(exc)) from None
        data = self.store.get_bytes(self.bucket, key, MAX_SIDECAR)
        source = s3_url(self.bucket, key)
        if data is None:
            data, source = self._repo_info_from_package(module, channel)
        info = parse(data, source, kind=kind)
        self._infos[cache_key] = info
        return info

    def _repo_info_from_package(self, module: str, channel: str) -> tuple[bytes, str]:
        key = _layout.rel_key(module, channel)
        head = self.store.head(self.bucket, key)
        if head is None:
            objects = self.store.list(self.bucket, _layout.prefix(module, channel))[0]
            if not objects:
                channels = self.store.list(self.bucket, "%s/" % module, delimiter="/")[1]
                if not channels:
                    raise RepoInfoError(s3_url(self.bucket), "module %r is not in the bucket" % module)
                raise RepoInfoError(s3_url(self.bucket, _layout.prefix(module, channel)),
                                    "module %r has no version %r in the bucket (it has %s)" % (
                                        module, channel, ", ".join(sorted(c.split("/")[1] for c in channels)[:10])))
            raise RepoInfoError(s3_url(self.bucket, key), "neither a repo-info sidecar nor the package %s.tar.gz is there" % module)
        if int(head.get("ContentLength") or 0) > MAX_REL_PACKAGE:
            raise RepoInfoError(s3_url(self.bucket, key), "no repo-info sidecar, and the package is too large to read it from")
        self.warnings.append("%s has no repo-info sidecar; read it from the package" % s3_url(self.bucket, key))
        fd, temp = tempfile.mkstemp(prefix="fleetops-repoinfo-")
        try:
            body = self.store.open(self.bucket, key)[0]
            with os.fdopen(fd, "wb") as handle:
                for block in iter(lambda: body.read(1024 * 1024), b""):
                    handle.write(block)
            body.close()
            data = read_member(temp, _layout.REPO_INFO_NAME, MAX_SIDECAR)
        finally:
            os.unlink(temp)
        if data is None:
            raise RepoInfoError(s3_url(self.bucket, key), "the package holds no repo-info file")
        return data, "%s:%s" % (s3_url(self.bucket, key), _layout.REPO_INFO_NAME)

    def artifact(self, key: str) -> dict:
        """Key, sha256 (from the sidecar), size and pinned VersionId of one artifact."""
        head = self.store.head(self.bucket, key)
        if head is None:
            raise RepoInfoError(s3_url(self.bucket, key), "artifact is missing from the bucket")
        filename = key.rsplit("/", 1)[-1]
        side_key = _layout.sha256_key(key)
        data = self.store.get_bytes(self.bucket, side_key, MAX_SIDECAR)
        digest = None
        if data is None:
            if not self.allow_unverified:
                raise RepoInfoError(s3_url(self.bucket, side_key), "checksum sidecar is missing; publish it "
                                    "(sha256sum %s > %s.sha256) or set allow_unverified" % (filename, filename))
            self.warnings.append("%s has no checksum sidecar: it will be used UNVERIFIED" % s3_url(self.bucket, key))
        else:
            try:
                digest = _layout.parse_sha256(data, s3_url(self.bucket, side_key), filename)
            except LayoutError as exc:
                raise RepoInfoError(s3_url(self.bucket, side_key), str(exc).split(": ", 1)[-1]) from None
        entry = dict(bucket=self.bucket, key=key, sha256=digest, size=int(head.get("ContentLength") or 0),
                     last_modified=head["LastModified"].isoformat() if head.get("LastModified") else None)
        if self.pin_versions and head.get("VersionId") and head["VersionId"] != "null":
            entry["version_id"] = head["VersionId"]
        return entry

    def src_artifacts(self, module: str, channel: str) -> list[dict]:
        """Every SRC package (``*.tar.gz`` other than the REL one) in ``<module>/<channel>/``."""
        objects = self.store.list(self.bucket, _layout.prefix(module, channel))[0]
        out = []
        for obj in sorted(objects, key=lambda o: o["Key"]):
            parts = _layout.split_key(obj["Key"])
            if not parts:
                continue
            name = _layout.bin_name_of(parts[2])
            if name and name != module:
                out.append(self.artifact(obj["Key"]))
        return out


def _step(catalog: Catalog, step) -> dict:
    data = step.to_dict()
    data["rel"] = catalog.artifact(_layout.rel_key(step.module, step.version))
    data["src"] = catalog.src_artifacts(step.module, step.src_branch)
    return data


def build_plan(catalog: Catalog, dist: str, version: str, project: str | None = None, dist_info=None) -> dict:
    """Resolve ``<dist>/<version>`` into the ordered plan."""
    if dist_info is None:
        dist_info = catalog.repo_info(dist, version, "dist")
    if dist_info.rel_branch != version:
        raise RepoInfoError(dist_info.source, "it says rel_branch %r but was read as version %r" % (dist_info.rel_branch, version),
                            key="rel_branch", value=dist_info.rel_branch)

    def load_rel(module: str, ver: str):
        return catalog.repo_info(module, ver, "rel")

    resolution = resolve(dist_info, load_rel)
    package_key = _layout.rel_key(dist, version)
    # A DIST may be published as its repo-info alone; a package that is there must verify.
    package = catalog.artifact(package_key) if catalog.store.head(catalog.bucket, package_key) else None
    install = [_step(catalog, s) for s in resolution.install]
    upgrade = [_step(catalog, s) for s in resolution.upgrade]
    modules = {s["module"]: s["version"] for s in install}
    modules.update({s["module"]: s["version"] for s in upgrade})
    return dict(
        format=PLAN_FORMAT,
        project=project,
        bucket=catalog.bucket,
        dist=dict(name=dist, version=version, repo_info=dist_info.to_dict(), source=dist_info.source, package=package),
        install=install,
        upgrade=upgrade,
        modules=modules,
        tree=resolution.tree,
        warnings=list(catalog.warnings),
    )


def presign_plan(plan: dict, store: S3Store, expires: int) -> int:
    """Add a presigned ``url`` to every artifact of the plan in place; returns how many."""
    count = 0
    for _step, art in plan_walk(plan):
        art["url"] = store.presign_get(art["bucket"], art["key"], expires, art.get("version_id"))
        count += 1
    return count


def _repo_info(params: dict, check_mode: bool) -> dict:
    """The repo_info module's call: read a repo-info (a local file or by name from the bucket), resolve a DIST's plan."""
    del check_mode  # it only reads
    kind = None if params["kind"] == "auto" else params["kind"]
    store = catalog = None
    if params["bucket"]:
        store = open_store(params)
        catalog = Catalog(store, params["bucket"], allow_unverified=params["allow_unverified"], pin_versions=params["pin_versions"])
    if params["path"]:
        try:
            with open(params["path"], "rb") as handle:
                data = handle.read(MAX_BYTES + 1)  # one byte over, so that parse names an oversize file
        except OSError as exc:
            raise FleetopsError("%s: cannot read repo-info: %s" % (params["path"], exc.strerror)) from None
        info = parse(data, params["path"], kind=kind)
    else:
        if catalog is None or not params["version"]:
            raise FleetopsError("reading repo-info by name needs version and bucket")
        info = catalog.repo_info(params["name"], params["version"], kind)
    result = dict(changed=False, kind="dist" if hasattr(info, "sub_repo") else "rel", source=info.source,
                  repo_info=info.to_dict())
    if result["kind"] == "dist" and params["resolve"] and catalog is not None:
        if not params["name"]:
            raise FleetopsError("%s: resolving a local DIST repo-info needs name (the DIST's name in the bucket)" % params["path"])
        plan = build_plan(catalog, params["name"], info.rel_branch, project=params["project"], dist_info=info)
        result["warnings"] = list(plan["warnings"])
        if params["presign"]:
            presign_plan(plan, store, params["url_expiry"])
        result.update(plan=plan, tree=plan["tree"])
    return result


REPO_INFO = Entry("repo_info", dict(
    S3_ARGSPEC,
    path=dict(type="path"),
    name=dict(type="str"),
    version=dict(type="str"),
    kind=dict(type="str", choices=["auto", "rel", "dist"], default="auto"),
    bucket=dict(type="str"),
    resolve=dict(type="bool", default=True),
    project=dict(type="str"),
    allow_unverified=dict(type="bool", default=False),
    pin_versions=dict(type="bool", default=True),
    presign=dict(type="bool", default=False),
    url_expiry=dict(type="int", default=3600),
), _repo_info, lambda params: [params] if params["bucket"] else [],
    required_one_of=[("path", "name")], mutually_exclusive=[("path", "version")], required_if=[("presign", True, ["bucket"])])
