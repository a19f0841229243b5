# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for the release report over audit records (audit_info): reading, filters, aggregation, skipped records."""

from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._audit import (
    AUDIT_ARGSPEC,
    AuditError,
    Window,
    audit_info,
    check_record,
    record_key,
)
from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error

UTC = datetime.UTC


def rec(run_id, ended_at, result="success", kind="release", project="projectx", environment="online", version_to="1.1.0",
        user="alice", **extra):
    data = {"schema": 1, "run_id": run_id, "kind": kind, "playbook": "deploy.yml", "user": user, "project": project,
            "environment": environment, "dist": "ProjectX.dist", "version_from": "1.0.0", "version_to": version_to,
            "started_at": ended_at, "ended_at": ended_at, "duration_s": 1.0, "result": result,
            "hosts": {"ok": 3, "failed": 0, "unreachable": 0, "rescued": 0, "not_attempted": 0},
            "node_health": {"ok": 3}, "problem_hosts": [], "lock_id": None, "check_mode": False, "awx_job_id": None,
            "job_url": None, "interrupted_by": None}
    data.update(extra)
    return data


def write_day(directory, day, *lines):
    path = directory / ("%s.jsonl" % day)
    with open(path, "a", encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return str(path)


def params(**overrides):
    values = {name: spec.get("default") for name, spec in AUDIT_ARGSPEC.items()}
    values.update(overrides)
    return values


def by_env(result):
    return {(e["project"], e["environment"]): e for e in result["environments"]}


# -- aggregation -------------------------------------------------------------------------------------------------------
def test_aggregation_counts_rates_last_release_and_last_good(tmp_path):
    write_day(tmp_path, "2026-11-20",
              rec("r1", "2026-11-20T09:00:00Z", version_to="1.0.0", user="alice"),
              rec("r2", "2026-11-20T10:00:00Z", result="failed", version_to="1.1.0", user="bob"))
    write_day(tmp_path, "2026-11-21",
              rec("r3", "2026-11-21T08:00:00Z", result="partial", version_to="1.1.0"),
              rec("r4", "2026-11-21T09:00:00Z", version_to="1.1.0", user="carol"),
              rec("r5", "2026-11-21T10:00:00Z", result="aborted", version_to="1.2.0", user="dave"),
              rec("r6", "2026-11-21T11:00:00Z", result="failed", version_to="1.2.0", user="erin"))
    write_day(tmp_path, "2026-11-21", rec("b1", "2026-11-21T12:00:00Z", environment="beta_console", version_to="1.2.0"))
    result = audit_info(params(path=str(tmp_path)))
    assert result["records"] == 7
    online = by_env(result)[("projectx", "online")]
    assert online == dict(
        project="projectx", environment="online", releases=6, success=2, failed=2, partial=1, aborted=1,
        success_rate=0.333, failure_rate=0.333, partial_rate=0.167, abort_rate=0.167,
        last_release=dict(run_id="r6", version_to="1.2.0", result="failed", ended_at="2026-11-21T11:00:00Z", user="erin"),
        last_good_version="1.1.0",
        last_good=dict(run_id="r4", version_to="1.1.0", result="success", ended_at="2026-11-21T09:00:00Z", user="carol"))
    beta = by_env(result)[("projectx", "beta_console")]
    assert (beta["releases"], beta["success_rate"], beta["failure_rate"], beta["last_good_version"]) == (1, 1.0, 0.0, "1.2.0")
    assert [e["environment"] for e in result["environments"]] == ["beta_console", "online"]
    assert [r["run_id"] for r in result["recent"]] == ["b1", "r6", "r5", "r4", "r3", "r2", "r1"]
    assert result["recent"][0]["source"] == str(tmp_path / "2026-11-21.jsonl") + ":5"
    assert result["skipped_records"]["count"] == 0 and result["warnings"] == []
    assert result["scanned"] == {"files": 2, "objects": 0}
    assert result["changed"] is False


def test_no_success_gives_null_last_good(tmp_path):
    write_day(tmp_path, "2026-11-20", rec("r1", "2026-11-20T09:00:00Z", result="failed"))
    env = audit_info(params(path=str(tmp_path)))["environments"][0]
    assert (env["last_good"], env["last_good_version"], env["success_rate"], env["failure_rate"]) == (None, None, 0.0, 1.0)


def test_zero_releases_gives_null_rates_for_an_asked_environment(tmp_path):
    write_day(tmp_path, "2026-11-20", rec("r1", "2026-11-20T09:00:00Z"))
    result = audit_info(params(path=str(tmp_path), project="projectx", environment="sdk_beta"))
    assert result["records"] == 0 and result["recent"] == []
    assert result["environments"] == [dict(project="projectx", environment="sdk_beta", releases=0, success=0, failed=0, partial=0,
                                           aborted=0, success_rate=None, failure_rate=None, partial_rate=None, abort_rate=None,
                                           last_release=None, last_good_version=None, last_good=None)]
    assert audit_info(params(path=str(tmp_path), environment="sdk_beta"))["environments"] == []


def test_same_end_time_is_ordered_by_run_id(tmp_path):
    write_day(tmp_path, "2026-11-20", rec("b", "2026-11-20T09:00:00Z", result="failed"), rec("a", "2026-11-20T09:00:00Z"))
    result = audit_info(params(path=str(tmp_path)))
    assert result["environments"][0]["last_release"]["run_id"] == "b"
    assert [r["run_id"] for r in result["recent"]] == ["b", "a"]


def test_records_without_project_group_under_null(tmp_path):
    write_day(tmp_path, "2026-11-20", rec("r1", "2026-11-20T09:00:00Z", project=None, environment=None),
              rec("r2", "2026-11-20T09:30:00Z"))
    result = audit_info(params(path=str(tmp_path)))
    assert [(e["project"], e["environment"], e["releases"]) for e in result["environments"]] == [(None, None, 1), ("projectx", "online", 1)]


# -- filters -----------------------------------------------------------------------------------------------------------
def fleet_dir(tmp_path):
    write_day(tmp_path, "2026-11-20",
              rec("rel-1", "2026-11-20T09:00:00Z"),
              rec("chk-1", "2026-11-20T09:05:00Z", check_mode=True),
              rec("sta-1", "2026-11-20T09:10:00Z", kind="status", result="failed"),
              rec("oth-1", "2026-11-20T09:20:00Z", kind="other", project="projecty"),
              rec("rel-2", "2026-11-20T10:00:00Z", project="projecty", environment="online"))
    return str(tmp_path)


@pytest.mark.parametrize("overrides, expected", [
    ({}, ["rel-2", "rel-1"]),
    ({"include_check_mode": True}, ["rel-2", "chk-1", "rel-1"]),
    ({"kind": "status"}, ["sta-1"]),
    ({"kind": "other"}, ["oth-1"]),
    ({"kind": "all"}, ["rel-2", "oth-1", "sta-1", "rel-1"]),
    ({"kind": "all", "include_check_mode": True}, ["rel-2", "oth-1", "sta-1", "chk-1", "rel-1"]),
    ({"project": "projecty"}, ["rel-2"]),
    ({"project": "projecty", "kind": "all"}, ["rel-2", "oth-1"]),
    ({"environment": "online", "project": "projectx"}, ["rel-1"]),
    ({"project": "nobody"}, []),
])
def test_filters(tmp_path, overrides, expected):
    result = audit_info(params(path=fleet_dir(tmp_path), **overrides))
    assert [r["run_id"] for r in result["recent"]] == expected
    assert result["records"] == len(expected)


def test_latest_limits_recent_but_not_the_counts(tmp_path):
    write_day(tmp_path, "2026-11-20", *[rec("r%02d" % i, "2026-11-20T09:%02d:00Z" % i) for i in range(15)])
    result = audit_info(params(path=str(tmp_path)))
    assert result["records"] == 15 and result["environments"][0]["releases"] == 15
    assert [r["run_id"] for r in result["recent"]] == ["r%02d" % i for i in range(14, 4, -1)]
    assert len(audit_info(params(path=str(tmp_path), latest=0))["recent"]) == 15
    assert [r["run_id"] for r in audit_info(params(path=str(tmp_path), latest=1))["recent"]] == ["r14"]
    with pytest.raises(AuditError, match=r"^latest must be 0 \(all\) or more, not -1$"):
        audit_info(params(path=str(tmp_path), latest=-1))


# -- day boundaries ----------------------------------------------------------------------------------------------------
def boundary_dir(tmp_path):
    write_day(tmp_path, "2026-11-21", rec("late-21", "2026-11-21T23:59:59Z"))
    write_day(tmp_path, "2026-11-22", rec("first-22", "2026-11-22T00:00:00Z"), rec("noon-22", "2026-11-22T12:00:00Z"),
              rec("late-22", "2026-11-22T23:59:59.500000Z"))
    write_day(tmp_path, "2026-11-23", rec("first-23", "2026-11-23T00:00:00Z"))
    return str(tmp_path)


@pytest.mark.parametrize("since, until, expected, files", [
    ("2026-11-22", "2026-11-22", ["late-22", "noon-22", "first-22"], 1),
    ("2026-11-22", None, ["first-23", "late-22", "noon-22", "first-22"], 2),
    (None, "2026-11-21", ["late-21"], 1),
    ("2026-11-21T23:59:59Z", "2026-11-22T00:00:00Z", ["first-22", "late-21"], 2),
    ("2026-11-22T12:00:00Z", "2026-11-22T12:00:00Z", ["noon-22"], 1),
    ("2026-11-22T01:00:00+02:00", "2026-11-22T13:00:00+01:00", ["noon-22", "first-22", "late-21"], 2),   # 2026-11-21T23:00Z to 12:00Z
    ("2026-11-22T00:00", "2026-11-22 12:00", ["noon-22", "first-22"], 1),                    # no offset: UTC
    ("2026-11-22T23:59:59Z", "2026-11-22T23:59:59Z", [], 1),                                 # 23:59:59.5 is after until
    ("2026-11-22T23:59:59Z", "2026-11-22T23:59:59.600Z", ["late-22"], 1),
])
def test_day_boundaries(tmp_path, since, until, expected, files):
    result = audit_info(params(path=boundary_dir(tmp_path), since=since, until=until))
    assert [r["run_id"] for r in result["recent"]] == expected
    assert result["scanned"]["files"] == files


@pytest.mark.parametrize("since, until, message", [
    ("yesterday", None, "since: 'yesterday' is not an ISO date (2026-11-22) or date and time (2026-11-22T10:15:00Z, 2026-11-22T11:15:00+01:00)"),
    (None, "2026-13-01", "until: '2026-13-01' is not an ISO date (2026-11-22) or date and time (2026-11-22T10:15:00Z, 2026-11-22T11:15:00+01:00)"),
    ("2026-11-23", "2026-11-22", "since (2026-11-23) is not before until (2026-11-22)"),
])
def test_bad_time_filters(tmp_path, since, until, message):
    with pytest.raises(AuditError) as info:
        audit_info(params(path=str(tmp_path), since=since, until=until))
    assert str(info.value) == message


def test_window_days():
    window = Window("2026-11-22T23:00:00+00:00", "2026-11-23")
    assert [window.has_day(datetime.date(2026, 11, d)) for d in (21, 22, 23, 24)] == [False, True, True, False]
    assert datetime.datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC) in window
    assert datetime.datetime(2026, 11, 24, tzinfo=UTC) not in window


