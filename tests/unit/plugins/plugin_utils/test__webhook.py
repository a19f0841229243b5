# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import Journal, Spool, deliver, where

URL = "https://hooks.slack.com/services/T000/B000/SECRETSECRET"


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*answers, clock=None):
    calls = []

    def post(url, body, headers, timeout):
        calls.append(timeout)
        answer = answers[min(len(calls) - 1, len(answers) - 1)]
        if isinstance(answer, BaseException):
            if clock:
                clock.now += timeout
            raise answer
        return answer
    post.calls = calls
    return post


def run(post, clock, **kw):
    kw.setdefault("deadline", 30)
    return deliver(URL, b"{}", sleep=clock.sleep, clock=clock, post=post, **kw)


def test_where_hides_path_and_query():
    assert where(URL) == "https://hooks.slack.com"
    assert where("http://127.0.0.1:8080/x?token=1") == "http://127.0.0.1:8080"


def test_ok_first_time():
    clock = Clock()
    out = run(scripted((200, "ok", None)), clock)
    assert out.ok and out.attempts == 1 and clock.sleeps == []


def test_429_honours_retry_after():
    clock = Clock()
    out = run(scripted((429, "rate_limited", "3"), (200, "ok", None)), clock)
    assert out.ok and out.attempts == 2 and clock.sleeps == [3.0]


def test_429_retry_after_beyond_the_deadline_stops():
    clock = Clock()
    out = run(scripted((429, "rate_limited", "120"), (200, "ok", None)), clock, deadline=30)
    assert not out.ok and out.attempts == 1 and clock.sleeps == []
    assert "time limit" in out.error and not out.rejected


def test_5xx_backs_off_exponentially_and_is_bounded():
    clock = Clock()
    post = scripted((500, "oops", None))
    out = run(post, clock, max_attempts=4, deadline=100)
    assert not out.ok and out.attempts == 4 and clock.sleeps == [1.0, 2.0, 4.0]
    assert out.error == "HTTP 500 oops"


def test_other_4xx_never_retried():
    for status, rejected in ((404, False), (403, False), (400, True), (410, False)):
        clock = Clock()
        out = run(scripted((status, "no_service", None), (200, "ok", None)), clock)
        assert not out.ok and out.attempts == 1 and out.rejected is rejected and clock.sleeps == []


def test_timeouts_and_refused_connections_are_retried_within_the_deadline():
    clock = Clock()
    post = scripted(TimeoutError("timed out"), clock=clock)
    out = run(post, clock, timeout=10, deadline=25, max_attempts=10)
    assert not out.ok and "timed out" in out.error
    assert clock.now <= 25
    assert post.calls[-1] <= 10
    clock = Clock()
    refused = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    out = run(scripted(refused, (200, "ok", None)), clock)
    assert out.ok and out.attempts == 2


def test_errors_never_carry_the_url():
    clock = Clock()
    out = run(scripted(urllib.error.URLError(OSError("weird %s" % URL))), clock, max_attempts=1)
    assert "SECRET" not in (out.error or "") and "SECRET" not in repr(out)


def test_against_a_real_server(tmp_path):
    """The real HTTP stack: a loopback server that answers 503 then 200 (the webhook test server)."""
    server = os.path.join(os.path.dirname(__file__), "..", "..", "..", "integration", "targets", "setup_webhook", "files", "webhook.py")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([sys.executable, server, "serve", str(port), str(tmp_path)])
    try:
        subprocess.run([sys.executable, server, "script", str(tmp_path), '[{"status": 503}, {"status": 429, "retry_after": "0"}]'], check=True)
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        out = deliver("http://127.0.0.1:%d/services/x" % port, b'{"text": "hi"}', timeout=5, deadline=None, backoff=0.05)
        assert out.ok and out.attempts == 3 and out.status == 200
        lines = (tmp_path / "requests.jsonl").read_text().splitlines()
        assert len(lines) == 3
    finally:
        proc.terminate()
        proc.wait()


