# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Per-host outcome of a release, from each host's registered dist_deploy result."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Mapping

PROBLEMS = ("failed", "unreachable")


def outcome(result: t.Any, halted: bool = False, aborted: str | None = None) -> dict:
    """One host: ``{outcome, detail, version, node_status}``.

    outcome is one of installed, upgraded, unchanged, skipped, failed, unreachable, not started.
    ``aborted`` names the signal of a graceful abort (the deploy role skips the release of hosts it reaches after one).
    """
    if not isinstance(result, dict) or not result or (aborted and result.get("skipped") and "action" not in result):
        if aborted:
            detail = "the release was aborted (%s) before this host; nothing on it was changed" % aborted
        elif halted:
            detail = "the rollout was stopped by failures before this host"
        else:
            detail = "the run ended before this host"
        return dict(outcome="not started", detail=detail, version=None, node_status=None)
    if result.get("unreachable"):
        return dict(outcome="unreachable", detail=str(result.get("msg", "")).strip()[:300], version=None, node_status=None)
    version = result.get("dist_version")
    status = result.get("node_status_after", result.get("node_status"))
    if result.get("failed"):
        stage = result.get("stage")
        detail = str(result.get("msg", "failed")).strip()
        if stage == "fetch":
            detail = "fetch failed, node left as it was: " + detail
        return dict(outcome="failed", detail=detail[:500], version=version, node_status=status, stage=stage,
                    log=next((s.get("log") for s in reversed(result.get("steps") or []) if s.get("log")), None))
    action = result.get("action")
    if action == "skip":
        return dict(outcome="skipped", detail="%s: %s" % (result.get("reason"), result.get("message", "")), version=result.get("previous_version"),
                    node_status=status, reason=result.get("reason"))
    if not result.get("changed"):
        return dict(outcome="unchanged", detail="already on %s" % version, version=version, node_status=status)
    ran = [s for s in result.get("steps") or [] if s.get("rc") == 0]
    return dict(outcome="installed" if action == "install" else "upgraded",
                detail="%d script(s) ran, %d bytes downloaded" % (len(ran), result.get("downloaded_bytes") or 0),
                version=version, node_status=status)


def with_rotation(row: dict, problem: t.Any) -> dict:
    """Fold a load balancer or health check problem (``release.problem`` of a release_host result) into a host's outcome."""
    if not isinstance(problem, dict) or not problem:
        return row
    where = "%s: %s" % (problem.get("stage") or "rotation", str(problem.get("msg") or "failed").strip()[:400])
    if problem.get("kept_out"):
        where += " (left out of its load balancers)"
    if row["outcome"] in PROBLEMS:
        row["detail"] = "%s; %s" % (row["detail"], where)
    else:
        row.update(outcome="failed", detail=where, stage=problem.get("stage"))
    return row


def step_outcome(result: dict, halted: bool = False, aborted: str | None = None) -> dict:
    """One host, from its ``release_host`` result (the dist_deploy result plus ``release``)."""
    release = result["release"]
    if release.get("stage") == "not started":
        return dict(outcome="not started", detail=str(result.get("msg") or release.get("detail") or "not started"), version=None,
                    node_status=None)
    problem = release.get("problem")
    base = dict(result)
    if not release.get("deploy_ran"):
        if not problem:
            why = release.get("lock_problem") or ("the release was aborted (%s)" % aborted if aborted else "stopped")
            return dict(outcome="not started", detail="taken out and put back without a release: %s" % why, version=None,
                        node_status=None)
        base = {}
    elif problem and not release.get("deploy_failed"):
        base.pop("failed", None)
        base.pop("msg", None)
    row = with_rotation(outcome(base or {"changed": False, "dist_version": None}, halted, aborted), problem)
    if release.get("deploy_failed") and release.get("out_of_rotation"):
        row["detail"] += " (left out of its load balancers)"
    if release.get("already_out"):
        row["detail"] += " (was already out of rotation in a load balancer before this run; left out)"
    health = release.get("health")
    if row["outcome"] in ("installed", "upgraded", "unchanged") and isinstance(health, Mapping) and health.get("ok") and health.get("attempts"):
        row["detail"] += "; %s" % health.get("msg")
    return row


