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

import email.utils
import errno
import fcntl
import json
import os
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
    __slots__ = ("ok", "status", "attempts", "error", "rejected", "seconds")

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
    return max(0.0, when.timestamp() - time.time())


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
        except (urllib.error.URLError, OSError, socket.timeout, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, socket.timeout) or isinstance(exc, socket.timeout) or "timed out" in str(reason):
                outcome.error = "timed out after %.0f s" % min(timeout, remaining)
            elif isinstance(reason, OSError) and reason.errno in (errno.ECONNREFUSED, errno.ECONNRESET, errno.EHOSTUNREACH, errno.ENETUNREACH):
                outcome.error = "connection failed: %s" % (reason.strerror or reason)
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
            snippet = " ".join(text.split())[:200]
            outcome.error = "HTTP %d%s" % (status, (" " + snippet) if snippet else "")
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


class Spool:
    """Messages not yet delivered, one JSON file each, oldest first; never a URL in them.

    ``pending/<sink>/<time>-<run id>.json`` waits for the next run; ``rejected/<sink>/`` keeps what a receiver
    refused as malformed, for a person. A lock file serialises runs sharing one spool.
    """

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(os.path.expanduser(root))

    def _dir(self, kind: str, sink: str) -> str:
        return os.path.join(self.root, kind, sink)

    def lock(self) -> t.Any:
        _ensure_dir(self.root)
        handle = open(os.path.join(self.root, ".lock"), "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        except OSError:
            handle.close()
            raise
        return handle

    def add(self, sink: str, run_id: str, payload: dict, error: str | None, rejected: bool = False) -> str:
        folder = _ensure_dir(self._dir("rejected" if rejected else "pending", sink))
        name = "%s-%s.json" % (time.strftime("%Y%m%dT%H%M%S", time.gmtime()), "".join(c if c.isalnum() or c in "-_." else "_" for c in run_id))
        path = os.path.join(folder, name)
        _write_private(path, dict(run_id=run_id, sink=sink, spooled_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                  error=error, payload=payload))
        return path

    def pending(self, sink: str) -> list[str]:
        folder = self._dir("pending", sink)
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

    def quarantine(self, path: str, sink: str) -> str:
        """A spooled file that cannot be read goes aside instead of blocking the queue."""
        folder = _ensure_dir(self._dir("rejected", sink))
        target = os.path.join(folder, os.path.basename(path) + ".unreadable")
        os.replace(path, target)
        return target


def _process_start(pid: int) -> str | None:
    """The kernel's start time of a process, so a reused PID is not taken for our run."""
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as handle:
            stat = handle.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()[19]


class Journal:
    """Open runs: a file per running playbook, removed when it reports; what is left by a dead process
    was killed (SIGKILL, OOM, a crashed controller) and is reported by the next run."""

    def __init__(self, root: str) -> None:
        self.root = os.path.join(os.path.abspath(os.path.expanduser(root)), "open")
        self.pid = os.getpid()
        self.start = _process_start(self.pid)
        self.path: str | None = None

    def open(self, run_id: str, snapshot: dict) -> None:
        _ensure_dir(self.root)
        self.path = os.path.join(self.root, "%d-%s.json" % (self.pid, run_id))
        self.update(snapshot)

    def update(self, snapshot: dict) -> None:
        if self.path:
            _write_private(self.path, dict(pid=self.pid, start=self.start, snapshot=snapshot))

    def close(self) -> None:
        if self.path:
            Spool.done(self.path)
            self.path = None

    def orphans(self) -> list[tuple[str, dict]]:
        """(path, snapshot) of runs whose process is gone."""
        found = []
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        for name in names:
            path = os.path.join(self.root, name)
            if not name.endswith(".json") or path == self.path:
                continue
            try:
                data = Spool.load(path)
                pid = int(data["pid"])
            except (OSError, ValueError, KeyError, TypeError):
                found.append((path, {}))
                continue
            if _process_start(pid) is not None and _process_start(pid) == data.get("start"):
                continue
            found.append((path, data.get("snapshot") or {}))
        return found
