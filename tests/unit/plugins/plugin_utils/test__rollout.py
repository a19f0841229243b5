# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import multiprocessing
import os

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._report.summary import report
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.release_host import input_problems
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.rollout import Step, put_back_indexes
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runstate import RunState, RunStateError, blocked, record, summary

UPGRADED = {"changed": True, "action": "upgrade", "dist_version": "1.1.0", "steps": [{"rc": 0}], "downloaded_bytes": 10,
            "node_status_after": "active"}
FAILED = {"failed": True, "msg": "deploy.sh exited 3", "stage": "script", "dist_version": "1.1.0", "node_status_after": "failure"}
HAPROXY = {"type": "haproxy", "haproxy_socket": "/run/haproxy.sock", "haproxy_backend": "web", "haproxy_server": "h1"}
NGINX = {"type": "nginx", "nginx_upstream_file": "/etc/nginx/up.conf", "nginx_upstream": "web", "nginx_server": "h1:80"}


class FakeOps:
    """Records every call; answers from the scripted results."""

    def __init__(self, drains=None, deploy=None, health=None, backs=None, note=None, aborted=None):
        self.calls = []
        self.drains = list(drains or [])
        self.backs = list(backs or [])
        self.deploy_result = deploy if deploy is not None else dict(UPGRADED)
        self.health_result = health or dict(ok=True, attempts=1, msg="health check over HTTP passed: status 200")
        self.note_answer = note
        self.abort = aborted
        self.notes = []
        self.orphan_after = None  # how many checks say the playbook is still there
        self.orphan_checks = 0

    def lb(self, membership, state):
        self.calls.append(("lb", membership["type"], state))
        if state == "drained":
            return self.drains.pop(0) if self.drains else dict(changed=True, before=dict(state="enabled"), member=dict(name="x"))
        return self.backs.pop(0) if self.backs else dict(changed=True)

    def deploy(self):
        self.calls.append(("deploy",))
        return self.deploy_result

    def health(self):
        self.calls.append(("health",))
        return self.health_result

    def note(self, state):
        self.calls.append(("note",))
        self.notes.append(json.loads(json.dumps(state["out_of_rotation"])))
        if isinstance(self.note_answer, list):
            return self.note_answer.pop(0) if self.note_answer else None
        return self.note_answer

    def aborted(self):
        return self.abort

    def orphaned(self):
        self.orphan_checks += 1
        return self.orphan_after is not None and self.orphan_checks > self.orphan_after


def step(tmp_path, ops, host="h1", batch=("h1",), lb=(), health=None, **kwargs):
    return Step(host, list(batch), list(lb), health or {}, ops, RunState("run1", str(tmp_path)), **kwargs).run()


def test_a_host_without_balancers_is_one_release(tmp_path):
    ops = FakeOps()
    result = step(tmp_path, ops)
    assert ops.calls == [("deploy",)]
    assert result["action"] == "upgrade" and result["changed"] and not result.get("failed")
    assert result["release"]["stage"] == "done" and result["release"]["out_of_rotation"] == [] and result["release"]["deploy_ran"]
    assert report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]["outcome"] == "upgraded"


def test_drain_release_health_put_back_in_that_order_with_the_lock_noted_then_cleared(tmp_path):
    ops = FakeOps()
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "http://h1/health"}, lock_enabled=True)
    # the batch's first step renews the lock, then notes the drain, and clears its note at the end
    assert ops.calls == [("note",), ("lb", "haproxy", "drained"), ("note",), ("deploy",), ("health",), ("lb", "haproxy", "enabled"), ("note",)]
    assert ops.notes == [{}, {"h1": [0]}, {}]
    again = FakeOps()
    step(tmp_path, again, host="h2", batch=["h1"], lb=[HAPROXY], health={"url": "u"}, lock_enabled=True)
    assert again.calls[0] == ("lb", "haproxy", "drained")  # renewed once per batch
    assert result["release"]["taken_out"] == ["haproxy web"] and result["release"]["out_of_rotation"] == []
    row = report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]
    assert row["outcome"] == "upgraded" and "health check over HTTP passed" in row["detail"]