# -- skipped lines -----------------------------------------------------------------------------------------------------
def test_malformed_lines_and_unknown_schemas_are_skipped_and_reported(tmp_path):
    first = write_day(tmp_path, "2026-11-20",
                      rec("r1", "2026-11-20T09:00:00Z"),
                      "{not json",
                      "",
                      json.dumps({"schema": 2, "run_id": "future"}),
                      '{"schema": 1, "run_id": "half"',
                      "[1, 2]")
    second = write_day(tmp_path, "2026-11-21",
                       rec("r2", "2026-11-21T09:00:00Z", result="failed"),
                       json.dumps({"run_id": "x"}),
                       json.dumps(rec("bad-kind", "2026-11-21T09:00:00Z", kind="deploy")),
                       json.dumps(rec("bad-result", "2026-11-21T09:00:00Z", result="ok")),
                       json.dumps(rec("bad-time", "yesterday")),
                       json.dumps(rec("bad-project", "2026-11-21T09:00:00Z", project=7)),
                       json.dumps(rec("bad-check", "2026-11-21T09:00:00Z", check_mode="no")),
                       json.dumps(rec("", "2026-11-21T09:00:00Z")),
                       json.dumps(dict(rec("s3", "2026-11-21T09:00:00Z"), schema="1")))
    with open(second, "ab") as handle:
        handle.write(b'{"schema": 1, "user": "\xff"}\n')
    result = audit_info(params(path=str(tmp_path)))
    assert result["records"] == 2
    skipped = result["skipped_records"]
    assert (skipped["count"], skipped["malformed"], skipped["unknown_schema"]) == (13, 11, 2)
    assert skipped["first"] == first + ":2"
    assert skipped["first_reason"] == "not JSON: Expecting property name enclosed in double quotes"
    assert skipped["entries"] == [
        {"where": first + ":2", "reason": "not JSON: Expecting property name enclosed in double quotes"},
        {"where": first + ":4", "reason": "unknown schema version 2 (this reader knows 1)"},
        {"where": first + ":5", "reason": "not JSON: Expecting ',' delimiter"},
        {"where": first + ":6", "reason": "not a JSON object"},
        {"where": second + ":2", "reason": "no schema version"},
        {"where": second + ":3", "reason": 'kind "deploy" is not one of release, status, other'},
        {"where": second + ":4", "reason": 'result "ok" is not one of success, failed, partial, aborted'},
        {"where": second + ":5", "reason": 'ended_at "yesterday" is not an ISO date and time'},
        {"where": second + ":6", "reason": "project is not a string (found 7)"},
        {"where": second + ":7", "reason": "check_mode is not true or false"},
        {"where": second + ":8", "reason": "run_id is missing or not a string"},
        {"where": second + ":9", "reason": 'unknown schema version "1" (this reader knows 1)'},
        {"where": second + ":10", "reason": "not UTF-8 text (byte 23)"},
    ]
    assert result["warnings"] == [
        "skipped 13 audit record(s) that could not be used (11 malformed, 2 of an unknown schema version); the first: %s:2:"
        " not JSON: Expecting property name enclosed in double quotes" % first]