def test_spool_is_private_ordered_and_quarantines(tmp_path):
    spool = Spool(str(tmp_path / "spool"))
    first = spool.add("slack", "r/1", {"summary": {"run_id": "r/1"}}, "HTTP 500")
    second = spool.add("slack", "r2", {"summary": {"run_id": "r2"}}, "HTTP 500")
    assert spool.pending("slack") == sorted([first, second])
    assert stat.S_IMODE(os.stat(first).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "spool").st_mode) == 0o700
    assert "/" not in os.path.basename(first)[16:]
    assert Spool.load(first)["payload"]["summary"]["run_id"] == "r/1"
    moved = spool.quarantine(first, "slack")
    assert moved.endswith(".unreadable") and spool.pending("slack") == [second]
    with spool.lock():
        pass


HOLDER = """
import sys, time
from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import Journal
journal = Journal(sys.argv[1])
journal.open(sys.argv[2], {"run_id": sys.argv[2]})
print("ready", flush=True)
if sys.argv[3] == "claim":
    for data, done in Journal(sys.argv[1]).orphans():
        print("claimed", data["snapshot"]["run_id"], flush=True)
        time.sleep(30)
time.sleep(30)
"""


def holder(tmp_path, run_id, mode="hold"):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path), run_id, mode], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_journal_finds_runs_whose_process_died(tmp_path):
    """A live run holds its lock; a dead one's lock is free. Claiming is exclusive; only done() forgets."""
    alive = holder(tmp_path, "alive")
    dead = holder(tmp_path, "dead")
    dead.kill()
    dead.wait()
    try:
        found = [data["snapshot"]["run_id"] for data, _done in Journal(str(tmp_path)).orphans()]
        assert found == ["dead"]
        # Not marked done (the report failed): still there for the next run.
        assert [data["snapshot"]["run_id"] for data, _done in Journal(str(tmp_path)).orphans()] == ["dead"]
        # While another process claims it, we cannot.
        claimer = holder(tmp_path, "claimer", "claim")
        assert claimer.stdout.readline().split() == ["claimed", "dead"]
        assert [data["snapshot"]["run_id"] for data, _done in Journal(str(tmp_path)).orphans()] == []
        claimer.kill()
        claimer.wait()
        names = []
        for data, done in Journal(str(tmp_path)).orphans():
            names.append(data["snapshot"]["run_id"])
            done()
        assert sorted(names) == ["claimer", "dead"]
        left = sorted(n for n in os.listdir(tmp_path / "open"))
        assert left == ["%d-alive.json" % alive.pid, "%d-alive.lock" % alive.pid]
    finally:
        alive.kill()
        alive.wait()


def test_a_closed_journal_is_never_recreated(tmp_path):
    journal = Journal(str(tmp_path))
    journal.open("r", {"run_id": "r"})
    journal.close()
    assert os.listdir(tmp_path / "open") == []
    journal.update({"run_id": "r"})
    journal.open("r", {"run_id": "r"})
    assert os.listdir(tmp_path / "open") == []


def test_spool_lock_times_out_when_another_holds_it(tmp_path):
    spool = Spool(str(tmp_path / "spool"))
    held = spool.lock()
    started = time.monotonic()
    assert spool.lock(time.monotonic() + 0.3) is None
    assert 0.25 <= time.monotonic() - started < 30
    held.close()
    assert spool.lock(time.monotonic() + 0.3) is not None
    assert stat.S_IMODE(os.stat(tmp_path / "spool" / ".lock").st_mode) == 0o600


def test_error_bodies_are_not_repeated_unless_a_short_code():
    clock = Clock()
    echo = "<h1>Not Found</h1><p>The requested URL /services/T000/B000/SECRETSECRET was not found</p>"
    out = run(scripted((404, echo, None)), clock)
    assert out.error == "HTTP 404" and "SECRET" not in repr(out)
    out = run(scripted((404, "no_service", None)), Clock())
    assert out.error == "HTTP 404 no_service"


def test_non_http_answers_are_retried():
    import http.client
    clock = Clock()
    out = run(scripted(http.client.BadStatusLine("SSH-2.0-OpenSSH"), (200, "ok", None)), clock)
    assert out.ok and out.attempts == 2


def test_retry_after_http_date_minus_zero_is_utc():
    import email.utils

    from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.webhook import _retry_after
    when = email.utils.formatdate(time.time() + 30, usegmt=False).replace("+0000", "-0000")
    assert 25 <= _retry_after(when) <= 31
    assert _retry_after("7") == 7.0 and _retry_after("soon") is None