def test_a_failed_release_stays_out_of_rotation_and_counts_against_the_batch(tmp_path):
    ops = FakeOps(deploy=dict(FAILED))
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"})
    assert ("health",) not in ops.calls and ("lb", "haproxy", "enabled") not in ops.calls
    assert result["failed"] and result["release"]["stage"] == "release" and result["release"]["out_of_rotation"] == ["haproxy web"]
    row = report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]
    assert row["outcome"] == "failed" and row["detail"].endswith("deploy.sh exited 3 (left out of its load balancers)")
    assert result["release"]["halted_rollout"]  # max_fail_percentage 0: one bad host of one stops the rollout


def test_a_failed_health_check_keeps_the_host_out(tmp_path):
    ops = FakeOps(health=dict(ok=False, attempts=3, msg="health check over HTTP (u) failed after 3 tries: status 503, not 200"))
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"})
    assert ("lb", "haproxy", "enabled") not in ops.calls
    assert result["failed"] and result["release"]["stage"] == "health check" and result["release"]["out_of_rotation"] == ["haproxy web"]
    row = report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]
    assert row["outcome"] == "failed" and "health check" in row["detail"] and "left out of its load balancers" in row["detail"]


def test_a_refused_drain_stops_the_drains_skips_the_release_and_puts_back_what_was_taken(tmp_path):
    refused = dict(failed=True, msg="refusing to take server h1 out: below min_healthy 2", changed=False, before=dict(state="enabled"))
    ops = FakeOps(drains=[dict(changed=True, before=dict(state="enabled")), refused])
    third = dict(HAPROXY, haproxy_backend="api")
    result = step(tmp_path, ops, lb=[HAPROXY, dict(HAPROXY, haproxy_backend="admin"), third], health={"url": "u"})
    assert ops.calls == [("lb", "haproxy", "drained"), ("lb", "haproxy", "drained"), ("lb", "haproxy", "enabled")]
    assert result["failed"] and result["release"]["stage"] == "load balancer" and not result["release"]["deploy_ran"]
    row = report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]
    assert row["outcome"] == "failed" and row["detail"] == "load balancer: refusing to take server h1 out: below min_healthy 2"


def test_a_membership_an_operator_took_out_is_left_out(tmp_path):
    ops = FakeOps(drains=[dict(changed=False, before=dict(state="drain"))])
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"})
    assert ("lb", "haproxy", "enabled") not in ops.calls and result["release"]["already_out"]
    assert "was already out of rotation" in report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]["detail"]


def test_a_put_back_that_fails_fails_the_host_and_says_it_is_out(tmp_path):
    ops = FakeOps(backs=[dict(failed=True, msg="HAProxy at /run/haproxy.sock refused 'set server'")])
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"})
    assert result["failed"] and result["release"]["stage"] == "put back" and result["release"]["out_of_rotation"] == ["haproxy web"]
    assert report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]["outcome"] == "failed"


def test_nginx_without_a_health_check_is_refused_before_anything_is_touched(tmp_path):
    ops = FakeOps()
    result = step(tmp_path, ops, lb=[NGINX])
    assert ops.calls == [] and result["failed"] and "nginx (open source) has no health checks" in result["msg"]


def test_bad_options_fail_the_host_before_anything_is_touched_and_stop_the_rollout(tmp_path):
    ops = FakeOps()
    problems = [("release", "the release options of h1 (dist_deploy): value of corrupt_policy must be one of: fail, rebuild, got: mend")]
    result = step(tmp_path, ops, lb=[HAPROXY], problems=problems)
    assert ops.calls == [] and result["failed"] and result["msg"].startswith("release: the release options of h1")
    assert result["release"]["stage"] == "release" and not result["release"]["deploy_ran"] and result["release"]["out_of_rotation"] == []
    assert result["release"]["halted_rollout"]  # max_fail_percentage 0: the next batch does not start
    row = report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]
    assert row["outcome"] == "failed" and "corrupt_policy" in row["detail"]


