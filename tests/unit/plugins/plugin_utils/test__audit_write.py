# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the audit callback uploads is where audit_info looks: one owner of the key (module_utils/_audit.record_key)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._audit import AUDIT_ARGSPEC, audit_info, record_key
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store, open_store
from ansible_collections.fleetops.release.plugins.plugin_utils._audit_write import S3Uploader

KEYS = {"access_key": "AKIDTEST", "secret_key": "SECRETTESTKEY", "region": "us-east-1", "retries": 0}


def record(run_id, ended_at):
    return {"schema": 1, "run_id": run_id, "kind": "release", "playbook": "deploy.yml", "user": "alice", "project": "projectx",
            "environment": "online", "dist": "ProjectX.dist", "version_from": "1.0.0", "version_to": "1.1.0",
            "started_at": ended_at, "ended_at": ended_at, "duration_s": 1.0, "result": "success",
            "hosts": {"ok": 1, "failed": 0, "unreachable": 0, "rescued": 0, "not_attempted": 0}, "node_health": {"ok": 1},
            "problem_hosts": [], "lock_id": None, "check_mode": False, "awx_job_id": None}


@pytest.mark.parametrize("prefix", ["fleetops-audit", "/team/audit/", ""])
def test_the_reader_finds_what_the_writer_wrote(moto_endpoint, tmp_path, prefix):
    options = dict(KEYS, endpoint_url=moto_endpoint)
    bucket = "audit-%d" % len(prefix)
    S3Store(dict(options)).client.create_bucket(Bucket=bucket)
    # Late in the evening west of UTC: the UTC day is the next one, and both sides must agree on it.
    late = record("20261122T233000Z-1 x/y", "2026-11-22T23:30:00-02:00")
    written, problems = S3Uploader(str(tmp_path), bucket, prefix, lambda: open_store(dict(options))).upload(late)
    assert problems == [] and written == [record_key(prefix, late)]
    assert written[0].endswith("2026/11/23/20261122T233000Z-1_x_y.json")
    params = {name: spec.get("default") for name, spec in AUDIT_ARGSPEC.items()}
    params.update(options, bucket=bucket, prefix=prefix, endpoint_url=moto_endpoint, since="2026-11-23", until="2026-11-23", latest=0)
    found = audit_info(params, open_store)
    assert json.dumps(found).count("20261122T233000Z-1 x/y") >= 1, found


def test_a_spooled_record_without_a_time_is_set_aside_not_blocking(moto_endpoint, tmp_path):
    options = dict(KEYS, endpoint_url=moto_endpoint)
    S3Store(dict(options)).client.create_bucket(Bucket="audit-spool")
    uploader = S3Uploader(str(tmp_path), "audit-spool", "fleetops-audit", lambda: open_store(dict(options)))
    broken = record("r-broken", "later")
    broken["started_at"] = "never"
    uploader.spool.add("s3", "r-broken", broken, "was offline")
    uploader.spool.add("s3", "r-good", record("r-good", "2026-11-22T10:00:00Z"), "was offline")
    written, problems = uploader.upload(record("r-now", "2026-11-23T10:00:00Z"))
    assert written == ["fleetops-audit/2026/11/22/r-good.json", "fleetops-audit/2026/11/23/r-now.json"]
    assert len(problems) == 1 and "r-broken" in problems[0] and "moved to" in problems[0]
    assert uploader.spool.pending("s3") == []
