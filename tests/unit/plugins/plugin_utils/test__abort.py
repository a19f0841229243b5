# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout import abort as _abort


@pytest.fixture(autouse=True)
def clean():
    _abort.reset()
    yield
    _abort.reset()


def test_nothing_armed_means_no_graceful_abort():
    assert _abort.request("SIGINT") is False
    assert _abort.requested_by() is None and _abort.ENV not in os.environ


def test_first_signal_asks_second_one_stops(capfd):
    _abort.arm(dict(lock_id="s3://b/k#3", expires="2026-11-22T21:00:00Z"))
    assert _abort.request("SIGTERM") is True
    assert _abort.requested_by() == "SIGTERM"
    assert os.environ[_abort.ENV].startswith("SIGTERM 20")
    assert "abort requested (SIGTERM)" in capfd.readouterr().err
    # The second one is Ansible's again.
    assert _abort.request("SIGINT") is False
    assert _abort.requested_by() == "SIGTERM"


def test_released_lock_disarms_and_reset_clears_an_inherited_request():
    _abort.arm(dict(lock_id="x"))
    _abort.disarm()
    assert _abort.request("SIGINT") is False
    os.environ[_abort.ENV] = "SIGINT 2026-01-01T00:00:00Z"
    _abort.reset()
    assert _abort.ENV not in os.environ


def test_a_forked_child_does_not_act_on_the_parents_arming():
    _abort.arm(dict(lock_id="x"))
    pid = os.fork()
    if pid == 0:  # a worker: the state belongs to the main process
        os._exit(0 if (_abort.request("SIGINT") is False and _abort.requested_by() is None) else 1)
    status = os.waitpid(pid, 0)[1]
    assert os.waitstatus_to_exitcode(status) == 0


def test_workers_forked_after_the_request_see_it():
    _abort.arm(dict(lock_id="x"))
    _abort.request("SIGINT")
    out = subprocess.run([sys.executable, "-c", "import os; print(os.environ.get(%r, ''))" % _abort.ENV],
                         capture_output=True, text=True, check=True).stdout
    assert out.startswith("SIGINT ")


def test_in_a_real_signal_handler(tmp_path):
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent("""
        import os, signal, sys, time
        sys.path[:0] = %r
        from ansible_collections.fleetops.release.plugins.plugin_utils._rollout import abort as _abort
        _abort.reset()
        _abort.arm({"lock_id": "x"})
        def handler(signum, frame):
            if _abort.request(signal.Signals(signum).name):
                return
            print("stop", flush=True)
            sys.exit(3)
        signal.signal(signal.SIGTERM, handler)
        os.kill(os.getpid(), signal.SIGTERM)
        print("still running:", os.environ[_abort.ENV].split()[0], flush=True)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
    """ % (sys.path,)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 3
    assert proc.stdout.splitlines() == ["still running: SIGTERM", "stop"]
    assert "abort requested (SIGTERM)" in proc.stderr
