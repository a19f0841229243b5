# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lb_member against a real nginx: ``lb_nginx.py WORKDIR [ansible-playbook args]``.

Starts Debian's nginx (own prefix, config, pid and error log under WORKDIR, two workers, loopback
only) in front of three real HTTP backends (backend.py), and runs lb_member through ansible-playbook
(member.yml). Every state change runs four times: check mode, real, idempotent check, idempotent
real. Traffic goes only to 127.0.0.1. Everything started here is stopped here; runme.sh's trap is the
safety net.
"""

from __future__ import annotations

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
NGINX = os.environ.get("NGINX_BINARY", "/usr/sbin/nginx")
WORK = os.path.abspath(sys.argv[1])
EXTRA = sys.argv[2:]
PREFIX = os.path.join(WORK, "nginx")
CONF = os.path.join(PREFIX, "nginx.conf")
CONF_D = os.path.join(PREFIX, "conf.d")
UPSTREAM = os.path.join(CONF_D, "upstream-web.conf")
OTHER = os.path.join(CONF_D, "other.conf")
PID = os.path.join(PREFIX, "nginx.pid")
STARTED = time.monotonic()
# backend.py answers a held request at the latest this long after it arrived.
HOLD_LIMIT = 240
STEPS: list[str] = []


def step(text: str) -> None:
    STEPS.append(text)
    print("== %5.1f s  %s" % (time.monotonic() - STARTED, text), flush=True)


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def wait_port(port: int) -> None:
    def listening() -> bool:
        try:
            socket.create_connection(("127.0.0.1", port), 1.0).close()
        except OSError:
            return False
        return True
    wait_until(listening, 60, "something to listen on 127.0.0.1:%d" % port)


def wait_until(predicate, timeout: float, what: str, fail: bool = True):
    """Poll ``predicate`` every 50 ms until it returns something true (returned) or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if not value and fail:
        raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))
    return value


def record_pid(pid: int) -> None:
    with open(os.path.join(WORK, "pids"), "a", encoding="utf-8") as handle:
        handle.write("%d\n" % pid)


class Backends:
    def __init__(self) -> None:
        self.ports = [free_port() for _i in range(3)]
        self.logs = [os.path.join(WORK, "backend%d.log" % (i + 1)) for i in range(3)]
        self.procs = []
        for i, port in enumerate(self.ports):
            open(self.logs[i], "w", encoding="utf-8").close()  # pylint: disable=consider-using-with
            proc = subprocess.Popen([PY, os.path.join(HERE, "backend.py"), str(port), "b%d" % (i + 1), self.logs[i]])  # pylint: disable=consider-using-with
            record_pid(proc.pid)
            self.procs.append(proc)
        for port in self.ports:
            wait_port(port)

    def address(self, i: int) -> str:
        return "127.0.0.1:%d" % self.ports[i]

    def hits(self, i: int) -> list[str]:
        with open(self.logs[i], encoding="utf-8") as handle:
            return handle.read().splitlines()

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            proc.wait()


