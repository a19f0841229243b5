# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the recap_alert callback does with a finished run: render, deliver, spool, report back."""

from __future__ import annotations

import json
import typing as t

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts import json_message, slack_message
from ansible_collections.fleetops.release.plugins.plugin_utils._webhook import Spool, deliver, where

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

    def spool_run(self, summary: dict, note: str | None = None) -> None:
        """Queue a run's message for every configured sink (used for runs found killed)."""
        for name, _render, _url in self.sinks(quiet=True):
            self.spool.add(name, summary.get("run_id") or "run", dict(summary=summary, note=note), "not sent yet")

    def _render(self, render: t.Callable, entry: dict) -> bytes:
        summary = entry["summary"]
        note = entry.get("note")
        message = render(summary, job_url=job_url(summary, self.awx_url), delayed=note)
        return json.dumps(message, ensure_ascii=False).encode("utf-8")

    def send_run(self, summary: dict, deadline: float, quiet: bool = False) -> None:
        """Deliver spooled messages, then this run's; spool whatever does not go out before the deadline."""
        sinks = self.sinks(quiet=quiet)
        if not sinks:
            if not quiet:
                self.warn("no webhook is configured (slack_webhook_url or webhook_url); nothing sent")
            return
        current = dict(summary=summary, note=None) if self.wanted(summary) else None
        lock = None
        try:
            lock = self.spool.lock()
        except OSError as exc:
            if not quiet:
                self.warn("cannot lock the spool %s: %s; spooled messages wait for the next run" % (self.spool.root, exc.strerror or exc))
        try:
            for name, render, url in sinks:
                queue: list[tuple[str | None, dict]] = []
                if lock is not None:
                    for path in self.spool.pending(name):
                        try:
                            entry = Spool.load(path)
                            if not isinstance(entry["payload"]["summary"], dict):
                                raise TypeError("no summary")
                        except (OSError, ValueError, KeyError, TypeError):
                            moved = self.spool.quarantine(path, name)
                            if not quiet:
                                self.warn("unreadable spooled message moved to %s" % moved)
                            continue
                        payload = entry["payload"]
                        payload["note"] = payload.get("note") or "delayed: run %s could not be reported at %s (%s)" % (
                            payload["summary"].get("run_id"), entry.get("spooled_at"), entry.get("error"))
                        queue.append((path, payload))
                if current is not None:
                    queue.append((None, current))
                self._drain(name, render, url, queue, deadline, quiet)
        finally:
            if lock is not None:
                lock.close()

    def _drain(self, name: str, render: t.Callable, url: str, queue: list[tuple[str | None, dict]], deadline: float, quiet: bool) -> None:
        failed_reason = None
        for path, payload in queue:
            run_id = payload["summary"].get("run_id") or "run"
            if failed_reason is None:
                outcome = self.deliver(url, self._render(render, payload), timeout=self.request_timeout, deadline=deadline,
                                       max_attempts=self.max_attempts)
                if outcome.ok:
                    self.sent.append(dict(sink=name, run_id=run_id, attempts=outcome.attempts))
                    if path:
                        Spool.done(path)
                    continue
                if outcome.rejected:
                    kept = self.spool.add(name, run_id, payload, outcome.error, rejected=True)
                    if path:
                        Spool.done(path)
                    if not quiet:
                        self.warn("%s at %s refused the message for run %s (%s); it is kept in %s and will not be retried"
                                  % (LABEL[name], where(url), run_id, outcome.error, kept))
                    continue
                failed_reason = "%s after %d attempt%s" % (outcome.error, outcome.attempts, "" if outcome.attempts == 1 else "s")
            # Not delivered: the stop keeps it (already spooled, or spool it now) for the next run.
            if path is None:
                kept = self.spool.add(name, run_id, payload, failed_reason)
                if not quiet:
                    self.warn("%s at %s: %s; the message for run %s is spooled in %s and will be sent by the next run"
                              % (LABEL[name], where(url), failed_reason, run_id, kept))
            elif not quiet:
                self.warn("%s at %s: %s; spooled message %s stays queued" % (LABEL[name], where(url), failed_reason, path))
