# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lb_member against a real HAProxy, end to end.

``lb_haproxy.py [ansible-playbook flags] [case ...]`` starts three small HTTP servers (``web``
subcommand) and Debian's haproxy in master-worker mode (``-Ws``) on random loopback ports, with a
config written here: an admin stats socket (unix, with ``expose-fd listeners``), an operator one,
an admin TCP one, ``option httpchk`` health checks and a server state file. Each case runs
``steps.yml`` through ansible-playbook (local connection) and asserts the results (changed, diff,
exact messages, check mode predicting the real run) and HAProxy's own view after every step, read
from the runtime API by ``lb_haproxy.py view SOCKET``. runme.sh starts this driver in a session of
its own and kills that process group when it exits, whatever happens; the driver also stops what it
started.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
SERVERS = ("web01", "web02", "web03")
# A held request answers at the latest this long after it arrived, so a failed case cannot leave one behind for ever.
HOLD_LIMIT = 240


# -- helpers shared by the subcommands -------------------------------------------------------------

def runtime(address: str, command: str) -> str:
    """One exchange with HAProxy's runtime API (independent of the code under test)."""
    if address.startswith("tcp:"):
        host, port = address[4:].rsplit(":", 1)
        sock = socket.create_connection((host, int(port)), 5)
    else:
        sock = socket.socket(socket.AF_UNIX)
        sock.settimeout(30)
        sock.connect(address)
    with sock:
        sock.sendall(command.encode() + b"\n")
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return b"".join(chunks).decode()
            chunks.append(chunk)


def haproxy_view(address: str, backend: str = "web") -> dict:
    """{server: {status, scur, admin}} straight from ``show stat`` and ``show servers state``."""
    lines = runtime(address, "show stat").splitlines()
    header = lines[0][2:].split(",")
    view = {}
    for line in lines[1:]:
        row = dict(zip(header, line.split(","), strict=False))
        if row.get("pxname") == backend and row.get("svname") not in ("BACKEND", "FRONTEND"):
            view[row["svname"]] = {"status": row["status"], "scur": int(row["scur"])}
    state = runtime(address, "show servers state %s" % backend).splitlines()
    names = state[1][2:].split()
    for line in state[2:]:
        if line.strip():
            row = dict(zip(names, line.split(), strict=False))
            view[row["srv_name"]]["admin"] = int(row["srv_admin_state"])
    return view


class WebHandler(http.server.BaseHTTPRequestHandler):
    """/health answers 503 while the marker file exists; /hold?f=PATH answers once PATH exists (the test releases it, bounded
    by HOLD_LIMIT); the body is the server's name."""

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        code = 200
        if self.path.startswith("/health"):
            code = 503 if os.path.exists(self.server.sick) else 200
        elif self.path.startswith("/hold"):
            release = urllib.parse.unquote(self.path.split("f=", 1)[1])
            deadline = time.monotonic() + HOLD_LIMIT
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.02)
        body = self.server.label.encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # pylint: disable=arguments-differ
        pass


class WebServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # health checks close without reading the body


def serve_web(port: int, label: str, sick: str) -> None:
    httpd = WebServer(("127.0.0.1", port), WebHandler)
    httpd.label = label
    httpd.sick = sick
    httpd.serve_forever()


# -- the lab --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def check(condition: bool, what: str, detail: object = "") -> None:
    if not condition:
        sys.exit("FAILED: %s\n%s" % (what, str(detail)[-4000:]))


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except OSError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(0.05)
    sys.exit("FAILED: timed out waiting for %s (last: %r)" % (what, last))


