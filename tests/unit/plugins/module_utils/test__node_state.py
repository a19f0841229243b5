# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for what the node_state module does, above all the ``health`` classification."""

from __future__ import annotations

import datetime

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._node.node_state import HEALTHS, NODE_STATE_ARGSPEC, health, run
from ansible_collections.fleetops.release.plugins.module_utils._node.state import LoadResult, NodeState, load

UTC = datetime.UTC
NOW = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)


def params(path, **overrides):
    values = {name: spec.get("default") for name, spec in NODE_STATE_ARGSPEC.items()}
    values.update(state_file=str(path))
    values.update(overrides)
    return values


def node_file(tmp_path, status, started_at=None, updated_at="2026-11-22T11:00:00Z", version="1.0.0", last_error=None):
    lines = ["image: {version: %s}" % version, "status: %s" % status, "updated_at: %s" % updated_at]
    if started_at:
        lines.append("started_at: %s" % started_at)
    if last_error:
        lines.append('last_error: "%s"' % last_error)
    path = tmp_path / "images.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_healths_are_the_documented_words():
    assert HEALTHS == ("ok", "missing", "failure", "stale", "in_progress", "corrupt")


@pytest.mark.parametrize("status, started_at, expected", [
    ("active", None, "ok"),
    ("failure", None, "failure"),
    ("building", "2026-11-22T11:00:00Z", "in_progress"),   # exactly 3600 s: not yet stale
    ("maintain", "2026-11-22T11:00:00Z", "in_progress"),
    ("building", "2026-11-22T10:59:59Z", "stale"),         # 3601 s
    ("maintain", "2026-11-22T10:59:59Z", "stale"),
    ("building", "2026-11-22T11:59:00Z", "in_progress"),
])
def test_run_health_by_status(tmp_path, status, started_at, expected):
    path = node_file(tmp_path, status, started_at=started_at)
    result = run(params(path), False, now=NOW)
    assert result["health"] == expected
    assert result["status"] == status and result["changed"] is False


def test_health_missing_file_is_a_new_node(tmp_path):
    result = run(params(tmp_path / "images.yaml"), False, now=NOW)
    assert (result["health"], result["exists"], result["status"]) == ("missing", False, None)


@pytest.mark.parametrize("text", ["", "status: Active\n", "image: [1\n", "- a\n"])
def test_health_corrupt_file(tmp_path, text):
    path = tmp_path / "images.yaml"
    path.write_text(text, encoding="utf-8")
    result = run(params(path), False, now=NOW)
    assert (result["health"], result["status"], result["exists"]) == ("corrupt", "corrupt", True)
    assert result["problem"]


def test_stale_after_option_moves_the_boundary(tmp_path):
    path = node_file(tmp_path, "building", started_at="2026-11-22T11:00:00Z")
    assert run(params(path, stale_after=3599), False, now=NOW)["health"] == "stale"
    assert run(params(path, stale_after=7200), False, now=NOW)["health"] == "in_progress"


def test_stale_measured_from_updated_at_when_started_at_is_missing(tmp_path):
    path = node_file(tmp_path, "maintain", updated_at="2026-11-22T09:00:00Z")
    assert run(params(path), False, now=NOW)["health"] == "stale"
    path = node_file(tmp_path, "maintain", updated_at="2026-11-22T11:30:00Z")
    assert run(params(path), False, now=NOW)["health"] == "in_progress"


def test_in_progress_with_no_readable_time_is_stale(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("image: {version: 1.0.0}\nstatus: building\n", encoding="utf-8")
    assert run(params(path), False, now=NOW)["health"] == "stale"


def test_health_agrees_with_the_gate(tmp_path):
    path = node_file(tmp_path, "building", started_at="2026-11-22T10:00:00Z")
    result = run(params(path, target_version="2.0.0"), False, now=NOW)
    assert result["decision"]["reason"] == "stale in progress"
    assert result["health"] == "stale"


def test_health_function_accepts_load_result_state_and_none(tmp_path):
    assert health(None, 3600, NOW) == "missing"
    assert health(LoadResult("x", problem="empty file"), 3600, NOW) == "corrupt"
    assert health(LoadResult("x"), 3600, NOW) == "missing"
    state = NodeState("x")
    state.status = "active"
    assert health(state, 3600, NOW) == "ok"
    assert health(load(str(node_file(tmp_path, "failure"))), 3600, NOW) == "failure"


def test_health_after_an_operator_reset_is_ok(tmp_path):
    path = node_file(tmp_path, "failure", last_error="deploy.sh exited with 3")
    result = run(params(path, action="reset", reason="fixed by hand"), False, now=NOW)
    assert (result["changed"], result["status"], result["health"]) == (True, "active", "ok")
    assert load(str(path)).state.status == "active"


def test_health_in_check_mode_predicts_and_writes_nothing(tmp_path):
    path = node_file(tmp_path, "failure")
    before = path.read_bytes()
    result = run(params(path, action="reset", reason="fixed"), True, now=NOW)
    assert (result["changed"], result["health"]) == (True, "ok")
    assert path.read_bytes() == before


def test_health_after_maintain_is_in_progress(tmp_path):
    path = node_file(tmp_path, "active")
    result = run(params(path, action="maintain", reason="disk swap"), False)
    assert (result["status"], result["health"]) == ("maintain", "in_progress")


def test_refused_action_fails_and_still_reports_health(tmp_path):
    path = node_file(tmp_path, "active")
    result = run(params(path, action="reset", reason="why"), False, now=NOW)
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"] == "%s: cannot go from active to active (an operator reset applies only to a node in failure)" % path
    assert (result["health"], result["status"]) == ("ok", "active")
    assert "diff" not in result


def test_refused_action_on_a_new_node_reports_missing(tmp_path):
    path = tmp_path / "images.yaml"
    result = run(params(path, action="fail", reason="why"), False, now=NOW)
    assert result["msg"] == "%s: no node state (a new node); nothing to fail" % path
    assert (result["failed"], result["health"]) == (True, "missing")


def test_refused_action_on_a_corrupt_file_reports_corrupt(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("", encoding="utf-8")
    result = run(params(path, action="reset", reason="why"), False, now=NOW)
    assert result["msg"] == "%s: empty file; reset refused on an unusable state file" % path
    assert (result["failed"], result["health"]) == (True, "corrupt")


def test_expect_status_failure_carries_health(tmp_path):
    path = node_file(tmp_path, "failure", last_error="boom")
    result = run(params(path, expect_status=["active"]), False, now=NOW)
    assert result["failed"] is True
    assert result["msg"] == "%s: status is failure, expected active; last error: boom" % path
    assert result["health"] == "failure"


def test_backup_corrupt_keeps_health_corrupt(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_text("status: nope\n", encoding="utf-8")
    result = run(params(path, backup_corrupt=True), False, now=NOW)
    assert result["changed"] is True and result["backup"].startswith(str(path) + ".corrupt-")
    assert result["health"] == "corrupt"


def test_unreadable_state_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "images.yaml"
    path.mkdir()
    with pytest.raises(FleetopsError) as info:
        run(params(path), False, now=NOW)
    assert str(info.value) == "cannot read the node state %s: Is a directory" % path
