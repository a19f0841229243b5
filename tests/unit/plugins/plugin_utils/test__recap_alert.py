# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json
import os
import time

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.recap_alert import AlertSender, job_url
from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import Delivery

URL = "https://hooks.example.test/services/T/B/SECRET"


def summary(run_id="R1", result="failed"):
    return dict(run_id=run_id, result=result, problems=[], hosts={}, awx_job_id="12")


class Receiver:
    """Answers with HTTP statuses in turn; an exception in the list is raised instead (as a broken client would)."""

    def __init__(self, *answers):
        self.answers = [a for a in answers if isinstance(a, int)]
        self.errors = [a for a in answers if isinstance(a, BaseException)]
        self.bodies = []

    def __call__(self, url, body, **kwargs):
        if self.errors:
            raise self.errors.pop(0)
        answer = self.answers.pop(0) if self.answers else 200
        self.bodies.append(json.loads(body))
        out = Delivery()
        out.attempts = 1
        if answer == 200:
            out.ok, out.status = True, 200
        else:
            out.status, out.error = answer, "HTTP %d" % answer
            out.rejected = answer == 400
        return out


def sender(tmp_path, receiver, warnings, send_on="always"):
    return AlertSender(str(tmp_path / "spool"), read_url=lambda sink: (URL, None) if sink == "slack" else (None, None),
                       send_on=send_on, warn=warnings.append, deliver_func=receiver, awx_url="https://awx.test/")


def pending(tmp_path):
    folder = tmp_path / "spool" / "pending" / "slack"
    return sorted(os.listdir(folder)) if folder.exists() else []


def test_delivered_once_and_nothing_left(tmp_path):
    warnings = []
    receiver = Receiver()
    sender(tmp_path, receiver, warnings).send_run(summary(), deadline=time.monotonic() + 5)
    assert len(receiver.bodies) == 1 and pending(tmp_path) == [] and warnings == []
    assert "https://awx.test/#/jobs/playbook/12/output" in json.dumps(receiver.bodies[0])


def test_failed_delivery_is_spooled_and_sent_first_next_time(tmp_path):
    warnings = []
    sender(tmp_path, Receiver(503), warnings).send_run(summary("R1"), deadline=time.monotonic() + 5)
    assert len(pending(tmp_path)) == 1 and "HTTP 503" in warnings[0] and "SECRET" not in warnings[0]
    receiver = Receiver()
    sender(tmp_path, receiver, []).send_run(summary("R2"), deadline=time.monotonic() + 5)
    assert receiver.bodies[0]["blocks"][-1] is not None
    texts = [json.dumps(b) for b in receiver.bodies]
    assert "R1" in texts[0] and "delayed: run R1" in texts[0] and "HTTP 503" in texts[0]
    assert "R2" in texts[1] and "delayed" not in texts[1]
    assert pending(tmp_path) == []


def test_interrupted_delivery_leaves_the_message_spooled(tmp_path):
    """Ctrl-C in the middle of delivery: the run goes on, the message waits (at least once)."""
    warnings = []
    sender(tmp_path, Receiver(KeyboardInterrupt()), warnings).send_run(summary(), deadline=time.monotonic() + 5)
    assert len(pending(tmp_path)) == 1 and "interrupted" in warnings[0]


def test_unexpected_errors_keep_the_message(tmp_path):
    warnings = []
    sender(tmp_path, Receiver(RuntimeError("boom")), warnings).send_run(summary(), deadline=time.monotonic() + 5)
    assert len(pending(tmp_path)) == 1 and "RuntimeError" in warnings[0]


def test_rejected_goes_aside(tmp_path):
    warnings = []
    sender(tmp_path, Receiver(400), warnings).send_run(summary(), deadline=time.monotonic() + 5)
    assert pending(tmp_path) == [] and len(os.listdir(tmp_path / "spool" / "rejected" / "slack")) == 1
    assert "will not be retried" in warnings[0]


def test_another_run_holding_the_spool_means_we_wait_then_leave_it_queued(tmp_path):
    warnings = []
    first = sender(tmp_path, Receiver(), [])
    held = first.spool.lock()
    receiver = Receiver()
    started = time.monotonic()
    sender(tmp_path, receiver, warnings).send_run(summary("R9"), deadline=time.monotonic() + 0.3)
    assert time.monotonic() - started < 30 and receiver.bodies == [] and len(pending(tmp_path)) == 1
    assert "another run holds the spool" in warnings[0]
    held.close()


def test_interrupted_run_sends_only_its_own_without_the_lock(tmp_path):
    first = sender(tmp_path, Receiver(503), [])
    first.send_run(summary("OLD"), deadline=time.monotonic() + 5)
    held = first.spool.lock()
    receiver = Receiver()
    sender(tmp_path, receiver, []).send_run(summary("NOW", result="aborted"), deadline=time.monotonic() + 5, quiet=True)
    assert len(receiver.bodies) == 1 and "NOW" in json.dumps(receiver.bodies[0])
    assert len(pending(tmp_path)) == 1, "the old message stays for a run that holds the lock"
    held.close()


@pytest.mark.parametrize("send_on,result,sent", [("problems", "success", 0), ("problems", "partial", 1), ("always", "success", 1)])
def test_send_on(tmp_path, send_on, result, sent):
    receiver = Receiver()
    sender(tmp_path, receiver, [], send_on=send_on).send_run(summary(result=result), deadline=time.monotonic() + 5)
    assert len(receiver.bodies) == sent


def test_job_url():
    assert job_url({"awx_job_id": "5"}, "https://awx/") == "https://awx/#/jobs/playbook/5/output"
    assert job_url({"awx_job_id": None}, "https://awx/") is None and job_url({"awx_job_id": "5"}, None) is None
