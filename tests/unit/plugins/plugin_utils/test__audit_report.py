# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for the tables of the release report (the audit_report filter)."""

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.filter.audit import FilterModule
from ansible_collections.fleetops.release.plugins.plugin_utils._report.audit_report import lines

LAST = dict(run_id="r-0008", version_to="1.2.0", result="partial", ended_at="2026-11-22T09:00:00Z", user="erin")
RESULT = dict(
    records=6,
    environments=[
        dict(project="projectx", environment="online", releases=5, success=2, failed=1, partial=1, aborted=1, success_rate=0.4,
             last_release=LAST, last_good_version="1.1.0"),
        dict(project="projectx", environment="sdk_beta", releases=0, success=0, failed=0, partial=0, aborted=0, success_rate=None,
             last_release=None, last_good_version=None),
        dict(project=None, environment=None, releases=1, success=1, failed=0, partial=0, aborted=0, success_rate=1.0,
             last_release=dict(LAST, run_id="x", result="success", user=None, version_to=None), last_good_version=None),
    ],
    recent=[dict(ended_at="2026-11-22T09:00:00Z", project="projectx", environment="online", kind="release", result="partial",
                 version_from="1.1.0", version_to="1.2.0", user="erin", run_id="r-0008", check_mode=True)],
    skipped_records=dict(count=2, first="/a/2026-11-20.jsonl:3", first_reason="not JSON: Expecting value"),
)


def test_tables():
    out = lines(RESULT)
    assert out["environments"] == [
        "project   environment  releases  success  failed  partial  aborted  success%  last good  last release",
        "projectx  online       5         2        1       1        1        40.0%     1.1.0      1.2.0 partial 2026-11-22T09:00:00Z by erin (r-0008)",
        "projectx  sdk_beta     0         0        0       0        0        -         -          -",
        "-         -            1         1        0       0        0        100.0%    -          - success 2026-11-22T09:00:00Z by - (x)",
        "6 record(s); 2 skipped, the first at /a/2026-11-20.jsonl:3: not JSON: Expecting value",
    ]
    assert out["recent"] == [
        "ended_at              project   environment  kind     result   versions        user  run",
        "2026-11-22T09:00:00Z  projectx  online       release  partial  1.1.0 -> 1.2.0  erin  r-0008 (check mode)",
    ]


def test_empty_result():
    out = FilterModule().filters()["audit_report"](dict(records=0, environments=[], recent=[], skipped_records=dict(count=0)))
    assert out == dict(environments=["project  environment  releases  success  failed  partial  aborted  success%  last good  last release",
                                     "0 record(s)"],
                       recent=["no matching runs"])
