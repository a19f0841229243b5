# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the audit_info module does: read audit records (JSON Lines files and/or S3 objects), filter them,
and aggregate them into the release report per project and environment.

Record storage (written by the ``audit`` callback, schema version 1):

* local: ``<audit_dir>/<YYYY-MM-DD>.jsonl``, the UTC date of ``ended_at``, one JSON object per line;
* S3: ``s3://<bucket>/<prefix>/<YYYY>/<MM>/<DD>/<run_id>.json``, one object per record.

Malformed lines or objects and unknown schema versions are skipped and reported, never fatal.
Standard library only, except the S3 store the caller passes in.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._repo.layout import key_prefix

SCHEMA = 1
KINDS = ("release", "status", "other")
RESULTS = ("success", "failed", "partial", "aborted")
DEFAULT_PREFIX = "fleetops-audit"
MAX_OBJECT_SIZE = 1024 * 1024
"""Larger S3 objects are skipped as malformed: a record is a few kilobytes."""
SKIPPED_LISTED = 20
"""How many skipped lines or objects are listed one by one (all are counted)."""

AUDIT_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    path=dict(type="path"),
    bucket=dict(type="str"),
    prefix=dict(type="str", default=DEFAULT_PREFIX),
    project=dict(type="str"),
    environment=dict(type="str"),
    since=dict(type="str"),
    until=dict(type="str", aliases=["through"]),
    kind=dict(type="str", choices=list(KINDS) + ["all"], default="release"),
    include_check_mode=dict(type="bool", default=False),
    latest=dict(type="int", default=10),
)

_FILE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})\.jsonl$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:?\d{2})?$")
_UTC = datetime.timezone.utc
_SUMMARY_KEYS = ("run_id", "version_to", "result", "ended_at", "user")


class AuditError(FleetopsError):
    """The audit records cannot be read at all (a missing directory, an unreadable file or bucket, a bad filter)."""


# -- times -------------------------------------------------------------------------------------------------------------
def parse_time(text: object) -> datetime.datetime | None:
    """An aware UTC datetime from an ISO 8601 date and time (``Z``, an offset, or none: UTC), else None."""
    if not isinstance(text, str) or not _DATETIME_RE.match(text.strip()):
        return None
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=_UTC)
    return moment.astimezone(_UTC)


class Window:
    """The ``since``/``until`` filter on ``ended_at``.

    ``since`` is inclusive; a date means its first second (UTC).  ``until`` is inclusive;
    a date means the whole day (UTC), so ``since: 2026-11-22`` and ``until: 2026-11-22``
    give that one day.
    """

    def __init__(self, since: str | None = None, until: str | None = None) -> None:
        self.start = _bound("since", since, end=False)
        self.end = _bound("until", until, end=True)  # exclusive
        if self.start is not None and self.end is not None and self.start >= self.end:
            raise AuditError("since (%s) is not before until (%s)" % (since, until))

    def __contains__(self, moment: datetime.datetime) -> bool:
        return (self.start is None or moment >= self.start) and (self.end is None or moment < self.end)

    def has_day(self, day: datetime.date) -> bool:
        """Whether any moment of the UTC ``day`` is in the window (to skip whole files and S3 day folders)."""
        first = datetime.datetime(day.year, day.month, day.day, tzinfo=_UTC)
        after = first + datetime.timedelta(days=1)
        return (self.start is None or after > self.start) and (self.end is None or first < self.end)


def _bound(name: str, text: str | None, end: bool) -> datetime.datetime | None:
    if text is None or not str(text).strip():
        return None
    value = str(text).strip()
    if _DATE_RE.match(value):
        try:
            day = datetime.datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=_UTC)
        except ValueError:
            day = None
        if day is not None:
            return day + datetime.timedelta(days=1) if end else day
    moment = parse_time(value)
    if moment is None:
        raise AuditError("%s: %r is not an ISO date (2026-11-22) or date and time (2026-11-22T10:15:00Z, 2026-11-22T11:15:00+01:00)"
                         % (name, text))
    return moment + datetime.timedelta(microseconds=1) if end else moment


# -- records -----------------------------------------------------------------------------------------------------------
class Skipped:
    """Lines and objects that were not records: counted, the first ones listed with where and why."""

    def __init__(self) -> None:
        self.count = 0
        self.unknown_schema = 0
        self.entries: list[dict] = []

    def add(self, where: str, reason: str, unknown_schema: bool = False) -> None:
        self.count += 1
        if unknown_schema:
            self.unknown_schema += 1
        if len(self.entries) < SKIPPED_LISTED:
            self.entries.append(dict(where=where, reason=reason))

    def as_dict(self) -> dict:
        first = self.entries[0] if self.entries else None
        return dict(count=self.count, malformed=self.count - self.unknown_schema, unknown_schema=self.unknown_schema,
                    first=first["where"] if first else None, first_reason=first["reason"] if first else None, entries=list(self.entries))

    def warning(self) -> str | None:
        if not self.count:
            return None
        return "skipped %d audit record(s) that could not be used (%d malformed, %d of an unknown schema version); the first: %s: %s" % (
            self.count, self.count - self.unknown_schema, self.unknown_schema, self.entries[0]["where"], self.entries[0]["reason"])


