# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What ``s3_artifact`` does on a node: fetch the artifacts of a plan, verify, extract.

The argument spec lives here too, so the controller-side action plugin (which
signs URLs just in time) and the module agree on one definition.
"""

from __future__ import annotations

import os
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import ArchiveError, FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.fetch import Artifact, Fetcher
from ansible_collections.fleetops.release.plugins.module_utils._node.paths import NODE_PATHS_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._repo import layout as _layout

# How a node fetches and verifies (documented once, doc_fragments/_node_fetch.py): s3_artifact's and dist_deploy's.
NODE_FETCH_OPTIONS: dict[str, dict[str, t.Any]] = dict(
    presign=dict(type="bool", default=True),
    url_expiry=dict(type="int", default=900),
    presigned_urls=dict(type="dict", no_log=True),
    allow_unverified=dict(type="bool", default=False),
    attempts=dict(type="int", default=4),
    timeout=dict(type="float", default=60.0),
)

ARTIFACT_SPEC = dict(
    key=dict(type="str", required=True, no_log=False),
    bucket=dict(type="str"),
    version_id=dict(type="str"),
    sha256=dict(type="str"),
    size=dict(type="int"),
    url=dict(type="str", no_log=True),
    name=dict(type="str"),
    dest=dict(type="path"),
    last_modified=dict(type="str"),
)

NODE_FETCH_ARGSPEC = dict(
    plan=dict(type="dict"),
    artifacts=dict(type="list", elements="dict", options=ARTIFACT_SPEC),
    cache_dir=NODE_PATHS_ARGSPEC["cache_dir"],
    extract_root=dict(type="path"),
    **NODE_FETCH_OPTIONS,
)


def url_id(bucket: str | None, key: str, version_id: str | None = None) -> str:
    """How an artifact is named in ``presigned_urls``."""
    return "%s/%s%s" % (bucket or "", key, ("?versionId=" + version_id) if version_id else "")


def plan_walk(plan: dict) -> t.Iterator[tuple[dict, dict]]:
    """``(step, artifact)`` for every REL and SRC artifact of a plan's install and upgrade steps, in order.

    The one walk over the plan format, shared by fetching, signing and hiding URLs.
    """
    for section in ("install", "upgrade"):
        for step in plan.get(section) or []:
            yield step, step["rel"]
            for art in step.get("src") or []:
                yield step, art


def plan_artifacts(plan: dict, extract_root: str | None) -> list[dict]:
    """The artifacts of a plan as ``artifacts`` entries, each once, with their extraction dirs."""
    seen = set()
    out = []
    for step, art in plan_walk(plan):
        ident = url_id(art.get("bucket"), art["key"], art.get("version_id"))
        if ident in seen:
            continue
        seen.add(ident)
        entry = {k: art.get(k) for k in ARTIFACT_SPEC if k not in ("dest", "last_modified")}
        if extract_root:
            filename = art["key"].rsplit("/", 1)[-1]
            entry["dest"] = os.path.join(extract_root, step["module"], step["version"], _layout.bin_name_of(filename) or filename)
        out.append(entry)
    return out


def wanted(params: dict) -> list[dict]:
    """Every artifact the task asks for (``plan`` and ``artifacts`` together)."""
    items: list[dict] = []
    if params.get("plan"):
        if not isinstance(params["plan"], dict) or not isinstance(params["plan"].get("install"), list):
            raise FleetopsError("plan: not a plan from fleetops.release.repo_info (no 'install' list)")
        items.extend(plan_artifacts(params["plan"], params.get("extract_root")))
    for art in params.get("artifacts") or []:
        entry = dict(art)
        if not entry.get("dest") and params.get("extract_root"):
            filename = entry["key"].rsplit("/", 1)[-1]
            entry["dest"] = os.path.join(params["extract_root"], _layout.bin_name_of(filename) or filename)
        items.append(entry)
    if not items:
        raise FleetopsError("nothing to fetch: give plan or artifacts")
    return items


def _marker(dest: str) -> str:
    parent, base = os.path.split(os.path.normpath(dest))
    return os.path.join(parent, ".%s.sha256" % base)


def extract_state(dest: str, sha256: str | None) -> str:
    """``unchanged`` when dest already holds this artifact, ``create`` when dest is free; else an error."""
    marker = _marker(dest)
    if os.path.lexists(dest):
        try:
            with open(marker) as handle:
                recorded = handle.read().strip()
        except OSError:
            recorded = None
        if sha256 and recorded == sha256:
            return "unchanged"
        raise FleetopsError("%s exists and does not hold this artifact (sha256 %s); extraction needs a fresh directory"
                            % (dest, sha256))
    return "create"


def extract_to(path: str, dest: str, sha256: str, label: str) -> None:
    """Extract into a fresh ``dest``; the marker beside it is written first, so a crash leaves no false 'unchanged'."""
    # Imported here (before the marker is written): a node whose artifacts are all in place never needs the extractor.
    from ansible_collections.fleetops.release.plugins.module_utils._fetch.archive import extract  # pylint: disable=import-outside-toplevel

    parent = os.path.dirname(os.path.normpath(dest))
    os.makedirs(parent, mode=0o755, exist_ok=True)
    with open(_marker(dest), "w") as handle:
        handle.write(sha256 + "\n")
    try:
        extract(path, dest)
    except BaseException as exc:
        os.unlink(_marker(dest))
        if isinstance(exc, ArchiveError):
            raise FleetopsError("%s: refused to extract, nothing was written to %s: %s" % (label, dest, exc)) from None
        raise


def run(params: dict, store_factory: t.Callable[[], t.Any] | None, check_mode: bool,
        validate_certs: bool = True) -> dict:
    urls = params.get("presigned_urls") or {}
    fetcher = Fetcher(params["cache_dir"], store_factory=store_factory, attempts=params["attempts"], timeout=params["timeout"],
                      validate_certs=validate_certs, allow_unverified=params["allow_unverified"])
    results = []
    downloaded_bytes = 0
    for index, entry in enumerate(wanted(params)):
        entry = dict(entry)
        entry["url"] = entry.get("url") or urls.get(url_id(entry.get("bucket"), entry["key"], entry.get("version_id")))
        art = Artifact.from_dict(entry, "artifact %d" % (index + 1))
        item = dict(name=art.name, key=art.key, bucket=art.bucket, sha256=art.sha256, size=art.size,
                    path=fetcher.cached_path(art.sha256) if art.sha256 else None, dest=entry.get("dest"))
        if check_mode:
            item["downloaded"] = fetcher.lookup(art) is None
            if entry.get("dest"):
                item["extract"] = extract_state(entry["dest"], art.sha256)
        else:
            got = fetcher.fetch(art)
            item.update(path=got.path, sha256=got.sha256, size=got.size, downloaded=got.downloaded, attempts=got.attempts,
                        seconds=round(got.seconds, 3))
            if got.downloaded:
                downloaded_bytes += got.size
            if entry.get("dest"):
                item["extract"] = extract_state(entry["dest"], got.sha256)
                if item["extract"] == "create":
                    extract_to(got.path, entry["dest"], got.sha256, art.label)
        results.append(item)
    changed = any(r["downloaded"] or r.get("extract") == "create" for r in results)
    return dict(changed=changed, artifacts=results, downloaded_bytes=downloaded_bytes)
