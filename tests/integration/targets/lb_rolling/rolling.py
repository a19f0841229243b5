# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rolling releases through real balancers, with a load generator counting every request.

Three SSH test hosts run WebService (setup_s3/files/web) on port 8080 of their own addresses.
Debian's haproxy, then nginx, listen on loopback in front of them. The deploy playbook rolls the
hosts through drain, upgrade, health check and enable, five times per balancer, while a bounded
load generator sends requests through the balancer and checks every answer's status and body.
Then the failure cases: a health check that never passes, and the capacity guard stopping a run
when a second server is down.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

WORK = sys.argv[1]
ONLY = sys.argv[2:]
HERE = os.path.dirname(os.path.abspath(__file__))
PY = sys.executable
BIN = os.path.dirname(PY)
HOSTS = json.load(open(os.path.join(WORK, "hosts", "hosts.json"), encoding="utf-8"))  # pylint: disable=consider-using-with
ADDRESS = {h["name"]: h["address"] for h in HOSTS["hosts"]}
NAMES = sorted(ADDRESS)
BODY = re.compile(r"^WebService 1\.[0-5]\.0 \S+\n$")
REPORT: list[str] = []
SBIN = [p for p in ("/usr/sbin", "/sbin") if os.path.isdir(p)]


def which(name: str) -> str:
    for folder in os.environ.get("PATH", "").split(os.pathsep) + SBIN:
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit("%s not found" % name)


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        sys.exit("FAILED: %s\n%s" % (what, detail[-5000:]))


class Haproxy:
    kind = "haproxy"

    def __init__(self) -> None:
        self.dir = os.path.join(WORK, "haproxy")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.socket = os.path.join(self.dir, "admin.sock")
        servers = "\n".join("    server %s %s:8080 check" % (name, ADDRESS[name]) for name in NAMES)
        config = """global
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    # Without it a check times out after inter (300 ms): on a loaded machine the healthy members would flap DOWN
    # and the balancer answer 503 for reasons that have nothing to do with the rollout under test.
    timeout check 10s
    retries 0
frontend fe
    bind 127.0.0.1:{port}
    default_backend web
backend web
    option httpchk GET /health
    default-server inter 300ms fastinter 200ms downinter 300ms rise 2 fall 2
{servers}
""".format(sock=self.socket, port=self.port, servers=servers)
        self.config = os.path.join(self.dir, "haproxy.cfg")
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write(config)
        self.proc = subprocess.Popen([which("haproxy"), "-db", "-f", self.config],  # pylint: disable=consider-using-with
                                     stdout=open(os.path.join(self.dir, "haproxy.log"), "w", encoding="utf-8"), stderr=subprocess.STDOUT)
        wait_port(self.port)

    def membership(self, host: str) -> dict:
        return dict(type="haproxy", lb_host="localhost", haproxy_socket=self.socket, haproxy_backend="web", haproxy_server=host,
                    poll_interval=0.2)

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(self.socket)
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()

    def view(self) -> dict:
        """server -> status as HAProxy shows it (UP, DOWN, MAINT, DRAIN ...)."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        found = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == "web" and row.get("svname") in ADDRESS:
                found[row["svname"]] = row["status"]
        return found

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Nginx:
    kind = "nginx"

    def __init__(self) -> None:
        self.dir = os.path.join(WORK, "nginx")
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        self.port = free_port()
        self.upstream = os.path.join(self.dir, "upstream-web.conf")
        self.pid = os.path.join(self.dir, "nginx.pid")
        with open(self.upstream, "w", encoding="utf-8") as handle:
            handle.write("upstream web {\n%s}\n" % "".join("    server %s:8080;\n" % ADDRESS[name] for name in NAMES))
        # Older than nginx's workers by more than the 10 ms of process start times, or the first view reads a reload
        # pending (see lb_nginx.py).
        past = time.time() - 5
        os.utime(self.upstream, (past, past))
        self.config = os.path.join(self.dir, "nginx.conf")
        with open(self.config, "w", encoding="utf-8") as handle:
            handle.write("""worker_processes 2;
