# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Webhook delivery with bounded retries, a spool for what could not be delivered, and the
journal of open runs (so that a run killed outright is still reported by the next one).

A webhook URL is a secret (whoever holds it can post to the channel): nothing here puts it in an
exception, a return value or a file. :func:`where` gives the scheme and host for messages.
"""

from __future__ import annotations

import datetime
import email.utils
import errno
import fcntl
import functools
import http.client
import json
import os
import re
import socket
import time
import typing as t
import urllib.error
import urllib.parse

from ansible.module_utils.urls import open_url

# Answers that will never succeed with the same body: kept for a person to look at, not retried.
REJECTED = (400, 413, 422)


def where(url: str) -> str:
    """What may be said about a webhook URL: its scheme and host, never the path or query."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or "?"
        return "%s://%s%s" % (parts.scheme or "?", host, ":%d" % parts.port if parts.port else "")
    except ValueError:
        return "an unparsable URL"


class Delivery:
    __slots__ = ("attempts", "error", "ok", "rejected", "seconds", "status")

    def __init__(self) -> None:
        self.ok = False
        self.status: int | None = None
        self.attempts = 0
        self.error: str | None = None
        self.rejected = False
        self.seconds = 0.0

    def __repr__(self) -> str:
        return "Delivery(ok=%r, status=%r, attempts=%r, error=%r)" % (self.ok, self.status, self.attempts, self.error)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" parses as naive; HTTP dates are GMT
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, when.timestamp() - time.time())


# Slack answers errors with a short code (no_service, invalid_token, channel_is_archived): worth showing.
# Anything else in a body is not repeated: receivers echo the request path, which is the secret.
_ERROR_CODE = re.compile(r"^[A-Za-z_]{1,40}$")


def _body_hint(text: str) -> str:
    text = text.strip()
    return (" " + text) if _ERROR_CODE.match(text) else ""


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> tuple[int, str, str | None]:
    # Redirects are not followed: a redirected webhook is a configuration problem, and following one
    # would send the message somewhere the user did not name.
    try:
        with open_url(url, data=body, method="POST", headers=dict(headers, **{"Content-Type": "application/json"}), timeout=timeout,
                      follow_redirects="none", http_agent="fleetops.release recap_alert") as response:
            return response.status, response.read(2048).decode("utf-8", "replace"), None
    except urllib.error.HTTPError as exc:
        try:
            text = exc.read(2048).decode("utf-8", "replace")
        except OSError:
            text = ""
        retry = exc.headers.get("Retry-After") if exc.headers else None
        return exc.code, text, retry


def deliver(url: str, body: bytes, *, timeout: float = 10.0, deadline: float | None = None, max_attempts: int = 5,
            backoff: float = 1.0, headers: dict[str, str] | None = None, sleep: t.Callable[[float], None] = time.sleep,
            clock: t.Callable[[], float] = time.monotonic, post: t.Callable = _post) -> Delivery:
    """POST body until it is accepted, a permanent answer comes, attempts run out or the deadline passes.

    429 waits for Retry-After; 5xx, timeouts and connection errors back off exponentially (1, 2, 4 s ...);
    any other 4xx is final. Nothing waits past ``deadline`` (a clock() value).
    """
    outcome = Delivery()
    max_attempts = max(1, int(max_attempts))
    timeout = timeout if timeout and timeout > 0 else 10.0
    started = clock()
    deadline = deadline if deadline is not None else started + timeout * max_attempts
    delay = backoff
    while outcome.attempts < max_attempts:
        remaining = deadline - clock()
        if remaining <= 0:
            outcome.error = outcome.error or "no time left"
            break
        outcome.attempts += 1
        wait = delay
        try:
            status, text, retry_after = post(url, body, headers or {}, min(timeout, remaining))
        except (TimeoutError, urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, socket.timeout) or isinstance(exc, socket.timeout) or "timed out" in str(reason):
                outcome.error = "timed out after %.0f s" % min(timeout, remaining)
            elif isinstance(reason, OSError) and reason.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH):
                outcome.error = "connection failed: %s" % (reason.strerror or reason)
            elif isinstance(exc, http.client.HTTPException):
                outcome.error = "not an HTTP answer (%s)" % type(exc).__name__
            elif isinstance(exc, ValueError):
                outcome.error = "not a usable URL"
                outcome.rejected = True
                break
            else:
                outcome.error = "connection failed: %s" % type(reason).__name__
            status = None
        else:
            outcome.status = status
            if 200 <= status < 300:
                outcome.ok, outcome.error = True, None
                break
            outcome.error = "HTTP %d%s" % (status, _body_hint(text))
            if status == 429:
                hinted = _retry_after(retry_after)
                wait = hinted if hinted is not None else delay
            elif status < 500:
                outcome.rejected = status in REJECTED
                break
        if outcome.attempts >= max_attempts:
            break
        if clock() + wait >= deadline:
            outcome.error += "; the next attempt (in %.0f s) would pass the time limit" % wait
            break
        sleep(wait)
        delay = min(delay * 2, 30.0)
    outcome.seconds = clock() - started
    return outcome


