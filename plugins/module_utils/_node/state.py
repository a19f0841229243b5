# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The node state file ``images.yaml``: reading, the status machine, the gate, atomic writes, the lock.

The seed's format (``image: {version: ...}`` and ``status``) stays readable by
the seed's own tools; our extensions follow it.  A missing file means a new
node.  Statuses move only along :data:`TRANSITIONS`; runs use
:meth:`NodeState.transition`, operators :meth:`NodeState.reset` and
:meth:`NodeState.mark_maintain`.  :func:`gate` turns a state into install,
upgrade or skip.  The file is always replaced atomically (temp file in the same
directory, fsync, rename, fsync of the directory) under :class:`NodeLock`.

Standard library only: this file is shipped to managed nodes.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import os
import tempfile
from typing import Iterable

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._node.paths import STATE_FILE
from ansible_collections.fleetops.release.plugins.module_utils._yamlite import YamlLiteError, dumps, loads

DEFAULT_PATH = STATE_FILE  # the node state file's default, owned by _node_paths

BUILDING = "building"
MAINTAIN = "maintain"
FAILURE = "failure"
ACTIVE = "active"
STATUSES = (BUILDING, MAINTAIN, FAILURE, ACTIVE)
"""Every status a file may hold; no file at all means a new node."""

HISTORY_LIMIT = 20
"""How many transitions ``history`` keeps (the newest)."""

HEADER = "# fleetops.release node state; written atomically, edit with the node_state module"

RUN = "run"
RESET = "reset"
MARK_MAINTAIN = "mark_maintain"
MARK_FAILED = "mark_failed"

TRANSITIONS = {
    (None, BUILDING): (RUN,),
    (BUILDING, ACTIVE): (RUN,),
    (BUILDING, FAILURE): (RUN, MARK_FAILED),
    (ACTIVE, MAINTAIN): (RUN, MARK_MAINTAIN),
    (MAINTAIN, ACTIVE): (RUN,),
    (MAINTAIN, FAILURE): (RUN, MARK_FAILED),
    (FAILURE, ACTIVE): (RESET,),
    (FAILURE, MAINTAIN): (MARK_MAINTAIN,),
}
"""Allowed ``(from, to)`` pairs (``from`` None: no file yet) and who may take them:
:data:`RUN` (:meth:`NodeState.transition`), :data:`RESET` (:meth:`NodeState.reset`) or
:data:`MARK_MAINTAIN` (:meth:`NodeState.mark_maintain`) or :data:`MARK_FAILED` (:meth:`NodeState.mark_failed`,
for a node a killed run left in building or maintain)."""

INSTALL = "install"
UPGRADE = "upgrade"
SKIP = "skip"

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_BACKUP_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
_KEYS = ("image", "status", "project", "modules", "updated_at", "last_error", "history", "run_id", "started_at")
_HISTORY_KEYS = ("at", "run_id", "from", "to", "version", "reason")
_OPERATOR_PATHS = {RESET: "by operator reset", MARK_MAINTAIN: "by operator mark_maintain", MARK_FAILED: "by operator mark_failed"}


class TransitionError(FleetopsError):
    """A status change that :data:`TRANSITIONS` (or the operator rules) do not allow."""

    def __init__(self, path: str, current: str | None, requested: str, detail: str) -> None:
        self.path = path
        self.current = current
        self.requested = requested
        super().__init__("%s: cannot go from %s to %s (%s)" % (path, _status_name(current), requested, detail))


class StateWriteError(FleetopsError):
    """The state file (or its corrupt backup) could not be written; the old file is untouched."""


class LockedError(FleetopsError):
    """Another run holds the node lock."""

    def __init__(self, lock_path: str, pid: int | None) -> None:
        self.lock_path = lock_path
        self.pid = pid
        super().__init__("another fleetops run holds %s (pid %s)" % (lock_path, "unknown" if pid is None else pid))


def _status_name(status: str | None) -> str:
    return "new node" if status is None else status


def _utc(now: datetime.datetime | None) -> datetime.datetime:
    """``now`` (naive values are taken as UTC) or the current time, in UTC."""
    if now is None:
        return datetime.datetime.now(datetime.timezone.utc)
    if now.tzinfo is None:
        return now.replace(tzinfo=datetime.timezone.utc)
    return now.astimezone(datetime.timezone.utc)