class Lab:
    def __init__(self, work: str, flags: list[str]) -> None:
        self.work = work
        self.flags = flags
        self.admin = os.path.join(work, "admin.sock")
        self.operator = os.path.join(work, "operator.sock")
        self.tcp = "tcp:127.0.0.1:%d" % free_port()
        self.state_file = os.path.join(work, "server-state")
        self.front = free_port()
        self.ports = {name: free_port() for name in SERVERS}
        self.procs: list[subprocess.Popen] = []
        self.master: subprocess.Popen | None = None
        self.runs = 0
        self.holds = 0

    def spawn(self, argv: list[str], log: str) -> subprocess.Popen:
        with open(os.path.join(self.work, log), "ab") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)  # pylint: disable=consider-using-with
        self.procs.append(proc)
        return proc

    def sick(self, name: str) -> str:
        return os.path.join(self.work, name + ".sick")

    def start(self) -> None:
        for name, port in self.ports.items():
            self.spawn([PY, __file__, "web", str(port), name, self.sick(name)], name + ".log")
        tcp_port = self.tcp.rsplit(":", 1)[1]
        use = "".join("    use-server %s if { req.hdr(x-server) %s }\n" % (n, n) for n in SERVERS)
        servers = "".join("    server %s 127.0.0.1:%d check\n" % (n, p) for n, p in self.ports.items())
        config = (
            "global\n"
            "    stats socket %s level admin expose-fd listeners\n"
            "    stats socket %s level operator\n"
            "    stats socket 127.0.0.1:%s level admin\n"
            "    server-state-file %s\n"
            "defaults\n"
            "    mode http\n"
            "    timeout connect 5s\n    timeout client 300s\n    timeout server 300s\n"
            # A check's own bound; without it a check times out after inter (100 ms), and on a loaded machine healthy
            # servers would flap DOWN between the steps of a case.
            "    timeout check 10s\n"
            "    load-server-state-from-file global\n"
            "frontend fe\n"
            "    bind 127.0.0.1:%d\n"
            "    default_backend web\n"
            "backend web\n"
            "    balance roundrobin\n"
            "    option httpchk GET /health\n"
            "    default-server inter 100ms fastinter 100ms downinter 100ms rise 2 fall 2\n"
            "%s%s"
            "backend other\n"
            "    server only 127.0.0.1:%d\n"
        ) % (self.admin, self.operator, tcp_port, self.state_file, self.front, use, servers, self.ports["web01"])
        path = os.path.join(self.work, "haproxy.cfg")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(config)
        haproxy = os.environ.get("HAPROXY", "haproxy")
        self.master = self.spawn([haproxy, "-Ws", "-f", path], "haproxy.log")
        self.wait_all_up()

    def pid(self) -> str:
        for line in runtime(self.admin, "show info").splitlines():
            if line.startswith("Pid:"):
                return line.split(":", 1)[1].strip()
        raise AssertionError("no Pid in show info")

    def reload(self) -> tuple[str, str]:
        """A real reload (SIGUSR2 to the master); returns the old and the new worker's pid."""
        old = self.pid()
        assert self.master is not None
        self.master.send_signal(signal.SIGUSR2)

        def changed() -> str | None:
            pid = self.pid()
            return pid if pid != old else None

        return old, wait_for(changed, 60, "the new worker after a reload")

    def view(self) -> dict:
        return haproxy_view(self.admin)

    def wait_all_up(self) -> None:
        wait_for(lambda: all(s["status"] == "UP" and s["admin"] == 0 for s in self.view().values()), 60, "all servers UP")

    def set_state(self, server: str, state: str) -> None:
        answer = runtime(self.admin, "set server web/%s state %s" % (server, state))
        check(answer.strip() == "", "the test's own set server %s %s" % (server, state), answer)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()

    def play(self, name: str, steps: list[dict]) -> list[dict]:
        """Run the steps in one ansible-playbook; returns [{'result': ..., 'view': ...}] per step."""
        self.runs += 1
        out = os.path.join(self.work, "%02d-%s.json" % (self.runs, name))
        extra = {"steps": steps, "out": out, "admin_socket": self.admin, "driver": os.path.abspath(__file__)}
        playbook = os.path.join(os.path.dirname(PY), "ansible-playbook")
        cmd = [playbook if os.path.exists(playbook) else "ansible-playbook", "-i", "localhost,", "-c", "local",
               "-e", "ansible_python_interpreter=%s" % PY, "-e", json.dumps(extra), os.path.join(HERE, "steps.yml")] + self.flags
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        output = proc.stdout + proc.stderr
        with open(out + ".log", "w", encoding="utf-8") as handle:
            handle.write(output)
        check(proc.returncode == 0, "%s: ansible-playbook exited %d" % (name, proc.returncode), output)
        check("Traceback" not in output, "%s: a traceback in the output" % name, output)
        with open(out, encoding="utf-8") as handle:
            results = json.load(handle)
        for number, step in enumerate(results):
            check("Traceback" not in str(step["result"].get("exception", "")), "%s step %d: no exception" % (name, number), step["result"])
        return results


