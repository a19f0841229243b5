# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for the monitoring sweep's report (the status_report and status_health filters)."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.filter.status import FilterModule
from ansible_collections.fleetops.release.plugins.plugin_utils._report.status import classify, report


def node(health, status=None, version="1.0.0", updated_at="2026-11-22T06:00:00Z", **extra):
    result = dict(changed=False, health=health, status=status, version=version, updated_at=updated_at, last_error=None,
                  started_at=None, problem=None)
    result.update(extra)
    return result


FLEET = {
    "h01": {"fleetops_status_node": node("ok", "active")},
    "h02": {"fleetops_status_node": node("failure", "failure", last_error="Faulty 1.0.0: deploy.sh exited with 3")},
    "h03": {"fleetops_status_node": node("missing", None, version=None, updated_at=None, exists=False)},
    "h04": {"fleetops_status_node": node("stale", "building", version=None, started_at="2026-11-22T04:00:00Z")},
    "h05": {"fleetops_status_node": node("in_progress", "maintain", started_at="2026-11-22T05:59:00Z")},
    "h06": {"fleetops_status_node": node("corrupt", "corrupt", version=None, updated_at=None, problem="empty file")},
    "h07": {"fleetops_status_node": {"unreachable": True, "changed": False,
                                     "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9: Connection refused"}},
}


def test_report_of_a_mixed_fleet():
    rep = report(sorted(FLEET), FLEET)
    assert rep["ok"] is False
    assert rep["counts"] == {"ok": 1, "in_progress": 1, "failure": 1, "missing": 1, "stale": 1, "corrupt": 1, "unreachable": 1}
    assert list(rep["counts"]) == ["ok", "in_progress", "failure", "missing", "stale", "corrupt", "unreachable"]
    assert rep["problems"] == {"failure": ["h02"], "missing": ["h03"], "stale": ["h04"], "corrupt": ["h06"], "unreachable": ["h07"]}
    assert rep["problem_hosts"] == ["h02", "h03", "h04", "h06", "h07"]
    assert rep["in_progress"] == ["h05"]
    assert rep["message"] == "node problems: failure: h02; missing: h03; stale: h04; corrupt: h06; unreachable: h07"
    assert rep["lines"] == [
        "host  health       status    version  updated_at            last_error",
        "h01   ok           active    1.0.0    2026-11-22T06:00:00Z  -",
        "h02   failure      failure   1.0.0    2026-11-22T06:00:00Z  Faulty 1.0.0: deploy.sh exited with 3",
        "h03   missing      -         -        -                     -",
        "h04   stale        building  -        2026-11-22T06:00:00Z  building since 2026-11-22T04:00:00Z",
        "h05   in_progress  maintain  1.0.0    2026-11-22T06:00:00Z  maintain since 2026-11-22T05:59:00Z",
        "h06   corrupt      corrupt   -        -                     empty file",
        "h07   unreachable  -         -        -                     Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 9:"
        " Connection refused",
        "counts: ok=1, in_progress=1, failure=1, missing=1, stale=1, corrupt=1, unreachable=1",
    ]
    assert rep["hosts"][3] == dict(host="h04", health="stale", status="building", version=None, updated_at="2026-11-22T06:00:00Z",
                                   last_error="building since 2026-11-22T04:00:00Z")


def test_in_progress_counts_as_ok_but_is_listed():
    hosts = {"a": {"fleetops_status_node": node("ok", "active")}, "b": {"fleetops_status_node": node("in_progress", "building")}}
    rep = report(["a", "b"], hosts)
    assert (rep["ok"], rep["problems"], rep["problem_hosts"], rep["in_progress"]) == (True, {}, [], ["b"])
    assert rep["message"] == "every node is ok"
    assert rep["lines"][-1] == "counts: ok=1, in_progress=1"
    assert rep["lines"][2].split("  ")[-1] == "building since 2026-11-22T06:00:00Z"


def test_no_result_and_unknown_health_are_problems():
    hosts = {"a": {}, "b": {"fleetops_status_node": {"changed": False, "status": "active"}},
             "c": {"fleetops_status_node": node("ok", "active")}}
    rep = report(["a", "b", "c", "not-in-hostvars"], hosts)
    assert rep["problems"] == {"unknown": ["a", "b", "not-in-hostvars"]}
    assert rep["hosts"][0]["last_error"] == "no node_state result (the host was not swept)"
    assert rep["hosts"][1]["last_error"] == "node_state returned no known health (None)"
    assert rep["message"] == "node problems: unknown: a, b, not-in-hostvars"


def test_module_failure_without_health_is_an_error():
    result = {"failed": True, "msg": "cannot read the node state /x/images.yaml: Is a directory", "changed": False}
    assert classify(result) == dict(health="error", status=None, version=None, updated_at=None,
                                    last_error="cannot read the node state /x/images.yaml: Is a directory")
    assert classify({"failed": True})["last_error"] == "node_state failed without a message"


def test_failed_result_with_health_keeps_the_health():
    # node_state fails a refused action or expect_status but still says what the node is.
    result = node("failure", "failure", failed=True, msg="status is failure, expected active", last_error="boom")
    assert classify(result)["health"] == "failure"
    assert classify(result)["last_error"] == "boom"


def test_long_and_multiline_errors_are_shortened():
    row = classify(node("failure", "failure", last_error="line one\nline two " + "x" * 400))
    assert len(row["last_error"]) == 300 and row["last_error"].startswith("line one line two x") and row["last_error"].endswith("...")


def test_empty_host_list():
    rep = report([], {})
    assert (rep["ok"], rep["counts"], rep["lines"], rep["message"]) == (
        True, {}, ["host  health  status  version  updated_at  last_error", "counts: no hosts"], "every node is ok")


@pytest.mark.parametrize("var", ["fleetops_status_node", "node"])
def test_filters(var):
    filters = FilterModule().filters()
    hosts = {"a": {var: node("stale", "maintain")}}
    assert filters["status_report"](["a"], hosts, var)["problems"] == {"stale": ["a"]}
    assert filters["status_health"](node("corrupt", "corrupt", problem="status is missing"))["last_error"] == "status is missing"