def format_time(now: datetime.datetime | None = None) -> str:
    """``now`` (default: the current time) as ``YYYY-MM-DDTHH:MM:SSZ``."""
    return _utc(now).strftime(TIME_FORMAT)


def parse_time(text: object) -> datetime.datetime | None:
    """An aware UTC datetime from ``YYYY-MM-DDTHH:MM:SSZ``, or None when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except ValueError:
        return None


def _os_error_text(exc: OSError) -> str:
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc)
    return "%s [%s]" % (text, name) if name else text


def _describe(value: object) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a sequence"
    if value is None:
        return "null"
    return "the scalar %r" % (value,)


def _allowed_from(current: str | None) -> str:
    """Human list of where ``current`` may go, e.g. ``active by operator reset``."""
    choices = []
    for (source, target), paths in TRANSITIONS.items():
        if source != current:
            continue
        operator = [_OPERATOR_PATHS[path] for path in paths if path != RUN]
        if RUN not in paths:
            choices.extend("%s %s" % (target, how) for how in operator)
        elif operator:
            choices.append("%s (also %s)" % (target, " or ".join(operator)))
        else:
            choices.append(target)
    return "allowed from %s: %s" % (_status_name(current), ", ".join(choices) if choices else "nothing")


class NodeState:
    """The content of images.yaml, as plain attributes.

    ``path`` only labels messages.  ``status`` None means a new node that has
    not been written yet.  ``history`` holds dicts with the keys ``at``,
    ``run_id``, ``from``, ``to``, ``version`` and ``reason``.
    """

    def __init__(self, path: str = DEFAULT_PATH) -> None:
        self.path = path
        self.image_version: str | None = None
        self.status: str | None = None
        self.project: str | None = None
        self.modules: dict = {}
        self.updated_at: str | None = None
        self.last_error: str | None = None
        self.history: list = []
        self.run_id: str | None = None
        self.started_at: str | None = None

    def __repr__(self) -> str:
        return "NodeState(%r, status=%r, version=%r)" % (self.path, self.status, self.image_version)

    def to_dict(self) -> dict:
        """The file's content, in the order it is written."""
        return {
            "image": {"version": self.image_version},
            "status": self.status,
            "project": self.project,
            "modules": dict(self.modules),
            "updated_at": self.updated_at,
            "last_error": self.last_error,
            "history": [dict(entry) for entry in self.history],
            "run_id": self.run_id,
            "started_at": self.started_at,
        }

    def _move(self, to: str, path: str, run_id: str | None, version: str | None, reason: str | None,
              error: str | None, now: datetime.datetime | None) -> None:
        if to not in STATUSES:
            raise ValueError("unknown status %r (expected one of %s)" % (to, ", ".join(STATUSES)))
        if path not in TRANSITIONS.get((self.status, to), ()):
            raise TransitionError(self.path, self.status, to, _allowed_from(self.status))
        stamp = format_time(now)
        self.history.append({"at": stamp, "run_id": run_id, "from": self.status, "to": to, "version": version, "reason": reason})
        del self.history[:-HISTORY_LIMIT]
        self.status = to
        self.updated_at = stamp
        self.run_id = run_id
        self.started_at = stamp if to in (BUILDING, MAINTAIN) else None
        if to == FAILURE:
            self.last_error = error or reason or "failed without an error message"
        elif to == ACTIVE:
            self.last_error = None
            if version is not None:
                self.image_version = version

    def transition(self, to: str, run_id: str | None, version: str | None = None, reason: str | None = None,
                   error: str | None = None, now: datetime.datetime | None = None) -> None:
        """Move to ``to`` as a run does; raises :class:`TransitionError` when not allowed.

        Appends a history entry (``version`` is the target version; only entering
        ``active`` with a version changes ``image.version``), sets ``updated_at``,
        ``run_id`` and ``started_at`` (set on entering building/maintain, else
        cleared), sets ``last_error`` on failure (``error``, else ``reason``) and
        clears it on active.
        """
        self._move(to, RUN, run_id, version, reason, error, now)

    def _operator(self, to: str, path: str, reason: object, run_id: str | None, version: str | None,
                  now: datetime.datetime | None) -> None:
        if not isinstance(reason, str) or not reason.strip():
            raise TransitionError(self.path, self.status, to, "an operator %s needs a non-empty reason" % path.replace("_", " "))
        if version is not None:
            self.image_version = version
        self._move(to, path, run_id, self.image_version, reason.strip(), None, now)

    def reset(self, reason: str, run_id: str | None, version: str | None = None, now: datetime.datetime | None = None) -> None:
        """Operator reset of a failed node to ``active`` (optionally declaring its ``version``)."""
        if self.status != FAILURE and isinstance(reason, str) and reason.strip():
            raise TransitionError(self.path, self.status, ACTIVE, "an operator reset applies only to a node in failure")
        self._operator(ACTIVE, RESET, reason, run_id, version, now)

    def mark_maintain(self, reason: str, run_id: str | None, now: datetime.datetime | None = None) -> None:
        """Operator marks an active or failed node as under maintenance."""
        self._operator(MAINTAIN, MARK_MAINTAIN, reason, run_id, None, now)

    def mark_failed(self, reason: str, run_id: str | None, now: datetime.datetime | None = None) -> None:
        """Operator declares a node stuck in building or maintain (a killed run) failed, so it can be reset."""
        self._operator(FAILURE, MARK_FAILED, reason, run_id, None, now)