def four(**step) -> list[dict]:
    """Check mode, real, idempotent check, idempotent real (STYLE.md)."""
    return [dict(step, check=True), dict(step), dict(step, check=True), dict(step)]


def view3(member: dict) -> dict:
    return {k: member[k] for k in ("state", "healthy", "sessions")}


def assert_four(name: str, results: list[dict], before: dict, after: dict, server: str, member_state: str) -> None:
    """changed/diff of the four runs, and check mode predicting the real one."""
    check_run, real, again_check, again = (r["result"] for r in results)
    for label, res in (("check", check_run), ("real", real)):
        check(not res.get("failed") and res["changed"] is True, "%s %s: changed" % (name, label), res)
        check(res["diff"] == {"before": before, "after": after}, "%s %s: the diff" % (name, label), res.get("diff"))
    check(view3(check_run["member"]) == view3(real["member"]) == after, "%s: check mode predicted the member" % name,
          (check_run["member"], real["member"]))
    check(real["member"]["name"] == server and real["member"]["state"] == member_state, "%s: the real member" % name, real["member"])
    for label, res in (("idempotent check", again_check), ("idempotent real", again)):
        check(not res.get("failed") and res["changed"] is False and not res.get("diff"), "%s %s: unchanged" % (name, label), res)
        check(view3(res["member"]) == after and res["waited"] == 0.0, "%s %s: the member as it is" % (name, label), res)


def failed_with(name: str, res: dict, msg: str) -> None:
    check(res.get("failed") is True, "%s: failed" % name, res)
    check(res.get("msg") == msg, "%s: the message" % name, "got:  %s\nwant: %s" % (res.get("msg"), msg))


class HeldRequest(threading.Thread):
    """A request through HAProxy's frontend, pinned to one server, that stays in flight until ``release()``.

    The test decides when it ends, so no case depends on how fast the machine runs a playbook."""

    def __init__(self, lab: Lab, server: str) -> None:
        super().__init__(daemon=True)
        lab.holds += 1
        self.release_file = os.path.join(lab.work, "release-%d" % lab.holds)
        self.url = "http://127.0.0.1:%d/hold?f=%s" % (lab.front, urllib.parse.quote(self.release_file))
        self.server = server
        self.status: int | None = None
        self.body = ""
        self.seconds = 0.0
        self.error: Exception | None = None

    def run(self) -> None:
        started = time.monotonic()
        try:
            request = urllib.request.Request(self.url, headers={"x-server": self.server})
            with urllib.request.urlopen(request, timeout=HOLD_LIMIT + 30) as answer:
                self.status = answer.status
                self.body = answer.read().decode()
        except Exception as exc:  # pylint: disable=broad-except
            self.error = exc
        self.seconds = time.monotonic() - started

    def release(self) -> None:
        with open(self.release_file, "w", encoding="utf-8"):
            pass

    def finish(self, what: str) -> None:
        """Release the request, wait for its answer and check that web02 served it whole."""
        self.release()
        self.join(HOLD_LIMIT + 60)
        check(self.status == 200 and self.body == "web02" and self.error is None, what, (self.status, self.body, self.error))


