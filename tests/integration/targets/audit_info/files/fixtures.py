# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Writes the audit records the audit_info target reads: JSON Lines files in a directory, and objects in S3.

    python fixtures.py AUDIT_DIR BUCKET      (S3 through MOTO_ENDPOINT)

The records and the numbers audit.yml expects are listed in the table of that playbook.
"""

from __future__ import annotations

import json
import os
import sys

import boto3


def rec(run_id, ended_at, result, version_to, user, project="projectx", environment="online", kind="release", **extra):
    data = {"schema": 1, "run_id": run_id, "kind": kind, "playbook": "deploy.yml", "user": user, "project": project,
            "environment": environment, "dist": "ProjectX.dist", "version_from": "1.0.0", "version_to": version_to,
            "started_at": ended_at, "ended_at": ended_at, "duration_s": 12.5, "result": result,
            "hosts": {"ok": 3, "failed": 0, "unreachable": 0, "rescued": 0, "not_attempted": 0},
            "node_health": {"ok": 3}, "problem_hosts": [], "lock_id": None, "check_mode": False, "awx_job_id": None,
            "job_url": None, "interrupted_by": None}
    data.update(extra)
    return json.dumps(data, sort_keys=True)


R4 = rec("r-0004", "2026-11-21T00:00:00Z", "success", "1.1.0", "alice")

FILES = {
    "2026-11-20.jsonl": [
        rec("r-0001", "2026-11-20T10:00:00Z", "success", "1.0.0", "alice"),
        rec("r-0002", "2026-11-20T12:00:00Z", "failed", "1.1.0", "bob", problem_hosts=["web02"]),
        '{"schema": 1, "run_id": "r-trunc',
        rec("r-0003", "2026-11-20T23:59:59Z", "success", "1.1.0", "carol", environment="beta_console"),
    ],
    "2026-11-21.jsonl": [
        R4,
        rec("r-0005", "2026-11-21T08:00:00Z", "success", "1.2.0", "alice", check_mode=True),
        rec("r-0006", "2026-11-21T09:00:00Z", "failed", None, "cron", kind="status", playbook="status.yml"),
        json.dumps({"schema": 2, "run_id": "r-future", "ended_at": "2026-11-21T09:30:00Z"}),
        rec("r-0007", "2026-11-21T10:00:00Z", "aborted", "1.2.0", "dave", interrupted_by="SIGINT"),
    ],
    "notes.txt": ["not an audit file"],
}

OBJECTS = {
    "fleetops-audit/2026/11/21/r-0004.json": R4,
    "fleetops-audit/2026/11/22/r-0008.json": rec("r-0008", "2026-11-22T09:00:00Z", "partial", "1.2.0", "erin", problem_hosts=["web04"]),
    "fleetops-audit/2026/11/22/r-0009.json": rec("r-0009", "2026-11-22T10:00:00Z", "success", "2.0.0", "frank", project="projecty"),
    "fleetops-audit/2026/11/22/bad.json": "not json",
    "fleetops-audit/README.txt": "not a record",
}

RESULTS = ("success", "failed", "partial", "aborted")
BULK = 1001  # more than one page of ListObjectsV2 (1000 keys)


def main(audit_dir: str, bucket: str) -> None:
    os.makedirs(audit_dir, exist_ok=True)
    for name, lines in FILES.items():
        with open(os.path.join(audit_dir, name), "w", encoding="utf-8") as handle:
            handle.write("".join(line + "\n" for line in lines))
    s3 = boto3.client("s3", endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    for key, body in OBJECTS.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode("utf-8"))
    for i in range(BULK):
        ended = "2026-11-15T%02d:%02d:%02dZ" % (i // 3600, i // 60 % 60, i % 60)
        body = rec("bulk-%04d" % i, ended, RESULTS[i % 4], "9.%d" % i, "loadtest", project="bulk", environment="load")
        s3.put_object(Bucket=bucket, Key="bulk/2026/11/15/bulk-%04d.json" % i, Body=body.encode("utf-8"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
