# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the node_state module does: read, gate, assert, and the operator actions."""

from __future__ import annotations

import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._state import DEFAULT_PATH, NodeLock, backup_corrupt, gate, load, save

NODE_STATE_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    state_file=dict(type="path", default=DEFAULT_PATH),
    action=dict(type="str", choices=["read", "reset", "maintain", "fail"], default="read"),
    reason=dict(type="str"),
    version=dict(type="str"),
    run_id=dict(type="str"),
    target_version=dict(type="str"),
    upgradable=dict(type="list", elements="str", default=[]),
    stale_after=dict(type="int", default=3600),
    expect_status=dict(type="list", elements="str"),
    backup_corrupt=dict(type="bool", default=False),
)


def _facts(state) -> dict:
    if state is None:
        return dict(exists=False, status=None, version=None, project=None, modules={}, updated_at=None, last_error=None,
                    history=[], run_id=None, started_at=None)
    data = state.to_dict()
    return dict(exists=True, status=data["status"], version=data["image"]["version"], project=data["project"], modules=data["modules"],
                updated_at=data["updated_at"], last_error=data["last_error"], history=data["history"], run_id=data["run_id"],
                started_at=data["started_at"])


def run(params: dict, check_mode: bool) -> dict:
    path = params["state_file"]
    loaded = load(path)
    result: dict = dict(changed=False, state_file=path, problem=loaded.problem, backup=None,
                        ignored_keys=list(getattr(loaded, "ignored_keys", None) or []))
    if loaded.problem is not None:
        result.update(_facts(None), exists=True, status="corrupt")
        if params["backup_corrupt"] and not check_mode:
            result["backup"] = backup_corrupt(path)
            result["changed"] = True
        if params["action"] != "read":
            raise FleetopsError("%s: %s; %s refused on an unusable state file" % (path, loaded.problem, params["action"]))
    else:
        result.update(_facts(loaded.state))
    if params["target_version"]:
        decision = gate(loaded, params["target_version"], params["upgradable"], params["stale_after"])
        result["decision"] = dict(action=decision.action, reason=decision.reason, message=decision.message)
    if params["action"] in ("reset", "maintain", "fail"):
        state = loaded.state
        if state is None:
            raise FleetopsError("%s: no node state (a new node); nothing to %s" % (path, params["action"]))
        if not params["reason"]:
            raise FleetopsError("%s: an operator %s needs a reason" % (path, params["action"]))
        before = _facts(state)
        if params["action"] == "reset":
            state.reset(params["reason"], params["run_id"], version=params["version"])
        elif params["action"] == "maintain":
            state.mark_maintain(params["reason"], params["run_id"])
        else:
            state.mark_failed(params["reason"], params["run_id"])
        result.update(_facts(state), changed=True,
                      diff=dict(before=dict(status=before["status"], version=before["version"]),
                                after=dict(status=state.status, version=state.image_version)))
        if not check_mode:
            with NodeLock(path):
                save(path, state)
    if params["expect_status"] and result["status"] not in params["expect_status"]:
        result["failed"] = True
        last_error = ("; last error: %s" % result["last_error"]) if result.get("last_error") else ""
        status = result["status"] or "absent (new node)"
        result["msg"] = "%s: status is %s, expected %s%s" % (path, status, " or ".join(params["expect_status"]), last_error)
    return result