def check_record(data: object) -> tuple[str | None, bool]:
    """(why ``data`` is not a usable schema-1 record or None, whether that is an unknown schema version)."""
    if not isinstance(data, dict):
        return "not a JSON object", False
    schema = data.get("schema")
    if schema is None:
        return "no schema version", False
    if schema != SCHEMA or isinstance(schema, bool):
        return "unknown schema version %s (this reader knows %d)" % (json.dumps(schema), SCHEMA), True
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not run_id:
        return "run_id is missing or not a string", False
    if data.get("kind") not in KINDS:
        return "kind %s is not one of %s" % (json.dumps(data.get("kind")), ", ".join(KINDS)), False
    if data.get("result") not in RESULTS:
        return "result %s is not one of %s" % (json.dumps(data.get("result")), ", ".join(RESULTS)), False
    if parse_time(data.get("ended_at")) is None:
        return "ended_at %s is not an ISO date and time" % json.dumps(data.get("ended_at")), False
    for key in ("project", "environment", "user", "version_to"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            return "%s is not a string (found %s)" % (key, json.dumps(data.get(key))), False
    if not isinstance(data.get("check_mode", False), bool):
        return "check_mode is not true or false", False
    return None, False


def _parse(raw: bytes) -> tuple[object, str | None]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, "not UTF-8 text (byte %d)" % exc.start
    try:
        return json.loads(text), None
    except ValueError as exc:
        return None, "not JSON: %s" % getattr(exc, "msg", exc)


class Collected:
    """Records read so far (first occurrence of each run_id), with where each came from."""

    def __init__(self) -> None:
        self.records: list[dict] = []
        self.where: dict[str, str] = {}
        self.duplicates = 0
        self.skipped = Skipped()
        self.files = 0
        self.objects = 0

    def add_raw(self, raw: bytes, where: str) -> None:
        data, problem = _parse(raw)
        unknown = False
        if problem is None:
            problem, unknown = check_record(data)
        if problem is not None:
            self.skipped.add(where, problem, unknown)
            return
        data = t.cast(dict, data)
        if data["run_id"] in self.where:
            self.duplicates += 1
            return
        self.where[data["run_id"]] = where
        self.records.append(data)


def _day_of(match: re.Match) -> datetime.date | None:
    try:
        return datetime.date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def read_directory(path: str, window: Window, collected: Collected) -> None:
    """Every ``<YYYY-MM-DD>.jsonl`` in ``path`` whose day is in ``window``; other names are ignored."""
    if not os.path.exists(path):
        raise AuditError("audit directory %s does not exist" % path)
    if not os.path.isdir(path):
        raise AuditError("audit directory %s is not a directory" % path)
    try:
        names = sorted(os.listdir(path))
    except OSError as exc:
        raise AuditError("cannot list the audit directory %s: %s" % (path, exc.strerror or exc)) from None
    for name in names:
        match = _FILE_RE.match(name)
        day = _day_of(match) if match else None
        if day is None or not window.has_day(day):
            continue
        full = os.path.join(path, name)
        try:
            with open(full, "rb") as handle:
                collected.files += 1
                for number, line in enumerate(handle, start=1):
                    if line.strip():
                        collected.add_raw(line.rstrip(b"\r\n"), "%s:%d" % (full, number))
        except OSError as exc:
            raise AuditError("cannot read the audit file %s: %s" % (full, exc.strerror or exc)) from None


def record_key(prefix: str | None, record: dict) -> str:
    """Where a run's record lives in S3: ``<prefix>/<YYYY>/<MM>/<DD>/<run_id>.json``, the UTC day it ended (or started).

    The one owner of the key: the audit callback writes there (plugin_utils/_audit_write.py) and audit_info reads
    there. ``prefix`` None is the default prefix, an empty one the bucket's root. A run id is used as it is when it
    is made of letters, digits, ``-``, ``_`` and ``.``; any other character becomes ``_``.
    """
    ended = parse_time(record.get("ended_at")) or parse_time(record.get("started_at"))
    if ended is None:
        raise AuditError("record %s: ended_at %s is not an ISO date and time" % (record.get("run_id"), json.dumps(record.get("ended_at"))))
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in str(record.get("run_id") or "run"))
    return "%s%s/%s.json" % (key_prefix(prefix, DEFAULT_PREFIX), ended.strftime("%Y/%m/%d"), name)


