# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The nginx backend: parsing and editing the upstream file, and change/test/reload/restore against a fake
nginx (a shell script for ``nginx -t``) and a fake master (a real process titled ``nginx: master process``
whose children are titled ``nginx: worker process``)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._lb import core as _lb
from ansible_collections.fleetops.release.plugins.module_utils._lb import nginx as _lb_nginx
from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError
from ansible_collections.fleetops.release.plugins.module_utils._lb.nginx import NginxBackend, find_server, find_upstream, parse_upstreams, set_down

TEXT = textwrap.dedent("""\
    # managed by lb_member; comments stay
    upstream web {  # the pool
        server 10.0.0.1:8080 weight=3 max_fails=2 fail_timeout=5s;
        server 10.0.0.2:8080;   # second
        server 10.0.0.3:8080 down backup;
        server 10.0.0.4:8080 # odd layout
            down ;
        keepalive 16;
    }
    upstream api { server "unix:/run/api.sock" max_conns=10; }
    server { listen 80; location / { proxy_pass http://web; } }
    """)


def _server(text: str, address: str, upstream: str = "web"):
    return find_server(find_upstream(parse_upstreams(text, "f.conf"), upstream, "f.conf"), address, "f.conf")


def test_parse_several_upstreams_with_comments_and_parameters():
    upstreams = parse_upstreams(TEXT, "f.conf")
    assert [u.name for u in upstreams] == ["web", "api"]
    web = upstreams[0]
    assert [(s.address, s.line, s.down) for s in web.servers] == [
        ("10.0.0.1:8080", 3, False), ("10.0.0.2:8080", 4, False), ("10.0.0.3:8080", 5, True), ("10.0.0.4:8080", 6, True)]
    assert web.servers[0].parameters == ["weight=3", "max_fails=2", "fail_timeout=5s"]
    assert [(s.address, s.parameters) for s in upstreams[1].servers] == [("unix:/run/api.sock", ["max_conns=10"])]


def test_server_directives_outside_upstreams_are_not_members():
    text = "http { server { listen 80; } upstream u { server a:1; } }\n"
    assert [[s.address for s in u.servers] for u in parse_upstreams(text, "f")] == [["a:1"]]


def test_add_down_after_the_last_parameter_only():
    assert set_down(TEXT, _server(TEXT, "10.0.0.1:8080"), True) == TEXT.replace(
        "weight=3 max_fails=2 fail_timeout=5s;", "weight=3 max_fails=2 fail_timeout=5s down;")
    assert set_down(TEXT, _server(TEXT, "10.0.0.2:8080"), True) == TEXT.replace(
        "server 10.0.0.2:8080;   # second", "server 10.0.0.2:8080 down;   # second")


def test_add_down_is_a_no_op_when_down():
    assert set_down(TEXT, _server(TEXT, "10.0.0.3:8080"), True) == TEXT


def test_remove_down_keeps_the_other_parameters():
    assert set_down(TEXT, _server(TEXT, "10.0.0.3:8080"), False) == TEXT.replace(
        "server 10.0.0.3:8080 down backup;", "server 10.0.0.3:8080 backup;")


def test_remove_down_on_a_line_of_its_own_keeps_the_comment_closed():
    edited = set_down(TEXT, _server(TEXT, "10.0.0.4:8080"), False)
    assert edited == TEXT.replace("        down ;\n", "        ;\n")
    assert not _server(edited, "10.0.0.4:8080").down


def test_down_round_trip_is_byte_exact():
    once = set_down(TEXT, _server(TEXT, "10.0.0.2:8080"), True)
    assert set_down(once, _server(once, "10.0.0.2:8080"), False) == TEXT


def test_remove_every_down():
    text = "upstream u {\n\tserver a:1 down\tdown weight=2;\n}\n"
    assert set_down(text, _server(text, "a:1", "u"), False) == "upstream u {\n\tserver a:1 weight=2;\n}\n"


def test_unknown_upstream_lists_the_upstreams():
    with pytest.raises(LbError, match=r"^nginx upstream nope is not in f.conf \(upstreams there: web, api\)$"):
        find_upstream(parse_upstreams(TEXT, "f.conf"), "nope", "f.conf")