class Nginx:
    def __init__(self, backends: Backends) -> None:
        self.port = free_port()
        os.makedirs(CONF_D, exist_ok=True)
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            os.makedirs(os.path.join(PREFIX, "temp", sub), exist_ok=True)
        with open(CONF, "w", encoding="utf-8") as handle:
            handle.write(_main_conf(self.port))
        with open(UPSTREAM, "w", encoding="utf-8") as handle:
            handle.write(upstream_text(backends))
        with open(OTHER, "w", encoding="utf-8") as handle:
            handle.write("# an unrelated file included next to the managed one\nmap $uri $fleetops_test { default 1; }\n")
        os.chmod(UPSTREAM, 0o640)
        # Written long before nginx starts, as in real life. lb_member counts the file as loaded when every worker
        # started after its mtime, and process start times have 10 ms resolution: a worker forked within 10 ms of the
        # write reads as older than the file (reload pending, not healthy), which an idle machine does one time in three.
        past = time.time() - 5
        os.utime(UPSTREAM, (past, past))
        self.command([])
        wait_until(lambda: os.path.exists(PID) and os.path.getsize(PID), 60, "nginx to write " + PID)
        wait_port(self.port)
        self.master = int(open(PID, encoding="utf-8").read())  # pylint: disable=consider-using-with
        record_pid(self.master)

    def command(self, args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([NGINX, "-p", PREFIX + "/", "-e", os.path.join(PREFIX, "error.log"), "-c", CONF] + args,
                              check=True, capture_output=True, text=True)

    def get(self, path: str, timeout: float = 30.0) -> tuple[int, str]:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=timeout) as answer:
            return answer.status, answer.read().decode()

    def workers(self) -> tuple[list[int], list[int]]:
        """(current workers, old workers shutting down) of the master."""
        current, old = [], []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry, encoding="utf-8") as handle:
                    ppid = int(handle.read().rsplit(")", 1)[1].split()[1])
                with open("/proc/%s/cmdline" % entry, "rb") as handle:
                    title = handle.read().replace(b"\0", b" ").decode().strip()
            except (OSError, IndexError):
                continue
            if ppid != self.master:
                continue
            if title.startswith("nginx: worker process is shutting down"):
                old.append(int(entry))
            elif title.startswith("nginx: worker process"):
                current.append(int(entry))
        return current, old

    def stop(self) -> None:
        try:
            self.command(["-s", "quit"])
        except subprocess.CalledProcessError:
            pass
        for _attempt in range(100):
            if not os.path.exists("/proc/%d" % self.master):
                return
            time.sleep(0.05)
        os.kill(self.master, signal.SIGKILL)


def _main_conf(port: int) -> str:
    temp = os.path.join(PREFIX, "temp")
    return """# lb_nginx test configuration
worker_processes 2;
pid %(pid)s;
error_log %(prefix)s/error.log info;
events { worker_connections 64; }
http {
    access_log %(prefix)s/access.log;
    client_body_temp_path %(temp)s/body;
    proxy_temp_path %(temp)s/proxy;
    fastcgi_temp_path %(temp)s/fastcgi;
    uwsgi_temp_path %(temp)s/uwsgi;
    scgi_temp_path %(temp)s/scgi;
    include %(conf_d)s/*.conf;
    server {
        listen 127.0.0.1:%(port)d;
        location / {
            proxy_pass http://web;
            proxy_read_timeout 300s;
        }
    }
}
""" % dict(pid=PID, prefix=PREFIX, temp=temp, conf_d=CONF_D, port=port)


def upstream_text(backends: Backends) -> str:
    return """# Managed by lb_member: the web pool. Comments and parameters stay as written.
upstream web {
    server %s weight=1 max_fails=3 fail_timeout=10s;   # b1
    server %s;  # b2, the one we drain
    server %s max_fails=2;
    keepalive 4;
}

upstream spare {
    server 127.0.0.1:9; # never used
}
""" % (backends.address(0), backends.address(1), backends.address(2))


def playbook(calls: list[dict]) -> list[dict]:
    """Run member.yml with these calls (``check: True`` for check mode); the list of per-call results."""
    out = os.path.join(WORK, "result.json")
    if os.path.exists(out):
        os.unlink(out)
    extra = dict(calls=calls, out=out, upstream_file=UPSTREAM, nginx_binary=NGINX, nginx_conf=CONF,
                 ansible_python_interpreter=PY)
    vars_file = os.path.join(WORK, "vars.json")
    with open(vars_file, "w", encoding="utf-8") as handle:
        json.dump(extra, handle)
    command = ["ansible-playbook", "-i", "localhost,", "-c", "local", "--diff", "-e", "@" + vars_file,
               os.path.join(HERE, "member.yml")] + EXTRA
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not os.path.exists(out):
        raise AssertionError("ansible-playbook failed (%d):\n%s\n%s" % (proc.returncode, proc.stdout, proc.stderr))
    with open(out, encoding="utf-8") as handle:
        return json.load(handle)


def expect(condition: bool, what: str, result: object = None) -> None:
    if not condition:
        raise AssertionError("%s%s" % (what, "\n" + json.dumps(result, indent=1, default=str) if result is not None else ""))