def read_bucket(store: t.Any, bucket: str, prefix: str | None, window: Window, collected: Collected) -> None:
    """Every ``<prefix>/<YYYY>/<MM>/<DD>/<name>.json`` whose day is in ``window`` (listing is paginated)."""
    list_prefix = key_prefix(prefix, DEFAULT_PREFIX)
    key_re = re.compile(r"^%s(\d{4})/(\d{2})/(\d{2})/[^/]+\.json$" % re.escape(list_prefix))
    try:
        objects = store.list(bucket, list_prefix)[0]
    except FleetopsError as exc:
        raise AuditError("cannot list the audit records: %s" % exc) from None
    for obj in sorted(objects, key=lambda o: o["Key"]):
        key = obj["Key"]
        match = key_re.match(key)
        day = _day_of(match) if match else None
        if day is None or not window.has_day(day):
            continue
        where = "s3://%s/%s" % (bucket, key)
        if int(obj.get("Size") or 0) > MAX_OBJECT_SIZE:
            collected.skipped.add(where, "%d bytes, more than the %d a record may have" % (obj["Size"], MAX_OBJECT_SIZE))
            continue
        try:
            raw = store.get_bytes(bucket, key, MAX_OBJECT_SIZE)
        except FleetopsError as exc:
            raise AuditError("cannot read the audit record: %s" % exc) from None
        collected.objects += 1
        if raw is None:  # deleted between listing and reading
            continue
        collected.add_raw(raw, where)


# -- the report --------------------------------------------------------------------------------------------------------
def _newest_first(record: dict) -> tuple:
    return (parse_time(record["ended_at"]), record["run_id"])


def _summary(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {key: record.get(key) for key in _SUMMARY_KEYS}


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 3) if total else None


def environment_entry(project: str | None, environment: str | None, records: list[dict]) -> dict:
    """One project and environment: counts per result, rates, the newest release and the newest success."""
    newest = sorted(records, key=_newest_first, reverse=True)
    counts = {result: sum(1 for r in records if r["result"] == result) for result in RESULTS}
    total = len(records)
    good = next((r for r in newest if r["result"] == "success"), None)
    return dict(project=project, environment=environment, releases=total, success=counts["success"], failed=counts["failed"],
                partial=counts["partial"], aborted=counts["aborted"], success_rate=_rate(counts["success"], total),
                failure_rate=_rate(counts["failed"], total), partial_rate=_rate(counts["partial"], total),
                abort_rate=_rate(counts["aborted"], total), last_release=_summary(newest[0] if newest else None),
                last_good_version=good.get("version_to") if good else None, last_good=_summary(good))


def select(records: list[dict], params: dict, window: Window) -> list[dict]:
    """The records the filters keep."""
    kept = []
    for record in records:
        if params.get("kind", "release") != "all" and record["kind"] != params.get("kind", "release"):
            continue
        if record.get("check_mode") and not params.get("include_check_mode"):
            continue
        if params.get("project") is not None and record.get("project") != params["project"]:
            continue
        if params.get("environment") is not None and record.get("environment") != params["environment"]:
            continue
        if parse_time(record["ended_at"]) not in window:
            continue
        kept.append(record)
    return kept


def build_report(collected: Collected, params: dict, window: Window) -> dict:
    records = select(collected.records, params, window)
    groups: dict[tuple, list[dict]] = {}
    for record in records:
        groups.setdefault((record.get("project"), record.get("environment")), []).append(record)
    if params.get("project") is not None and params.get("environment") is not None:
        groups.setdefault((params["project"], params["environment"]), [])
    environments = [environment_entry(project, environment, groups[(project, environment)])
                    for project, environment in sorted(groups, key=lambda key: (key[0] or "", key[1] or ""))]
    newest = sorted(records, key=_newest_first, reverse=True)
    latest = params.get("latest", 10)
    recent = newest if latest == 0 else newest[:max(latest, 0)]
    return dict(changed=False, records=len(records), environments=environments,
                recent=[dict(record, source=collected.where[record["run_id"]]) for record in recent],
                skipped_records=collected.skipped.as_dict(), duplicates=collected.duplicates,
                scanned=dict(files=collected.files, objects=collected.objects))


def audit_info(params: dict, store_factory: t.Callable[[dict], t.Any] | None = None) -> dict:
    """The module's result.  ``store_factory(params)`` gives the S3 store (``_s3.S3Store``) when ``bucket`` is set.

    The result's ``warnings`` (a list) is for the module to pass on with ``warn()``.
    """
    if not params.get("path") and not params.get("bucket"):
        raise AuditError("set path (the audit directory) or bucket (the audit bucket), or both")
    if params.get("latest", 10) < 0:
        raise AuditError("latest must be 0 (all) or more, not %d" % params["latest"])
    window = Window(params.get("since"), params.get("until"))
    collected = Collected()
    if params.get("path"):
        read_directory(params["path"], window, collected)
    if params.get("bucket"):
        if store_factory is None:
            raise AuditError("reading s3://%s needs an S3 store" % params["bucket"])
        read_bucket(store_factory(params), params["bucket"], params.get("prefix"), window, collected)
    result = build_report(collected, params, window)
    warning = collected.skipped.warning()
    result["warnings"] = [warning] if warning else []
    return result