def fetch(lab: Lab) -> str:
    with urllib.request.urlopen("http://127.0.0.1:%d/" % lab.front, timeout=30) as answer:
        return answer.read().decode()


# -- the cases ------------------------------------------------------------------------------------

UP = {"state": "enabled", "healthy": True, "sessions": 0}
OUT = {"state": "disabled", "healthy": False, "sessions": 0}


def case_drain(lab: Lab) -> None:
    """Drain web02 while a request is in flight: the drain waits for it, then maint; the request succeeds.

    The request is released 1.5 s after HAProxy shows web02 draining, so the real run must have waited that long."""
    held = HeldRequest(lab, "web02")
    held.start()
    wait_for(lambda: lab.view()["web02"]["scur"] == 1, 60, "the held request on web02")

    def release_while_draining() -> None:
        wait_for(lambda: lab.view()["web02"]["admin"] & 8, HOLD_LIMIT, "lb_member to drain web02")
        time.sleep(1.5)  # not synchronisation: how long the drain must visibly wait
        held.release()

    releaser = threading.Thread(target=release_while_draining, daemon=True)
    releaser.start()
    results = lab.play("drain", four(state="drained", server="web02"))
    releaser.join(HOLD_LIMIT)
    assert_four("drain", results, dict(UP, sessions=1), OUT, "web02", "disabled")
    check(results[0]["view"]["web02"] == {"status": "UP", "scur": 1, "admin": 0}, "check mode left web02 alone", results[0]["view"])
    check(results[1]["view"]["web02"] == {"status": "MAINT", "scur": 0, "admin": 1}, "web02 in maintenance after the drain",
          results[1]["view"])
    check(results[1]["result"]["member"]["detail"] == "MAINT", "detail is HAProxy's status", results[1]["result"]["member"])
    check(results[1]["result"]["waited"] >= 1.0, "the drain waited for the request", results[1]["result"])
    check(results[1]["result"]["healthy_members"] == 2 and results[1]["result"]["total_members"] == 3, "counts", results[1]["result"])
    held.finish("the in-flight request completed on web02")
    served = {fetch(lab) for _i in range(8)}
    check(served == {"web01", "web03"}, "no new request reaches web02", served)


def case_enable_waits(lab: Lab) -> None:
    """Enable web02 while its health check fails for 1.5 s more: lb_member waits until HAProxy says UP."""
    with open(lab.sick("web02"), "w", encoding="utf-8"):
        pass
    seen: list[str] = []

    def heal() -> None:
        wait_for(lambda: not lab.view()["web02"]["status"].startswith("MAINT"), 30, "lb_member to set web02 ready")
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            seen.append(lab.view()["web02"]["status"])
            time.sleep(0.05)
        os.unlink(lab.sick("web02"))

    healer = threading.Thread(target=heal, daemon=True)
    healer.start()
    results = lab.play("enable", four(state="enabled", server="web02", wait_timeout=60))
    healer.join(60)
    assert_four("enable", results, OUT, UP, "web02", "enabled")
    check(results[0]["view"]["web02"]["status"] == "MAINT", "check mode left web02 in maintenance", results[0]["view"])
    check("DOWN" in seen, "HAProxy had web02 DOWN while lb_member waited", seen)
    check(results[1]["result"]["waited"] >= 1.0, "enable waited for the check", results[1]["result"])
    check(results[1]["view"]["web02"] == {"status": "UP", "scur": 0, "admin": 0}, "web02 UP", results[1]["view"])


