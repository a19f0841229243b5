# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The health check against a real HTTP server on loopback, and the command form with a scripted runner."""

from __future__ import annotations

import http.server
import socket
import threading
import typing as t

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.health import check, http_once


class _Handler(http.server.BaseHTTPRequestHandler):
    answers: t.ClassVar[list] = []

    def do_GET(self):
        code, body = self.answers.pop(0) if self.answers else (200, b"ok\n")
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture()
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.answers = []
    yield "http://127.0.0.1:%d/health" % httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_a_healthy_url_passes_on_the_first_try(server):
    result = check({"url": server, "contains": "ok"}, 3, 0.0, sleep=lambda s: None)
    assert result == {"ok": True, "attempts": 1, "msg": "health check over HTTP passed: status 200"}


def test_a_failing_url_is_retried_then_names_the_url_and_what_it_saw(server):
    _Handler.answers = [(503, b"down"), (503, b"down"), (500, b"boom")]
    slept = []
    result = check({"url": server}, 3, 0.5, sleep=slept.append)
    assert not result["ok"] and result["attempts"] == 3 and slept == [0.5, 0.5]
    assert server in result["msg"] and "status 500, not 200" in result["msg"]


def test_recovers_within_its_tries(server):
    _Handler.answers = [(503, b"starting")]
    result = check({"url": server, "retries": 2, "delay": 0}, 10, 9.0, sleep=lambda s: None)
    assert result["ok"] and result["attempts"] == 2


def test_status_and_body_are_both_checked(server):
    _Handler.answers = [(204, b""), (200, b"degraded")]
    assert http_once(server, 204, "", 5) == (True, "status 204")
    ok, seen = http_once(server, 200, "ok", 5)
    assert not ok and "does not contain 'ok'" in seen


def test_nothing_listening_says_it_cannot_reach_it():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ok, seen = http_once("http://127.0.0.1:%d/health" % port, 200, "", 2)
    assert not ok and seen.startswith("cannot reach it")


def test_the_command_form_runs_on_the_host_and_names_the_command():
    calls = []

    def run(command):
        calls.append(command)
        return (1, "rc 1: not yet") if len(calls) < 2 else (0, "rc 0")

    result = check({"command": "/opt/web/check"}, 3, 0, run_command=run, sleep=lambda s: None)
    assert result == {"ok": True, "attempts": 2, "msg": "health check with a command passed: rc 0"} and calls == ["/opt/web/check"] * 2
    failed = check({"command": "/opt/web/check", "retries": 1}, 3, 0, run_command=lambda c: (2, "rc 2: refused"))
    assert not failed["ok"] and "/opt/web/check" in failed["msg"] and "rc 2: refused" in failed["msg"]


def test_no_way_to_run_a_command_is_a_failure_and_no_spec_is_healthy():
    assert not check({"command": "true"}, 1, 0)["ok"]
    assert check({}, 1, 0) == {"ok": True, "attempts": 0, "msg": "no health check configured"}