def test_unknown_server_lists_the_servers():
    with pytest.raises(LbError) as err:
        _server(TEXT, "10.0.0.9:8080")
    assert str(err.value) == ("server 10.0.0.9:8080 is not in nginx upstream web in f.conf "
                              "(its servers: 10.0.0.1:8080, 10.0.0.2:8080, 10.0.0.3:8080, 10.0.0.4:8080)")


def test_duplicates_are_refused():
    text = "upstream u { server a:1; server a:1 weight=2; }\nupstream u { server b:1; }\n"
    with pytest.raises(LbError, match=re.escape("nginx upstream u is defined 2 times in f.conf")):
        find_upstream(parse_upstreams(text, "f.conf"), "u", "f.conf")
    with pytest.raises(LbError, match=r"server a:1 appears 2 times in nginx upstream u in f.conf \(lines 1, 1\)"):
        find_server(parse_upstreams(text, "f.conf")[0], "a:1", "f.conf")


@pytest.mark.parametrize("text, problem", [
    ("upstream u { server a:1 }\n", "f.conf: line 1: directive 'server' is missing its ';'"),
    ("upstream u { server a:1;\n", "f.conf: a block is not closed"),
    ("upstream u { server 'a:1; }\n", "f.conf: line 1: unterminated quoted string"),
    ("}\n", "f.conf: line 1: unexpected '}'"),
    ("upstream u { server; }\n", "f.conf: line 1: a server line needs an address"),
])
def test_syntax_errors_name_file_and_line(text, problem):
    with pytest.raises(LbError, match="^" + problem.replace("(", r"\(")):
        parse_upstreams(text, "f.conf")


# ---------------------------------------------------------------------------------------------------
# A fake nginx: the binary is a script; the master a real process that starts new workers on SIGHUP
# (unless told to ignore it) and stops the old ones.

MASTER = r'''
import os, signal, subprocess, sys, time
mode_file = sys.argv[1]
workers = []
def spawn():
    return [subprocess.Popen(["nginx: worker process", "600"], executable="/bin/sleep") for _ in range(2)]
def hup(_sig, _frame):
    global workers
    with open(mode_file) as handle:
        if handle.read().strip() == "ignore":
            return
    old, workers = workers, spawn()
    for proc in old:
        proc.terminate()
        proc.wait()
def stop(_sig, _frame):
    for proc in workers:
        proc.terminate()
    sys.exit(0)
signal.signal(signal.SIGHUP, hup)
signal.signal(signal.SIGTERM, stop)
workers = spawn()
while True:
    time.sleep(1)
'''

FAKE_NGINX = """#!/bin/sh
if [ -e "{fail}" ]; then
  echo "2026/01/01 00:00:00 [emerg] 12#12: unknown directive \\"bogus\\" in /etc/nginx/conf.d/other.conf:3" >&2
  echo "nginx: configuration file /etc/nginx/nginx.conf test failed" >&2
  exit 1
fi
echo "$@" >> "{calls}"
exit 0
"""


@pytest.fixture(name="lb")
def fixture_lb(tmp_path):
    path = tmp_path / "upstream.conf"
    path.write_text(TEXT)
    os.chmod(path, 0o640)
    mode = tmp_path / "mode"
    mode.write_text("ok")
    nginx = tmp_path / "nginx"
    nginx.write_text(FAKE_NGINX.format(fail=tmp_path / "fail-test", calls=tmp_path / "calls"))
    os.chmod(nginx, 0o755)
    (tmp_path / "master.py").write_text(MASTER)
    master = subprocess.Popen(["nginx: master process fake", str(tmp_path / "master.py"), str(mode)],  # pylint: disable=consider-using-with
                              executable=sys.executable)
    pid = tmp_path / "nginx.pid"
    pid.write_text("%d\n" % master.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_lb_nginx.children(master.pid)) < 2:
        time.sleep(0.02)
    assert len(_lb_nginx.children(master.pid)) == 2, "the fake nginx master did not start its workers within 60 s"
    time.sleep(0.05)
    os.utime(path, (time.time() - 60, time.time() - 60))  # edited before the workers started: loaded

    def backend(server: str = "10.0.0.2:8080", **params) -> NginxBackend:
        base = dict(nginx_upstream_file=str(path), nginx_upstream="web", nginx_server=server, nginx_binary=str(nginx),
                    nginx_conf=str(tmp_path / "nginx.conf"), nginx_pid_file=str(pid), wait_timeout=30.0)
        return NginxBackend(dict(base, **params))

    backend.path = path
    backend.tmp = tmp_path
    backend.master = master
    yield backend
    master.send_signal(signal.SIGTERM)
    master.wait()


