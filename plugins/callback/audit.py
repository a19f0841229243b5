# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: audit
type: aggregate
short_description: One audit record per run, in per-day JSON Lines files and optionally in S3
version_added: 0.1.0
description:
  - Writes one record per playbook run, whether it ended with a recap, was interrupted (Ctrl-C, SIGTERM, SIGHUP) or was
    killed outright (found by the next run in the journal of open runs and recorded then, as V(aborted)).
  - "The record: run id, kind (V(release), V(status), V(other)), playbook, user (the AWX user when run by AWX), project,
    environment, DIST and version from and to, start and end, hosts per outcome (V(ok), V(failed), V(unreachable),
    V(rescued), V(not attempted)), node health counts, the problem hosts, the result (V(success), V(failed), V(partial),
    V(aborted)), the lock id when one was held, check mode, the AWX job id and link."
  - Records are appended to C(<dir>/<YYYY-MM-DD>.jsonl) (UTC day of the run's end) under an exclusive lock, one line
    each, fsynced. With O(s3_bucket) each record is also written to
    C(s3://<bucket>/<prefix>/<YYYY>/<MM>/<DD>/<run_id>.json); a record that could not be uploaded is kept and uploaded by
    the next run.
  - M(fleetops.release.audit_info) and the C(fleetops.release.report) playbook read these records.
  - It never changes the run's result; problems become warnings.
requirements:
  - Enable it with C(callbacks_enabled = fleetops.release.audit) in C(ansible.cfg) or C(ANSIBLE_CALLBACKS_ENABLED).
  - boto3 on the controller for O(s3_bucket).
author:
  - fleetops developers (@fleetops)
options:
  dir:
    description: Directory of the per-day JSON Lines files (created with mode 0750).
    type: path
    default: ~/.ansible/fleetops/audit
    env:
      - name: FLEETOPS_AUDIT_DIR
    ini:
      - section: callback_audit
        key: dir
  s3_bucket:
    description: Also write each record to this bucket.
    type: str
    env:
      - name: FLEETOPS_AUDIT_S3_BUCKET
    ini:
      - section: callback_audit
        key: s3_bucket
  s3_prefix:
    description: Key prefix of the records in O(s3_bucket).
    type: str
    default: fleetops-audit
    env:
      - name: FLEETOPS_AUDIT_S3_PREFIX
    ini:
      - section: callback_audit
        key: s3_prefix
  s3_endpoint_url:
    description: S3-compatible endpoint for O(s3_bucket); credentials come from the usual AWS environment, profile or role.
    type: str
    env:
      - name: FLEETOPS_AUDIT_S3_ENDPOINT_URL
    ini:
      - section: callback_audit
        key: s3_endpoint_url
  s3_region:
    description: Region of O(s3_bucket).
    type: str
    env:
      - name: FLEETOPS_AUDIT_S3_REGION
    ini:
      - section: callback_audit
        key: s3_region
  s3_profile:
    description: AWS profile for O(s3_bucket).
    type: str
    env:
      - name: FLEETOPS_AUDIT_S3_PROFILE
    ini:
      - section: callback_audit
        key: s3_profile
  awx_url:
    description: Base URL of AWX, for the job link in the record (AWX sets E(AWX_HOST)).
    type: str
    env:
      - name: FLEETOPS_AWX_URL
      - name: AWX_HOST
    ini:
      - section: callback_audit
        key: awx_url
"""

import os
import typing as t

from ansible.plugins.callback import CallbackBase

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.recap_alert import job_url
from ansible_collections.fleetops.release.plugins.plugin_utils._audit_write import S3Uploader, append_local, record_from
from ansible_collections.fleetops.release.plugins.plugin_utils._callback import RunWatcher


def _store_factory(endpoint_url: str | None, region: str | None, profile: str | None) -> t.Callable[[], t.Any]:
    def make() -> t.Any:
        from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store  # pylint: disable=import-outside-toplevel

        return open_store(dict(endpoint_url=endpoint_url, region=region, profile=profile, retries=1, connect_timeout=3.0, read_timeout=10.0))
    return make


class CallbackModule(RunWatcher, CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleetops.release.audit"
    CALLBACK_NEEDS_ENABLED = True
    WATCHER_NAME = "audit"

    def __init__(self, display: t.Any = None) -> None:
        super().__init__(display=display)
        self._setup_done = False
        self.directory = ""
        self.uploader: S3Uploader | None = None
        self.written: list[str] = []

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if self._setup_done:
            return
        self._setup_done = True
        self.directory = os.path.abspath(os.path.expanduser(self.get_option("dir")))
        try:
            os.makedirs(self.directory, mode=0o750, exist_ok=True)
        except OSError as exc:
            self.watcher_warn("cannot create the audit directory %s: %s" % (self.directory, exc.strerror or exc))
        if self.get_option("s3_bucket"):
            self.uploader = S3Uploader(self.directory, self.get_option("s3_bucket"), self.get_option("s3_prefix"),
                                       _store_factory(self.get_option("s3_endpoint_url"), self.get_option("s3_region"),
                                                      self.get_option("s3_profile")))
        self.watcher_setup(self.directory)

    def _write(self, summary: dict, quiet: bool, upload: bool = True) -> None:
        record = record_from(summary, job_url(summary, self.get_option("awx_url")))
        try:
            self.written.append(append_local(self.directory, record, lock_timeout=2.0 if quiet else None))
        except OSError as exc:
            if not quiet:
                self.watcher_warn("cannot append the record of run %s to %s: %s" % (record["run_id"], self.directory, exc))
        if self.uploader is not None and (quiet or not upload):
            # Interrupted (no network calls in a signal handler) or found killed at the start of a run:
            # the upload waits for the end of this run or the next one.
            self.uploader.spool.add("s3", str(record["run_id"]), record, "not uploaded yet")
        elif self.uploader is not None:
            _keys, problems = self.uploader.upload(record)
            for problem in problems:
                if not quiet:
                    self.watcher_warn(problem)

    def report(self, summary: dict, interrupted: bool, deadline: float) -> None:
        self._write(summary, quiet=interrupted)

    def report_orphan(self, summary: dict) -> None:
        self._write(summary, quiet=False, upload=False)
