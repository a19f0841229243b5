# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The versions table and survey, and the per-host plan report."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._report.plan_report import plan_host, plan_report, versions_report


def tag(channel, size=100):
    return dict(channel=channel, last_modified="2026-11-22T15:29:38+00:00", size=size, has_repo_info=True)


def test_versions_report_puts_the_dist_first_and_offers_its_tags_newest_first():
    modules = [
        dict(module="ModX", exists=True, tag_count=1, tags=[tag("2.0.0", 5 * 1024 * 1024)], developer=None),
        dict(module="D", exists=True, tag_count=3, tags=[tag("1.10.0"), tag("1.9.0")], developer=tag("developer")),
    ]
    report = versions_report(modules, "D", latest=2)
    assert report["lines"][0].split() == ["name", "channel", "date", "size", "note"]
    assert report["lines"][1].split() == ["D", "1.10.0", "2026-11-22", "15:29:38Z", "100", "B", "latest"]
    assert "1 older tag(s) not shown" in report["lines"][3]
    assert report["lines"][4].split()[:2] == ["D", "developer"]
    assert report["lines"][5].split() == ["ModX", "2.0.0", "2026-11-22", "15:29:38Z", "5.0", "MiB", "latest"]
    question = report["survey"]["spec"][0]
    assert (question["variable"], question["type"], question["choices"], question["default"], question["required"]) == (
        "fleetops_version", "multiplechoice", ["1.10.0", "1.9.0"], "1.10.0", True)


def test_versions_report_needs_the_dist_entry():
    with pytest.raises(ValueError, match="no artifact_info entry for 'D'"):
        versions_report([], "D")


def test_plan_host_sorts_the_plan_diff_and_finds_modules_left_behind():
    result = dict(action="upgrade", reason="upgradable", message="m", previous_version="1.2.0", dist_version="1.1.0", direction="back",
                  plan_diff=[dict(module="Core", version="1.1.0", from_version="1.2.0", action="upgrade"),
                             dict(module="Lib", version="2.0.0", from_version="1.0.0", action="deploy"),
                             dict(module="New", version="1.0.0", from_version=None, action="deploy")],
                  diff=dict(before=dict(version="1.2.0", modules={"Core": "1.2.0", "Lib": "1.0.0", "Web": "3.0.0", "Same": "1.0.0"})))
    row = plan_host(result, {"Core": "1.1.0", "Lib": "2.0.0", "New": "1.0.0", "Web": "2.0.0", "Same": "1.0.0"})
    assert [e["module"] for e in row["upgrade"]] == ["Core"]
    assert [e["module"] for e in row["install"]] == ["Lib", "New"]
    assert [e["module"] for e in row["unchanged"]] == ["Same"]
    assert row["left"] == [dict(module="Web", version="3.0.0", from_version="3.0.0", dist_version="2.0.0")]


@pytest.mark.parametrize("result, reason", [
    (None, "no result"),
    (dict(unreachable=True, msg="ssh: connect refused"), "unreachable"),
    (dict(failed=True, msg="corrupt"), "error"),
    (dict(action="skip", reason="failed", message="node is in failure"), "failed"),
])
def test_plan_host_reports_every_skip_with_its_reason(result, reason):
    assert (plan_host(result)["action"], plan_host(result)["reason"]) == ("skip", reason)


def test_plan_report_totals_and_problem_hosts():
    hostvars = {
        "a": {"r": dict(action="install", reason="new node", message="", previous_version=None, dist_version="1.0.0",
                        plan_diff=[dict(module="M", version="1.0.0", from_version=None, action="deploy")])},
        "b": {"r": dict(action="skip", reason="up to date", message="already active on 1.0.0")},
        "c": {"r": dict(unreachable=True, msg="gone")},
    }
    report = plan_report(["a", "b", "c"], hostvars, "r")
    assert report["lines"][-2] == "totals: 3 host(s): 1 install, 0 upgrade, 2 skipped; modules: 1 to install, 0 to upgrade, 0 unchanged"
    assert report["lines"][-1] == "skipped: unreachable: c; up to date: b"
    assert (report["ok"], report["problem_hosts"]) == (False, ["c"])
