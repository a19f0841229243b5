# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the recap_alert callback does with a finished run: render, deliver, spool, report back."""

from __future__ import annotations

import json
import typing as t

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.alerts import json_message, slack_message
from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import Spool, deliver, where

SINKS = (("slack", slack_message), ("json", json_message))
LABEL = dict(slack="Slack webhook", json="JSON webhook")


def job_url(summary: dict, awx_url: str | None) -> str | None:
    job = summary.get("awx_job_id")
    if not (awx_url and job):
        return None
    return "%s/#/jobs/playbook/%s/output" % (awx_url.rstrip("/"), job)


class AlertSender:
    """Sends one run's message to every configured sink, oldest spooled messages first."""

    def __init__(self, spool_dir: str, read_url: t.Callable[[str], tuple[str | None, str | None]], send_on: str = "always",
                 request_timeout: float = 10.0, max_attempts: int = 5, awx_url: str | None = None,
                 warn: t.Callable[[str], None] = lambda message: None, deliver_func: t.Callable = deliver) -> None:
        self.spool = Spool(spool_dir)
        self.read_url = read_url
        self.send_on = send_on
        self.request_timeout = float(request_timeout)
        self.max_attempts = int(max_attempts)
        self.awx_url = awx_url
        self.warn = warn
        self.deliver = deliver_func
        self.sent: list[dict] = []

    def wanted(self, summary: dict) -> bool:
        return self.send_on == "always" or summary.get("result") != "success"

    def sinks(self, quiet: bool = False) -> list[tuple[str, t.Callable, str]]:
        found = []
        for name, render in SINKS:
            url, problem = self.read_url(name)
            if problem and not quiet:
                self.warn(problem)
            if url:
                found.append((name, render, url))
        return found

    def spool_run(self, summary: dict, note: str | None = None, sinks: list | None = None) -> dict[str, str]:
        """Queue a run's message for every configured sink (or those given); returns sink name to spool file."""
        return {name: self.spool.add(name, summary.get("run_id") or "run", dict(summary=summary, note=note), "not sent yet")
                for name, _render, _url in (self.sinks(quiet=True) if sinks is None else sinks)}

    def _render(self, render: t.Callable, entry: dict) -> bytes:
        summary = entry["summary"]
        note = entry.get("note")
        message = render(summary, job_url=job_url(summary, self.awx_url), delayed=note)
        return json.dumps(message, ensure_ascii=False).encode("utf-8")

    def send_run(self, summary: dict, deadline: float, quiet: bool = False) -> None:
        """Deliver this run's message, and before it whatever earlier runs spooled.

        The message is spooled first and removed once delivered (at least once: an interruption in the
        middle of delivery leaves it for the next run). The queue is drained only under the spool lock,
        so two runs never send the same spooled message; an interrupted run (``quiet``) skips the queue and
        the lock and tries its own message only.
        """
        sinks = self.sinks(quiet=quiet)
        if not sinks:
            if not quiet:
                self.warn("no webhook is configured (slack_webhook_url or webhook_url); nothing sent")
            return
        mine = self.spool_run(summary, sinks=sinks) if self.wanted(summary) else {}
        lock = None
        if not quiet:
            try:
                lock = self.spool.lock(deadline)
            except OSError as exc:
                self.warn("cannot lock the spool %s: %s" % (self.spool.root, exc.strerror or exc))
            if lock is None and mine:
                self.warn("another run holds the spool %s; this run's message waits there for the next run" % self.spool.root)
                return
        try:
            for name, render, url in sinks:
                queue = self.spool.pending(name) if lock is not None else [p for p in [mine.get(name)] if p]
                self._drain(name, render, url, queue, mine.get(name), deadline, quiet)
        except KeyboardInterrupt:
            # Ctrl-C while we deliver: stop waiting, keep what is left spooled, let the run end normally.
            if not quiet:
                self.warn("delivery interrupted; undelivered messages stay in %s for the next run" % self.spool.root)
        finally:
            if lock is not None:
                lock.close()

    def _drain(self, name: str, render: t.Callable, url: str, queue: list[str], mine: str | None, deadline: float, quiet: bool) -> None:
        failed_reason = None
        for path in queue:
            try:
                entry = Spool.load(path)
                payload = entry["payload"]
                if not isinstance(payload["summary"], dict):
                    raise TypeError("no summary")
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError):
                moved = self.spool.quarantine(path, name)
                if not quiet:
                    self.warn("unreadable spooled message moved to %s" % moved)
                continue
            run_id = payload["summary"].get("run_id") or "run"
            if path != mine and not payload.get("note"):
                payload["note"] = "delayed: run %s could not be reported at %s (%s)" % (run_id, entry.get("spooled_at"), entry.get("error"))
            if failed_reason is not None:
                continue  # the receiver is failing: leave the rest queued
            try:
                outcome = self.deliver(url, self._render(render, payload), timeout=self.request_timeout, deadline=deadline,
                                       max_attempts=self.max_attempts)
            except Exception as exc:  # pylint: disable=broad-except
                failed_reason = "delivery failed: %s" % type(exc).__name__
                continue
            if outcome.ok:
                self.sent.append(dict(sink=name, run_id=run_id, attempts=outcome.attempts))
                Spool.done(path)
                continue
            if outcome.rejected:
                kept = self.spool.move(path, name)
                if not quiet:
                    self.warn("%s at %s refused the message for run %s (%s); it is kept in %s and will not be retried"
                              % (LABEL[name], where(url), run_id, outcome.error, kept))
                continue
            failed_reason = "%s after %d attempt%s" % (outcome.error, outcome.attempts, "" if outcome.attempts == 1 else "s")
            Spool.note_error(path, failed_reason)
        if failed_reason is not None and not quiet:
            waiting = len(self.spool.pending(name))
            self.warn("%s at %s: %s; %d message%s spooled in %s for the next run"
                      % (LABEL[name], where(url), failed_reason, waiting, "" if waiting == 1 else "s", self.spool.folder("pending", name)))