def test_blank_lines_and_a_truncated_last_line(tmp_path):
    path = tmp_path / "2026-11-20.jsonl"
    path.write_text("\n" + json.dumps(rec("r1", "2026-11-20T09:00:00Z")) + "\n   \n" + '{"schema": 1, "run_', encoding="utf-8")
    result = audit_info(params(path=str(tmp_path)))
    assert result["records"] == 1
    assert (result["skipped_records"]["count"], result["skipped_records"]["first"]) == (1, str(path) + ":4")


def test_only_the_first_twenty_skipped_are_listed(tmp_path):
    write_day(tmp_path, "2026-11-20", *["garbage %d" % i for i in range(25)])
    skipped = audit_info(params(path=str(tmp_path)))["skipped_records"]
    assert skipped["count"] == 25 and len(skipped["entries"]) == 20
    assert skipped["entries"][-1]["where"].endswith(":20")


def test_check_record_accepts_the_documented_example():
    example = {"schema": 1, "run_id": "20261122T101500Z-4821", "kind": "release", "playbook": "deploy.yml", "user": "alice",
               "project": "projectx", "environment": "online", "dist": "ProjectX.dist", "version_from": "1.0.0",
               "version_to": "1.1.0", "started_at": "2026-11-22T10:15:00Z", "ended_at": "2026-11-22T10:17:42Z", "duration_s": 162.1,
               "result": "success", "hosts": {"ok": 3, "failed": 1, "unreachable": 0, "rescued": 0, "not_attempted": 2},
               "node_health": {"ok": 3, "failure": 1, "missing": 0, "stale": 0}, "problem_hosts": ["h02"], "lock_id": None,
               "check_mode": False, "awx_job_id": None, "job_url": None, "interrupted_by": None}
    assert check_record(example) == (None, False)
    assert check_record(dict(example, schema=True)) == ("unknown schema version true (this reader knows 1)", True)


