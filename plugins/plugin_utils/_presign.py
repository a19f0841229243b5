# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Controller side of node fetches: sign URLs just in time, keep credentials home."""

from __future__ import annotations

import copy
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.node_fetch import NODE_FETCH_ARGSPEC, plan_walk, url_id, wanted
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.sigv4 import Signer

# What never travels to a node that fetches by URL.
CONTROLLER_ONLY = ("endpoint_url", "region", "profile", "access_key", "secret_key", "session_token")
_STORES: dict = {}


def _option(args: dict[str, t.Any], name: str) -> t.Any:
    spec = S3_ARGSPEC[name]
    for candidate in [name] + list(spec.get("aliases", [])):
        if args.get(candidate) is not None:
            return args[candidate]
    return spec.get("default")


def _store(args: dict[str, t.Any]) -> t.Any:
    """Something with ``presign_get``: the stdlib signer where it applies, else a boto3 client.

    Action plugins run in a freshly forked worker per host, so boto3's import and client set-up
    (about a quarter of a CPU second) would be paid for every host; the signer costs microseconds.
    """
    options = {name: _option(args, name) for name in S3_ARGSPEC}
    ident = tuple(sorted((k, str(v)) for k, v in options.items()))
    if ident not in _STORES:
        signer = Signer.from_options(options)
        if signer is None:
            from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store  # pylint: disable=import-outside-toplevel

            signer = S3Store(options)
        _STORES[ident] = signer
    return _STORES[ident]


def hide_urls(args: dict[str, t.Any]) -> dict[str, t.Any]:
    """Move every URL found in ``plan`` or ``artifacts`` into the no_log ``presigned_urls`` option.

    A plan signed by repo_info (presign=true) carries URLs in a plain dict option, which Ansible
    would echo back in the task's ``invocation`` at -vvv; in ``presigned_urls`` they are masked.
    """
    out = dict(args)
    urls = dict(args.get("presigned_urls") or {})
    plan = args.get("plan")
    if isinstance(plan, dict):
        plan = copy.deepcopy(plan)
        try:
            for _step, art in plan_walk(plan):
                if isinstance(art, dict) and art.get("url") and art.get("key"):
                    urls[url_id(art.get("bucket"), art["key"], art.get("version_id"))] = art.pop("url")
        except (AttributeError, KeyError, TypeError):
            pass  # not a plan; the module refuses it with its own message
        out["plan"] = plan
    if isinstance(args.get("artifacts"), list):
        arts = []
        for art in args["artifacts"]:
            if isinstance(art, dict) and art.get("url") and art.get("key"):
                art = dict(art)
                urls[url_id(art.get("bucket"), art["key"], art.get("version_id"))] = art.pop("url")
            arts.append(art)
        out["artifacts"] = arts
    if urls:
        out["presigned_urls"] = urls
    return out


def sign_for_node(args: dict[str, t.Any]) -> dict[str, t.Any]:
    """Module args for the node: URLs for every unsigned artifact, no S3 settings at all."""
    params = {name: args.get(name, spec.get("default")) for name, spec in NODE_FETCH_ARGSPEC.items()}
    urls = dict(args.get("presigned_urls") or {})
    unsigned = [a for a in wanted(params) if not a.get("url") and url_id(a.get("bucket"), a["key"], a.get("version_id")) not in urls]
    if unsigned:
        store = _store(args)
        expiry = int(params["url_expiry"] or 900)
        for art in unsigned:
            if not art.get("bucket"):
                raise FleetopsError("%s: no bucket to sign a URL for" % art["key"])
            urls[url_id(art["bucket"], art["key"], art.get("version_id"))] = store.presign_get(
                art["bucket"], art["key"], expiry, art.get("version_id"))
    drop = {"presigned_urls"}
    for name in CONTROLLER_ONLY:
        drop.add(name)
        drop.update(S3_ARGSPEC[name].get("aliases", []))
    out = {k: v for k, v in args.items() if k not in drop}
    if urls:
        out["presigned_urls"] = urls
    return out
