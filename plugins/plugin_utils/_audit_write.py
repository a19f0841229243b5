# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Where the audit callback puts a run's record: a per-day JSON Lines file, and optionally S3.

The local line is the record of truth: appended under an exclusive lock with one write and an
fsync, so concurrent runs on one controller never interleave and a crash never leaves half a line
that the next run would glue onto. S3 gets one object per run (S3 has no append); a record that
could not be uploaded waits in ``<dir>/s3-pending/`` and goes up with the next run.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._audit import AuditError, record_key
from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import Spool, lock_until

RECORD_KEYS = ("schema", "run_id", "kind", "playbook", "user", "project", "environment", "dist", "version_from",
               "versions_from", "version_to", "started_at", "ended_at", "duration_s", "result", "hosts", "changed_hosts",
               "node_health", "targeted", "problem_hosts", "lock_id", "check_mode", "awx_job_id", "job_template",
               "job_url", "interrupted_by", "lock")


def record_from(summary: dict, job_url: str | None = None) -> dict:
    """The audit record: the run summary without the per-host details (they belong to the alert)."""
    record = {key: summary.get(key) for key in RECORD_KEYS}
    record["job_url"] = job_url
    return record


def day_file(directory: str, record: dict) -> str:
    day = (record.get("ended_at") or record.get("started_at") or "unknown")[:10]
    return os.path.join(directory, "%s.jsonl" % day)


# Files whose lock this process holds right now. A signal handler that appends while the interrupted main
# thread is inside append_local must not wait for a lock its own process holds (flock locks belong to the
# open file, so a second open would wait forever); the interrupted write is a single os.write, either done
# or not started, so appending without the lock is safe against ourselves, and the held lock still keeps
# other processes out.
_HELD: set[str] = set()


def append_local(directory: str, record: dict, lock_timeout: float | None = None) -> str:
    """Append one line; returns the file. Raises OSError with the path in it.

    ``lock_timeout`` bounds the wait for another process's lock (None waits as long as it takes).
    """
    os.makedirs(directory, mode=0o750, exist_ok=True)
    path = day_file(directory, record)
    line = (json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    mine = path not in _HELD
    try:
        if mine:
            if lock_timeout is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            elif not lock_until(fd, time.monotonic() + lock_timeout):
                raise OSError("%s is locked by another run" % path)
            _HELD.add(path)
        # A previous writer killed mid-line would leave no newline at the end: start on a fresh line.
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as reader:
                reader.seek(size - 1)
                if reader.read(1) != b"\n":
                    line = b"\n" + line
        written = os.write(fd, line)
        if written != len(line):
            raise OSError("short write to %s (%d of %d bytes)" % (path, written, len(line)))
        os.fsync(fd)
    finally:
        if mine:
            _HELD.discard(path)
        os.close(fd)
    return path


class S3Uploader:
    """Puts records into a bucket, with a spool for the ones that did not make it."""

    def __init__(self, directory: str, bucket: str, prefix: str, store_factory: t.Callable[[], t.Any]) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.store_factory = store_factory
        self.spool = Spool(os.path.join(directory, "s3-pending"))
        self._store = None

    def _put(self, record: dict) -> str:
        if self._store is None:
            self._store = self.store_factory()
        key = record_key(self.prefix, record)
        body = json.dumps(record, sort_keys=True, ensure_ascii=False).encode("utf-8")
        self._store.put_bytes(self.bucket, key, body, content_type="application/json")
        return key

    def upload(self, record: dict) -> tuple[list[str], list[str]]:
        """Upload spooled records then this one. Returns (keys written, problems)."""
        written, problems = [], []
        for path in self.spool.pending("s3"):
            try:
                old = Spool.load(path)["payload"]
                written.append(self._put(old))
                Spool.done(path)
            except AuditError as exc:  # the record itself is bad: set it aside, do not block the ones behind it
                problems.append("spooled record %s has no S3 key (%s); moved to %s" % (
                    os.path.basename(path), exc, self.spool.move(path, "s3")))
            except Exception as exc:  # pylint: disable=broad-except
                problems.append("spooled record %s not uploaded yet: %s" % (os.path.basename(path), exc))
                break
        try:
            written.append(self._put(record))
        except Exception as exc:  # pylint: disable=broad-except
            kept = self.spool.add("s3", str(record.get("run_id")), record, str(exc))
            problems.append("record %s not uploaded (%s); kept in %s for the next run" % (record.get("run_id"), exc, kept))
        return written, problems