# -- files -------------------------------------------------------------------------------------------------------------
def test_multiple_files_are_read_in_date_order_and_other_names_ignored(tmp_path):
    write_day(tmp_path, "2026-11-22", rec("c", "2026-11-22T09:00:00Z"))
    write_day(tmp_path, "2026-11-20", rec("a", "2026-11-20T09:00:00Z"))
    write_day(tmp_path, "2026-11-21", rec("b", "2026-11-21T09:00:00Z"))
    (tmp_path / "notes.txt").write_text("not a record\n", encoding="utf-8")
    (tmp_path / "2026-11-23.jsonl.gz").write_bytes(b"\x1f\x8b")
    (tmp_path / "2026-02-30.jsonl").write_text("garbage\n", encoding="utf-8")   # no such day
    (tmp_path / "2026-11-24.jsonl").mkdir()
    result = audit_info(params(path=str(tmp_path), until="2026-11-23"))
    assert result["records"] == 3 and result["scanned"]["files"] == 3
    assert [r["source"] for r in reversed(result["recent"])] == [str(tmp_path / ("2026-11-%d.jsonl:1" % d)) for d in (20, 21, 22)]
    assert result["skipped_records"]["count"] == 0


def test_a_record_in_the_wrong_day_file_is_still_counted(tmp_path):
    write_day(tmp_path, "2026-11-20", rec("misfiled", "2026-11-21T09:00:00Z"))
    assert audit_info(params(path=str(tmp_path)))["records"] == 1