def _params(**extra) -> dict:
    return dict(dict(state="drained", wait_timeout=30.0, drain_timeout=30.0, on_drain_timeout="fail", min_healthy=0,
                     poll_interval=0.05), **extra)


def test_member_views(lb):
    backend = lb()
    assert backend.label == "server 10.0.0.2:8080 of nginx upstream web"
    member = backend.member()
    assert (member["name"], member["state"], member["healthy"], member["sessions"]) == ("10.0.0.2:8080", "enabled", True, 0)
    views = {m["name"]: (m["state"], m["healthy"]) for m in backend.members()}
    assert views == {"10.0.0.1:8080": ("enabled", True), "10.0.0.2:8080": ("enabled", True),
                     "10.0.0.3:8080": ("drained", False), "10.0.0.4:8080": ("drained", False)}


def test_a_file_changed_after_the_last_reload_is_not_loaded(lb):
    os.utime(lb.path)  # now: later than the workers
    member = lb().member()
    assert (member["state"], member["healthy"]) == ("enabled", False)
    assert "reload pending" in member["detail"]
    assert lb("10.0.0.3:8080").member()["state"] == "enabled"  # down in the file, but nginx may still send it traffic


def test_drain_adds_down_tests_and_reloads(lb):
    result = _lb.run(lb(), _params(), check_mode=False)
    assert result["changed"] and result["diff"] == dict(before=dict(state="enabled", healthy=True, sessions=0),
                                                        after=dict(state="drained", healthy=False, sessions=0))
    assert lb.path.read_text() == TEXT.replace("server 10.0.0.2:8080;", "server 10.0.0.2:8080 down;")
    assert os.stat(lb.path).st_mode & 0o777 == 0o640
    assert (lb.tmp / "calls").read_text().split("\n")[0] == "-t -q -c %s" % (lb.tmp / "nginx.conf")
    assert not [n for n in os.listdir(lb.tmp) if n.startswith(".")]
    again = _lb.run(lb(), _params(), check_mode=False)
    assert not again["changed"] and again["before"]["state"] == "drained"
    assert not _lb.run(lb(), _params(state="disabled"), check_mode=True)["changed"]
    back = _lb.run(lb(), _params(state="enabled"), check_mode=False)
    assert back["changed"] and back["member"]["healthy"] and lb.path.read_text() == TEXT


def test_check_mode_predicts_and_writes_nothing(lb):
    result = _lb.run(lb(), _params(state="disabled"), check_mode=True)
    assert result["changed"] and result["diff"]["after"] == dict(state="drained", healthy=False, sessions=0)
    assert lb.path.read_text() == TEXT and not (lb.tmp / "calls").exists()


def test_failing_test_restores_the_file_byte_for_byte(lb):
    (lb.tmp / "fail-test").write_text("")
    before = os.stat(lb.path)
    with pytest.raises(LbError) as err:
        lb().drain()
    assert str(err.value) == (
        "nginx -t failed after marking server 10.0.0.2:8080 of nginx upstream web down in %s, so nginx was not reloaded "
        "and %s is restored: [emerg] unknown directive \"bogus\" in /etc/nginx/conf.d/other.conf:3 "
        "nginx: configuration file /etc/nginx/nginx.conf test failed" % (lb.path, lb.path))
    after = os.stat(lb.path)
    assert lb.path.read_bytes() == TEXT.encode()
    assert (after.st_mtime_ns, after.st_mode, after.st_uid) == (before.st_mtime_ns, before.st_mode, before.st_uid)
    assert lb().member()["healthy"]  # the restored file still counts as loaded