def report(hosts: list[str], hostvars: t.Mapping, halted: bool = False, var: str = "deploy_result", aborted: str | None = None) -> dict:
    """All hosts: per-host outcomes, counts, and printable lines.

    A host's ``var`` is its ``release_host`` result; a host without one (it never ran, or a batch never started) is
    reported from what there is, usually as not started.
    """
    rows = []
    for host in hosts:
        facts = hostvars.get(host) if isinstance(hostvars, Mapping) else None
        result = facts.get(var) if isinstance(facts, Mapping) else None
        if isinstance(result, Mapping) and isinstance(result.get("release"), Mapping):
            row = step_outcome(dict(result), halted, aborted)
        else:
            row = outcome(result, halted, aborted)
        row["host"] = host
        rows.append(row)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    width = max([len(h) for h in hosts] + [4])
    lines = ["%-*s  %-11s  %-8s  %s" % (width, r["host"], r["outcome"], r["version"] or "-", r["detail"]) for r in rows]
    return dict(hosts=rows, counts=counts, lines=lines, ok=not any(r["outcome"] in PROBLEMS for r in rows),
                problems=[r["host"] for r in rows if r["outcome"] in PROBLEMS])


def still_out(recover: t.Any, hostvars: t.Mapping, var: str = "deploy_recovered") -> dict:
    """Of what a run that died left out of rotation (host -> membership indexes), what the put-back did not restore.

    ``var`` is the host's ``release_host`` result with ``recover`` (its ``recovery.still_out``); a host without one
    (unreachable, or its step failed) keeps every index it had.
    """
    out = {}
    for host, indexes in (recover.items() if isinstance(recover, Mapping) else []):
        facts = hostvars.get(host) if isinstance(hostvars, Mapping) else None
        result = facts.get(var) if isinstance(facts, Mapping) else None
        recovery = result.get("recovery") if isinstance(result, Mapping) and not (result.get("failed") or result.get("unreachable")) else None
        left = list(indexes)
        if isinstance(recovery, Mapping) and isinstance(recovery.get("still_out"), list):
            left = [index for index in recovery["still_out"] if index in left]
        if left:
            out[host] = left
    return out


_SCOPE_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def _scope_name(value: t.Any) -> str:
    return _SCOPE_UNSAFE.sub("_", str(value)).strip("._")


def lock_scope(hosts: list[str], hostvars: t.Mapping, project: t.Any = None, environment: t.Any = None, fallback_project: t.Any = None,
               pattern: t.Any = None) -> dict:
    """The (project, environment) a run's release lock covers.

    Explicit values win. Otherwise the ``fleet`` inventory's ``fleet_project``/``fleet_environment`` of the targeted
    hosts, which must then name one project and one environment; then ``fallback_project`` (the DIST) and the host
    pattern. Names are made safe for an S3 key or a file name.
    """
    def distinct(key: str) -> list[str]:
        seen: dict[str, None] = {}
        for host in hosts:
            facts = hostvars.get(host) if isinstance(hostvars, Mapping) else None
            value = facts.get(key) if isinstance(facts, Mapping) else None
            if isinstance(value, str) and value:
                seen.setdefault(value, None)
        return list(seen)

    scope = {}
    for name, given, key, fallback in (("project", project, "fleet_project", fallback_project),
                                       ("environment", environment, "fleet_environment", pattern)):
        if given not in (None, ""):
            value = given
        else:
            found = distinct(key)
            if len(found) > 1:
                raise ValueError("the hosts of this run belong to %d %ss (%s): a release lock covers one; set fleetops_%s, or "
                                 "narrow fleetops_hosts" % (len(found), name, ", ".join(found[:10]), name))
            value = found[0] if found else fallback
        safe = _scope_name(value) if value not in (None, "") else ""
        if not safe:
            raise ValueError("cannot tell which %s this release locks: set fleetops_%s" % (name, name))
        scope[name] = safe
    return scope