def test_duplicate_run_ids_count_once(tmp_path):
    write_day(tmp_path, "2026-11-20", rec("r1", "2026-11-20T09:00:00Z"))
    write_day(tmp_path, "2026-11-20", rec("r1", "2026-11-20T09:00:00Z", result="failed"))
    result = audit_info(params(path=str(tmp_path)))
    assert (result["records"], result["duplicates"], result["environments"][0]["success"]) == (1, 1, 1)


def test_missing_directory_is_an_error_naming_it(tmp_path):
    with pytest.raises(AuditError) as info:
        audit_info(params(path=str(tmp_path / "nope")))
    assert str(info.value) == "audit directory %s does not exist" % (tmp_path / "nope")


def test_a_file_instead_of_a_directory_is_an_error(tmp_path):
    (tmp_path / "file").write_text("", encoding="utf-8")
    with pytest.raises(AuditError, match=r"^audit directory .*/file is not a directory$"):
        audit_info(params(path=str(tmp_path / "file")))


def test_unreadable_file_is_an_error_naming_it_whoever_runs(tmp_path, monkeypatch):
    path = write_day(tmp_path, "2026-11-20", rec("r1", "2026-11-20T09:00:00Z"))
    real_open = open

    def refusing_open(name, *args, **kwargs):
        if str(name) == path:
            raise PermissionError(13, "Permission denied")
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr("builtins.open", refusing_open)
    with pytest.raises(AuditError) as info:
        audit_info(params(path=str(tmp_path)))
    assert str(info.value) == "cannot read the audit file %s: Permission denied" % path


def test_path_or_bucket_is_required():
    with pytest.raises(AuditError, match=r"^set path \(the audit directory\) or bucket \(the audit bucket\), or both$"):
        audit_info(params())


# -- S3 (behaviour against a real store is in the audit_info integration target, on moto) -------------------------------
class FakeStore:
    """Stands in for _s3.S3Store: list() and get_bytes() over a dict, recording the reads."""

    def __init__(self, objects, fail_list=None, fail_get=None):
        self.objects = objects
        self.fail_list = fail_list
        self.fail_get = fail_get
        self.gets = []

    def list(self, bucket, prefix=""):
        if self.fail_list:
            raise S3Error(self.fail_list)
        keys = sorted(k for k in self.objects if k.startswith(prefix))
        return [dict(Key=k, Size=len(self.objects[k])) for k in keys], []

    def get_bytes(self, bucket, key, max_size):
        if self.fail_get:
            raise S3Error(self.fail_get)
        self.gets.append(key)
        return self.objects.get(key)


def s3_objects(prefix, *records):
    return {record_key(prefix, r): json.dumps(r).encode() for r in records}


def test_record_key():
    assert record_key(None, rec("20261122T101500Z-4821", "2026-11-22T10:17:42Z")) == "fleetops-audit/2026/11/22/20261122T101500Z-4821.json"
    assert record_key("/audit/x/", rec("r", "2026-11-22T23:30:00-02:00")) == "audit/x/2026/11/23/r.json"
    assert record_key("", rec("r", "2026-11-22T10:00:00Z")) == "2026/11/22/r.json"