def test_input_problems_check_the_release_options_and_every_membership_before_the_drain():
    plan = {"dist": "ProjectX.dist", "version": "1.1.0", "modules": []}
    good = dict(deploy=dict(plan=plan, corrupt_policy="fail", endpoint_url="http://127.0.0.1:1", secret_key="s3cr3t"), lb=[HAPROXY],
                lb_defaults=dict(min_healthy=1, drain_timeout=300, wait_timeout=60))
    assert input_problems("h1", good) == []
    bad = dict(good, deploy=dict(good["deploy"], corrupt_policy="mend", script_timeout="soon", surprise=1),
               lb=[HAPROXY, {"type": "haproxy", "haproxy_backend": "web"}])
    found = input_problems("h1", bad)
    assert [stage for stage, _msg in found] == ["release", "load balancer"]
    release, balancer = found[0][1], found[1][1]
    assert "h1" in release and "corrupt_policy" in release and "script_timeout" in release and "surprise" in release
    assert "s3cr3t" not in release
    assert balancer.startswith("fleetops_lb[1] of h1") and "haproxy_server" in balancer
    assert input_problems("h1", dict(good, deploy={}))[0][1].endswith("missing required arguments: plan")


def test_an_unreachable_node_is_reported_as_unreachable_and_stays_out(tmp_path):
    ops = FakeOps(deploy=dict(unreachable=True, msg="ssh: connect to host h1 port 22: Connection refused"))
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"})
    assert result["unreachable"] and result["release"]["out_of_rotation"] == ["haproxy web"]
    assert report(["h1"], {"h1": {"deploy_result": result}})["hosts"][0]["outcome"] == "unreachable"


def test_an_abort_during_the_drain_puts_the_host_back_without_a_release(tmp_path):
    class AbortAfterDrain(FakeOps):
        def lb(self, membership, state):
            self.abort = "SIGINT 2026-12-06T05:00:00Z"
            return super().lb(membership, state)

    ops = AbortAfterDrain()
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"})
    assert ops.calls == [("lb", "haproxy", "drained"), ("lb", "haproxy", "enabled")] and not result.get("failed")
    row = report(["h1"], {"h1": {"deploy_result": result}}, aborted="SIGINT")["hosts"][0]
    assert row["outcome"] == "not started" and "without a release" in row["detail"]


def test_hosts_do_not_start_after_an_abort(tmp_path):
    ops = FakeOps(aborted="SIGTERM 2026-12-06T05:00:00Z")
    result = step(tmp_path, ops, lb=[HAPROXY])
    assert ops.calls == [] and result["skipped"] and result["release"]["stage"] == "not started"
    row = report(["h1"], {"h1": {"deploy_result": result}}, aborted="SIGTERM")["hosts"][0]
    assert row["outcome"] == "not started" and "aborted (SIGTERM)" in row["detail"]


def test_a_lock_that_cannot_be_renewed_stops_the_batch_before_it_starts(tmp_path):
    ops = FakeOps(note="cannot renew release lock p/e: cannot reach the S3 endpoint http://127.0.0.1:9 (after 0 retries)")
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"}, lock_enabled=True)
    assert ops.calls == [("note",)] and result["skipped"] and result["release"]["stage"] == "not started"
    assert "could not be renewed: cannot renew release lock p/e: cannot reach the S3 endpoint" in result["msg"]
    state = summary(RunState("run1", str(tmp_path)).read())
    assert not state["lock_lost"] and "cannot reach" in state["lock_problem"]


def test_a_lock_that_cannot_be_noted_stops_the_release_and_the_rollout(tmp_path):
    ops = FakeOps(note=[None, "cannot renew release lock p/e: lost the lock (your lease, generation 1): now held by bob"])
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "u"}, lock_enabled=True)
    assert ("deploy",) not in ops.calls and ("lb", "haproxy", "enabled") in ops.calls
    assert result["release"]["stage"] == "lock" and "lost the lock" in result["release"]["lock_problem"]
    state = summary(RunState("run1", str(tmp_path)).read())
    assert state["lock_lost"] and "lost the lock" in state["lock_problem"]
    later = FakeOps()
    assert step(tmp_path, later, host="h2", batch=["h2"])["release"]["stage"] == "not started" and later.calls == []


