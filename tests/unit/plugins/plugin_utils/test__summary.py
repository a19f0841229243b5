# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._report.summary import report

UPGRADED = {"changed": True, "action": "upgrade", "dist_version": "1.1.0", "steps": [{"rc": 0}], "downloaded_bytes": 10}
FAILED = {"failed": True, "msg": "deploy.sh exited 3", "stage": "script", "dist_version": "1.1.0", "node_status_after": "failure"}


def stepped(deployed: dict | None, **release) -> dict:
    """A release_host result: the dist_deploy result (None: the release did not run) plus ``release``."""
    base = dict(stage="done", out_of_rotation=[], taken_out=[], already_out=False, problem=None, lock_problem=None,
                halted_rollout=False, timings={}, health=None, deploy_ran=deployed is not None,
                deploy_failed=bool(deployed and deployed.get("failed")), lb=[])
    base.update(release)
    result = dict(deployed or {"changed": False})
    result["release"] = base
    return result


def test_health_check_failure_fails_an_upgraded_host_and_says_it_is_out():
    problem = {"stage": "health check", "msg": "Status code was 503", "kept_out": True}
    hostvars = {"h1": {"deploy_result": stepped(UPGRADED, stage="health check", problem=problem, out_of_rotation=["haproxy web"])},
                "h2": {"deploy_result": stepped(UPGRADED)}}
    out = report(["h1", "h2"], hostvars)
    rows = {r["host"]: r for r in out["hosts"]}
    assert rows["h1"]["outcome"] == "failed" and rows["h1"]["detail"] == "health check: Status code was 503 (left out of its load balancers)"
    assert rows["h2"]["outcome"] == "upgraded" and not out["ok"] and out["problems"] == ["h1"]


def test_a_refused_drain_before_the_release_is_a_failure():
    problem = {"stage": "load balancer", "msg": "refusing to take server h1 out", "kept_out": False}
    hostvars = {"h1": {"deploy_result": stepped(None, stage="load balancer", problem=problem)}}
    row = report(["h1"], hostvars)["hosts"][0]
    assert row["outcome"] == "failed" and row["detail"] == "load balancer: refusing to take server h1 out"


def test_a_failed_release_keeps_the_host_out_and_says_so():
    hostvars = {"h1": {"deploy_result": stepped(FAILED, stage="release", out_of_rotation=["haproxy web"])}}
    row = report(["h1"], hostvars)["hosts"][0]
    assert row["outcome"] == "failed" and row["detail"].endswith("deploy.sh exited 3 (left out of its load balancers)")


def test_hosts_without_rotation_are_as_before():
    row = report(["h1"], {"h1": {"deploy_result": stepped(UPGRADED)}})["hosts"][0]
    assert row["outcome"] == "upgraded" and "left out" not in row["detail"]


def test_already_out_is_said():
    row = report(["h1"], {"h1": {"deploy_result": stepped(UPGRADED, already_out=True)}})["hosts"][0]
    assert row["outcome"] == "upgraded" and row["detail"].endswith("(was already out of rotation in a load balancer before this run; left out)")


def test_aborted_release_reports_untouched_hosts_and_hosts_skipped_after_the_drain():
    hostvars = {"h1": {"deploy_result": UPGRADED},
                "h2": {"deploy_result": {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}}}
    out = report(["h1", "h2", "h3"], hostvars, aborted="SIGINT")
    rows = {r["host"]: r for r in out["hosts"]}
    assert rows["h1"]["outcome"] == "upgraded"
    for host in ("h2", "h3"):
        assert rows[host]["outcome"] == "not started"
        assert rows[host]["detail"] == "the release was aborted (SIGINT) before this host; nothing on it was changed"
    assert out["ok"] and out["counts"] == {"upgraded": 1, "not started": 2}


def test_a_skipped_result_without_an_abort_is_not_hidden():
    out = report(["h1"], {"h1": {"deploy_result": {"changed": False, "skipped": True}}})
    assert out["hosts"][0]["outcome"] == "unchanged"


def test_lock_scope_explicit_inventory_and_fallbacks():
    from ansible_collections.fleetops.release.plugins.plugin_utils._report.summary import lock_scope
    fleet = {"a": {"fleet_project": "projectx", "fleet_environment": "online"},
             "b": {"fleet_project": "projectx", "fleet_environment": "online"},
             "c": {"fleet_project": "projectx", "fleet_environment": "sdk_beta"}}
    assert lock_scope(["a", "b"], fleet) == {"project": "projectx", "environment": "online"}
    assert lock_scope(["a", "c"], fleet, environment="all/of it") == {"project": "projectx", "environment": "all_of_it"}
    with pytest.raises(ValueError, match=r"belong to 2 environments \(online, sdk_beta\).*set fleetops_environment"):
        lock_scope(["a", "c"], fleet)
    assert lock_scope(["x"], {}, fallback_project="ProjectX.dist", pattern="projectx_online:!h3") == {
        "project": "ProjectX.dist", "environment": "projectx_online_h3"}
    with pytest.raises(ValueError, match="which project"):
        lock_scope(["x"], {}, pattern="web")
    with pytest.raises(ValueError, match="which environment"):
        lock_scope(["x"], {}, project="p", pattern="..")


def test_still_out_keeps_hosts_not_fully_put_back():
    from ansible_collections.fleetops.release.plugins.plugin_utils._report.summary import still_out

    def recovered(*left):
        return {"changed": True, "recovery": {"put_back": [], "still_out": list(left), "node_status": "active", "health": None, "msgs": []}}

    hostvars = {"a": {"deploy_recovered": recovered()},
                "b": {"deploy_recovered": recovered(0)},
                "c": {"deploy_recovered": {"failed": True, "msg": "the step failed", "recovery": {"still_out": []}}},
                "d": {"deploy_recovered": recovered(1)},
                "e": {}}
    recover = {"a": [0, 1], "b": [0], "c": [0, 1], "d": [0, 1], "e": [2], "f": [0]}
    assert still_out(recover, hostvars) == {"b": [0], "c": [0, 1], "d": [1], "e": [2], "f": [0]}