def case_down_times_out(lab: Lab) -> None:
    """web03 stays sick: enabling it times out with a clear error; HAProxy shows it ready but DOWN; draining it works."""
    lab.set_state("web03", "maint")
    with open(lab.sick("web03"), "w", encoding="utf-8"):
        pass
    results = lab.play("down", [dict(state="enabled", server="web03", wait_timeout=2, check=True),
                                dict(state="enabled", server="web03", wait_timeout=2),
                                dict(state="drained", server="web03")])
    predicted = results[0]["result"]
    check(predicted["changed"] is True and predicted["diff"] == {"before": OUT, "after": UP}, "check mode predicts the enable", predicted)
    failed_with("down", results[1]["result"], "server web03 of HAProxy backend web did not become healthy in rotation within 2 s: "
                "the balancer shows state enabled, healthy False (DOWN)")
    check(results[1]["view"]["web03"] == {"status": "DOWN", "scur": 0, "admin": 0}, "web03 ready but DOWN", results[1]["view"])
    # A DOWN server never shows the status DRAIN (HAProxy reports the check's verdict); the drain flag is what counts.
    drained = results[2]["result"]
    check(drained["changed"] is True and drained["diff"] == {"before": dict(UP, healthy=False), "after": OUT}, "a DOWN server drains",
          drained)
    check(results[2]["view"]["web03"] == {"status": "MAINT", "scur": 0, "admin": 1}, "web03 in maint", results[2]["view"])
    os.unlink(lab.sick("web03"))
    lab.set_state("web03", "ready")
    lab.wait_all_up()


def case_errors(lab: Lab) -> None:
    """The capacity guard (check mode too) naming the members that would stay; wrong backend; wrong server (over TCP);
    missing socket; refused port; an operator-level socket."""
    lab.set_state("web01", "maint")
    missing = os.path.join(lab.work, "missing.sock")
    refused = "tcp:127.0.0.1:%d" % free_port()
    results = lab.play("errors", [
        dict(state="drained", server="web03", min_healthy=2, check=True),
        dict(state="drained", server="web03", min_healthy=2),
        dict(state="disabled", server="web03", min_healthy=2),
        dict(state="drained", server="web03", min_healthy=1, check=True),
        dict(state="drained", server="web01", backend="nope", check=True),
        dict(state="drained", server="web01", backend="nope"),
        dict(state="drained", server="web09", socket=lab.tcp, check=True),
        dict(state="drained", server="web09", socket=lab.tcp),
        dict(state="enabled", server="web01", socket=missing),
        dict(state="enabled", server="web01", socket=refused),
        dict(state="drained", server="web03", socket=lab.operator, check=True),
        dict(state="drained", server="web03", socket=lab.operator),
        dict(state="enabled", server="web03", socket=lab.operator),
    ])
    for number in (0, 1, 2):
        failed_with("capacity %d" % number, results[number]["result"],
                    "refusing to take server web03 of HAProxy backend web out: 1 of 3 members would stay healthy in rotation (web02), "
                    "below min_healthy 2")
    check(results[3]["result"]["changed"] is True and not results[3]["result"].get("failed"), "min_healthy 1 passes", results[3])
    for number in (4, 5):
        failed_with("wrong backend", results[number]["result"],
                    "HAProxy at %s has no backend 'nope' (Can't find backend.); its backends: other, web" % lab.admin)
    for number in (6, 7):
        failed_with("wrong server", results[number]["result"],
                    "HAProxy backend 'web' at %s has no server 'web09'; its servers: web01, web02, web03" % lab.tcp)
    failed_with("missing socket", results[8]["result"],
                "cannot reach the HAProxy runtime API at %s: the socket does not exist (No such file or directory)" % missing)
    failed_with("refused", results[9]["result"],
                "cannot reach the HAProxy runtime API at %s: connection refused (is HAProxy running, and is this its stats socket?)" % refused)
    # Reading works at operator level, so check mode predicts the change; the real command is refused.
    check(results[10]["result"]["changed"] is True and not results[10]["result"].get("failed"), "operator check mode", results[10])
    failed_with("operator", results[11]["result"],
                "HAProxy at %s refused 'set server web/web03 state drain' for server web03 of HAProxy backend web: Permission denied; "
                "the stats socket needs 'level admin' to change servers" % lab.operator)
    check(results[12]["result"]["changed"] is False and not results[12]["result"].get("failed"),
          "an operator-level socket is enough when nothing changes", results[12])
    untouched = {"web01": {"status": "MAINT", "scur": 0, "admin": 1}, "web02": {"status": "UP", "scur": 0, "admin": 0},
                 "web03": {"status": "UP", "scur": 0, "admin": 0}}
    check(all(r["view"] == untouched for r in results), "HAProxy untouched by the refusals and failures", [r["view"] for r in results])
    lab.set_state("web01", "ready")
    lab.wait_all_up()