def test_the_stop_policy_counts_the_batch_and_spares_its_own_hosts(tmp_path):
    batch = ["h1", "h2", "h3", "h4"]
    bad = FakeOps(deploy=dict(FAILED))
    first = step(tmp_path, bad, host="h1", batch=batch, max_fail_percentage=25)
    assert not first["release"]["halted_rollout"]  # 1 of 4 is not more than 25 %
    second = step(tmp_path, FakeOps(deploy=dict(FAILED)), host="h2", batch=batch, max_fail_percentage=25)
    assert second["release"]["halted_rollout"]
    same_batch = FakeOps()
    assert step(tmp_path, same_batch, host="h3", batch=batch, max_fail_percentage=25)["release"]["stage"] == "done"
    next_batch = FakeOps()
    skipped = step(tmp_path, next_batch, host="h5", batch=["h5", "h6"], max_fail_percentage=25)
    assert next_batch.calls == [] and skipped["release"]["stage"] == "not started" and "stopped by failures" in skipped["msg"]
    state = summary(RunState("run1", str(tmp_path)).read())
    assert state["halted"] and state["halted_by"] == "h1, h2, h3, h4" and state["bad"] == 2 and state["done"] == 3


def test_put_back_indexes_are_the_ones_in_rotation_before_and_touched():
    drains = [dict(changed=True, before=dict(state="enabled")), dict(changed=False, before=dict(state="enabled")),
              dict(changed=True, before=dict(state="drain")), dict(failed=True, changed=True, before=dict(state="enabled"))]
    assert put_back_indexes(drains) == [0, 3]


def test_blocked_and_record_are_plain_functions():
    state = {"batches": {}, "halted": None}
    assert blocked(state, "a+1") is None
    assert record(state, "a+1", 1, "a", True, 0, ["a"]) and blocked(state, "a+1") is None and blocked(state, "b+1")


def test_a_corrupt_or_foreign_run_state_fails_naming_the_file(tmp_path):
    state = RunState("run1", str(tmp_path))
    with open(state.path, "w", encoding="utf-8") as handle:
        handle.write("{not json")
    with pytest.raises(RunStateError, match=r"fleetops-run-run1\.json is not valid JSON"):
        state.read()
    with open(state.path, "w", encoding="utf-8") as handle:
        json.dump(dict(schema=1, run_id="other"), handle)
    with pytest.raises(RunStateError, match="belongs to another run"):
        state.read()


def _count(root, n):
    for _i in range(n):
        with RunState("race", root).locked() as data:
            data["batches"].setdefault("b", dict(size=0, done=0, bad=0, bad_hosts=[]))["done"] += 1


def test_concurrent_steps_lose_no_update(tmp_path):
    procs = [multiprocessing.Process(target=_count, args=(str(tmp_path), 50)) for _i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert all(proc.exitcode == 0 for proc in procs)
    assert RunState("race", str(tmp_path)).read()["batches"]["b"]["done"] == 200
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith(".fleetops-run-")]  # no temp file left


def test_a_step_whose_playbook_died_during_the_release_leaves_the_host_out_and_the_note_in_place(tmp_path):
    ops = FakeOps()
    ops.orphan_after = 1  # alive before the release, gone when it returns
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "http://h1/health"}, lock_enabled=True)
    assert ops.calls == [("note",), ("lb", "haproxy", "drained"), ("note",), ("deploy",)]
    assert ops.notes[-1] == {"h1": [0]}
    assert result["failed"] and result["release"]["stage"] == "orphaned" and result["release"]["out_of_rotation"] == ["haproxy web"]
    state = RunState("run1", str(tmp_path)).read()
    assert state["out_of_rotation"] == {"h1": [0]} and all(b["done"] == 0 for b in state["batches"].values())


def test_a_step_whose_playbook_died_during_the_drain_does_not_release(tmp_path):
    ops = FakeOps()
    ops.orphan_after = 0
    result = step(tmp_path, ops, lb=[HAPROXY], health={"url": "http://h1/health"})
    assert ("deploy",) not in ops.calls and ("lb", "haproxy", "enabled") not in ops.calls
    assert result["release"]["stage"] == "orphaned"