def test_bucket_records_filters_and_skips(tmp_path):
    objects = s3_objects("fleetops-audit", rec("s1", "2026-11-20T09:00:00Z"), rec("s2", "2026-11-21T09:00:00Z", result="failed"),
                         rec("s3", "2026-11-22T09:00:00Z"))
    objects["fleetops-audit/2026/11/21/broken.json"] = b"{"
    objects["fleetops-audit/2026/11/21/future.json"] = json.dumps({"schema": 3}).encode()
    objects["fleetops-audit/README"] = b"not a record"
    objects["fleetops-audit/2026/11/21/big.json"] = b" " * (1024 * 1024 + 1)
    objects["other/2026/11/21/x.json"] = b"{"
    store = FakeStore(objects)
    result = audit_info(params(bucket="audit", since="2026-11-21", until="2026-11-21"), lambda p: store)
    assert [r["run_id"] for r in result["recent"]] == ["s2"]
    assert result["recent"][0]["source"] == "s3://audit/fleetops-audit/2026/11/21/s2.json"
    assert store.gets == ["fleetops-audit/2026/11/21/broken.json", "fleetops-audit/2026/11/21/future.json",
                          "fleetops-audit/2026/11/21/s2.json"]
    assert result["skipped_records"]["entries"] == [
        {"where": "s3://audit/fleetops-audit/2026/11/21/big.json", "reason": "1048577 bytes, more than the 1048576 a record may have"},
        {"where": "s3://audit/fleetops-audit/2026/11/21/broken.json", "reason": "not JSON: Expecting property name enclosed in double quotes"},
        {"where": "s3://audit/fleetops-audit/2026/11/21/future.json", "reason": "unknown schema version 3 (this reader knows 1)"},
    ]
    assert result["scanned"] == {"files": 0, "objects": 3}


def test_directory_and_bucket_together_count_each_run_once(tmp_path):
    both = rec("both", "2026-11-20T09:00:00Z")
    write_day(tmp_path, "2026-11-20", both, rec("local", "2026-11-20T10:00:00Z"))
    store = FakeStore(s3_objects("fleetops-audit", both, rec("remote", "2026-11-20T11:00:00Z", result="aborted")))
    result = audit_info(params(path=str(tmp_path), bucket="audit"), lambda p: store)
    assert [r["run_id"] for r in result["recent"]] == ["remote", "local", "both"]
    assert result["recent"][2]["source"] == str(tmp_path / "2026-11-20.jsonl") + ":1"
    assert (result["records"], result["duplicates"]) == (3, 1)
    assert result["environments"][0]["abort_rate"] == 0.333


def test_bucket_errors_name_the_bucket():
    store = FakeStore({}, fail_list="s3://audit/fleetops-audit/: S3 answered 403 AccessDenied: Access Denied")
    with pytest.raises(AuditError) as info:
        audit_info(params(bucket="audit"), lambda p: store)
    assert str(info.value) == "cannot list the audit records: s3://audit/fleetops-audit/: S3 answered 403 AccessDenied: Access Denied"
    store = FakeStore(s3_objects("fleetops-audit", rec("s1", "2026-11-20T09:00:00Z")), fail_get="s3://audit/k: S3 answered 403 AccessDenied")
    with pytest.raises(AuditError, match=r"^cannot read the audit record: s3://audit/k: S3 answered 403 AccessDenied$"):
        audit_info(params(bucket="audit"), lambda p: store)


def test_an_object_deleted_after_listing_is_ignored():
    store = FakeStore(s3_objects("p", rec("s1", "2026-11-20T09:00:00Z")))
    store.objects = dict(store.objects)
    listed = store.list("audit", "p/")
    store.list = lambda bucket, prefix="": listed
    store.objects.clear()
    result = audit_info(params(bucket="audit", prefix="p"), lambda p: store)
    assert (result["records"], result["skipped_records"]["count"]) == (0, 0)


def test_record_key_needs_an_end_time():
    with pytest.raises(AuditError, match=r'^record r: ended_at "later" is not an ISO date and time$'):
        record_key(None, rec("r", "later"))
