# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Put back what a release that died left out of rotation (``release_host`` with ``recover``).

A run killed between a drain and its put-back (SIGKILL, an AWX cancel, a crash) leaves hosts out of their load
balancers; its lock record names them (host -> indexes into that host's ``fleetops_lb``). The next run that takes
the lock over runs this for each such host, before its own release:

1. Read the node's state. A node that is not ``active`` (the dead run left it building, maintaining or failed) stays out.
2. The health check (the same one a release makes, ``_health``), when the host has one. A host that fails it stays out.
3. Enable each membership the record names. An nginx membership without a health check of ours stays out: nginx
   (open source) checks nothing itself, so a person decides.

What is not put back is returned as ``still_out`` (indexes), and stays in the lock's note for the run after.
"""

from __future__ import annotations

import typing as t

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.rollout import _bad, membership_label


class RecoverOps(t.Protocol):
    def lb(self, membership: dict, state: str) -> dict: ...

    def node_status(self) -> dict: ...

    def health(self) -> dict: ...


class Recovery:
    """One host's put-back after a dead run. ``run()`` returns the task result."""

    def __init__(self, host: str, memberships: list[dict], indexes: t.Iterable[t.Any], health: dict, ops: RecoverOps) -> None:
        self.host = host
        self.memberships = list(memberships or [])
        # Indexes the host's memberships no longer have (its fleetops_lb changed since) cannot be put back by this run.
        self.indexes = [int(i) for i in indexes if isinstance(i, int) or str(i).isdigit()]
        self.health_spec = health or {}
        self.ops = ops

    def _stays_out(self, why: str, node_status: t.Any, health: dict | None) -> dict:
        msg = ("%s was left out of its load balancers by a release that died, and is not %s: it stays out; put it back "
               "with lb_member state=enabled once it is" % (self.host, why))
        return dict(changed=False, msg=msg, recovery=dict(put_back=[], still_out=list(self.indexes), node_status=node_status,
                                                          health=health, msgs=[msg]))

    def run(self) -> dict:
        node = self.ops.node_status()
        status = node.get("status") if isinstance(node, dict) and not _bad(node) else None
        if status != "active":
            return self._stays_out("active (node status %s)" % (status or "unknown"), status, None)
        checks = bool(self.health_spec.get("url") or self.health_spec.get("command"))
        health = self.ops.health() if checks else None
        if health is not None and not health.get("ok"):
            return self._stays_out("healthy now (%s)" % health.get("msg"), status, health)
        put_back: list[str] = []
        still_out: list[int] = []
        msgs: list[str] = []
        for index in self.indexes:
            if index >= len(self.memberships):
                continue
            membership = self.memberships[index]
            if membership.get("type") == "nginx" and not checks:
                still_out.append(index)
                msgs.append("%s was left out of %s by a release that died, and has no health check (fleetops_health) to tell it is "
                            "healthy now: it stays out; put it back with lb_member state=enabled once it is"
                            % (self.host, membership_label(membership)))
                continue
            result = self.ops.lb(membership, "enabled")
            if _bad(result):
                still_out.append(index)
                msgs.append("%s: could not put it back into %s, which a release that died took it out of (%s); it stays out"
                            % (self.host, membership_label(membership), str(result.get("msg") if isinstance(result, dict) else result)[:300]))
            else:
                put_back.append(membership_label(membership))
        msg = "; ".join(msgs) if msgs else "%s put back into %s" % (self.host, ", ".join(put_back) or "nothing")
        return dict(changed=bool(put_back), msg=msg,
                    recovery=dict(put_back=put_back, still_out=still_out, node_status=status, health=health, msgs=msgs))
