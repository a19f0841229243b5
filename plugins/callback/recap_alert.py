# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: recap_alert
type: notification
short_description: One aggregated Slack (or JSON webhook) message per run, with every host's Ansible and node status
version_added: 0.1.0
description:
  - After a run, classifies every host the plays targeted as V(ok), V(failed), V(unreachable), V(rescued) or
    V(not attempted) (hosts of serial batches that never ran, which Ansible's own recap leaves out), and adds the node state
    that M(fleetops.release.dist_deploy) and M(fleetops.release.node_state) reported (V(failure), V(missing) state file,
    V(stale) in progress, V(corrupt)).
  - Sends ONE message per run to a Slack incoming webhook and/or a generic JSON webhook, with the seed's fields for every
    host that needs attention (time, host, Ansible status, node status, why), plus project, environment, version, who
    ran it, and the AWX job link. Slack's limits are kept (50 blocks, 3,000 characters a section, 150 a header; "+N more"
    beyond), and text from hosts is escaped so that it cannot mention V(@channel) or break formatting.
  - "Delivery: 429 waits for Retry-After, 5xx, timeouts and refused connections are retried with exponential backoff,
    other 4xx are final; everything is bounded by O(total_timeout). A message that could not be delivered is spooled in
    O(spool_dir) and sent by the next run that loads this callback. The callback never changes the run's result."
  - "An interrupted run still reports once: Ctrl-C (exit 99) and SIGTERM or SIGHUP (AWX and systemd stop jobs with
    these) send an V(interrupted) message within O(interrupt_timeout). A run killed outright (SIGKILL, a crash) is
    reported as killed by the next run, from a journal of open runs kept in O(spool_dir)."
  - "The webhook URLs are secrets: they never appear in output, logs, warnings or the spool. Prefer the C(_file) options
    in AWX and ansible-runner, which record a job's environment variables."
  - See C(docs/alerts.md) in the collection for the message format and how to test it.
requirements:
  - Enable it with C(callbacks_enabled = fleetops.release.recap_alert) in C(ansible.cfg) or C(ANSIBLE_CALLBACKS_ENABLED).
author:
  - fleetops developers (@fleetops)
options:
  slack_webhook_url:
    description: Slack incoming webhook URL.
    type: str
    env:
      - name: FLEETOPS_SLACK_WEBHOOK_URL
    ini:
      - section: callback_recap_alert
        key: slack_webhook_url
  slack_webhook_url_file:
    description: A file holding the Slack webhook URL (read at the end of the run); wins over O(slack_webhook_url).
    type: path
    env:
      - name: FLEETOPS_SLACK_WEBHOOK_URL_FILE
    ini:
      - section: callback_recap_alert
        key: slack_webhook_url_file
  webhook_url:
    description:
      - A generic webhook that receives the run summary as a JSON document (an SMS or mail gateway, Mattermost, a
        ticketing system). See C(docs/alerts.md) for the document's fields.
    type: str
    env:
      - name: FLEETOPS_WEBHOOK_URL
    ini:
      - section: callback_recap_alert
        key: webhook_url
  webhook_url_file:
    description: A file holding O(webhook_url); wins over it.
    type: path
    env:
      - name: FLEETOPS_WEBHOOK_URL_FILE
    ini:
      - section: callback_recap_alert
        key: webhook_url_file
  send_on:
    description:
      - V(always) sends a message for every run, V(problems) only when a host needs attention or the run was interrupted
        (for frequent status sweeps from cron).
    type: str
    choices: [always, problems]
    default: always
    env:
      - name: FLEETOPS_ALERT_SEND_ON
    ini:
      - section: callback_recap_alert
        key: send_on
  spool_dir:
    description: Where undelivered messages and the journal of open runs are kept (created with mode 0700).
    type: path
    default: ~/.ansible/fleetops/recap_alert
    env:
      - name: FLEETOPS_ALERT_SPOOL_DIR
    ini:
      - section: callback_recap_alert
        key: spool_dir
  request_timeout:
    description: Seconds one request may take.
    type: float
    default: 10
    env:
      - name: FLEETOPS_ALERT_REQUEST_TIMEOUT
    ini:
      - section: callback_recap_alert
        key: request_timeout
  total_timeout:
    description: Seconds all deliveries at the end of a run may take together, retries and spooled messages included.
    type: float
    default: 30
    env:
      - name: FLEETOPS_ALERT_TOTAL_TIMEOUT
    ini:
      - section: callback_recap_alert
        key: total_timeout
  interrupt_timeout:
    description: Seconds the V(interrupted) message may take after Ctrl-C, SIGTERM or SIGHUP.
    type: float
    default: 10
    env:
      - name: FLEETOPS_ALERT_INTERRUPT_TIMEOUT
    ini:
      - section: callback_recap_alert
        key: interrupt_timeout
  max_attempts:
    description: Attempts per message, the first included.
    type: int
    default: 5
    env:
      - name: FLEETOPS_ALERT_MAX_ATTEMPTS
    ini:
      - section: callback_recap_alert
        key: max_attempts
  awx_url:
    description:
      - Base URL of AWX or Automation Controller, for the job link. AWX sets E(AWX_HOST) in a job's environment; the job id
        comes from the C(awx_job_id) extra variable AWX passes.
    type: str
    env:
      - name: FLEETOPS_AWX_URL
      - name: AWX_HOST
    ini:
      - section: callback_recap_alert
        key: awx_url
