# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What a bucket holds: modules, channels and tags, newest first (for artifact_info)."""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.module_utils._errors import LayoutError
from ansible_collections.fleetops.release.plugins.module_utils._module import Entry
from ansible_collections.fleetops.release.plugins.module_utils._repo import layout as _layout
from ansible_collections.fleetops.release.plugins.module_utils._repo.versions import DEVELOPER, sort_tags, validate_module_name
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store, open_store


def _channel_summary(module: str, channel: str, objects: list[dict]) -> dict:
    files = []
    newest = None
    for obj in sorted(objects, key=lambda o: o["Key"]):
        name = obj["Key"].rsplit("/", 1)[-1]
        when = obj.get("LastModified")
        newest = when if newest is None or (when and when > newest) else newest
        if _layout.bin_name_of(name):
            files.append(dict(name=name, key=obj["Key"], size=int(obj.get("Size") or 0),
                              last_modified=when.isoformat() if when else None,
                              verified=any(o["Key"] == obj["Key"] + _layout.SHA256_SUFFIX for o in objects)))
    return dict(
        channel=channel,
        release=channel != DEVELOPER,
        last_modified=newest.isoformat() if newest else None,
        size=sum(f["size"] for f in files),
        has_repo_info=any(o["Key"].endswith("/" + _layout.REPO_INFO_NAME) for o in objects),
        artifacts=files,
    )


def module_names(store: S3Store, bucket: str) -> list[str]:
    prefixes = store.list(bucket, "", delimiter="/")[1]
    names = []
    for pfx in prefixes:
        try:
            names.append(validate_module_name(pfx.rstrip("/"), "module"))
        except LayoutError:
            continue  # not part of the layout (e.g. a lock or audit folder)
    return sorted(names)


def describe(store: S3Store, bucket: str, module: str, latest: int, include_developer: bool = True) -> dict:
    """Channels of one module: the newest ``latest`` tags (by version order) and the developer build."""
    validate_module_name(module, "modules")
    objects = store.list(bucket, "%s/" % module)[0]
    by_channel: dict[str, list[dict]] = {}
    for obj in objects:
        parts = _layout.split_key(obj["Key"])
        if parts:
            by_channel.setdefault(parts[1], []).append(obj)
    tags = sort_tags([c for c in by_channel if c != DEVELOPER], newest_first=True)
    shown = tags[:latest] if latest > 0 else tags
    return dict(
        module=module,
        exists=bool(by_channel),
        tag_count=len(tags),
        latest_tag=tags[0] if tags else None,
        tags=[_channel_summary(module, tag, by_channel[tag]) for tag in shown],
        developer=_channel_summary(module, DEVELOPER, by_channel[DEVELOPER]) if include_developer and DEVELOPER in by_channel else None,
    )


def _artifact_info(params: dict, check_mode: bool) -> dict:
    """The artifact_info module's call (it only reads, so check mode changes nothing)."""
    del check_mode
    store = open_store(params)
    names = params["modules"] or module_names(store, params["bucket"])
    return dict(changed=False, modules=[describe(store, params["bucket"], name, params["latest"], params["include_developer"])
                                        for name in names])


ARTIFACT_INFO = Entry("artifact_info", dict(
    S3_ARGSPEC,
    bucket=dict(type="str", required=True),
    modules=dict(type="list", elements="str"),
    latest=dict(type="int", default=10),
    include_developer=dict(type="bool", default=True),
), _artifact_info, lambda params: [params])
