# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runtrack import RunTracker, failure_detail, node_status_from


def stats(**kinds):
    base = {k: {} for k in ("processed", "failures", "ok", "dark", "changed", "skipped", "rescued", "ignored")}
    for kind, hosts in kinds.items():
        base[kind] = dict(hosts)
    return base


def rows(summary):
    return {r["host"]: r for r in summary["problems"]}


def test_serial_batches_that_never_ran_are_not_attempted():
    tr = RunTracker(run_id="r1")
    tr.play("release", ["h1", "h2", "h3"])
    tr.result("h1", "ok", "deploy", "command", {"changed": True})
    tr.result("h2", "failed", "deploy", "command", {"msg": "boom"})
    tr.set_stats(stats(processed={"h1": 1, "h2": 1}, ok={"h1": 1}, failures={"h2": 1}))
    tr.finish()
    s = tr.summary()
    assert s["hosts"] == {"ok": 1, "failed": 1, "unreachable": 0, "rescued": 0, "not_attempted": 1}
    assert s["problem_hosts"] == ["h2", "h3"]
    assert rows(s)["h3"]["ansible_status"] == "not attempted"
    assert rows(s)["h2"]["detail"] == "deploy: boom"
    assert s["result"] == "partial"
    assert s["changed_hosts"] == 1


def test_rescued_failures_count_as_rescued_after_the_recap():
    tr = RunTracker()
    tr.play("p", ["h1"])
    tr.result("h1", "failed", "try", "command", {"msg": "x"})
    tr.result("h1", "ok", "rescue", "debug", {})
    tr.set_stats(stats(processed={"h1": 1}, ok={"h1": 1}, rescued={"h1": 1}))
    s = tr.summary()
    assert s["hosts"]["rescued"] == 1 and s["result"] == "success"


def test_without_recap_a_failure_counts_as_failed_and_the_run_is_aborted():
    tr = RunTracker()
    tr.play("p", ["h1", "h2"])
    tr.result("h1", "failed", "t", "command", {"msg": "x"})
    tr.finish("SIGTERM")
    s = tr.summary()
    assert s["result"] == "aborted" and s["interrupted_by"] == "SIGTERM"
    assert s["hosts"]["failed"] == 1 and s["hosts"]["not_attempted"] == 1


def test_unreachable_even_when_ignored():
    tr = RunTracker()
    tr.play("p", ["h1"])
    tr.result("h1", "unreachable", "ping", "ping", {"msg": "ssh: connect to host 10.0.0.9 port 22: No route"})
    tr.set_stats(stats(processed={"h1": 1}, ignored={"h1": 1}))
    s = tr.summary()
    assert s["hosts"]["unreachable"] == 1 and s["result"] == "failed"
    assert "No route" in rows(s)["h1"]["detail"]


def test_ignored_release_failure_is_still_failed_with_node_status():
    tr = RunTracker()
    tr.play("p", ["h1", "h2"])
    tr.result("h1", "failed", "Apply", "fleetops.release.dist_deploy",
              {"msg": "deploy.sh of A exited 3", "node_status_after": "failure", "dist_version": "1.1.0",
               "previous_version": "1.0.0", "stage": "script"}, ignore_errors=True)
    tr.result("h2", "ok", "Apply", "fleetops.release.dist_deploy",
              {"changed": True, "node_status_after": "active", "dist_version": "1.1.0", "previous_version": "1.0.0", "action": "upgrade"})
    tr.set_stats(stats(processed={"h1": 1, "h2": 1}, ok={"h1": 1, "h2": 1}, ignored={"h1": 1}))
    s = tr.summary()
    assert rows(s)["h1"]["ansible_status"] == "failed"
    assert rows(s)["h1"]["node_status"] == "failure"
    assert s["version_from"] == "1.0.0" and s["version_to"] == "1.1.0"
    assert s["kind"] == "release" and s["result"] == "partial"
    assert s["node_health"] == {"failure": 1, "active": 1}


@pytest.mark.parametrize("result,expected", [
    ({"health": "missing", "status": None, "exists": False}, "missing"),
    ({"health": "stale", "status": "building", "started_at": "2026-11-01T00:00:00Z"}, "stale"),
    ({"health": "failure", "status": "failure", "last_error": "deploy.sh exited 1"}, "failure"),
    ({"health": "ok", "status": "active"}, "active"),
    ({"health": "in_progress", "status": "maintain"}, "maintain"),
    ({"health": "corrupt", "status": "corrupt", "problem": "not YAML"}, "corrupt"),
    ({"status": None, "exists": False}, "missing"),
])
def test_node_state_results(result, expected):
    assert node_status_from("fleetops.release.node_state", result)[0] == expected


