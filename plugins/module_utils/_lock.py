# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Release locks: one lease per project and environment, kept as a small JSON record.

The record lives in S3 (``<prefix><project>/<environment>.json``) and every change to it
is a conditional write: a new lock is created only if the object is absent (If-None-Match
``*``); renewing, releasing and taking over an expired, released or forced lock name the
ETag that was read (If-Match). The object is never deleted, so the fencing ``generation``
it carries grows by one with every new holder and never starts again.

A file backend keeps the same record in ``<path>/<project>/<environment>.json``; its
"ETag" is the sha256 of the file's bytes, and the compare-and-write happens under
``fcntl.flock`` on a sidecar ``.lock`` file. It protects one control node only.

Expiry is decided on the store's clock only: a held record is expired when the store's
"now" (the ``Date`` header of the read, or the local clock for files) is at or after
its last write (``LastModified``, or the file's mtime) plus the record's ``ttl``.
Controllers with skewed clocks therefore agree on it.
"""

from __future__ import annotations

import datetime
import email.utils
import errno
import fcntl
import getpass
import hashlib
import json
import os
import random
import re
import secrets
import socket
import tempfile
import time
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError, S3Error
from ansible_collections.fleetops.release.plugins.module_utils._module import Entry
from ansible_collections.fleetops.release.plugins.module_utils._repo.layout import key_prefix
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import PreconditionFailed, WriteConflict, open_store, s3_url

SCHEMA = 1
DEFAULT_PREFIX = ".fleetops/locks/"
DEFAULT_PATH = "~/.ansible/fleetops/locks"
MAX_RECORD_BYTES = 64 * 1024
MAX_WRITES = 8          # conditional writes one task may attempt
MAX_CONFLICTS = 5       # 409 ConditionalRequestConflict answers one task waits out
FLOCK_TIMEOUT = 30.0    # seconds to wait for another process's sidecar file lock
NAME_RULE = "1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/', no '..')"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")

LOCK_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    project=dict(type="str", required=True),
    environment=dict(type="str", required=True),
    state=dict(type="str", default="acquired", choices=["acquired", "released", "query"]),
    lease=dict(type="dict"),
    run_id=dict(type="str"),
    reason=dict(type="str"),
    user=dict(type="str"),
    owner=dict(type="str"),
    ttl=dict(type="int", default=3600),
    wait=dict(type="int", default=0),
    poll_interval=dict(type="float", default=2.0),
    force=dict(type="bool", default=False),
    out_of_rotation=dict(type="dict"),
    backend=dict(type="str", choices=["s3", "file"]),
    bucket=dict(type="str"),
    prefix=dict(type="str", default=DEFAULT_PREFIX),
    path=dict(type="path", default=DEFAULT_PATH),
)
LOCK_REQUIRED_IF = [("backend", "s3", ("bucket",))]

# Seams for the tests: waiting is the only thing that takes time.
_sleep = time.sleep
_monotonic = time.monotonic
_now = time.time


class LockError(FleetopsError):
    """A lock operation failed; ``result`` holds what the task returns next to the message."""

    def __init__(self, message: str, result: dict | None = None) -> None:
        self.result = result or {}
        super().__init__(message)


class LockHeld(LockError):
    """Somebody else holds the lock (and it has not expired)."""


class LockLost(LockError):
    """The lease given is no longer the holder's: taken over, forced or removed."""


class LockRecordError(LockError):
    """The object or file where the lock lives is not a lock record this code understands."""


class _Refused(Exception):
    """The conditional write's precondition did not hold: the record changed since it was read."""


class _Conflict(Exception):
    """Another conditional write to the same record was in flight (S3 409)."""


# ------------------------------------------------------------------------------ helpers


def iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(int(epoch), tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def name_problem(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be text"
    if not _NAME.fullmatch(value) or ".." in value:
        return "expected " + NAME_RULE
    return None


def validate_name(option: str, value: object) -> str:
    problem = name_problem(value)
    if problem:
        raise LockError("%s %r is not a valid lock name: %s" % (option, value, problem))
    return t.cast(str, value)


def default_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # pylint: disable=broad-except  # no login name and no passwd entry
        return "uid-%d" % os.getuid()


def default_owner(user: str) -> str:
    return "%s@%s pid %d" % (user, socket.gethostname(), os.getppid())


def parse_record(data: bytes, where: str) -> dict:
    """The record in ``data``, checked; LockRecordError naming ``where`` otherwise."""
    def bad(problem: str) -> LockRecordError:
        return LockRecordError(
            "%s is not a fleetops.release lock record (%s); inspect it and remove it or use another location "
            "(removing it restarts the lock's generation at 1)" % (where, problem))

    try:
        record = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise bad("not UTF-8 text") from None
    except ValueError as exc:
        raise bad("not JSON: %s" % getattr(exc, "msg", exc)) from None
    if not isinstance(record, dict):
        raise bad("a JSON %s, not an object" % type(record).__name__)
    if record.get("schema") != SCHEMA:
        raise bad("schema %r, this version reads schema %d" % (record.get("schema"), SCHEMA))
    if record.get("status") not in ("held", "released"):
        raise bad("status %r is neither 'held' nor 'released'" % (record.get("status"),))
    for key in ("generation", "ttl"):
        value = record.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise bad("%s %r is not a positive integer" % (key, value))
    if not isinstance(record.get("token"), str) or not record["token"]:
        raise bad("no token")
    return record


def public(record: dict | None) -> dict | None:
    """A record as results show it: without the lease token."""
    if record is None:
        return None
    return {key: value for key, value in record.items() if key != "token"}


def _released_by_force(record: dict) -> bool:
    by = record.get("released_by")
    return record.get("status") == "released" and isinstance(by, dict) and bool(by.get("forced"))


def describe_holder(record: dict) -> str:
    return "%s (owner %s, run %s)" % (record.get("user") or "an unknown user", record.get("owner") or "unknown",
                                      record.get("run_id") or "not given")


class Snapshot:
    """One read of the record: what it holds, its ETag, the store's clock and its last write."""

    def __init__(self, record: dict | None, etag: str | None, now: float, modified: float | None) -> None:
        self.record = record
        self.etag = etag
        self.now = now
        self.modified = modified

    @property
    def expires_at(self) -> float | None:
        if self.record is None:
            return None
        base = self.modified if self.modified is not None else self.now
        return base + self.record["ttl"]

    @property
    def expired(self) -> bool:
        """The expiry rule: the store's now at or after the last write plus the record's ttl."""
        return self.record is not None and self.now >= t.cast(float, self.expires_at)

    @property
    def held(self) -> bool:
        return self.record is not None and self.record["status"] == "held" and not self.expired


# ------------------------------------------------------------------------------ backends


class S3Backend:
    kind = "s3"

    def __init__(self, store: t.Any, bucket: str, key: str) -> None:
        self.store = store
        self.bucket = bucket
        self.key = key
        self.offset = 0.0  # server clock minus local clock, from the last Date header seen

    @property
    def where(self) -> str:
        return s3_url(self.bucket, self.key)

    def location(self) -> dict:
        return dict(bucket=self.bucket, key=self.key)

    def now(self) -> float:
        return _now() + self.offset

    def _server_time(self, response: dict | None) -> float | None:
        headers = ((response or {}).get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        value = headers.get("date")
        if not value:
            return None
        try:
            when = email.utils.parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None
        self.offset = when - _now()
        return when

    def read(self) -> Snapshot:
        data, response = self.store.get_small(self.bucket, self.key, MAX_RECORD_BYTES)
        now = self._server_time(response)
        if now is None:
            now = self.now()
        if data is None:
            return Snapshot(None, None, now, None)
        if len(data) > MAX_RECORD_BYTES:
            raise LockRecordError("%s is larger than a lock record can be (%d bytes)" % (self.where, MAX_RECORD_BYTES))
        modified = response.get("LastModified")
        return Snapshot(parse_record(data, self.where), response.get("ETag"), now,
                        modified.timestamp() if modified is not None else None)

    def write(self, data: bytes, if_match: str | None) -> tuple[str | None, float]:
        try:
            response = self.store.put_conditional(self.bucket, self.key, data, if_match=if_match)
        except PreconditionFailed:
            raise _Refused() from None
        except WriteConflict:
            raise _Conflict() from None
        when = self._server_time(response)
        return response.get("ETag"), when if when is not None else self.now()


class FileBackend:
    kind = "file"

    def __init__(self, root: str, project: str, environment: str) -> None:
        self.directory = os.path.join(os.path.abspath(os.path.expanduser(root)), project)
        self.path = os.path.join(self.directory, environment + ".json")
        self.guard = self.path + ".lock"

    @property
    def where(self) -> str:
        return self.path

    def location(self) -> dict:
        return dict(path=self.path)

    @staticmethod
    def now() -> float:
        return _now()

    def _fail(self, exc: OSError, what: str, path: str | None = None) -> LockError:
        return LockError("%s: cannot %s: %s" % (path or self.path, what, exc.strerror or exc))

    def _current(self) -> tuple[bytes | None, float | None]:
        try:
            with open(self.path, "rb") as handle:
                data = handle.read(MAX_RECORD_BYTES + 1)
                return data, os.fstat(handle.fileno()).st_mtime
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise self._fail(exc, "read the lock file") from None

    def read(self) -> Snapshot:
        data, modified = self._current()
        now = self.now()
        if data is None:
            return Snapshot(None, None, now, None)
        if len(data) > MAX_RECORD_BYTES:
            raise LockRecordError("%s is larger than a lock record can be (%d bytes)" % (self.path, MAX_RECORD_BYTES))
        return Snapshot(parse_record(data, self.path), hashlib.sha256(data).hexdigest(), now, modified)

    def _flock(self) -> int:
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd = os.open(self.guard, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except OSError as exc:
            raise self._fail(exc, "open the lock guard file", self.guard) from None
        deadline = _monotonic() + FLOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or _monotonic() >= deadline:
                    os.close(fd)
                    raise LockError("%s: another process kept its file lock for more than %d s" % (
                        self.guard, FLOCK_TIMEOUT)) from None
            _sleep(0.01)

    def write(self, data: bytes, if_match: str | None) -> tuple[str, float]:
        fd = self._flock()
        try:
            current, _modified = self._current()
            etag = hashlib.sha256(current).hexdigest() if current is not None else None
            if etag != if_match:
                raise _Refused()
            umask = os.umask(0)
            os.umask(umask)
            handle, temp = tempfile.mkstemp(dir=self.directory, prefix="." + os.path.basename(self.path) + ".", suffix=".tmp")
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                    out.flush()
                    os.fchmod(out.fileno(), 0o666 & ~umask)
                    os.fsync(out.fileno())
                os.rename(temp, self.path)
            except OSError as exc:
                try:
                    os.unlink(temp)
                except OSError:
                    pass
                raise self._fail(exc, "write the lock file") from None
            dir_fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            return hashlib.sha256(data).hexdigest(), os.stat(self.path).st_mtime
        finally:
            os.close(fd)  # releases the flock


def backend_kind(params: dict) -> str:
    """``s3`` or ``file``: the backend option, else ``s3`` when a bucket is given."""
    return params.get("backend") or ("s3" if params.get("bucket") else "file")


def make_backend(params: dict, store_factory: t.Callable[[dict], t.Any] | None) -> S3Backend | FileBackend:
    project = validate_name("project", params["project"])
    environment = validate_name("environment", params["environment"])
    if backend_kind(params) == "s3":
        if not params.get("bucket"):
            raise LockError("backend=s3 needs bucket")
        if store_factory is None:
            raise LockError("backend=s3 needs an S3 client")
        prefix = key_prefix(params.get("prefix"), DEFAULT_PREFIX)
        return S3Backend(store_factory(params), params["bucket"], "%s%s/%s.json" % (prefix, project, environment))
    return FileBackend(params.get("path") or DEFAULT_PATH, project, environment)


# ------------------------------------------------------------------------------ the operations


class Locker:
    """One task's view of one lock: acquire (or renew), release, query."""

    def __init__(self, params: dict, backend: S3Backend | FileBackend, check_mode: bool = False) -> None:
        self.p = params
        self.backend = backend
        self.check_mode = check_mode
        self.project = params["project"]
        self.environment = params["environment"]
        self.name = "%s/%s" % (self.project, self.environment)
        self.user = params.get("user") or default_user()
        self.owner = params.get("owner") or default_owner(self.user)
        self.ttl = int(params.get("ttl") or 3600)
        self.warnings: list[str] = []
        if self.ttl < 1:
            raise LockError("ttl must be at least 1 second, not %d" % self.ttl)
        if int(params.get("wait") or 0) < 0:
            raise LockError("wait must not be negative")
        if float(params.get("poll_interval") or 2.0) <= 0:
            raise LockError("poll_interval must be more than 0")
        self.lease = self._check_lease(params.get("lease"))

    # -- the lease a caller passes back ------------------------------------------------
    def _check_lease(self, lease: dict | None) -> dict | None:
        if not lease:
            return None
        if not isinstance(lease.get("token"), str) or not isinstance(lease.get("generation"), int):
            raise LockError("lease is not what release_lock returned under 'lease' (no token or generation)")
        mine = dict(self.backend.location(), backend=self.backend.kind)
        theirs = {key: lease.get(key) for key in mine}
        if theirs != mine:
            raise LockError("the lease is for %s, not for %s (%s): pass the lease of this project and environment" % (
                lease.get("lock_id") or theirs, self.name, self.backend.where))
        if lease.get("check_mode") and not self.check_mode:
            raise LockError("the lease of %s comes from a check-mode run, which acquired nothing" % self.name)
        return lease

    # -- results -----------------------------------------------------------------------
    def lock_id(self, generation: int) -> str:
        if self.backend.kind == "s3":
            return "%s#%d" % (self.backend.where, generation)
        return "file://%s#%d" % (self.backend.where, generation)

    def _lease_for(self, record: dict, etag: str | None, expires: float) -> dict:
        return dict(self.backend.location(), backend=self.backend.kind, project=self.project,
                    environment=self.environment, etag=etag, token=record["token"], generation=record["generation"],
                    expires=iso(expires), lock_id=self.lock_id(record["generation"]), check_mode=self.check_mode)

    def _held_message(self, snap: Snapshot, waited: float | None) -> str:
        record = t.cast(dict, snap.record)
        left = max(0, int(t.cast(float, snap.expires_at) - snap.now))
        return ("release lock %s is held by %s since %s, reason: %s; it expires at %s (in %d s) unless renewed%s. "
                "Wait for it (option wait, in seconds) or break it with force=true. [%s, generation %d]" % (
                    self.name, describe_holder(record), record.get("since") or "an unknown time",
                    record.get("reason") or "none given", iso(snap.expires_at), left,
                    "" if waited is None else " (waited %d s)" % waited, self.backend.where, record["generation"]))

    def _held(self, snap: Snapshot, waited: float | None) -> LockHeld:
        return LockHeld(self._held_message(snap, waited), dict(
            acquired=False, holder=public(snap.record), generation=t.cast(dict, snap.record)["generation"],
            expires=iso(snap.expires_at)))

    def _lost(self, snap: Snapshot, doing: str) -> LockLost:
        lease = t.cast(dict, self.lease)
        record = snap.record
        if record is None:
            now = "the lock record %s is gone (removed by hand?)" % self.backend.where
        else:
            how = ""
            if record.get("forced_from"):
                how = ", broken with force"
            elif record["generation"] > lease["generation"]:
                how = ", taken over after your lease expired or was released"
            state = "now held by" if record["status"] == "held" else "now released; last held by"
            now = "%s %s since %s (generation %d%s)" % (state, describe_holder(record), record.get("since"),
                                                        record["generation"], how)
        return LockLost("cannot %s release lock %s: lost the lock (your lease, generation %d): %s. Their lease is left "
                        "untouched." % (doing, self.name, lease["generation"], now), dict(
                            acquired=False, holder=public(record), generation=record["generation"] if record else None))

    # -- writing -----------------------------------------------------------------------
    def _serialise(self, record: dict) -> bytes:
        return (json.dumps(record, indent=2, sort_keys=True) + "\n").encode("utf-8")

    def _new_record(self, token: str, generation: int, now: float, forced_from: dict | None) -> dict:
        record = dict(schema=SCHEMA, project=self.project, environment=self.environment, status="held",
                      generation=generation, token=token, owner=self.owner, user=self.user,
                      run_id=self.p.get("run_id"), reason=self.p.get("reason"), ttl=self.ttl,
                      since=iso(now), renewed=iso(now), expires=iso(now + self.ttl))
        if forced_from is not None:
            record["forced_from"] = forced_from
        record["out_of_rotation"] = self._out_of_rotation() or {}
        return record

    def _out_of_rotation(self) -> dict | None:
        """What the holder's run has taken out of load balancers and not yet put back: host -> membership indexes.

        Kept in the record so that whoever takes over after the run died can put those back (see the deploy role).
        None when the task did not say (a renew then keeps what the record had).
        """
        value = self.p.get("out_of_rotation")
        if value is None:
            return None
        out = {}
        for host, indexes in value.items():
            if not isinstance(indexes, list) or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in indexes):
                raise LockError("out_of_rotation[%s] must be a list of membership indexes (0, 1, ...), not %r" % (host, indexes))
            if indexes:
                out[str(host)] = sorted(set(indexes))
        return out

    def _attempt(self, counts: dict, record: dict, if_match: str | None) -> tuple[str | None, float] | None:
        """One conditional write; None when the record must be read again (refused, conflict, unsure)."""
        counts["writes"] += 1
        if counts["writes"] > MAX_WRITES:
            if counts.get("unsure"):
                raise LockError("%s: gave up after %d conditional writes on release lock %s; the last failed with: %s"
                                % (self.backend.where, MAX_WRITES, self.name, counts["unsure"]))
            raise LockError("%s: gave up after %d conditional writes on release lock %s; the record keeps changing"
                            % (self.backend.where, MAX_WRITES, self.name))
        try:
            return self.backend.write(self._serialise(record), if_match)
        except _Refused:
            return None
        except _Conflict:
            counts["conflicts"] += 1
            if counts["conflicts"] > MAX_CONFLICTS:
                raise LockError("%s: S3 answered 409 ConditionalRequestConflict %d times in a row; try again later"
                                % (self.backend.where, counts["conflicts"])) from None
            _sleep(min(3.0, 0.1 * 2 ** counts["conflicts"]) * (0.5 + random.random()))  # nosec: jitter, not crypto
            return None
        except S3Error as exc:
            if not exc.transient:
                raise
            # Unsure whether the write was committed (a timeout or a lost connection after the server took it):
            # read again; the record tells.
            counts["unsure"] = str(exc)
            return None

    # -- acquire or renew --------------------------------------------------------------
    def acquire(self) -> dict:
        force = bool(self.p.get("force"))
        wait = int(self.p.get("wait") or 0)
        poll = float(self.p.get("poll_interval") or 2.0)
        started = _monotonic()
        token = secrets.token_hex(16)
        counts: dict[str, t.Any] = dict(writes=0, conflicts=0, previous=(None, None))
        waited = False
        while True:
            snap = self.backend.read()
            record = snap.record
            if record is not None and record["token"] == token:
                # Our own write, committed although its answer was lost (timeout, or 412 on the retry).
                return self._acquired(record, snap.etag, t.cast(float, snap.expires_at), counts["previous"])
            if self.lease is not None and self.lease.get("check_mode"):
                # Check mode, after a check-mode acquire: the real run would renew what it acquired.
                expires = self.backend.now() + self.ttl
                return dict(changed=True, acquired=True, renewed=True, forced=False, lock_id=self.lease.get("lock_id"),
                            generation=self.lease["generation"], lease=dict(self.lease, expires=iso(expires)),
                            holder=None, previous=None, expires=iso(expires))
            mine = self.lease is not None and record is not None and record["token"] == self.lease["token"]
            if mine and t.cast(dict, record)["status"] == "held":
                result = self._renew(snap, counts)
                if result is None:
                    continue
                return result
            if self.lease is not None and not mine:
                raise self._lost(snap, "renew")
            if mine and _released_by_force(t.cast(dict, record)):
                # Somebody released our lease with force: we lost it, and must not quietly take a new one.
                raise self._lost(snap, "renew")
            previous = None
            forced_from = None
            if record is None:
                generation = 1
            elif record["status"] == "released" or snap.expired:
                generation = record["generation"] + 1
                previous = dict(public(record), expired=record["status"] == "held", released=record["status"] == "released",
                                forced=False)
            elif force:
                generation = record["generation"] + 1
                previous = dict(public(record), expired=False, released=False, forced=True)
                forced_from = {key: record.get(key) for key in ("user", "owner", "run_id", "reason", "since", "generation")}
                forced_from["expires"] = iso(snap.expires_at)
            else:
                elapsed = _monotonic() - started
                if elapsed < wait:
                    waited = True
                    _sleep(max(0.0, min(poll, wait - elapsed)))
                    continue
                raise self._held(snap, elapsed if waited else None)
            new = self._new_record(token, generation, self.backend.now(), forced_from)
            if record is not None and record["status"] == "held" and record.get("out_of_rotation") and self.p.get("out_of_rotation") is None:
                # The run we take over from died with hosts out of rotation: keep the note until this run puts them back.
                new["out_of_rotation"] = record["out_of_rotation"]
            counts["previous"] = (previous, snap)
            if self.check_mode:
                return self._acquired(new, None, self.backend.now() + self.ttl, (previous, snap))
            written = self._attempt(counts, new, snap.etag)
            if written is not None:
                return self._acquired(new, written[0], written[1] + self.ttl, (previous, snap))

    def _acquired(self, record: dict, etag: str | None, expires: float, previous_snap: tuple) -> dict:
        previous, snap = previous_snap
        if previous is not None:
            holder = describe_holder(previous)
            if previous["forced"]:
                reason = previous.get("reason") or "none given"
                self.warnings.append(
                    "force=true broke release lock %s held by %s since %s, reason: %s; it would have expired at %s. "
                    "This run now holds generation %d." % (
                        self.name, holder, previous.get("since"), reason, iso(snap.expires_at), record["generation"]))
            elif previous["expired"]:
                self.warnings.append(
                    "took over release lock %s from %s, whose lease expired at %s without being renewed or released "
                    "(did that run die?)" % (self.name, holder, iso(snap.expires_at)))
        return dict(changed=True, acquired=True, renewed=False, forced=bool(previous and previous["forced"]),
                    lock_id=self.lock_id(record["generation"]), generation=record["generation"],
                    lease=self._lease_for(record, etag, expires), holder=public(record), previous=previous,
                    expires=iso(expires))

    def _renew(self, snap: Snapshot, counts: dict) -> dict | None:
        record = t.cast(dict, snap.record)
        now = self.backend.now()
        if snap.expired:
            self.warnings.append("the lease on release lock %s had expired at %s; nobody took it over, so it is renewed"
                                 % (self.name, iso(snap.expires_at)))
        renewed = dict(record, renewed=iso(now), expires=iso(now + self.ttl), ttl=self.ttl)
        out = self._out_of_rotation()
        if out is not None:
            renewed["out_of_rotation"] = out
        expires = now + self.ttl
        if not self.check_mode:
            written = self._attempt(counts, renewed, snap.etag)
            if written is None:
                return None
            etag, expires = written[0], written[1] + self.ttl
        else:
            etag = snap.etag
        return dict(changed=True, acquired=True, renewed=True, forced=False, lock_id=self.lock_id(record["generation"]),
                    generation=record["generation"], lease=self._lease_for(renewed, etag, expires),
                    holder=public(renewed), previous=None, expires=iso(expires))

    # -- release -----------------------------------------------------------------------
    def release(self) -> dict:
        force = bool(self.p.get("force"))
        if self.lease is None and not force:
            raise LockError("state=released of release lock %s needs the lease that acquiring it returned (register the "
                            "acquire task and pass its 'lease'), or force=true to release whoever holds it" % self.name)
        counts = dict(writes=0, conflicts=0)
        mark = dict(user=self.user, owner=self.owner, run_id=self.p.get("run_id"))
        broken: dict | None = None  # the holder our last (unanswered) forced write released
        while True:
            snap = self.backend.read()
            record = snap.record
            base = dict(acquired=False, forced=False, previous=None, lease=None, expires=None)
            if self.lease is not None and self.lease.get("check_mode"):
                # Check mode, after a check-mode acquire: the real run would release what it acquired.
                return dict(base, changed=True, released=True, lock_id=self.lease.get("lock_id"),
                            generation=self.lease["generation"], holder=public(record))
            if record is None:
                self.warnings.append("release lock %s: %s does not exist, nothing to release" % (self.name, self.backend.where))
                return dict(base, changed=False, released=True, lock_id=None, generation=None, holder=None)
            ours = self.lease is not None and record["token"] == self.lease["token"]
            force_released = record["status"] == "released" and _released_by_force(record) and counts["writes"] == 0
            if self.lease is not None and (not ours or force_released):
                raise self._lost(snap, "release")
            base.update(released=True, lock_id=self.lock_id(record["generation"]), generation=record["generation"])
            if record["status"] == "released":
                # Released before (idempotent), or by our own write whose answer was lost.
                by = record.get("released_by")
                mine = isinstance(by, dict) and {key: by.get(key) for key in mark} == mark and counts["writes"] > 0
                if mine and broken is not None:
                    self.warnings.append(self._force_release_warning(broken))
                return dict(base, changed=mine, holder=public(record), forced=bool(mine and broken),
                            previous=broken if mine else None)
            now = self.backend.now()
            released = dict(record, status="released", released_at=iso(now), released_by=dict(mark, forced=not ours))
            previous = None if ours else dict(public(record), expired=snap.expired, released=False, forced=True)
            if not self.check_mode:
                broken = previous
                if self._attempt(counts, released, snap.etag) is None:
                    continue
            if previous is not None:
                self.warnings.append(self._force_release_warning(previous))
            return dict(base, changed=True, holder=public(released), forced=not ours, previous=previous)

    def _force_release_warning(self, previous: dict) -> str:
        return "force=true released release lock %s held by %s since %s, reason: %s" % (
            self.name, describe_holder(previous), previous.get("since"), previous.get("reason") or "none given")

    # -- query -------------------------------------------------------------------------
    def query(self) -> dict:
        snap = self.backend.read()
        record = snap.record
        ours = bool(self.lease and record and record["token"] == self.lease["token"] and snap.held)
        expired = bool(record and record["status"] == "held" and snap.expired)
        return dict(changed=False, acquired=ours, held=snap.held, expired=expired,
                    holder=public(record), generation=record["generation"] if record else None,
                    expires=iso(snap.expires_at) if record and record["status"] == "held" else None,
                    lock_id=None, location=self.backend.where)


def run(params: dict, check_mode: bool, store_factory: t.Callable[[dict], t.Any] | None = None) -> dict:
    """The module's entry point: the result, with ``warnings`` for the module to emit."""
    locker = Locker(params, make_backend(params, store_factory), check_mode)
    state = params.get("state") or "acquired"
    if state == "query":
        result = locker.query()
    elif state == "released":
        result = locker.release()
    else:
        result = locker.acquire()
    result["warnings"] = locker.warnings
    return result


def _module_call(params: dict, check_mode: bool) -> dict:
    """The release_lock module's call: a lock held by somebody else fails the task with the holder's record."""
    try:
        return run(params, check_mode, open_store)
    except LockError as exc:
        return dict(exc.result, failed=True, msg=str(exc), changed=False)


def _stores(params: dict) -> list[dict]:
    return [params] if backend_kind(params) == "s3" else []


RELEASE_LOCK = Entry("release_lock", dict(LOCK_ARGSPEC, **S3_ARGSPEC), _module_call, _stores, required_if=LOCK_REQUIRED_IF)