def four_times(call: dict, before: dict, after: dict, then: list[dict] | None = None) -> list[dict]:
    """Check mode, real, idempotent check, idempotent real (one playbook run, then ``then``); asserts changed,
    the diff and that check mode predicted the real run.

    A disable does not wait for the old workers (they finish their requests on their own), so its real
    diff may still count them as sessions: for it, check mode predicts state and health.
    """
    results = playbook([dict(call, check=True), call, dict(call, check=True), call] + (then or []))
    check, real, again_check, again_real = results[:4]
    expect(not check.get("failed") and check["changed"], "check mode should report a change", check)
    expect(check["diff"]["before"] == before and check["diff"]["after"] == after, "check mode diff", check)
    expect(not real.get("failed") and real["changed"], "the real run should change", real)
    if call["state"] == "disabled":
        real_after = dict(real["diff"]["after"], sessions=0)
        expect(real["diff"]["before"] == check["diff"]["before"] and real_after == check["diff"]["after"],
               "check mode should predict the real diff", dict(check=check["diff"], real=real["diff"]))
    else:
        expect(real["diff"] == check["diff"], "check mode should predict the real diff", dict(check=check["diff"], real=real["diff"]))
    expect(real["member"]["state"] == after["state"] and check["member"]["state"] == after["state"], "member state", real)
    for mode, again in (("check", again_check), ("real", again_real)):
        expect(not again.get("failed") and not again["changed"] and "diff" not in again,
               "an idempotent %s run should change nothing" % mode, again)
        expect(again["before"] == after, "an idempotent %s run should see the new state" % mode, again)
    return results


def spread(nginx: Nginx, count: int = 9) -> list[str]:
    """Send ``count`` quick requests through nginx; the answering backends."""
    names = []
    for i in range(count):
        status, body = nginx.get("/quick/%d" % i)
        expect(status == 200, "a request through nginx should answer 200, not %s" % status)
        names.append(body.split()[0])
    return names