def case_state_reload(lab: Lab) -> None:
    """haproxy_state_file: a real reload keeps the drained server in maint; one disabled without saving comes back."""
    results = lab.play("state", four(state="drained", server="web01", state_file=lab.state_file)
                       + [dict(state="disabled", server="web03", socket=lab.tcp)])
    assert_four("state", results[:4], UP, OUT, "web01", "disabled")
    check(results[4]["result"]["changed"] is True and results[4]["view"]["web03"]["status"] == "MAINT", "web03 disabled", results[4])
    with open(lab.state_file, encoding="utf-8") as handle:
        saved = handle.read()
    check(saved.startswith("1\n# be_id be_name srv_id srv_name"), "show servers state saved as is", saved)
    rows = {line.split()[3]: line.split() for line in saved.splitlines()[2:] if line.strip()}
    check(rows["web01"][6] == "1" and rows["web03"][6] == "0", "the file has web01 in maint, web03 (saved earlier) ready", saved)
    check(not [n for n in os.listdir(lab.work) if n.startswith(".server-state.")], "no temporary file left", os.listdir(lab.work))
    old, new = lab.reload()
    check(old != new, "a new worker", (old, new))

    def settled() -> dict | None:
        view = lab.view()
        return view if view["web03"]["status"] == "UP" else None

    after = wait_for(settled, 60, "web03 back after the reload")
    check(after["web01"] == {"status": "MAINT", "scur": 0, "admin": 1}, "web01 still in maint after the reload", after)
    check(after["web03"]["admin"] == 0, "web03, whose maint was not saved, came back", after)


def case_reload_during_drain(lab: Lab) -> None:
    """A reload while web02 drains a held request: lb_member fails clearly; the request completes; a rerun drains.

    Which step the module was at when it noticed the reload depends on the machine's speed: it may still be draining,
    or it may have read the new process (which sees no session of the old one) between its reload check and its
    session count, taken web02 as drained and sent it to maintenance. Both are correct; the guarantee is that the
    reload is detected and named, with the step it interrupted, and the state that follows matches that step.
    web01 is still in maint from the state case, and stays so across this second reload too.
    """
    held = HeldRequest(lab, "web02")
    held.start()
    wait_for(lambda: lab.view()["web02"]["scur"] == 1, 60, "the held request on web02")
    pids: list[tuple[str, str]] = []

    def reload_when_draining() -> None:
        wait_for(lambda: lab.view()["web02"]["admin"] & 8, HOLD_LIMIT, "lb_member to drain web02")
        pids.append(lab.reload())

    reloader = threading.Thread(target=reload_when_draining, daemon=True)
    reloader.start()
    results = lab.play("reload-drain", [dict(state="drained", server="web02")])
    reloader.join(HOLD_LIMIT)
    check(pids, "the reload happened", results[0])
    old, new = pids[0]
    said = results[0]["result"].get("msg", "")
    doing = "being put in maintenance" if " was being put in maintenance: " in said else "draining"
    failed_with("reload during drain", results[0]["result"],
                "HAProxy at %s was reloaded (process %s, now %s) while server web02 of HAProxy backend web was %s: the new "
                "process does not carry that change unless it loaded a saved server state, and the sessions the old process still "
                "serves cannot be seen through the runtime API, so this cannot be confirmed. Run the task again once the old "
                "process has finished (HAProxy's hard-stop-after bounds it)" % (lab.admin, old, new, doing))
    held.finish("the old process finished the request")
    # The new process started with web02 ready (as saved); only a maintenance sent after the reload changed that.
    admin_after = 1 if doing == "being put in maintenance" else 0
    check(results[0]["view"]["web02"]["admin"] == admin_after and results[0]["view"]["web01"]["status"] == "MAINT",
          "the new process has web02 as the interrupted step left it (admin %d), web01 still in maint" % admin_after, results[0]["view"])
    results = lab.play("reload-rerun", [dict(state="drained", server="web02"), dict(state="enabled", server="web02"),
                                        dict(state="enabled", server="web01", state_file=lab.state_file)])
    check(results[0]["result"]["changed"] is (admin_after == 0) and results[0]["view"]["web02"]["status"] == "MAINT",
          "the rerun drains (or finds web02 already out)", results[0])
    check(results[1]["result"]["changed"] is True and results[1]["view"]["web02"]["status"] == "UP", "and enables again", results[1])
    check(results[2]["result"]["changed"] is True and results[2]["view"]["web01"]["status"] == "UP", "web01 enabled", results[2])
    with open(lab.state_file, encoding="utf-8") as handle:
        rows = {line.split()[3]: line.split() for line in handle.read().splitlines()[2:] if line.strip()}
    check(rows["web01"][6] == "0" and rows["web02"][6] == "0", "the saved state follows the enable", rows)