def test_dist_deploy_stale_skip_and_new_node_fetch_failure():
    assert node_status_from("dist_deploy", {"reason": "stale in progress", "message": "building since ..."})[0] == "stale"
    assert node_status_from("dist_deploy", {"node_status": None, "node_status_after": None, "stage": "fetch"})[0] == "missing"
    assert node_status_from("command", {"node_status": "failure"}) == (None, None)
    assert node_status_from("dist_deploy", {"unreachable": True}) == (None, None)


def test_status_sweep_problems_and_kind():
    tr = RunTracker()
    tr.play("sweep", ["a", "b", "c"])
    tr.result("a", "ok", "Read", "fleetops.release.node_state", {"health": "ok", "status": "active", "version": "1.0.0"})
    tr.result("b", "ok", "Read", "fleetops.release.node_state", {"health": "failure", "status": "failure", "last_error": "boom"})
    tr.result("c", "ok", "Read", "fleetops.release.node_state", {"health": "missing", "status": None, "exists": False})
    tr.set_stats(stats(processed={"a": 1, "b": 1, "c": 1}, ok={"a": 1, "b": 1, "c": 1}))
    s = tr.summary()
    assert s["kind"] == "status" and s["problem_hosts"] == ["b", "c"]
    assert rows(s)["b"]["detail"] == "boom"


def test_controller_plays_are_reported_only_when_they_fail():
    tr = RunTracker()
    tr.play("resolve", ["localhost"])
    tr.result("localhost", "ok", "resolve", "fleetops.release.repo_info", {"plan": {"project": "px", "dist": "D", "version": "2.0.0"}})
    tr.play("release", ["h1"])
    tr.result("h1", "ok", "x", "command", {})
    tr.set_stats(stats(processed={"localhost": 1, "h1": 1}, ok={"localhost": 1, "h1": 1}))
    s = tr.summary()
    assert s["targeted"] == 1 and s["result"] == "success"
    assert s["project"] == "px" and s["dist"] == "D" and s["version_to"] == "2.0.0"
    tr2 = RunTracker()
    tr2.play("resolve", ["localhost"])
    tr2.result("localhost", "failed", "Resolve", "fleetops.release.repo_info", {"msg": "no such version"})
    tr2.set_stats(stats(processed={"localhost": 1}, failures={"localhost": 1}))
    s2 = tr2.summary()
    assert s2["problem_hosts"] == ["localhost"] and s2["result"] == "failed"


def test_extra_vars_and_facts_win_and_lock_id():
    tr = RunTracker(run_id="own")
    tr.extra_vars.update(fleetops_project="px", fleetops_environment="online", fleetops_version="3.0.0", awx_job_id="42")
    tr.play("p", ["h1"])
    tr.result("localhost", "ok", "name", "set_fact", {"ansible_facts": {"fleetops_run_id": "R-1"}})
    tr.result("localhost", "ok", "lock", "fleetops.release.release_lock", {"lock_id": "L-7"})
    s = tr.summary()
    assert (s["project"], s["environment"], s["version_to"], s["run_id"], s["lock_id"], s["awx_job_id"]) == \
        ("px", "online", "3.0.0", "R-1", "L-7", "42")


def test_huge_stderr_is_bounded():
    detail = failure_detail("t", {"stderr": "x" * 100_000})
    assert len(detail) < 2100 and "more characters" not in detail[:10]


def test_snapshot_round_trip_is_json():
    tr = RunTracker(run_id="snap")
    tr.extra_vars["fleetops_project"] = "px"
    tr.play("p", ["h1", "h2"])
    tr.result("h1", "failed", "t", "command", {"msg": "x"})
    data = json.loads(json.dumps(tr.snapshot()))
    back = RunTracker.from_snapshot(data)
    back.finish("killed")
    s = back.summary()
    assert s["run_id"] == "snap" and s["project"] == "px" and s["result"] == "aborted"
    assert s["hosts"]["failed"] == 1 and s["hosts"]["not_attempted"] == 1


