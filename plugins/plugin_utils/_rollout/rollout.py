# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""One host's release, start to end: drain, release, health check, put back (the ``release_host`` action).

The order and its guarantees, in one place:

1. A host does not start once the rollout was stopped (a batch before it failed too much), aborted, or lost its lock.
   The first step of each serial batch renews the release lock.
2. Bad options fail the host before anything is touched: the release options against ``dist_deploy``'s argument
   spec, each load balancer membership against ``lb_member``'s. nginx (open source) has no health checks of its
   own: an nginx membership needs ``health`` (a url or command).
3. Each membership is drained in turn, with the capacity guard; the first refusal or failure stops the drains.
   The drains of one batch run one host at a time (the run state's lock), so each guard counts what the
   drains before it took out.
4. What was taken out is noted in the release lock's record before anything else happens: if the run dies
   now, the next holder of the lock puts it back.
5. The release: one ``dist_deploy`` call on the node (skipped after an abort or a lock problem during the drain).
6. The health check (only for a host in a load balancer, after a good release).
7. Put back exactly the memberships this step took out (in rotation before, touched by a drain), unless the
   release or the health check failed: such a host stays out for a person to look at. A membership an
   operator had taken out before the run is left as it was.
8. The host's entry leaves the lock's note; its outcome is counted for the stop policy.

A step whose playbook died under it (SIGKILL of the job, as an AWX cancel does: Ansible's workers run in sessions of
their own and outlive it) stops at the next stage boundary and touches nothing more: the lock's note keeps what it
took out, and the next run that takes the lock over puts that back where healthy (the recover entry point).

Everything that talks to something (load balancers, the node, the lock, the clock) is a method of ``ops``;
this module only decides. The result is the ``dist_deploy`` result plus ``release`` (documented in the module).
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runstate import RunState, RunStateError, batch_key, blocked, record

ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    run_id=dict(type="str"),
    deploy=dict(type="dict"),
    recover=dict(type="list", elements="int"),
    role_vars=dict(type="bool", default=False),
    lb=dict(type="list", elements="dict", default=[]),
    lb_defaults=dict(type="dict", default={}),
    health=dict(type="dict", default={}),
    health_retries=dict(type="int", default=10),
    health_delay=dict(type="float", default=2.0),
    max_fail_percentage=dict(type="int", default=0),
    lock=dict(type="dict"),
)

ARGSPEC_OPTIONS: dict[str, t.Any] = dict(required_one_of=[("deploy", "recover")])

STAGES = ("not started", "load balancer", "lock", "release", "health check", "put back", "done", "orphaned")


class Ops(t.Protocol):
    def lb(self, membership: dict, state: str) -> dict: ...

    def deploy(self) -> dict: ...

    def health(self) -> dict: ...

    def note(self, state: dict) -> str | None: ...

    def aborted(self) -> str | None: ...

    def orphaned(self) -> bool: ...


def membership_label(membership: dict) -> str:
    """How a person names one membership: type and backend, upstream or target group."""
    where = membership.get("haproxy_backend") or membership.get("nginx_upstream") or membership.get("target_group_arn") or ""
    return ("%s %s" % (membership.get("type", "?"), where)).strip()


def _bad(result: t.Any) -> bool:
    return not isinstance(result, dict) or bool(result.get("failed") or result.get("unreachable"))


def put_back_indexes(drains: list[dict]) -> list[int]:
    """Indexes of the memberships a drain took out of rotation: in rotation before and touched (even if it then failed)."""
    return [index for index, result in enumerate(drains)
            if isinstance(result, dict) and result.get("changed") and isinstance(result.get("before"), dict)
            and result["before"].get("state") == "enabled"]


def put_back_membership(membership: dict, drain: dict) -> dict:
    """The membership to enable again; an ELBv2 target without a port goes back on the port the drain found it on."""
    membership = dict(membership)
    if membership.get("type") == "elbv2" and not membership.get("target_port"):
        name = str((drain.get("member") or {}).get("name") or "")
        port = name.rsplit(":", 1)[-1] if ":" in name else ""
        if port.isdigit():
            membership["target_port"] = int(port)
    return membership