class LoadResult:
    """What :func:`load` found: ``state`` (None when the file is absent or unusable),
    ``problem`` (None, or why the file is unusable) and ``ignored_keys`` (keys that
    were unknown or held an unusable value and were left out)."""

    def __init__(self, path: str, state: NodeState | None = None, problem: str | None = None,
                 ignored_keys: list | None = None) -> None:
        self.path = path
        self.state = state
        self.problem = problem
        self.ignored_keys = ignored_keys or []

    @property
    def absent(self) -> bool:
        """True when there was no file at all (a new node)."""
        return self.state is None and self.problem is None

    def __repr__(self) -> str:
        return "LoadResult(%r, state=%r, problem=%r, ignored_keys=%r)" % (self.path, self.state, self.problem, self.ignored_keys)


def _optional_text(data: dict, key: str, ignored: list) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    ignored.append(key)
    return None


def _optional_time(data: dict, key: str, ignored: list) -> str | None:
    value = _optional_text(data, key, ignored)
    if value is not None and parse_time(value) is None:
        ignored.append(key)
        return None
    return value


def _history(value: object, ignored: list) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        ignored.append("history")
        return []
    entries = []
    for index, item in enumerate(value):
        where = "history[%d]" % index
        if not isinstance(item, dict) or not all(item.get(key) is None or isinstance(item.get(key), str) for key in _HISTORY_KEYS):
            ignored.append(where)
            continue
        ignored.extend("%s.%s" % (where, key) for key in item if key not in _HISTORY_KEYS)
        entries.append({key: item.get(key) for key in _HISTORY_KEYS})
    return entries[-HISTORY_LIMIT:]


def _problem(data: object) -> str | None:
    """Why a parsed document cannot be a node state, or None."""
    if not isinstance(data, dict):
        return "not a mapping (found %s)" % _describe(data)
    if data.get("status") is None:
        return "status is missing"
    if data["status"] not in STATUSES:
        return "unknown status %s (expected one of %s)" % (
            repr(data["status"]) if isinstance(data["status"], str) else _describe(data["status"]), ", ".join(STATUSES))
    image = data.get("image")
    if image is not None and not isinstance(image, dict):
        return "image is not a mapping (found %s)" % _describe(image)
    version = (image or {}).get("version")
    if version is not None and not isinstance(version, str):
        return "image.version is not a string (found %s)" % _describe(version)
    modules = data.get("modules")
    if modules is not None and not isinstance(modules, dict):
        return "modules is not a mapping of module name to version (found %s)" % _describe(modules)
    for name, module_version in (modules or {}).items():
        if not isinstance(module_version, str):
            return "modules: version of %r is not a string (found %s)" % (name, _describe(module_version))
    return None


