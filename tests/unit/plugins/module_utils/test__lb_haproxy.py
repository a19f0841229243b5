# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for the HAProxy backend's parsing and error wording, against a scripted fake runtime API.

The fake only answers with text captured from HAProxy 2.6; the real behaviour (drain, maint, checks,
reloads) is tested against a real HAProxy in tests/integration/targets/lb_haproxy.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._lb import haproxy as hx
from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError

STAT_HEADER = ("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,"
               "act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,"
               "check_status,check_code,check_duration")


def stat_row(px: str, sv: str, scur: int, status: str) -> str:
    fields = [px, sv, "0", "0", str(scur), "1", "", "5", "0", "0", "", "0", "", "0", "0", "0", "0", status, "1", "1", "0",
              "0", "0", "1", "0", "", "1", "3", "1", "", "5", "", "2", "0", "", "1", "L7OK", "200", "0"]
    return ",".join(fields)


def stat(*rows: tuple[str, str, int, str]) -> str:
    lines = [STAT_HEADER, stat_row("fe", "FRONTEND", 0, "OPEN")]
    lines += [stat_row(*row) for row in rows]
    lines.append(stat_row("web", "BACKEND", 0, "UP"))
    return "\n".join(lines) + "\n\n"


SERVERS_HEADER = ("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight "
                  "srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state "
                  "bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr "
                  "srv_agent_addr srv_agent_port\n")


def servers_state(*rows: tuple[str, int]) -> str:
    lines = ["3 web %d %s 127.0.0.1 2 %d 1 1 4 15 3 4 6 0 0 0 - 1800%d - 0 0 - - 0" % (i + 1, name, admin, i + 1)
             for i, (name, admin) in enumerate(rows)]
    return SERVERS_HEADER + "\n".join(lines) + "\n\n"


