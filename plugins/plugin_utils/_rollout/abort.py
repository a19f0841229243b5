# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Graceful abort of a release: the first Ctrl-C or SIGTERM asks, the second one stops.

While a run holds a release lock (a ``release_lock`` result said ``acquired``), the first SIGINT or
SIGTERM that reaches ansible-playbook is not handed to Ansible. It is recorded here instead, and
published as the environment variable ``FLEETOPS_ABORT_REQUESTED`` (``<signal> <ISO time>``), which
every worker Ansible forks from then on inherits. The deploy role reads it:

- a host that has not started ends before anything touches it (``meta: end_host``);
- a host that was drained but not yet released is put back without a release;
- a host in the middle of its release finishes, is health-checked and put back where healthy;

then the report play releases the lock and fails the run as ``aborted``. A second signal is handed
to Ansible as usual: the run stops at once, the callbacks report it interrupted, and the lock stays
until its expiry (which they report).

State is per process (module globals): recap_alert and audit import this same module, so whichever
callback's signal handler runs first decides, and both see the decision.
"""

from __future__ import annotations

import datetime
import os

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runstate import default_root

ENV = "FLEETOPS_ABORT_REQUESTED"
_STATE: dict = {"pid": None, "lock": None, "requested_by": None, "requested_at": None, "marker": None}

NOTICE = ("\nfleetops: abort requested (%s): hosts that have not started stay untouched, hosts in progress finish and go back "
          "into their load balancers, then the release lock is released. Send it again to stop at once (the lock then "
          "stays until it expires).\n")


def reset() -> None:
    """A new playbook run in this process: forget earlier requests, clear an inherited variable."""
    _STATE.update(pid=os.getpid(), lock=None, requested_by=None, requested_at=None)
    os.environ.pop(ENV, None)
    try:
        os.unlink(marker_path())
    except OSError:
        pass


def arm(lock: dict) -> None:
    """This run now holds a release lock: the next SIGINT/SIGTERM asks for a graceful abort."""
    _STATE.update(pid=os.getpid(), lock=dict(lock), marker=marker_path())


def disarm() -> None:
    _STATE["lock"] = None


def armed() -> bool:
    return bool(_STATE["lock"]) and _STATE["pid"] == os.getpid()


def request(signal_name: str) -> bool:
    """Called from a signal handler. True when this signal became a graceful abort request.

    False when nothing is armed, or when an abort was already requested (the second signal stops).
    Only async-signal-tolerant work here: dict updates, putenv, one write(2).
    """
    if not armed() or _STATE["requested_by"]:
        return False
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    _STATE.update(requested_by=signal_name, requested_at=now.strftime("%Y-%m-%dT%H:%M:%SZ"))
    os.environ[ENV] = "%s %s" % (signal_name, _STATE["requested_at"])
    try:
        os.write(2, (NOTICE % signal_name).encode())
    except OSError:
        pass
    # Workers already running (a host's release step) forked before the variable was set: they read this file.
    try:
        fd = os.open(_STATE["marker"] or marker_path(), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, os.environ[ENV].encode())
        finally:
            os.close(fd)
    except OSError:
        pass
    return True


def marker_path() -> str:
    """The file an abort request is also written to, in the playbook process's own temporary directory."""
    return os.path.join(default_root(), "fleetops-abort-requested")


def current() -> str | None:
    """The abort request ("<signal> <ISO time>") as any process of this run sees it: the variable, else the file."""
    value = os.environ.get(ENV)
    if value:
        return value
    try:
        with open(marker_path(), encoding="utf-8") as handle:
            return handle.read().strip() or None
    except OSError:
        return None


def requested_by() -> str | None:
    """The signal that asked for an abort in this process, or None."""
    return _STATE["requested_by"] if _STATE["pid"] == os.getpid() else None
