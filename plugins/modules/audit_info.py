#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_info
short_description: The release report over the audit records of playbook runs
version_added: 0.1.0
description:
  - Reads the audit records the C(fleetops.release.audit) callback writes, one per playbook run (schema version 1), from a
    directory of JSON Lines files (C(<path>/<YYYY-MM-DD>.jsonl), the UTC date of C(ended_at)), from S3
    (C(s3://<bucket>/<prefix>/<YYYY>/<MM>/<DD>/<run_id>.json)), or from both.
  - Filters them (kind, project, environment, time range, check mode) and aggregates them per project and environment
    into counts per result, success, failure and abort rates, the last release and the last good version.
  - Lines or objects that are not JSON, not a record, or of an unknown schema version are skipped, counted and reported
    in RV(skipped_records) with where they are (C(file:line) or C(s3://bucket/key)) and a warning; they never fail the task.
  - A record that is in both the directory and the bucket (same C(run_id)) counts once; RV(duplicates) counts the rest.
  - Runs where it is called; delegate it to the controller (C(localhost)) where the audit directory or the S3 credentials are.
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.INFO_MODULE
  - fleetops.release._attributes.S3_GROUP
options:
  path:
    description:
      - The audit directory holding C(<YYYY-MM-DD>.jsonl) files. Other files in it are ignored.
      - At least one of O(path) and O(bucket) is required.
    type: path
  bucket:
    description:
      - The bucket holding one object per record under O(prefix). Needs boto3 and the S3 options.
    type: str
  prefix:
    description: Key prefix of the records in O(bucket), without the date folders.
    type: str
    default: fleetops-audit
  project:
    description: Only records of this project.
    type: str
  environment:
    description:
      - Only records of this environment.
      - With O(project) and O(environment) both set, RV(environments) always holds that one entry, with zero releases and
        null rates when no record matches.
    type: str
  since:
    description:
      - Only records that ended at or after this time, an ISO date (V(2026-11-22), from its first second, UTC) or date and
        time (V(2026-11-22T10:15:00Z), V(2026-11-22T11:15:00+01:00); without an offset it is UTC).
    type: str
  until:
    description:
      - Only records that ended at or before this time, as O(since); a date includes that whole day (UTC).
      - The alias O(through) reads the same; ansible-lint takes a templated value of a key named C(until) for the task
        keyword of that name and asks for a bare expression, so playbooks in this collection use O(through).
    type: str
    aliases: [through]
  kind:
    description:
      - Which runs to count; V(release) runs deploy a DIST version, V(status) runs are monitoring sweeps, V(all) takes every kind.
    type: str
    choices: [release, status, other, all]
    default: release
  include_check_mode:
    description: Also count runs made with C(--check).
    type: bool
    default: false
  latest:
    description: How many of the newest matching records RV(recent) returns; V(0) returns all.
    type: int
    default: 10
seealso:
  - module: fleetops.release.node_state
notes:
  - The record format is described in the collection's C(docs/audit.md).
"""

EXAMPLES = r"""
- name: Release report of the last 30 days
  fleetops.release.audit_info:
    path: /var/log/fleetops/audit
    since: "{{ '%Y-%m-%d' | strftime(now(utc=true).timestamp() - 30 * 86400) }}"
  delegate_to: localhost
  run_once: true
  register: report

- name: Success rate and last good version of projectx online, from S3
  fleetops.release.audit_info:
    bucket: projectx-audit
    project: projectx
    environment: online
    region: eu-west-1
  delegate_to: localhost
  run_once: true
  register: online

- name: Show them
  ansible.builtin.debug:
    msg: "{{ online.environments[0].success_rate }} {{ online.environments[0].last_good_version }}"
"""

RETURN = r"""
records:
  description: How many records matched the filters (each run once).
  returned: success
  type: int
  sample: 12
environments:
  description: One entry per project and environment of the matching records, sorted by project, then environment.
  returned: success
  type: list
  elements: dict
  contains:
    project:
      description: Project, or null when the records have none.
      type: str
      sample: projectx
    environment:
      description: Environment, or null.
      type: str
      sample: online
    releases:
      description: Matching records (runs) of this project and environment.
      type: int
      sample: 10
    success:
      description: Runs with result C(success).
      type: int
    failed:
      description: Runs with result C(failed).
      type: int
    partial:
      description: Runs with result C(partial) (some hosts failed, others succeeded).
      type: int
    aborted:
      description: Runs with result C(aborted) (interrupted).
      type: int
    success_rate:
      description: RV(environments[].success) divided by RV(environments[].releases), rounded to 3 places; null for zero releases.
      type: float
      sample: 0.8
    failure_rate:
      description: RV(environments[].failed) divided by RV(environments[].releases), rounded to 3 places; null for zero releases.
      type: float
      sample: 0.1
    partial_rate:
      description: RV(environments[].partial) divided by RV(environments[].releases), rounded to 3 places; null for zero releases.
      type: float
      sample: 0.0
    abort_rate:
      description: RV(environments[].aborted) divided by RV(environments[].releases), rounded to 3 places; null for zero releases.
      type: float
      sample: 0.1
    last_release:
      description: The newest matching run by C(ended_at) (V(run_id), V(version_to), V(result), V(ended_at), V(user)), or null.
      type: dict
    last_good_version:
      description: C(version_to) of the newest run with result C(success), or null.
      type: str
      sample: 1.1.0
    last_good:
      description: The newest run with result C(success), as RV(environments[].last_release), or null.
      type: dict
recent:
  description: The newest O(latest) matching records, newest first, each as stored plus V(source) (C(file:line) or C(s3://bucket/key)).
  returned: success
  type: list
  elements: dict
skipped_records:
  description:
    - Lines and objects that were not used (not named C(skipped), which would mark the task skipped).
    - V(count) (all), V(malformed), V(unknown_schema), V(first) and V(first_reason) (where the first one is and why),
      V(entries) (the first 20 as V(where) and V(reason)).
  returned: success
  type: dict
  sample:
    count: 1
    malformed: 1
    unknown_schema: 0
    first: /var/log/fleetops/audit/2026-11-22.jsonl:3
    first_reason: "not JSON: Expecting value"
    entries: [{where: /var/log/fleetops/audit/2026-11-22.jsonl:3, reason: "not JSON: Expecting value"}]
duplicates:
  description: Records left out because a record with the same C(run_id) was read before (the directory is read before the bucket).
  returned: success
  type: int
  sample: 0
scanned:
  description: V(files) (JSON Lines files read) and V(objects) (S3 objects read); files and day folders outside O(since)/O(until) are not read.
  returned: success
  type: dict
  sample: {files: 3, objects: 0}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._audit import AUDIT_ARGSPEC, audit_info
from ansible_collections.fleetops.release.plugins.module_utils._module import finish
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store


def main() -> None:
    module = AnsibleModule(argument_spec=dict(AUDIT_ARGSPEC, **S3_ARGSPEC), required_one_of=[("path", "bucket")], supports_check_mode=True)
    finish(module, lambda: audit_info(module.params, open_store), s3=[module.params] if module.params["bucket"] else [])


if __name__ == "__main__":
    main()
