# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the node_state module does: read, gate, assert, the operator actions, and the health classification."""

from __future__ import annotations

import datetime
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._node.paths import NODE_PATHS_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._node.state import (
    ACTIVE,
    FAILURE,
    LoadResult,
    NodeLock,
    NodeState,
    backup_corrupt,
    gate,
    load,
    save,
)

NODE_STATE_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    state_file=NODE_PATHS_ARGSPEC["state_file"],
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


HEALTH_OK = "ok"
HEALTH_MISSING = "missing"
HEALTH_FAILURE = "failure"
HEALTH_STALE = "stale"
HEALTH_IN_PROGRESS = "in_progress"
HEALTH_CORRUPT = "corrupt"
HEALTHS = (HEALTH_OK, HEALTH_MISSING, HEALTH_FAILURE, HEALTH_STALE, HEALTH_IN_PROGRESS, HEALTH_CORRUPT)
"""Every value of the result's ``health``; monitoring (the status playbook, the callbacks) reads it."""
HEALTHY = (HEALTH_OK, HEALTH_IN_PROGRESS)
"""Healths that need nobody (a release in progress is listed, not alarmed)."""
NODE_PROBLEMS = (HEALTH_FAILURE, HEALTH_MISSING, HEALTH_STALE, HEALTH_CORRUPT)
"""Healths that need a person: the seed alerts on failure and on a missing state file; a run that died half way
leaves a stale building/maintain; an unusable file is corrupt. In the order reports name them."""


def health(state: NodeState | LoadResult | None, stale_after: float, now: datetime.datetime | None = None) -> str:
    """One word for monitoring: ok, missing, failure, stale, in_progress or corrupt.

    ``state`` is a LoadResult (an unusable file is ``corrupt``), a NodeState, or
    None (no file: ``missing``).  building and maintain are ``stale`` exactly
    when the gate would say ``stale in progress`` (started_at, else updated_at,
    older than ``stale_after`` seconds, or neither readable), else ``in_progress``.
    """
    if isinstance(state, LoadResult):
        if state.problem is not None:
            return HEALTH_CORRUPT
        state = state.state
    if state is None:
        return HEALTH_MISSING
    if state.status == ACTIVE:
        return HEALTH_OK
    if state.status == FAILURE:
        return HEALTH_FAILURE
    decision = gate(state, state.image_version or "", [], stale_after, now=now)
    return HEALTH_STALE if decision.reason == "stale in progress" else HEALTH_IN_PROGRESS


def _facts(state) -> dict:
    if state is None:
        return dict(exists=False, status=None, version=None, project=None, modules={}, updated_at=None, last_error=None,
                    history=[], run_id=None, started_at=None)
    data = state.to_dict()
    return dict(exists=True, status=data["status"], version=data["image"]["version"], project=data["project"], modules=data["modules"],
                updated_at=data["updated_at"], last_error=data["last_error"], history=data["history"], run_id=data["run_id"],
                started_at=data["started_at"])


def run(params: dict, check_mode: bool, now: datetime.datetime | None = None) -> dict:
    """The module's result; ``health`` describes the node as it is after the call (or would be, in check mode)."""
    path = params["state_file"]
    try:
        loaded = load(path)
    except OSError as exc:
        raise FleetopsError("cannot read the node state %s: %s" % (path, exc.strerror or exc)) from None
    result: dict = dict(changed=False, state_file=path, problem=loaded.problem, backup=None,
                        ignored_keys=list(getattr(loaded, "ignored_keys", None) or []),
                        health=health(loaded, params["stale_after"], now))
    try:
        _act(params, check_mode, path, loaded, result)
    except FleetopsError as exc:
        # A refused action still says what the node is, so that monitoring can read health from a failed result.
        result.update(failed=True, msg=str(exc), changed=False)
        result.pop("diff", None)
        return result
    if result["exists"] and loaded.problem is None:
        result["health"] = health(loaded.state, params["stale_after"], now)
    if params["expect_status"] and result["status"] not in params["expect_status"]:
        result["failed"] = True
        last_error = ("; last error: %s" % result["last_error"]) if result.get("last_error") else ""
        status = result["status"] or "absent (new node)"
        result["msg"] = "%s: status is %s, expected %s%s" % (path, status, " or ".join(params["expect_status"]), last_error)
    return result


def _act(params: dict, check_mode: bool, path: str, loaded: LoadResult, result: dict) -> None:
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
        diff = dict(before=dict(status=before["status"], version=before["version"]),
                    after=dict(status=state.status, version=state.image_version))
        if not check_mode:
            with NodeLock(path):
                save(path, state)
        result.update(_facts(state), changed=True, diff=diff)
