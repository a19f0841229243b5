# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The run state of one release on the controller: the one place the per-host steps share what they learn.

Ansible runs each host's step in a forked worker, so the steps cannot share memory. They share one small JSON
file instead, in the playbook process's own temporary directory (it goes when ``ansible-playbook`` ends), read
and rewritten under ``fcntl.flock``. The same lock serialises the load balancer drains of a batch, so that the
capacity guard of each drain counts what the drains before it took out.

What it holds (all plain data):

``batches``
    per serial batch (named by its first host and its size): hosts done and hosts that came out bad.
``halted``
    ``{batch, hosts}`` once a batch had more bad hosts than ``max_fail_percentage`` allows; hosts of later
    batches do not start.
``lease``, ``renewed``
    the release lock's current lease, and the batches whose first step renewed it.
``lock_problem``, ``lock_lost``
    why the lock could not be renewed or noted; no host starts after it.
``out_of_rotation``
    host -> membership indexes this run has taken out of rotation and not yet put back (the lock's note).

Each read or update costs one small file read, whatever the size of the fleet: the stop policy counts the
step's own outcome, it never scans other hosts.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re
import tempfile
import time
import typing as t

SCHEMA = 1
FLOCK_TIMEOUT = 600.0  # a drain may hold the lock for its drain_timeout; past this something is wrong
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class RunStateError(Exception):
    """The run state file could not be read, locked or written (names the file)."""


def empty(run_id: str) -> dict:
    return dict(schema=SCHEMA, run_id=run_id, batches={}, halted=None, lease=None, renewed=[],
                lock_problem=None, lock_lost=False, out_of_rotation={})


def batch_key(batch: t.Sequence[str]) -> str:
    """A serial batch's name: its first host and its size (batches of one play never share both)."""
    return "%s+%d" % (batch[0] if batch else "", len(batch))


def default_root() -> str:
    """The playbook process's own temporary directory (ansible-core's local tmp, created before the workers fork)."""
    try:
        from ansible import constants as C  # pylint: disable=import-outside-toplevel
        root = C.DEFAULT_LOCAL_TMP
    except Exception:  # pylint: disable=broad-except  # outside ansible-playbook (unit tests pass a root)
        root = None
    return root or tempfile.gettempdir()


class RunState:
    """One run's state file (``<root>/fleetops-run-<run_id>.json``)."""

    def __init__(self, run_id: str | None, root: str | None = None) -> None:
        # Without a run id (the role outside the deploy playbook), the playbook process names the run: tasks and
        # lookups run in workers it forked, so their parent is that process.
        self.run_id = str(run_id) if run_id else "playbook-%d" % os.getppid()
        name = _UNSAFE.sub("_", self.run_id)[:120]
        self.path = os.path.join(root or default_root(), "fleetops-run-%s.json" % name)

    def read(self) -> dict:
        """The current state (a new, empty one if no step wrote it yet)."""
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            return empty(self.run_id)
        except OSError as exc:
            raise RunStateError("cannot read the run state %s: %s" % (self.path, exc.strerror or exc)) from None
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RunStateError("the run state %s is not valid JSON (%s)" % (self.path, exc)) from None
        if not isinstance(data, dict) or data.get("schema") != SCHEMA or data.get("run_id") != self.run_id:
            raise RunStateError("the run state %s belongs to another run or version (run_id %r)"
                                % (self.path, data.get("run_id") if isinstance(data, dict) else None))
        base = empty(self.run_id)
        base.update(data)
        return base

    def _write(self, data: dict) -> None:
        directory = os.path.dirname(self.path)
        fd, tmp = tempfile.mkstemp(prefix=".fleetops-run-", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise RunStateError("cannot write the run state %s: %s" % (self.path, exc.strerror or exc)) from None

    @contextlib.contextmanager
    def locked(self, timeout: float = FLOCK_TIMEOUT, clock: t.Callable[[], float] = time.monotonic) -> t.Iterator[dict]:
        """The state under an exclusive lock; what the block changes in the dict is written back when it ends."""
        lock_path = self.path + ".lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise RunStateError("cannot open the run state lock %s: %s" % (lock_path, exc.strerror or exc)) from None
        try:
            deadline = clock() + timeout
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EAGAIN, errno.EACCES):
                        raise RunStateError("cannot lock the run state %s: %s" % (lock_path, exc.strerror)) from None
                    if clock() >= deadline:
                        raise RunStateError("the run state %s stayed locked by another step for %d s" % (lock_path, timeout)) from None
                    time.sleep(0.05)
            data = self.read()
            before = json.dumps(data, sort_keys=True)
            yield data
            if json.dumps(data, sort_keys=True) != before:
                self._write(data)
        finally:
            os.close(fd)  # closing drops the flock


def blocked(state: dict, batch: str, aborted: str | None = None) -> str | None:
    """Why a host of ``batch`` must not start, or None. A halt set by the host's own batch does not stop it."""
    if aborted:
        return "the release was aborted (%s) before this host; nothing on it was changed" % aborted.split(" ")[0]
    if state.get("lock_problem"):
        return "the rollout was stopped because the release lock could not be renewed: %s" % state["lock_problem"]
    halted = state.get("halted")
    if isinstance(halted, dict) and halted.get("batch") != batch:
        return "the rollout was stopped by failures before this host"
    return None


def record(state: dict, batch: str, size: int, host: str, bad: bool, max_fail_percentage: int, hosts: t.Sequence[str] = ()) -> bool:
    """Count one host's outcome in its batch; True when that makes the batch stop the rollout."""
    counts = state["batches"].setdefault(batch, dict(size=size, done=0, bad=0, bad_hosts=[]))
    counts["done"] += 1
    if bad:
        counts["bad"] += 1
        counts["bad_hosts"].append(host)
    if state.get("halted") is None and counts["bad"] * 100 > max_fail_percentage * size:
        state["halted"] = dict(batch=batch, hosts=list(hosts) if hosts else counts["bad_hosts"][:])
        return True
    return False


def summary(state: dict) -> dict:
    """What the report and unlock read: halted, halted_by, lock_problem, lock_lost, lease, out_of_rotation."""
    halted = state.get("halted")
    return dict(halted=bool(halted), halted_by=", ".join(halted.get("hosts") or []) if isinstance(halted, dict) else None,
                lock_problem=state.get("lock_problem"), lock_lost=bool(state.get("lock_lost")), lease=state.get("lease"),
                out_of_rotation=dict(state.get("out_of_rotation") or {}),
                bad=sum(b.get("bad", 0) for b in state.get("batches", {}).values()),
                done=sum(b.get("done", 0) for b in state.get("batches", {}).values()))