class FakeRuntime:
    """A unix-socket server answering each command from a dict (or a callable); records the commands."""

    def __init__(self, path: str, answers: dict) -> None:
        self.path = path
        self.answers = answers
        self.commands: list[str] = []
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.bind(path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                command = data.decode().strip()
                self.commands.append(command)
                answer = self.answers.get(command)
                if answer is None:
                    answer = next((v for k, v in self.answers.items() if command.startswith(k)), "Unknown command\n\n")
                if callable(answer):
                    answer = answer()
                conn.sendall(answer.encode())

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def fake():
    made = []
    folder = tempfile.mkdtemp(prefix="lbhx")  # short: unix socket paths are limited to 107 bytes

    def make(answers: dict) -> FakeRuntime:
        runtime = FakeRuntime(os.path.join(folder, "admin.sock"), answers)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
    shutil.rmtree(folder)


def backend(path: str, server: str = "web02", name: str = "web", state_file: str | None = None) -> hx.HaproxyBackend:
    return hx.HaproxyBackend(dict(haproxy_socket=path, haproxy_backend=name, haproxy_server=server, haproxy_state_file=state_file))


NORMAL = {
    "show stat": stat(("web", "web01", 0, "UP"), ("web", "web02", 3, "UP"), ("web", "web03", 0, "DOWN")),
    "show servers state web": servers_state(("web01", 0), ("web02", 0), ("web03", 0)),
    "show info": "Name: HAProxy\nVersion: 2.6.12\nPid: 100\n\n",
}


# -- pure parsing --------------------------------------------------------------------------------

@pytest.mark.parametrize("status, admin, state, healthy", [
    ("UP", 0, "enabled", True),
    ("no check", 0, "enabled", True),
    ("DOWN", 0, "enabled", False),
    ("UP 1/3", 0, "enabled", False),
    ("DOWN 1/2", 0, "enabled", False),
    ("DRAIN", 8, "draining", True),
    ("DRAIN 1/3", 8, "draining", False),
    ("DOWN", 8, "draining", False),
    ("DRAIN (agent)", 0, "draining", True),
    ("NOLB", 0, "draining", True),
    ("NOLB 1/3", 0, "draining", False),
    ("MAINT", 1, "disabled", False),
    ("MAINT", 9, "disabled", False),
    ("MAINT (via web/web01)", 2, "disabled", False),
    ("MAINT (resolution)", 0x20, "disabled", False),
    ("MAINT", None, "disabled", False),
    ("DRAIN", None, "draining", True),
])
def test_member_view_mapping(status, admin, state, healthy):
    view = hx.member_view({"svname": "web02", "scur": "4", "status": status}, admin)
    assert view == dict(name="web02", state=state, healthy=healthy, sessions=4, detail=status)


def test_member_view_unknown_sessions():
    assert hx.member_view({"svname": "s", "scur": "", "status": "UP"}, 0)["sessions"] is None


def test_parse_stat_and_servers_state():
    rows = hx.parse_stat(NORMAL["show stat"])
    assert [(r["pxname"], r["svname"], r["scur"], r["status"]) for r in rows][1:4] == [
        ("web", "web01", "0", "UP"), ("web", "web02", "3", "UP"), ("web", "web03", "0", "DOWN")]
    state = hx.parse_servers_state(servers_state(("web01", 1), ("web02", 8)))
    assert [(r["srv_name"], r["srv_admin_state"]) for r in state] == [("web01", "1"), ("web02", "8")]
    with pytest.raises(ValueError):
        hx.parse_stat("Permission denied\n\n")
    with pytest.raises(ValueError):
        hx.parse_servers_state("Can't find backend.\n\n")


@pytest.mark.parametrize("address, expected", [
    ("tcp:127.0.0.1:9999", (socket.AF_INET, ("127.0.0.1", 9999))),
    ("tcp:[::1]:9999", (socket.AF_INET6, ("::1", 9999))),
    ("/run/haproxy/admin.sock", (socket.AF_UNIX, "/run/haproxy/admin.sock")),
])
def test_parse_address(address, expected):
    assert hx.parse_address(address) == expected


@pytest.mark.parametrize("address", ["tcp:127.0.0.1", "tcp::9999", "tcp:host:0", "tcp:host:http", ""])
def test_parse_address_refuses(address):
    with pytest.raises(LbError, match="haproxy_socket"):
        hx.parse_address(address)


# -- against the fake runtime API ----------------------------------------------------------------------

def test_member_and_members(fake):
    runtime = fake(dict(NORMAL))
    lb = backend(runtime.path)
    assert lb.label == "server web02 of HAProxy backend web"
    assert lb.member() == dict(name="web02", state="enabled", healthy=True, sessions=3, detail="UP")
    assert [(m["name"], m["healthy"]) for m in lb.members()] == [("web01", True), ("web02", True), ("web03", False)]
    assert "show info" not in runtime.commands  # no reload check before a command of ours


def test_commands_sent(fake):
    runtime = fake(dict(NORMAL, **{"set server": "\n"}))
    lb = backend(runtime.path)
    lb.drain()
    lb.disable()
    lb.enable()
    sets = [c for c in runtime.commands if c.startswith("set server")]
    assert sets == ["set server web/web02 state drain", "set server web/web02 state maint", "set server web/web02 state ready"]


def test_unknown_server_lists_servers(fake):
    runtime = fake(dict(NORMAL))
    with pytest.raises(LbError) as info:
        backend(runtime.path, server="web09").member()
    assert str(info.value) == "HAProxy backend 'web' at %s has no server 'web09'; its servers: web01, web02, web03" % runtime.path


def test_unknown_server_answer_to_a_command(fake):
    runtime = fake(dict(NORMAL, **{"set server": "No such server.\n\n"}))
    with pytest.raises(LbError) as info:
        backend(runtime.path, server="web09").drain()
    assert str(info.value) == ("HAProxy backend 'web' at %s has no server 'web09' (No such server.); its servers: web01, web02, web03"
                               % runtime.path)


def test_unknown_backend(fake):
    runtime = fake(dict(NORMAL, **{"show servers state nope": "Can't find backend.\n\n"}))
    with pytest.raises(LbError) as info:
        backend(runtime.path, name="nope").member()
    assert str(info.value) == "HAProxy at %s has no backend 'nope' (Can't find backend.); its backends: web" % runtime.path
    with pytest.raises(LbError, match="has no backend 'nope'"):
        backend(runtime.path, name="nope").members()


def test_no_such_backend_answer(fake):
    runtime = fake(dict(NORMAL, **{"set server": "No such backend.\n\n"}))
    with pytest.raises(LbError) as info:
        backend(runtime.path, name="gone").drain()
    assert str(info.value) == "HAProxy at %s has no backend 'gone' (No such backend.); its backends: web" % runtime.path


@pytest.mark.parametrize("answer, expected", [
    ("Permission denied\n\n", "Permission denied; the stats socket needs 'level admin' to change servers"),
    ("Unknown command, but maybe one of the following ones is a better match:\n  show fd\n\n",
     "Unknown command, but maybe one of the following ones is a better match:; this HAProxy does not know the command"),
    ("Require 'backend/server'.\n\n", "Require 'backend/server'."),
])
def test_refusals_are_failures(fake, answer, expected):
    runtime = fake(dict(NORMAL, **{"set server": answer}))
    with pytest.raises(LbError) as info:
        backend(runtime.path).drain()
    assert str(info.value) == "HAProxy at %s refused 'set server web/web02 state drain' for server web02 of HAProxy backend web: %s" % (
        runtime.path, expected)


def test_refused_read(fake):
    runtime = fake({"show servers state web": "Permission denied\n\n", "show stat": "Permission denied\n\n"})
    with pytest.raises(LbError, match=r"refused 'show servers state web' for server web02 of HAProxy backend web: Permission denied"):
        backend(runtime.path).member()


def test_missing_socket(tmp_path):
    path = str(tmp_path / "nothing.sock")
    with pytest.raises(LbError) as info:
        backend(path).member()
    assert str(info.value) == "cannot reach the HAProxy runtime API at %s: the socket does not exist (No such file or directory)" % path


def test_refused_tcp_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    address = "tcp:127.0.0.1:%d" % port
    with pytest.raises(LbError) as info:
        backend(address).member()
    assert str(info.value) == ("cannot reach the HAProxy runtime API at %s: connection refused (is HAProxy running, and is this "
                               "its stats socket?)" % address)


def test_timeout(monkeypatch):
    monkeypatch.setattr(hx, "EXCHANGE_TIMEOUT", 0.2)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        address = "tcp:127.0.0.1:%d" % silent.getsockname()[1]
        with pytest.raises(LbError) as info:
            backend(address).member()
    assert str(info.value) == "no answer from the HAProxy runtime API at %s to 'show servers state web' within 0.2 s" % address


def test_reload_after_a_command_is_reported(fake):
    pids = iter(["100", "100", "200"])
    runtime = fake(dict(NORMAL, **{"set server": "\n", "show info": lambda: "Pid: %s\n\n" % next(pids)}))
    lb = backend(runtime.path)
    lb.drain()
    assert lb.member()["name"] == "web02"
    with pytest.raises(LbError) as info:
        lb.member()
    assert str(info.value).startswith("HAProxy at %s was reloaded (process 100, now 200) while server web02 of HAProxy backend web "
                                      "was draining: " % runtime.path)


def test_after_change_saves_state_atomically(fake, tmp_path):
    saved = servers_state(("web01", 0), ("web02", 1))
    runtime = fake(dict(NORMAL, **{"show servers state": saved}))
    target = tmp_path / "state" / "server-state"
    target.parent.mkdir()
    target.write_text("old")
    backend(runtime.path, state_file=str(target)).after_change()
    assert target.read_text() == saved
    assert os.listdir(target.parent) == ["server-state"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_after_change_without_state_file_does_nothing(fake):
    runtime = fake(dict(NORMAL))
    backend(runtime.path).after_change()
    assert runtime.commands == []


def test_after_change_unwritable(fake, tmp_path):
    runtime = fake(dict(NORMAL, **{"show servers state": servers_state(("web01", 0))}))
    target = str(tmp_path / "absent" / "server-state")
    with pytest.raises(LbError) as info:
        backend(runtime.path, state_file=target).after_change()
    assert str(info.value) == "cannot save HAProxy's server state to haproxy_state_file %s: No such file or directory" % target


def test_after_change_refused(fake, tmp_path):
    runtime = fake(dict(NORMAL, **{"show servers state": "Permission denied\n\n"}))
    target = tmp_path / "server-state"
    with pytest.raises(LbError, match="refused 'show servers state'"):
        backend(runtime.path, state_file=str(target)).after_change()
    assert not target.exists()