def _write_private(path: str, data: dict) -> None:
    tmp = "%s.tmp-%d" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _ensure_dir(path: str) -> str:
    """Create path and any missing parents with mode 0700 (makedirs gives parents the umask's mode)."""
    missing = []
    current = path
    while current and not os.path.isdir(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    for folder in reversed(missing):
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
    return path


def lock_until(fd: int, deadline: float | None, record: bool = False) -> bool:
    """An exclusive lock, polling until ``deadline`` (a time.monotonic() value; None tries once).

    ``record`` takes a POSIX record lock (lockf) instead of a flock: it belongs to the process, so forked
    children (Ansible's workers) do not keep it alive after the process dies.
    """
    while True:
        try:
            if record:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except (BlockingIOError, PermissionError):
            if deadline is None or time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


_SEQUENCE = [0]


class Spool:
    """Messages not yet delivered, one JSON file each, oldest first; never a URL in them.

    ``pending/<sink>/<time>-<run id>-<pid>-<n>.json`` waits for delivery; ``rejected/<sink>/`` keeps what a
    receiver refused as malformed, for a person. A run drains ``pending`` only while it holds the spool lock.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))

    def folder(self, kind: str, sink: str) -> str:
        return os.path.join(self.root, kind, sink)

    def lock(self, deadline: float | None = None) -> t.Any:
        """The spool lock as an open file, or None when another run still holds it at ``deadline``."""
        _ensure_dir(self.root)
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        if lock_until(fd, deadline):
            return os.fdopen(fd, "r+")
        os.close(fd)
        return None

    def add(self, sink: str, run_id: str, payload: dict, error: str | None, rejected: bool = False) -> str:
        folder = _ensure_dir(self.folder("rejected" if rejected else "pending", sink))
        _SEQUENCE[0] += 1
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)
        name = "%s-%s-%d-%d.json" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), safe, os.getpid(), _SEQUENCE[0])
        path = os.path.join(folder, name)
        _write_private(path, dict(run_id=run_id, sink=sink, spooled_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  error=error, payload=payload))
        return path

    @staticmethod
    def note_error(path: str, error: str) -> None:
        """Record why the last attempt failed (shown when the message finally goes out)."""
        try:
            data = Spool.load(path)
        except (OSError, ValueError):
            return
        data["error"] = error
        _write_private(path, data)

    def pending(self, sink: str) -> list[str]:
        folder = self.folder("pending", sink)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except FileNotFoundError:
            return []
        return [os.path.join(folder, n) for n in names]

    @staticmethod
    def load(path: str) -> dict:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)

    @staticmethod
    def done(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def move(self, path: str, sink: str, suffix: str = "") -> str:
        """Move a spooled file to rejected/ (refused by the receiver, or unreadable)."""
        folder = _ensure_dir(self.folder("rejected", sink))
        target = os.path.join(folder, os.path.basename(path) + suffix)
        os.replace(path, target)
        return target

    def quarantine(self, path: str, sink: str) -> str:
        """A spooled file that cannot be read goes aside instead of blocking the queue."""
        return self.move(path, sink, ".unreadable")


def _forget(path: str) -> None:
    Spool.done(path)
    Spool.done(path[:-5] + ".lock")


class Journal:
    """Open runs, so that a run killed outright (SIGKILL, OOM, a crashed controller) is reported by the next one.

    A running playbook holds an exclusive POSIX record lock on ``open/<pid>-<run id>.lock`` for its whole life
    and keeps a snapshot beside it in ``.json``. The kernel drops the lock when the process dies, however it
    dies, and forked workers do not inherit it (a flock would live on in a worker still running a task). A
    later run that can take the lock has found an orphan, and holding the lock while it reports it means
    that no other run can claim the same one. Locks work across PID namespaces and containers sharing the
    directory, where process IDs mean nothing. (Record locks are per process: one process cannot use them
    against itself, which it never needs to.)
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.join(os.path.abspath(os.path.expanduser(root)), "open")
        self.path: str | None = None
        self._lock_fd: int | None = None
        self.closed = False

    def open(self, run_id: str, snapshot: dict) -> None:
        if self.closed:
            return
        _ensure_dir(self.root)
        base = os.path.join(self.root, "%d-%s" % (os.getpid(), "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id)))
        fd = os.open(base + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.lockf(fd, fcntl.LOCK_EX)
        self._lock_fd = fd
        self.path = base + ".json"
        self.update(snapshot)

    def update(self, snapshot: dict) -> None:
        if self.path and not self.closed:
            _write_private(self.path, dict(pid=os.getpid(), updated=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), snapshot=snapshot))

    def close(self) -> None:
        """The run reported: forget it (also stops later updates from re-creating it)."""
        self.closed = True
        if self.path:
            Spool.done(self.path)
            Spool.done(self.path[:-5] + ".lock")
            self.path = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def orphans(self) -> t.Iterator[tuple[dict, t.Callable[[], None]]]:
        """Yield (journal data, done) for each run whose process is gone, holding its lock meanwhile.

        Call ``done()`` after reporting it; without that call the orphan stays for the next run.
        """
        try:
            names = sorted(n for n in os.listdir(self.root) if n.endswith(".json"))
        except FileNotFoundError:
            return
        for name in names:
            path = os.path.join(self.root, name)
            if path == self.path:
                continue
            try:
                fd = os.open(path[:-5] + ".lock", os.O_RDWR)
            except FileNotFoundError:
                # No lock beside it: the owner removed it while finishing, or a write of ours was cut short.
                continue
            try:
                if not lock_until(fd, None, record=True):
                    continue  # alive, or being reported by another run right now
                try:
                    data = Spool.load(path)
                except FileNotFoundError:
                    continue  # reported by another run a moment ago
                except (OSError, ValueError):
                    data = {}
                yield data if isinstance(data, dict) else {}, functools.partial(_forget, path)
            finally:
                os.close(fd)