class Step:
    """One host's step. ``run()`` returns the task result."""

    def __init__(self, host: str, batch: t.Sequence[str], memberships: list[dict], health: dict, ops: Ops, state: RunState,
                 max_fail_percentage: int = 0, lock_enabled: bool = False, clock: t.Callable[[], float] = time.monotonic,
                 problems: t.Sequence[tuple[str, str]] = ()) -> None:
        self.host = host
        self.batch = list(batch) or [host]
        self.key = batch_key(self.batch)
        self.memberships = list(memberships or [])
        self.health_spec = health or {}
        self.ops = ops
        self.state = state
        self.max_fail = int(max_fail_percentage)
        self.lock_enabled = lock_enabled
        self.clock = clock
        self.timings: dict[str, float] = {}
        self.drains: list[dict] = []
        self.problem: dict | None = None
        self.lock_problem: str | None = None
        self.health: dict | None = None
        self.input_problems = list(problems)

    # -- helpers ------------------------------------------------------------------------------------------------
    def _timed(self, name: str, func: t.Callable[[], t.Any]) -> t.Any:
        start = self.clock()
        try:
            return func()
        finally:
            self.timings[name] = round(self.timings.get(name, 0.0) + self.clock() - start, 3)

    def _fail(self, stage: str, msg: str, kept_out: bool) -> None:
        if self.problem is None:
            self.problem = dict(stage=stage, msg=str(msg).strip() or "failed", kept_out=kept_out)

    def _lb_msg(self, result: dict, membership: dict, verb: str) -> str:
        if result.get("unreachable"):
            return "cannot reach load balancer host %s to %s %s" % (membership.get("lb_host") or "localhost", verb, self.host)
        return str(result.get("msg") or "failed")

    # -- the step -----------------------------------------------------------------------------------------------
    def run(self) -> dict:
        start = self.clock()
        state = self.state.read()
        why = blocked(state, self.key, self.ops.aborted())
        if not why and self.lock_enabled and self.key not in state.get("renewed", []):
            # The first step of each batch renews the release lock, so that a long rollout keeps it.
            with self.state.locked() as shared:
                if self.key not in shared.setdefault("renewed", []):
                    shared["renewed"].append(self.key)
                    self._note(shared)
                why = blocked(shared, self.key, self.ops.aborted())
        if why:
            release = dict(stage="not started", outcome="not started", detail=why, out_of_rotation=[], timings={})
            return dict(skipped=True, changed=False, msg=why, release=release)
        nginx = [m for m in self.memberships if m.get("type") == "nginx"]
        if self.input_problems:
            self._fail(self.input_problems[0][0], "; ".join(msg for _stage, msg in self.input_problems), kept_out=False)
        elif nginx and not (self.health_spec.get("url") or self.health_spec.get("command")):
            self._fail("load balancer", "%s is in an nginx upstream, and nginx (open source) has no health checks of its own: set "
                       "fleetops_health (a url or a command) so that the host takes traffic again only once it is healthy" % self.host,
                       kept_out=False)
        else:
            self._timed("drain", self._drain)
        deployed: dict | None = None
        if self.ops.orphaned():
            return self._orphan()
        if self.problem is None and self.lock_problem is None and not self.ops.aborted():
            deployed = self._timed("release", self.ops.deploy)
            if self.ops.orphaned():
                return self._orphan()
            if _bad(deployed):
                deployed = deployed if isinstance(deployed, dict) else dict(failed=True, msg=str(deployed))
            elif self.memberships:
                self.health = self._timed("health", self.ops.health)
                if not self.health.get("ok"):
                    self._fail("health check", self.health.get("msg") or "the host is not healthy", kept_out=True)
        released_bad = deployed is not None and _bad(deployed)
        taken = put_back_indexes(self.drains)
        out: list[int] = []
        if released_bad or (self.problem and self.problem.get("kept_out")):
            out = taken  # a failed release or health check: the host stays out for a person to look at
        elif taken:
            out = self._timed("put_back", lambda: self._put_back(taken))
        bad = released_bad or self.problem is not None
        return self._result(deployed, bad, taken, out, start)

    def _orphan(self) -> dict:
        """The playbook is gone: nothing reads this result, and the lock's note stays for the next holder."""
        msg = "the playbook that ran this step is gone: stopped here, what this host was taken out of stays in the lock's note"
        return dict(failed=True, changed=bool(put_back_indexes(self.drains)), msg=msg,
                    release=dict(stage="orphaned", out_of_rotation=[membership_label(self.memberships[i]) for i in put_back_indexes(self.drains)],
                                 timings=dict(self.timings)))

    def _drain(self) -> None:
        if not self.memberships:
            return
        with self.state.locked() as state:
            for membership in self.memberships:
                result = self.ops.lb(membership, "drained")
                self.drains.append(result)
                if _bad(result):
                    self._fail("load balancer", self._lb_msg(result, membership, "take out"), kept_out=False)
                    break
            taken = put_back_indexes(self.drains)
            if taken and self.lock_enabled:
                state["out_of_rotation"][self.host] = taken
                self._note(state)
            if state.get("lock_problem"):  # this host's note, or another host's, could not be written
                self.lock_problem = self.lock_problem or state["lock_problem"]

    def _note(self, state: dict) -> None:
        """Write the lock's note of what is out of rotation; a lock that cannot be noted stops the rollout."""
        problem = self.ops.note(state)
        if problem:
            self.lock_problem = self.lock_problem or problem
            if not state.get("lock_problem"):
                state["lock_problem"] = problem
                state["lock_lost"] = "lost the lock" in problem

    def _put_back(self, taken: list[int]) -> list[int]:
        """Enable each membership taken out; the indexes that could not be put back."""
        still_out = []
        for index in taken:
            membership = put_back_membership(self.memberships[index], self.drains[index])
            result = self.ops.lb(membership, "enabled")
            if _bad(result):
                still_out.append(index)
                self._fail("put back", self._lb_msg(result, membership, "put back"), kept_out=True)
        return still_out

    def _result(self, deployed: dict | None, bad: bool, taken: list[int], out: list[int], start: float) -> dict:
        try:
            with self.state.locked() as state:
                if self.lock_enabled and self.host in state["out_of_rotation"] and not state.get("lock_problem"):
                    state["out_of_rotation"].pop(self.host)
                    self._note(state)
                halted_now = record(state, self.key, len(self.batch), self.host, bad, self.max_fail, self.batch)
        except RunStateError as exc:
            self._fail("lock", str(exc), kept_out=bool(out))
            halted_now, bad = False, True
        already_out = any(isinstance(d, dict) and isinstance(d.get("before"), dict) and d["before"].get("state") != "enabled"
                          for d in self.drains)
        self.timings["total"] = round(self.clock() - start, 3)
        result = dict(deployed or {})
        if deployed is None:
            result.setdefault("changed", bool(taken))
        else:
            result["changed"] = bool(deployed.get("changed")) or bool(taken)
        stage = "done"
        if deployed is not None and _bad(deployed):
            stage = "release"
        elif self.problem:
            stage = self.problem["stage"]
        elif self.lock_problem:
            stage = "lock"
        release = dict(stage=stage, out_of_rotation=[membership_label(self.memberships[i]) for i in out],
                       taken_out=[membership_label(self.memberships[i]) for i in taken], already_out=already_out,
                       problem=self.problem, lock_problem=self.lock_problem, halted_rollout=halted_now, timings=dict(self.timings),
                       health=self.health, deploy_ran=deployed is not None, deploy_failed=deployed is not None and _bad(deployed),
                       lb=[dict(membership=membership_label(m), before=(d.get("before") or {}).get("state"), changed=bool(d.get("changed")),
                                failed=_bad(d), msg=d.get("msg") if _bad(d) else None)
                           for m, d in zip(self.memberships[:len(self.drains)], self.drains, strict=True)])
        result["release"] = release
        if self.problem and not (deployed is not None and _bad(deployed)):
            result["failed"] = True
            result["msg"] = "%s: %s%s" % (self.problem["stage"], self.problem["msg"],
                                          " (left out of its load balancers)" if self.problem.get("kept_out") else "")
        elif self.lock_problem and deployed is None:
            result.update(skipped=False, msg="not released: the release lock could not be noted: %s" % self.lock_problem)
        return result