pid {pid};
error_log {dir}/logs/error.log;
events {{ worker_connections 256; }}
http {{
    access_log off;
    include {upstream};
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://web;
            proxy_next_upstream off;
            proxy_read_timeout 30s;
        }}
    }}
}}
""".format(pid=self.pid, dir=self.dir, upstream=self.upstream, port=self.port))
        subprocess.run([which("nginx"), "-p", self.dir, "-c", self.config], check=True)
        wait_port(self.port)

    def membership(self, host: str) -> dict:
        return dict(type="nginx", lb_host="localhost", nginx_upstream_file=self.upstream, nginx_upstream="web",
                    nginx_server="%s:8080" % ADDRESS[host], nginx_binary=which("nginx"), nginx_conf=self.config,
                    nginx_pid_file=self.pid, poll_interval=0.2)

    def view(self) -> dict:
        text = open(self.upstream, encoding="utf-8").read()  # pylint: disable=consider-using-with
        return {name: ("MAINT" if re.search(r"server %s:8080[^;]*\bdown\b" % re.escape(ADDRESS[name]), text) else "UP") for name in NAMES}

    def stop(self) -> None:
        subprocess.run([which("nginx"), "-p", self.dir, "-c", self.config, "-s", "quit"], check=False)
        deadline = time.monotonic() + 10
        while os.path.exists(self.pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 1.0).close()
            return
        except OSError:
            time.sleep(0.1)
    sys.exit("nothing listens on 127.0.0.1:%d after 60 s" % port)


class LoadGenerator:
    """Threads sending requests through the balancer until stopped, bounded in time; counts per phase."""

    def __init__(self, port: int, threads: int = 4, limit: float = 900) -> None:
        self.url = "http://127.0.0.1:%d/" % port
        self.phase = "warm-up"
        self.counts: dict[str, dict] = {}
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.limit = time.monotonic() + limit
        self.threads = [threading.Thread(target=self.loop, args=(i,), daemon=True) for i in range(threads)]

    def start(self) -> LoadGenerator:
        for thread in self.threads:
            thread.start()
        return self

    def loop(self, seed: int) -> None:
        rng = random.Random(seed)
        while not self.stopping.is_set() and time.monotonic() < self.limit:
            delay = rng.choice([0, 0, 0, 0.05, 0.2, 0.5])
            phase = self.phase
            ok, why = True, None
            try:
                with urllib.request.urlopen(self.url + "?delay=%s" % delay, timeout=15) as response:
                    body = response.read().decode()
                    if response.status != 200 or not BODY.match(body):
                        ok, why = False, "status %s body %r" % (response.status, body[:80])
            except (urllib.error.URLError, OSError) as exc:
                ok, why = False, "%s: %s" % (type(exc).__name__, exc)
            with self.lock:
                entry = self.counts.setdefault(phase, dict(total=0, failed=0, reasons={}))
                entry["total"] += 1
                if not ok:
                    entry["failed"] += 1
                    entry["reasons"][why] = entry["reasons"].get(why, 0) + 1

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=20)


# The command form of the health check, run on the host itself (nginx has no checks of its own).
HEALTH_COMMAND = "python3 -c \"import urllib.request; assert urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=10).read() == b'ok\\n'\""


def write_inventory(balancer, health: dict | None = None, per_host: dict | None = None, suffix: str = "") -> str:
    path = os.path.join(WORK, "lb-%s%s.json" % (balancer.kind, suffix))
    hosts = {}
    for name in NAMES:
        check_by = dict(url="http://%s:8080/health" % ADDRESS[name], contains="ok")
        if balancer.kind == "nginx":
            check_by = dict(command=HEALTH_COMMAND)
        hvars = dict(fleetops_lb=[balancer.membership(name)], fleetops_health=dict(check_by, retries=10, delay=0.3))
        if health:
            hvars["fleetops_health"].update(health)
        hvars.update((per_host or {}).get(name, {}))
        hosts[name] = hvars
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"fleet": {"hosts": hosts}}, handle)
    # A YAML inventory is a JSON document too; the .yml suffix lets the yaml plugin read it.
    os.replace(path, path[:-5] + ".yml")
    return path[:-5] + ".yml"


def release(inventory: str, version: str, name: str, upgradable: list | None = None, extra: dict | None = None) -> tuple[int, str, float]:
    variables = dict(fleetops_hosts="fleet", fleetops_dist="WebDist", fleetops_version=version, fleetops_bucket="releases",
                     fleetops_s3=dict(endpoint_url=os.environ["NODE_S3_ENDPOINT"]), fleetops_serial=1)
    if upgradable:
        variables["fleetops_upgradable"] = upgradable
    variables.update(extra or {})
    started = time.monotonic()
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook") if os.path.exists(os.path.join(BIN, "ansible-playbook")) else "ansible-playbook",
                           "-i", os.environ["HOSTS_INVENTORY"], "-i", inventory, "fleetops.release.deploy", "-e", json.dumps(variables)],
                          capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    with open(os.path.join(WORK, "%s.log" % name), "w", encoding="utf-8") as handle:
        handle.write(out)
    return proc.returncode, out, time.monotonic() - started


def summary_line(out: str, host: str) -> str:
    match = re.search(r'"(%s +\S[^"]*)"' % host, out)
    return match.group(1) if match else ""


def remote_inventory(balancer) -> str:
    """Every membership driven on the last SSH host (lb_host) and every health URL fetched from there: the step runs
    lb_member and the check on another inventory host, over its connection (the socket is a file that host sees too)."""
    per_host = {name: dict(fleetops_lb=[dict(balancer.membership(name), lb_host=NAMES[-1])]) for name in NAMES}
    return write_inventory(balancer, health={"from": NAMES[-1]}, per_host=per_host, suffix="-remote")


def rollouts(balancer, versions: list[str], first: str) -> None:
    inventory = write_inventory(balancer)
    remote = remote_inventory(balancer) if balancer.kind == "haproxy" else None
    load = LoadGenerator(balancer.port).start()
    time.sleep(1)
    previous = first
    try:
        for number, version in enumerate(versions, 1):
            load.phase = "rollout %d (%s -> %s)" % (number, previous, version)
            through = remote if remote and number == 2 else inventory
            rc, out, seconds = release(through, version, "%s-rollout-%d" % (balancer.kind, number), upgradable=[previous])
            check(rc == 0, "%s rollout %d to %s succeeds" % (balancer.kind, number, version), out)
            if through is remote:
                check(all("(from %s)" % NAMES[-1] in summary_line(out, host) for host in NAMES),
                      "%s rollout %d: lb_host %s drove the balancer and made the health checks" % (balancer.kind, number, NAMES[-1]), out[-3000:])
            for host in NAMES:
                check(re.match(r"%s +upgraded +%s" % (host, re.escape(version)), summary_line(out, host)) is not None,
                      "%s rollout %d: %s upgraded to %s" % (balancer.kind, number, host, version), out[-3000:])
            how = "with a command" if balancer.kind == "nginx" else "over HTTP"
            ran = [host for host in NAMES if "health check %s" % how in summary_line(out, host) and "passed" in summary_line(out, host)]
            check(ran == NAMES, "%s rollout %d: the health check %s passed on each host (the summary says so)" % (balancer.kind, number, how),
                  out[-3000:])
            view = balancer.view()
            check(all(status == "UP" for status in view.values()), "%s: every member back in rotation after rollout %d" % (balancer.kind, number),
                  json.dumps(view))
            entry = load.counts.get(load.phase, dict(total=0, failed=0, reasons={}))
            rate = 100.0 * (entry["total"] - entry["failed"]) / entry["total"] if entry["total"] else 0.0
            REPORT.append("%s rollout %d (%s -> %s): %.1f s, %d requests, %d failed, %.3f%% succeeded"
                          % (balancer.kind, number, previous, version, seconds, entry["total"], entry["failed"], rate))
            print(REPORT[-1], flush=True)
            check(entry["total"] >= 20, "%s rollout %d: the load generator really ran (%d requests)" % (balancer.kind, number, entry["total"]))
            check(rate >= 99.9, "%s rollout %d: at least 99.9%% of requests succeed (%.3f%%)" % (balancer.kind, number, rate),
                  json.dumps(entry["reasons"]))
            previous = version
    finally:
        load.stop()
    total = sum(e["total"] for e in load.counts.values())
    failed = sum(e["failed"] for e in load.counts.values())
    REPORT.append("%s: %d requests over 5 rollouts, %d failed" % (balancer.kind, total, failed))
    check(failed == 0, "%s: no request lost (%d of %d failed)" % (balancer.kind, failed, total),
          json.dumps({k: v["reasons"] for k, v in load.counts.items() if v["failed"]}))


def restart_service(host: str, version: str) -> None:
    command = ("FLEETOPS_MODULE_DIR=/var/lib/fleetops/modules/WebService/{v} FLEETOPS_VERSION={v} "
               "sh /var/lib/fleetops/modules/WebService/{v}/deploy.sh").format(v=version)
    subprocess.run([os.path.join(BIN, "ansible"), "-i", os.environ["HOSTS_INVENTORY"], host, "-m", "ansible.builtin.shell", "-a", command],
                   capture_output=True, text=True, check=True)


def kill_service(host: str) -> None:
    pidfile = os.path.join(WORK, "hosts", "hosts", host, "var", "lib", "fleetops", "web", "pid")
    with open(pidfile, encoding="utf-8") as handle:
        os.kill(int(handle.read()), signal.SIGKILL)


def wait_view(balancer, want: dict, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        view = balancer.view()
        if all(view.get(k) == v for k, v in want.items()) or time.monotonic() > deadline:
            return view
        time.sleep(0.2)


def faults(balancer, version: str) -> None:
    # A bad release option fails the first host on the controller before its drain: nothing leaves rotation, no
    # node is touched, the rollout stops.
    before = {name: version_of(name) for name in NAMES}
    rc, out, _s = release(write_inventory(balancer), "1.4.0", "fault-options", upgradable=["1.5.0"],
                          extra=dict(fleetops_corrupt_policy="mend"))
    check(rc == 2 and "corrupt_policy" in out and "fail, rebuild" in out, "a bad fleetops_corrupt_policy fails the run and says so (rc %d)" % rc,
          out[-3000:])
    check(balancer.view() == dict.fromkeys(NAMES, "UP"), "a bad option takes nothing out of rotation", json.dumps(balancer.view()))
    check({name: version_of(name) for name in NAMES} == before, "a bad option changes no node", json.dumps(before))
    check("not started" in summary_line(out, NAMES[1]), "the rollout stopped after the first host", out[-2000:])
    REPORT.append("fleetops_corrupt_policy=mend: %s failed before its drain, nothing out of rotation, no node changed, exit 2" % NAMES[0])

    # A health check that never passes on h01, with h01 and h02 in one batch: h01 stays out, h02 goes back,
    # h03 is never touched, the run stops with exit 2.
    inventory = write_inventory(balancer, per_host={NAMES[0]: dict(fleetops_health=dict(url="http://%s:8080/health" % ADDRESS[NAMES[0]],
                                                                                        contains="never-there", retries=3, delay=0.2))})
    rc, out, _s = release(inventory, version, "fault-health", upgradable=["1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0"],
                          extra=dict(fleetops_serial=2, fleetops_restart=True))
    check(rc == 2, "a health check that never passes fails the run (rc %d)" % rc, out[-3000:])
    view = balancer.view()
    check(view[NAMES[0]] == "MAINT" and view[NAMES[1]] == "UP" and view[NAMES[2]] == "UP",
          "the unhealthy host stays out, its batch mate is back, the next batch untouched", json.dumps(view))
    line = summary_line(out, NAMES[0])
    check("failed" in line and "health check" in line and "left out of its load balancers" in line, "the summary says why h01 is out", line)
    check("not started" in summary_line(out, NAMES[2]), "the rollout stopped before h03", out[-2000:])
    REPORT.append("health check never passes: %s stays out (%s), %s back (%s), %s not started, exit 2"
                  % (NAMES[0], view[NAMES[0]], NAMES[1], view[NAMES[1]], NAMES[2]))
    # An operator puts h01 back after looking.
    ok = operator(balancer, NAMES[0], "enabled")
    check(ok.returncode == 0 and wait_view(balancer, {NAMES[0]: "UP"})[NAMES[0]] == "UP", "h01 can be put back by hand", ok.stdout + ok.stderr)

    # A membership an operator took out before the run stays out, and the summary says so.
    operator(balancer, NAMES[1], "disabled")
    rc, out, _s = release(write_inventory(balancer), version, "operator-out", upgradable=["1.4.0"], extra=dict(fleetops_restart=True))
    view = balancer.view()
    check(rc == 0 and view[NAMES[1]] == "MAINT" and view[NAMES[0]] == "UP" and view[NAMES[2]] == "UP",
          "a member an operator took out stays out (rc %d)" % rc, json.dumps(view) + out[-2000:])
    check("was already out of rotation" in summary_line(out, NAMES[1]), "the summary says it was already out", out[-2000:])
    operator(balancer, NAMES[1], "enabled")
    wait_view(balancer, {NAMES[1]: "UP"})
    REPORT.append("a member an operator disabled before the run: released, left out, and said so in the summary")

    # A second server down mid-rollout: with min_healthy 2 the capacity guard refuses to take h01 out.
    kill_service(NAMES[2])
    if balancer.kind == "haproxy":
        check(wait_view(balancer, {NAMES[2]: "DOWN"})[NAMES[2]] == "DOWN", "haproxy sees h03 down")
    inventory = write_inventory(balancer)
    rc, out, _s = release(inventory, version, "fault-capacity", upgradable=["1.5.0", "1.4.0", "1.3.0", "1.2.0", "1.1.0"],
                          extra=dict(fleetops_lb_min_healthy=2, fleetops_restart=True))
    if balancer.kind == "haproxy":
        check(rc == 2 and "refusing to take server %s of HAProxy backend web out" % NAMES[0] in out and "below min_healthy 2" in out,
              "the capacity guard stops the run and says why", out[-3000:])
        check(balancer.view()[NAMES[0]] == "UP", "h01 was not taken out", json.dumps(balancer.view()))
        check("not started" in summary_line(out, NAMES[1]), "the rollout stopped after the refusal", out[-2000:])
        REPORT.append("second server down, min_healthy 2: the capacity guard refused to drain %s, run stopped, exit 2" % NAMES[0])
    restart_service(NAMES[2], version_of(NAMES[2]))
    wait_view(balancer, {NAMES[2]: "UP"})


def state_file(host: str) -> str:
    return os.path.join(WORK, "hosts", "hosts", host, "var", "lib", "fleetops", "images.yaml")


def operator(balancer, host: str, state: str) -> subprocess.CompletedProcess:
    """What a person does by hand: lb_member from the command line."""
    args = {k: v for k, v in balancer.membership(host).items() if k != "lb_host"}
    args["state"] = state
    return subprocess.run([os.path.join(BIN, "ansible"), "-i", "localhost,", "-c", "local", "localhost", "-m", "fleetops.release.lb_member",
                           "-a", json.dumps(args), "-e", "ansible_python_interpreter=%s" % PY],
                          capture_output=True, text=True, check=False)


def version_of(host: str) -> str:
    with open(state_file(host), encoding="utf-8") as handle:
        text = handle.read()
    return re.search(r"WebService: ['\"]?([0-9.]+)", text).group(1)


def main() -> int:
    try:
        if not ONLY or "haproxy" in ONLY:
            balancer = Haproxy()
            try:
                rc, out, _s = release(write_inventory(balancer), "1.0.0", "install")
                check(rc == 0, "install 1.0.0 behind haproxy", out)
                check(wait_view(balancer, dict.fromkeys(NAMES, "UP")) == dict.fromkeys(NAMES, "UP"), "all up after the install")
                rollouts(balancer, ["1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"], "1.0.0")
                faults(balancer, "1.5.0")
            finally:
                balancer.stop()
        if not ONLY or "nginx" in ONLY:
            balancer = Nginx()
            try:
                if not os.path.exists(state_file(NAMES[0])):
                    rc, out, _s = release(write_inventory(balancer), "1.0.0", "install-nginx")
                    check(rc == 0, "install 1.0.0 behind nginx", out)
                current = version_of(NAMES[0])
                versions = ["1.4.0", "1.3.0", "1.2.0", "1.1.0", "1.2.0"] if current != "1.0.0" else ["1.1.0", "1.2.0", "1.3.0", "1.4.0", "1.5.0"]
                rollouts(balancer, versions, current)
            finally:
                balancer.stop()
    finally:
        for host in NAMES:
            try:
                kill_service(host)
            except (OSError, ValueError):
                pass
    print("\n".join(REPORT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