def test_role_vars_give_every_option_the_role_task_spelled_out():
    from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.release_host import options_from_role_vars

    plan = {"dist": "ProjectX.dist", "version": "1.1.0", "modules": []}
    host = dict(deploy_plan=plan, deploy_upgradable=["1.0.0"], deploy_restart=False, deploy_converge=False, deploy_run_id="r1",
                deploy_script_timeout=600, deploy_stale_after=3600, deploy_keep_versions=3, deploy_corrupt_policy="fail",
                deploy_node_paths={"state_file": "/srv/images.yaml", "other": "x"}, deploy_s3={"endpoint_url": "http://127.0.0.1:9", "secret_key": None},
                deploy_lb=[HAPROXY], deploy_lb_min_healthy=2, deploy_lb_drain_timeout=300, deploy_lb_wait_timeout=60,
                deploy_health={"url": "http://10.0.0.1/health"}, deploy_health_retries=10, deploy_health_delay=2,
                deploy_max_fail_percentage=0, fleetops_bucket="releases", fleetops_lock_bucket="", fleetops_s3={"region": "eu-west-1"})
    controller = dict(deploy_lock_lease={"token": "t"}, deploy_lock_scope={"project": "P", "environment": "prod"}, deploy_lock_carry={"h9": [0]})
    options = options_from_role_vars(host.get, controller.get)
    assert options["run_id"] == "r1" and options["deploy"] == dict(
        plan=plan, upgradable=["1.0.0"], restart=False, converge=False, run_id="r1", script_timeout=600, stale_after=3600, keep_versions=3,
        corrupt_policy="fail", state_file="/srv/images.yaml", endpoint_url="http://127.0.0.1:9")
    assert options["lb"] == [HAPROXY] and options["lb_defaults"] == dict(min_healthy=2, drain_timeout=300, wait_timeout=60)
    assert options["health"] == {"url": "http://10.0.0.1/health"} and options["health_retries"] == 10 and options["max_fail_percentage"] == 0
    # An empty fleetops_lock_bucket keeps the lock in a local file, as default() kept it: it does not fall back to the bucket.
    assert options["lock"] == dict(lease={"token": "t"}, project="P", environment="prod", bucket="", prefix="", path="", ttl=3600, run_id="r1",
                                   carry={"h9": [0]}, s3={"region": "eu-west-1"})
    # No lease (the lock is off, or check mode): no lock option; undefined variables are left to the option defaults.
    bare = options_from_role_vars({"deploy_plan": plan}.get, {}.get)
    assert "lock" not in bare and bare["deploy"] == {"plan": plan} and bare["lb_defaults"] == {} and "lb" not in bare


def test_playbook_vars_read_the_fleetops_names_with_the_playbooks_defaults():
    from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.release_host import PLAYBOOK_VARS, options_from_role_vars

    plan = {"dist": "ProjectX.dist", "version": "1.1.0", "modules": []}
    asked = []

    def host(name):
        asked.append(name)
        return dict(deploy_playbook_vars=True, deploy_plan=plan, deploy_run_id="r1", deploy_lb=["ignored"], deploy_restart=True,
                    fleetops_lb=[HAPROXY], fleetops_upgradable=["1.0.0"], fleetops_health={"url": "http://10.0.0.1/health"},
                    fleetops_s3={"endpoint_url": "http://127.0.0.1:9"}, fleetops_lb_min_healthy=2).get(name)

    options = options_from_role_vars(host, {}.get)
    assert options["lb"] == [HAPROXY], "fleetops_lb, not the role's deploy_lb"
    assert options["deploy"] == dict(plan=plan, run_id="r1", upgradable=["1.0.0"], restart=False, converge=False, script_timeout=600,
                                     corrupt_policy="fail", endpoint_url="http://127.0.0.1:9")
    assert options["lb_defaults"] == dict(min_healthy=2, drain_timeout=300, wait_timeout=60)
    assert options["health"] == {"url": "http://10.0.0.1/health"} and options["health_retries"] == 10 and options["health_delay"] == 2
    assert options["max_fail_percentage"] == 0
    assert not [name for name in asked if name in PLAYBOOK_VARS], "no deploy_* variable of the table is read"
    assert len(asked) == len(set(asked)), "each variable is templated once"