def case_drain_timeout(lab: Lab) -> None:
    """A request outlasting drain_timeout: fail (web02 stays draining), then on_drain_timeout=disable (forced maint;
    HAProxy lets the request finish)."""
    held = HeldRequest(lab, "web02")
    held.start()
    wait_for(lambda: lab.view()["web02"]["scur"] == 1, 60, "the held request on web02")
    results = lab.play("drain-timeout", [dict(state="drained", server="web02", drain_timeout=1),
                                         dict(state="drained", server="web02", drain_timeout=1, on_drain_timeout="disable")])
    failed_with("drain timeout", results[0]["result"],
                "server web02 of HAProxy backend web still has 1 session(s) in flight after 1 s of draining; it stays draining "
                "(no new work). Raise drain_timeout or set on_drain_timeout=disable to cut them (DRAIN)")
    check(results[0]["view"]["web02"] == {"status": "DRAIN", "scur": 1, "admin": 8}, "web02 stays draining", results[0]["view"])
    forced = results[1]["result"]
    check(forced["changed"] is True and forced["forced"] is True and forced["sessions_cut"] == 1, "forced", forced)
    check(forced["member"]["state"] == "disabled" and results[1]["view"]["web02"]["admin"] == 1, "web02 in maint", results[1])
    held.finish("maint let the request finish")
    lab.set_state("web02", "ready")
    lab.wait_all_up()


CASES = [("drain", case_drain), ("enable", case_enable_waits), ("down", case_down_times_out), ("errors", case_errors),
         ("state", case_state_reload), ("reload", case_reload_during_drain), ("timeout", case_drain_timeout)]


def main(argv: list[str]) -> int:
    if argv[:1] == ["view"]:
        print(json.dumps(haproxy_view(argv[1])))
        return 0
    if argv[:1] == ["web"]:
        serve_web(int(argv[1]), argv[2], argv[3])
        return 0
    flags = [a for a in argv if a.startswith("-")]
    only = [a for a in argv if not a.startswith("-")]
    work = os.environ.get("LB_WORK")
    if not work:
        print("LB_WORK is not set: run runme.sh", file=sys.stderr)
        return 2
    lab = Lab(work, flags)
    started = time.monotonic()
    try:
        lab.start()
        for name, case in CASES:
            if only and name not in only:
                continue
            began = time.monotonic()
            case(lab)
            print("ok %-10s %.1f s" % (name, time.monotonic() - began), flush=True)
    finally:
        lab.stop()
    print("lb_haproxy: %d ansible-playbook runs, %.1f s" % (lab.runs, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