def test_a_host_ended_before_any_task_is_not_attempted_even_in_the_stats():
    """meta: end_host in a batch after the rollout stopped: Ansible counts the host, nothing ran on it."""
    tr = RunTracker()
    tr.play("release", ["h1", "h2"])
    tr.result("h1", "ok", "x", "command", {})
    tr.result("h2", "ok", "Leave this batch alone", "ansible.builtin.meta", {"msg": "ending play"})
    tr.play("summary", ["localhost"])
    tr.result("localhost", "failed", "Fail the run", "fail", {"msg": "release failed on h1"})
    tr.set_stats(stats(processed={"h1": 1, "h2": 1, "localhost": 1}, ok={"h1": 1}, failures={"localhost": 1}))
    s = tr.summary()
    assert rows(s)["h2"]["ansible_status"] == "not attempted"
    assert s["problem_hosts"] == ["h2"], "the controller's summary failure only repeats the hosts"


def test_lock_held_released_forced_and_graceful_abort():
    tr = RunTracker(run_id="own")
    tr.play("resolve", ["localhost"])
    tr.play("p", ["h1", "h2"])
    tr.result("localhost", "ok", "lock", "fleetops.release.release_lock",
              {"acquired": True, "lock_id": "s3://b/.fleetops/locks/px/online.json#4", "expires": "2026-11-22T22:00:00Z",
               "forced": True, "previous": {"user": "bob", "run_id": "R-0", "reason": "deploy 1.0", "owner": "bob@cn pid 1",
                                            "since": "2026-11-22T20:00:00Z", "expires": "2026-11-22T21:00:00Z", "token": "secret-ish"}})
    tr.result("h1", "ok", "release", "fleetops.release.dist_deploy", {"changed": True, "dist_version": "1.1.0"})
    held = tr.summary()["lock"]
    assert held["held"] and not held["released"] and held["expires"] == "2026-11-22T22:00:00Z"
    assert held["forced"] and held["broke"]["user"] == "bob" and "token" not in held["broke"]
    # Survives the journal (a killed run reports its lock as still held).
    again = RunTracker.from_snapshot(json.loads(json.dumps(tr.snapshot())))
    assert again.summary()["lock"]["held"]
    tr.result("localhost", "ok", "unlock", "fleetops.release.release_lock", {"released": True, "lock_id": held["id"]})
    tr.abort_requested_by = "SIGINT"
    tr.set_stats(stats(ok={"h1": 2, "localhost": 3}))
    tr.finish()
    s = tr.summary()
    assert s["lock"] == {"id": "s3://b/.fleetops/locks/px/online.json#4", "released": True, "held": False,
                         "expires": "2026-11-22T22:00:00Z", "forced": True, "broke": held["broke"]}
    assert s["result"] == "aborted" and s["interrupted_by"] == "SIGINT (graceful abort)"
    assert s["hosts"]["ok"] == 1 and s["hosts"]["not_attempted"] == 1


def test_a_renewal_outside_a_release_lock_result_moves_the_expiry_forward_only_while_held():
    tr = RunTracker(run_id="own")
    tr.play("resolve", ["localhost"])
    tr.result("localhost", "ok", "lock", "fleetops.release.release_lock",
              {"acquired": True, "lock_id": "s3://b/l.json#1", "expires": "2026-11-22T22:00:00Z"})
    tr.lock_renewed("2026-11-22T21:00:00Z")  # older: ignored
    tr.lock_renewed("not a time")
    assert tr.summary()["lock"]["expires"] == "2026-11-22T22:00:00Z"
    tr.lock_renewed("2026-11-22T22:30:00Z")
    assert tr.summary()["lock"]["expires"] == "2026-11-22T22:30:00Z"
    tr.result("localhost", "ok", "unlock", "fleetops.release.release_lock", {"released": True, "lock_id": "s3://b/l.json#1"})
    tr.lock_renewed("2026-11-22T23:00:00Z")  # released: nothing to follow
    assert tr.summary()["lock"]["expires"] == "2026-11-22T22:30:00Z"


def test_a_check_mode_lock_is_not_held():
    tr = RunTracker(run_id="own")
    tr.check_mode = True
    tr.result("localhost", "ok", "lock", "fleetops.release.release_lock", {"acquired": True, "lock_id": "L"})
    assert tr.summary()["lock"] is None and tr.summary()["lock_id"] == "L"