"""

import os
import typing as t

from ansible.plugins.callback import CallbackBase

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.recap_alert import AlertSender
from ansible_collections.fleetops.release.plugins.plugin_utils._callback import RunWatcher


class CallbackModule(RunWatcher, CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "notification"
    CALLBACK_NAME = "fleetops.release.recap_alert"
    CALLBACK_NEEDS_ENABLED = True
    WATCHER_NAME = "recap_alert"

    def __init__(self, display: t.Any = None) -> None:
        super().__init__(display=display)
        self.sender: AlertSender | None = None
        self._setup_done = False

    def set_options(self, task_keys=None, var_options=None, direct=None):
        super().set_options(task_keys=task_keys, var_options=var_options, direct=direct)
        if self._setup_done:
            return
        self._setup_done = True
        self.sender = AlertSender(
            spool_dir=self.get_option("spool_dir"),
            read_url=self._url,
            send_on=self.get_option("send_on"),
            request_timeout=self.get_option("request_timeout"),
            max_attempts=self.get_option("max_attempts"),
            awx_url=self.get_option("awx_url"),
            warn=self.watcher_warn,
        )
        self.watcher_setup(self.get_option("spool_dir"))

    def _url(self, sink: str) -> tuple[str | None, str | None]:
        """(url, problem) for a sink; the file option wins. Read late, so a rotated secret is picked up."""
        prefix = "slack_webhook_url" if sink == "slack" else "webhook_url"
        path = self.get_option(prefix + "_file")
        if path:
            try:
                with open(os.path.expanduser(path), encoding="utf-8") as handle:
                    value = handle.read().strip()
            except OSError as exc:
                return None, "cannot read %s_file %s: %s" % (prefix, path, exc.strerror or type(exc).__name__)
            return (value or None), (None if value else "%s_file %s is empty" % (prefix, path))
        return (self.get_option(prefix) or None), None

    def interrupt_budget(self) -> float:
        return float(self.get_option("interrupt_timeout"))

    def report_budget(self) -> float:
        return float(self.get_option("total_timeout"))

    def report(self, summary: dict, interrupted: bool, deadline: float) -> None:
        if self.sender:
            self.sender.send_run(summary, deadline=deadline, quiet=interrupted)

    def report_orphan(self, summary: dict) -> None:
        if self.sender:
            self.sender.spool_run(summary, "reported late: this run was killed before it could report")