def _from_dict(data: dict, path: str) -> tuple:
    """A NodeState and the list of ignored keys from a checked document."""
    ignored = [key for key in data if key not in _KEYS]
    image = data.get("image") or {}
    ignored.extend("image.%s" % key for key in image if key != "version")
    state = NodeState(path)
    state.image_version = image.get("version")
    state.status = data["status"]
    state.project = _optional_text(data, "project", ignored)
    state.modules = dict(data.get("modules") or {})
    state.updated_at = _optional_time(data, "updated_at", ignored)
    state.last_error = _optional_text(data, "last_error", ignored)
    state.history = _history(data.get("history"), ignored)
    state.run_id = _optional_text(data, "run_id", ignored)
    state.started_at = _optional_time(data, "started_at", ignored)
    return state, ignored


def load(path: str, source_label: str | None = None) -> LoadResult:
    """Read the state file at ``path``; ``source_label`` (default ``path``) names it in messages.

    Absent file: ``state`` and ``problem`` both None.  Unusable file: ``state``
    None and ``problem`` says why.  Unknown keys are ignored and listed in
    ``ignored_keys``.  Other read errors (permissions, ...) raise ``OSError``.
    """
    label = source_label or path
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except FileNotFoundError:
        return LoadResult(label)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LoadResult(label, problem="not UTF-8 text (byte %d)" % exc.start)
    if not text.strip():
        return LoadResult(label, problem="empty file")
    try:
        data = loads(text, label)
    except YamlLiteError as exc:
        return LoadResult(label, problem="unparsable at line %d: %s" % (exc.line, exc.message))
    if data is None:
        return LoadResult(label, problem="empty file (comments only)")
    problem = _problem(data)
    if problem is not None:
        return LoadResult(label, problem=problem)
    state, ignored = _from_dict(data, label)
    return LoadResult(label, state=state, ignored_keys=ignored)


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str, text: str, mode: int = 0o644) -> None:
    """Replace ``path`` with ``text`` (UTF-8) atomically and durably.

    A temp file in the same directory is written, flushed, fsynced and chmodded,
    renamed over ``path``, then the directory is fsynced.  Never influenced by
    ``ANSIBLE_UNSAFE_WRITES``.  On failure the temp file is removed, the old file
    is left untouched and :class:`StateWriteError` names the path and OS error.
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    except OSError as exc:
        raise StateWriteError("cannot write %s: cannot create a temporary file in %s: %s" % (path, directory, _os_error_text(exc))) from exc
    renamed = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(text.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.rename(temp, path)
        renamed = True
        _fsync_directory(directory)
    except OSError as exc:
        if renamed:
            raise StateWriteError("%s was replaced, but syncing its directory failed: %s" % (path, _os_error_text(exc))) from exc
        raise StateWriteError("cannot write %s: %s" % (path, _os_error_text(exc))) from exc
    finally:
        if not renamed:
            try:
                os.unlink(temp)
            except OSError:
                pass


def render(state: NodeState) -> str:
    """The text :func:`save` writes: the header line, then the state as YAML."""
    if state.status not in STATUSES:
        raise ValueError("%s: refusing to write a state without a valid status (%r)" % (state.path, state.status))
    return "%s\n%s" % (HEADER, dumps(state.to_dict()))


def save(path: str, state: NodeState) -> None:
    """Write ``state`` to ``path`` with :func:`write_atomic`."""
    write_atomic(path, render(state))


def backup_corrupt(path: str, now: datetime.datetime | None = None) -> str:
    """Rename an unusable state file to ``<path>.corrupt-<YYYYMMDDTHHMMSSZ>`` and return that name.

    An existing backup is never overwritten: ``.1``, ``.2``, ... is appended instead.
    """
    base = "%s.corrupt-%s" % (path, _utc(now).strftime(_BACKUP_TIME_FORMAT))
    counter = 0
    while True:
        candidate = base if counter == 0 else "%s.%d" % (base, counter)
        counter += 1
        try:
            os.link(path, candidate)
        except FileExistsError:
            continue
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK, errno.EXDEV):
                raise StateWriteError("cannot back up %s: %s" % (path, _os_error_text(exc))) from exc
            if os.path.lexists(candidate):  # no hard links on this filesystem: check, then rename
                continue
            try:
                os.rename(path, candidate)
            except OSError as rename_exc:
                raise StateWriteError("cannot back up %s: %s" % (path, _os_error_text(rename_exc))) from rename_exc
            return candidate
        try:
            os.unlink(path)
            _fsync_directory(os.path.dirname(os.path.abspath(path)))
        except OSError as exc:
            raise StateWriteError("cannot back up %s: %s" % (path, _os_error_text(exc))) from exc
        return candidate


class Decision:
    """What :func:`gate` decided: ``action`` (install, upgrade or skip), ``reason`` and ``message``.

    ``reason`` is one of: new node, upgradable, up to date, not eligible, failed,
    in progress, stale in progress, corrupt.
    """

    def __init__(self, action: str, reason: str, message: str) -> None:
        self.action = action
        self.reason = reason
        self.message = message

    def __repr__(self) -> str:
        return "Decision(%r, %r, %r)" % (self.action, self.reason, self.message)


def _in_progress(state: NodeState, stale_after_seconds: float, now: datetime.datetime | None) -> Decision:
    since_text = state.started_at or state.updated_at
    since = parse_time(since_text)
    run = state.run_id or "unknown"
    if since is None:
        return Decision(SKIP, "stale in progress", "%s: status %s since an unknown time (run %s); treating it as stale: check the node"
                        % (state.path, state.status, run))
    age = (_utc(now) - since).total_seconds()
    if age > stale_after_seconds:
        return Decision(SKIP, "stale in progress", "%s: status %s since %s (run %s), %d s ago, longer than %s s: the run may have died;"
                        " check the node" % (state.path, state.status, since_text, run, age, stale_after_seconds))
    return Decision(SKIP, "in progress", "%s: status %s since %s (run %s)" % (state.path, state.status, since_text, run))


def gate(state: NodeState | LoadResult | None, target_version: str, upgradable: Iterable[str], stale_after_seconds: float,
         now: datetime.datetime | None = None) -> Decision:
    """Decide install, upgrade or skip for ``target_version``.

    ``state`` is a NodeState, None (no file: a new node) or a LoadResult (an
    unusable file gives ``corrupt``; what to do then is the caller's policy).
    ``upgradable`` lists the node versions that may be upgraded.
    """
    if isinstance(state, LoadResult):
        if state.problem is not None:
            return Decision(SKIP, "corrupt", "%s: unusable node state: %s" % (state.path, state.problem))
        state = state.state
    if state is None or state.status is None:
        return Decision(INSTALL, "new node", "no node state: install %s" % target_version)
    current = state.image_version
    if state.status == ACTIVE:
        allowed = list(upgradable)
        if current == target_version:
            return Decision(SKIP, "up to date", "%s: already active on %s" % (state.path, target_version))
        if current is not None and current in allowed:
            return Decision(UPGRADE, "upgradable", "%s: upgrade from %s to %s" % (state.path, current, target_version))
        return Decision(SKIP, "not eligible", "%s: active on %s, which is not in the upgradable set (%s) of %s" % (
            state.path, "an unknown version" if current is None else current, ", ".join(allowed) or "empty", target_version))
    if state.status == FAILURE:
        return Decision(SKIP, "failed", "%s: node is in failure (run %s at %s): %s; fix it, then reset it with the node_state module" % (
            state.path, state.run_id or "unknown", state.updated_at or "an unknown time", state.last_error or "no error recorded"))
    return _in_progress(state, stale_after_seconds, now)


class NodeLock:
    """Exclusive, non-blocking ``flock`` on ``<state path>.lock``, as a context manager.

    The holder's pid is written into the lock file; a second holder gets
    :class:`LockedError` naming it.  The lock file is left in place on release.
    """

    def __init__(self, path: str) -> None:
        self.path = path + ".lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise FleetopsError("cannot open the lock file %s: %s" % (self.path, _os_error_text(exc))) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _read_pid(fd)
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise LockedError(self.path, holder) from None
            raise FleetopsError("cannot lock %s: %s" % (self.path, _os_error_text(exc))) from exc
        self._fd = fd
        try:
            os.ftruncate(fd, 0)
            os.write(fd, ("%d\n" % os.getpid()).encode("ascii"))
        except OSError:
            pass  # the pid only words the "held by" message; a full disk must not stop the lock

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # closing the last descriptor releases the flock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> NodeLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _read_pid(fd: int) -> int | None:
    try:
        raw = os.pread(fd, 64, 0)
    except OSError:
        return None
    text = raw.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None