def test_a_refused_reload_restores_the_file(lb):
    (lb.tmp / "mode").write_text("ignore")
    with pytest.raises(LbError, match=r"nginx master \d+ did not load the new configuration within 1 s after removing down "
                                      r"from server 10.0.0.3:8080 of nginx upstream web in .*upstream.conf \(no new workers\); "
                                      r".*upstream.conf is restored"):
        lb("10.0.0.3:8080", wait_timeout=1.0).enable()
    assert lb.path.read_bytes() == TEXT.encode()


@pytest.mark.parametrize("content, problem", [
    (None, "no master PID (cannot read pid file {pid}: No such file or directory)"),
    ("", "pid file {pid} holds '', not a PID"),
    ("{me}", "no nginx master process with PID {me} (from pid file {pid})"),
], ids=["no-pid-file", "empty-pid-file", "not-nginx"])
def test_nginx_not_running(lb, content, problem):
    # The test's own PID is a live process that is not nginx (filled in here: parameters must not vary between
    # the xdist workers that collect them).
    content = None if content is None else content.format(me=os.getpid())
    problem = problem.replace("{me}", str(os.getpid()))
    pid = lb.tmp / "other.pid"
    if content is not None:
        pid.write_text(content)
    with pytest.raises(LbError) as err:
        lb(nginx_pid_file=str(pid)).member()
    assert str(err.value) == "nginx is not running for %s: %s" % (lb.path, problem.format(pid=pid))
    with pytest.raises(LbError):
        lb(nginx_pid_file=str(pid)).drain()
    assert lb.path.read_text() == TEXT


def test_missing_file(lb, tmp_path):
    with pytest.raises(LbError, match=r"^nginx upstream file .*missing.conf does not exist \(server 10.0.0.2:8080 of nginx upstream web\)$"):
        lb(nginx_upstream_file=str(tmp_path / "missing.conf")).member()


def test_pid_file_from_the_main_configuration(lb):
    conf = lb.tmp / "nginx.conf"
    conf.write_text("# main\npid %s;\nevents { }\nhttp { include %s; }\n" % (lb.tmp / "nginx.pid", lb.path))
    assert lb(nginx_pid_file=None).member()["state"] == "enabled"


def test_capacity_guard_counts_live_members(lb):
    with pytest.raises(LbError, match=r"refusing to take server 10.0.0.2:8080 of nginx upstream web out: 1 of 4 members "
                                      r"would stay healthy in rotation \(10.0.0.1:8080\), below min_healthy 2"):
        _lb.run(lb(), _params(min_healthy=2), check_mode=True)


def test_a_symlinked_file_stays_a_symlink(lb):
    real = lb.tmp / "available.conf"
    os.rename(lb.path, real)
    os.symlink(real, lb.path)
    lb().drain()
    assert os.path.islink(lb.path) and "server 10.0.0.2:8080 down;" in real.read_text()
    assert lb().member()["state"] == "drained"


def test_boot_offset_takes_the_tightest_bracket(monkeypatch):
    """A preemption between the clock reads (a busy machine) must not shift process start times."""
    boot = iter([100.0, 100.5,     # sample 1: descheduled for 0.5 s around the wall-clock read
                 200.0, 200.001])  # sample 2: tight
    walls = iter([1000.3, 1100.0005])
    monkeypatch.setattr(_lb_nginx.time, "clock_gettime", lambda clock: next(boot))
    monkeypatch.setattr(_lb_nginx.time, "time", lambda: next(walls))
    assert _lb_nginx.boot_offset(samples=2) == pytest.approx(900.0, abs=0.001)


def test_start_times_of_this_process_are_close_to_now():
    import time as _time

    with open("/proc/self/stat", encoding="ascii") as handle:
        ticks = int(handle.read().rsplit(")", 1)[1].split()[19])
    started = _lb_nginx._start_time(ticks, _lb_nginx.boot_offset())
    assert started <= _time.time() + 0.05
