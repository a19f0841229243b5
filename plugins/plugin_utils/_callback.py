# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The part recap_alert and audit share: watching a run and noticing how it ended.

A run ends in one of four ways, and each reaches :meth:`RunWatcher.report` exactly once:

- the recap (``v2_playbook_on_stats``);
- Ctrl-C: Ansible turns SIGINT into KeyboardInterrupt and exits 99 without a recap; we note the
  signal and report from ``atexit``;
- SIGTERM (or SIGHUP): Ansible re-raises SIGTERM with the default action, so the process dies
  without running ``atexit``; we report from our signal handler first, then hand the signal on;
- SIGKILL, the OOM killer, a crashed controller: nothing can run. The journal of open runs holds a
  snapshot, and the next run that loads the callback reports it as killed.

While the run holds a release lock, the first SIGINT or SIGTERM is not an ending: it asks the release to
wind down (``_abort``), and the run then ends with its recap as usual, reported as aborted.

A callback that raises only earns a warning from Ansible, and that is all ours may ever cause:
every hook swallows its own errors after saying so.
"""

from __future__ import annotations

import atexit
import getpass
import os
import signal
import time
import typing as t

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import Journal
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout import abort as _abort
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runstate import RunState, RunStateError
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runtrack import RunTracker, new_run_id, parse_iso, short_action, utcnow

# Extra variables a run summary may carry. Never the whole set: extra vars can hold credentials.
SUMMARY_VARS = ("fleetops_project", "fleetops_environment", "fleetops_version", "fleetops_dist", "fleetops_hosts",
                "fleetops_run_id", "awx_job_id", "tower_job_id", "awx_user_name", "tower_user_name",
                "awx_job_template_name", "tower_job_template_name")
SIGNALS = (("SIGTERM", signal.SIGTERM), ("SIGHUP", signal.SIGHUP), ("SIGINT", signal.SIGINT))
JOURNAL_EVERY = 5.0
# One id per ansible-playbook process, so that recap_alert's message and audit's record of the same
# run carry the same id (each callback has its own tracker). Keyed by PID: forked workers never use it.
_RUN_IDS: dict[int, str] = {}


def process_run_id() -> str:
    return _RUN_IDS.setdefault(os.getpid(), new_run_id())


def playbook_run_id() -> str:
    """The run's id seen from a worker (a fork of ansible-playbook): the callbacks' id when they gave one, else a new one."""
    return _RUN_IDS.get(os.getppid()) or _RUN_IDS.get(os.getpid()) or new_run_id()


def _result_data(result: t.Any) -> dict:
    data = result.result if hasattr(type(result), "result") else result._result  # 2.19 public name, then the older one
    return data if isinstance(data, dict) else {}


def _scalar_vars(values: t.Mapping) -> dict:
    kept = {}
    for name in SUMMARY_VARS:
        value = values.get(name)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            kept[name] = str(value)
    return kept


class RunWatcher:
    """Mixin for a CallbackBase subclass: feeds a RunTracker and calls :meth:`report` once."""

    WATCHER_NAME = "fleetops"

    def watcher_setup(self, state_dir: str | None) -> None:
        self.tracker = RunTracker(run_id=process_run_id())
        self._reported = False
        self._main_pid = os.getpid()
        self._journal = Journal(state_dir) if state_dir else None
        self._journal_written = 0.0
        self._journal_dirty = False
        self._previous_handlers: dict[int, t.Any] = {}
        _abort.reset()
        for _name, signum in SIGNALS:
            try:
                previous = signal.getsignal(signum)
                if previous == signal.SIG_IGN:
                    continue  # nohup and friends: an ignored signal does not end the run, so it is not ours to report
                self._previous_handlers[signum] = previous
                signal.signal(signum, self._on_signal)
            except (ValueError, OSError):  # not the main thread: leave signals alone
                self._previous_handlers.pop(signum, None)
        atexit.register(self._at_exit)

    # to implement --------------------------------------------------------
    def report(self, summary: dict, interrupted: bool, deadline: float) -> None:
        raise NotImplementedError

    def report_orphan(self, summary: dict) -> None:
        """A run found in the journal whose process died without reporting."""
        raise NotImplementedError

    def watcher_warn(self, message: str) -> None:
        self._display.warning("%s: %s" % (self.WATCHER_NAME, message))  # type: ignore[attr-defined]

    def interrupt_budget(self) -> float:
        return 10.0

    def report_budget(self) -> float:
        return 30.0

    # ending ----------------------------------------------------------------
    def _follow_renewals(self) -> None:
        """The release steps renew the lock in the workers (a stopped run may never report that step): the run
        state they share has the newest lease."""
        run_id = self.tracker.facts.get("fleetops_run_id")
        if not isinstance(run_id, str):
            return
        try:
            lease = RunState(run_id).read().get("lease")
        except RunStateError:
            return
        if isinstance(lease, dict):
            self.tracker.lock_renewed(lease.get("expires"))

    def _finish(self, interrupted_by: str | None, budget: float) -> None:
        # A flag, not a lock: the signal handler runs on the main thread, between two bytecodes of whatever it
        # interrupted, and a lock held there would never be released.
        if self._reported:
            return
        self._reported = True
        self.tracker.abort_requested_by = _abort.requested_by()
        self._follow_renewals()
        self.tracker.finish(interrupted_by)
        summary = self.tracker.summary()
        try:
            self.report(summary, interrupted=bool(interrupted_by), deadline=time.monotonic() + budget)
        finally:
            if self._journal:
                try:
                    self._journal.close()
                except OSError:
                    pass

    def _on_signal(self, signum: int, frame: t.Any) -> None:
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        if os.getpid() == self._main_pid:
            name = signal.Signals(signum).name
            if signum in (signal.SIGINT, signal.SIGTERM) and _abort.request(name):
                # The first one while a release holds its lock: the run winds down by itself (see _abort).
                return
            if signum == signal.SIGINT:
                # Ansible turns this into KeyboardInterrupt and exits 99; atexit reports.
                self.tracker.interrupted_by = self.tracker.interrupted_by or name
            elif not (self.tracker.plays or self.tracker.hosts):
                if self._journal:  # stopped before any play: nothing ran, nothing to report
                    self._journal.close()
            else:
                try:
                    self._finish(name, self.interrupt_budget())
                except Exception:  # pylint: disable=broad-except
                    pass  # no display here: the interrupted main thread may hold its lock
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_IGN:
            return
        else:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)

    def _at_exit(self) -> None:
        if os.getpid() != self._main_pid or self._reported:
            return
        started = self.tracker.plays or self.tracker.hosts
        if not started and not self.tracker.interrupted_by:
            # Ansible stopped before any play (a syntax error, --list-hosts, --syntax-check): no run to report.
            if self._journal:
                self._journal.close()
            return
        try:
            self._finish(self.tracker.interrupted_by or "ended without a recap", self.interrupt_budget())
        except Exception as exc:  # pylint: disable=broad-except
            self.watcher_warn("could not report the interrupted run: %s" % exc)

    def _journal_now(self, force: bool = False, every: float = JOURNAL_EVERY) -> None:
        if not self._journal or self._reported:
            return
        self._journal_dirty = True
        now = time.monotonic()
        if not force and now - self._journal_written < every:
            return
        self._journal_written = now
        self._journal_dirty = False
        try:
            if self._journal.path:
                self._journal.update(self.tracker.snapshot())
            else:
                self._journal.open(self.tracker.run_id, self.tracker.snapshot())
        except OSError as exc:
            self.watcher_warn("cannot write the run journal in %s: %s" % (self._journal.root, exc.strerror or exc))
            self._journal = None

    def _guard(self, what: str, func: t.Callable, *args: t.Any) -> None:
        try:
            func(*args)
        except Exception as exc:  # pylint: disable=broad-except
            self.watcher_warn("%s failed: %s: %s" % (what, type(exc).__name__, exc))

    # hooks -----------------------------------------------------------------
    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        self._guard("playbook start", self._playbook_start, playbook)

    def _playbook_start(self, playbook: t.Any) -> None:
        from ansible import context  # pylint: disable=import-outside-toplevel

        self.tracker.playbook = os.path.basename(getattr(playbook, "_file_name", "") or "") or None
        self.tracker.check_mode = bool((context.CLIARGS or {}).get("check"))
        try:
            self.tracker.user = getpass.getuser()
        except (KeyError, OSError):
            self.tracker.user = str(os.getuid())
        if self._journal:
            for data, done in self._journal.orphans():
                snapshot = data.get("snapshot") or {}
                if snapshot:
                    orphan = RunTracker.from_snapshot(snapshot)
                    # It ended some time after its last journal write; that is the best "end" we know.
                    orphan.finish("killed (no recap; SIGKILL or a crash)", when=parse_iso(data.get("updated")) or utcnow())
                    self.report_orphan(orphan.summary())
                done()
            self._journal_now(force=True)

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool = False) -> None:  # pylint: disable=unused-argument
        # Between tasks: bring the journal up to date, so a run killed during a long task is known up to it.
        if self._journal_dirty:
            self._guard("journal", self._journal_now, False, 1.0)

    def v2_playbook_on_handler_task_start(self, task: t.Any) -> None:
        self.v2_playbook_on_task_start(task)

    def v2_playbook_on_play_start(self, play: t.Any) -> None:
        self._guard("play start", self._play_start, play)

    def _play_start(self, play: t.Any) -> None:
        manager = play.get_variable_manager()
        extra = _scalar_vars(getattr(manager, "extra_vars", None) or {})
        if extra:
            self.tracker.extra_vars.update(extra)
            user = extra.get("awx_user_name") or extra.get("tower_user_name")
            if user:
                self.tracker.user = user
        inventory = getattr(manager, "_inventory", None)
        hosts: list[str] = []
        if inventory is not None:
            # Every host the play targets, not only the current serial batch (--limit still applies).
            hosts = [h.name for h in inventory.get_hosts(play.hosts, ignore_restrictions=True)]
        self.tracker.play(play.get_name(), hosts)
        self._journal_now(force=True)

    def _record(self, status: str, result: t.Any, ignore_errors: bool = False) -> None:
        task = result.task if hasattr(type(result), "task") else result._task
        host = result.host if hasattr(type(result), "host") else result._host
        action = getattr(task, "resolved_action", None) or getattr(task, "action", None)
        self.tracker.result(host.get_name(), status, task.get_name(), action, _result_data(result), ignore_errors)
        if short_action(action) == "release_lock":
            # The tracker follows the run's lock (not in check mode); a held lock arms the graceful abort.
            lock = self.tracker.facts.get("fleetops_lock") or {}
            if lock.get("held") and not lock.get("released"):
                _abort.arm(dict(lock_id=lock.get("id"), expires=lock.get("expires")))
            else:
                _abort.disarm()
        self._journal_now()

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._guard("recording a result", self._record, "ok", result)

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._guard("recording a result", self._record, "failed", result, ignore_errors)

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._guard("recording a result", self._record, "unreachable", result)

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._guard("recording a result", self._record, "skipped", result)

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        def done() -> None:
            kinds = ("processed", "failures", "ok", "dark", "changed", "skipped", "rescued", "ignored")
            self.tracker.set_stats({key: dict(getattr(stats, key, {}) or {}) for key in kinds})
            # A recap means the run completed, even if a Ctrl-C was caught on the way (the task debugger does).
            self.tracker.interrupted_by = None
            self._finish(None, self.report_budget())
        self._guard("reporting the run", done)