def main() -> None:  # pylint: disable=too-many-statements,too-many-locals
    os.makedirs(os.path.join(WORK, "remote_tmp"), exist_ok=True)
    os.environ["ANSIBLE_REMOTE_TEMP"] = os.path.join(WORK, "remote_tmp")
    os.environ["ANSIBLE_PYTHON_INTERPRETER"] = PY
    os.environ.setdefault("ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH", "ignore")
    backends = Backends()
    nginx = None
    try:
        nginx = Nginx(backends)
        step("nginx (master %d) on 127.0.0.1:%d in front of backends %s"
             % (nginx.master, nginx.port, ", ".join(map(str, backends.ports))))
        expect(set(spread(nginx)) == {"b1", "b2", "b3"}, "all three backends should take requests at first")
        b2 = backends.address(1)
        enabled = dict(state="enabled", healthy=True, sessions=0)
        drained = dict(state="drained", healthy=False, sessions=0)
        original = open(UPSTREAM, "rb").read()  # pylint: disable=consider-using-with
        mode = os.stat(UPSTREAM).st_mode

        # -- drain while a request is in flight through nginx --------------------------------------
        # The requests are held until the test releases them: one second after the real drain's reload left
        # an old worker shutting down, so the drain must visibly wait for it however slow the machine is.
        slow: dict = {}
        release_file = os.path.join(WORK, "release")

        def start_slow() -> None:
            def fetch(path: str) -> None:
                try:
                    slow.setdefault("answers", {})[path] = nginx.get(path, timeout=HOLD_LIMIT + 30)
                    slow.setdefault("done_at", {})[path] = time.monotonic()
                except OSError as exc:
                    slow.setdefault("answers", {})[path] = (None, str(exc))
            threads = []
            for i in range(9):  # round robin per worker: a few tries put one on b2
                path = "/hold?f=%s&n=%d" % (urllib.parse.quote(release_file), i)
                thread = threading.Thread(target=fetch, args=(path,), daemon=True)
                thread.start()
                threads.append(thread)
                arrived = wait_until(lambda p=path: [n for n in range(3) if "b%d %s" % (n + 1, p) in backends.hits(n)], 60,
                                     "held request %d to reach a backend" % i)
                if arrived == [1]:
                    break
            slow["threads"] = threads
            slow["on_b2"] = [line.split()[1] for line in backends.hits(1) if "/hold" in line]
            expect(bool(slow["on_b2"]), "a held request should be in flight on b2")
            slow["b2_hits"] = len(backends.hits(1))

        def release_during_drain() -> None:
            try:
                slow["old_worker_seen"] = bool(wait_until(lambda: nginx.workers()[1], HOLD_LIMIT, "the drain's reload", fail=False))
                time.sleep(1.0)  # not synchronisation: how long the drain must visibly wait
            finally:
                open(release_file, "w", encoding="utf-8").close()  # pylint: disable=consider-using-with

        start_slow()
        releaser = threading.Thread(target=release_during_drain, daemon=True)
        releaser.start()
        started = time.monotonic()
        results = four_times(dict(state="drained", server=b2), enabled, drained)
        finished = time.monotonic()
        releaser.join(HOLD_LIMIT + 10)
        expect(slow.get("old_worker_seen") is True, "the drain's reload should leave an old worker finishing the held request", slow)
        real = results[1]
        path = slow["on_b2"][0]
        expect(path in slow.get("done_at", {}) and slow["done_at"][path] <= finished,
               "the slow request on b2 should have finished before lb_member returned", slow)
        expect(slow["answers"][path] == (200, "b2 %s\n" % path), "the slow request should complete with 200 and b2's body", slow)
        expect(real["waited"] >= 0.5 and real["member"]["sessions"] == 0, "the drain should have waited for the old worker", real)
        expect(nginx.workers()[1] == [], "no old worker should be left once the drain returned")
        text = open(UPSTREAM, encoding="utf-8").read()  # pylint: disable=consider-using-with
        expect(text == original.decode().replace("server %s;" % b2, "server %s down;" % b2), "only down added to b2's line:\n" + text)
        expect(os.stat(UPSTREAM).st_mode == mode, "the file mode should be kept")
        hits = len(backends.hits(1))
        names = spread(nginx, 12)
        expect("b2" not in names and len(backends.hits(1)) == hits, "no request should reach the drained b2", names)
        step("drained %s with a request in flight (%.1f s): it answered %s before lb_member returned, which waited %.1f s "
             "for the old worker; b2 took none of 12 requests since" % (b2, finished - started, slow["answers"][path][0], real["waited"]))
        for thread in slow["threads"]:
            thread.join(HOLD_LIMIT + 60)

        # -- enable puts it back ------------------------------------------------------------------
        four_times(dict(state="enabled", server=b2), drained, enabled)
        expect(open(UPSTREAM, "rb").read() == original, "enabling should restore the original text exactly")  # pylint: disable=consider-using-with
        names = spread(nginx, 9)
        expect("b2" in names, "b2 should take requests again once enabled", names)
        step("enabled %s again: the file is the original byte for byte and b2 answers again" % b2)

        # -- disable (nginx has one way out: it shows drained) -----------------------------------
        b3 = backends.address(2)
        four_times(dict(state="disabled", server=b3), enabled, drained)
        names = spread(nginx, 9)
        expect("b3" not in names, "no request should reach the disabled b3", names)
        line = next(x for x in open(UPSTREAM, encoding="utf-8") if b3 in x)  # pylint: disable=consider-using-with
        expect(line.strip() == "server %s max_fails=2 down;" % b3, "other parameters should stay: " + line)
        back = playbook([dict(state="enabled", server=b3)])[0]
        expect(back["changed"] and open(UPSTREAM, "rb").read() == original, "b3 enabled again", back)  # pylint: disable=consider-using-with
        step("disabled %s (parameters kept, no traffic), enabled it again" % b3)

        # -- nginx -t fails: an unrelated included file is broken ---------------------------------
        before_bytes = open(UPSTREAM, "rb").read()  # pylint: disable=consider-using-with
        before_stat = os.stat(UPSTREAM)
        with open(OTHER, "a", encoding="utf-8") as handle:
            handle.write("fleetops_bogus_directive on;\n")
        # After the failed drain, a check of b2 (while other.conf is still broken) must see it enabled and loaded.
        failed, after = playbook([dict(state="drained", server=b2), dict(state="enabled", server=b2, check=True)])
        expect(failed.get("failed") and "nginx -t failed after marking server %s of nginx upstream web down in %s" % (b2, UPSTREAM) in failed["msg"]
               and 'unknown directive "fleetops_bogus_directive" in %s:3' % OTHER in failed["msg"]
               and "%s is restored" % UPSTREAM in failed["msg"], "nginx -t failure message", failed)
        after_stat = os.stat(UPSTREAM)
        expect(open(UPSTREAM, "rb").read() == before_bytes, "the upstream file should be restored byte for byte")  # pylint: disable=consider-using-with
        expect((after_stat.st_mtime_ns, after_stat.st_mode, after_stat.st_uid) == (before_stat.st_mtime_ns, before_stat.st_mode, before_stat.st_uid),
               "the restored file keeps its mtime, mode and owner")
        expect(not [n for n in os.listdir(CONF_D) if n.startswith(".")], "no temporary file should be left")
        with open(OTHER, "w", encoding="utf-8") as handle:
            handle.write("# an unrelated file included next to the managed one\nmap $uri $fleetops_test { default 1; }\n")
        expect(not after.get("failed") and not after["changed"], "after a restore b2 is still enabled and loaded", after)
        step("nginx -t failure: %s" % failed["msg"])

        # -- errors: unknown upstream, unknown server, missing file, capacity guard ---------------
        missing = os.path.join(CONF_D, "missing.conf")
        errors = [
            (dict(state="drained", server=b2, upstream="nope"),
             "nginx upstream nope is not in %s (upstreams there: web, spare)" % UPSTREAM),
            (dict(state="drained", server="127.0.0.1:1"),
             "server 127.0.0.1:1 is not in nginx upstream web in %s (its servers: %s, %s, %s)"
             % (UPSTREAM, backends.address(0), b2, b3)),
            (dict(state="enabled", server=b2, file=missing),
             "nginx upstream file %s does not exist (server %s of nginx upstream web)" % (missing, b2)),
            (dict(state="drained", server=b2, min_healthy=3),
             "refusing to take server %s of nginx upstream web out: 2 of 3 members would stay healthy in rotation (%s, %s), "
             "below min_healthy 3" % ((b2,) + tuple(sorted([backends.address(0), b3])))),
            (dict(state="drained", server=b2, pid_file=os.path.join(WORK, "none.pid")),
             "nginx is not running for %s: no master PID (cannot read pid file %s: No such file or directory)"
             % (UPSTREAM, os.path.join(WORK, "none.pid"))),
        ]
        calls = [dict(call, check=True) for call, _msg in errors] + [call for call, _msg in errors]
        results = playbook(calls + [dict(state="drained", server=b2, min_healthy=2, check=True)])
        for call, msg, result in zip(calls, [msg for _call, msg in errors] * 2, results[:-1], strict=True):
            expect(result.get("failed") and result["msg"] == msg, "error for %s" % call, dict(want=msg, got=result.get("msg")))
        expect(open(UPSTREAM, "rb").read() == original, "errors should leave the file alone")  # pylint: disable=consider-using-with
        guard = results[-1]
        expect(not guard.get("failed") and guard["changed"], "min_healthy 2 leaves two: allowed", guard)
        step("errors named: unknown upstream, unknown server, missing file, min_healthy, missing pid file (check and real)")

        # -- nginx not running --------------------------------------------------------------------
        master = nginx.master
        nginx.stop()
        nginx = None
        for down in playbook([dict(state="drained", server=b2, check=True), dict(state="drained", server=b2)]):
            expect(down.get("failed") and down["msg"].startswith("nginx is not running for %s: " % UPSTREAM), "nginx stopped", down)
        expect(open(UPSTREAM, "rb").read() == original, "nginx not running: file untouched")  # pylint: disable=consider-using-with
        step("nginx (master %d) stopped: %s" % (master, down["msg"]))
    finally:
        if nginx is not None:
            nginx.stop()
        backends.stop()
    step("passed: %d steps" % len(STEPS))


if __name__ == "__main__":
    main()
