# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Real SSH test hosts on one machine: a network namespace and an sshd per host.

  testhosts.py up   --dir DIR --count N [--unreachable K] [--state-tmpfs SIZE]
  testhosts.py down --dir DIR

Each host gets its own namespace with a veth into a private bridge, its own
address (10.<net>.<n>.x, never routed anywhere), and its own sshd started under
``unshare --mount`` with per-host directories bind-mounted over /var/lib/fleetops
and /opt/fleetops, so every host keeps its own node state. ``--unreachable``
adds inventory hosts at addresses where nothing answers. ``--state-tmpfs`` puts
the first host's /var/lib/fleetops on a tmpfs of that size (for disk-full tests).

``up`` writes DIR/inventory.yml (group ``fleet``; unreachable hosts also in
``unreachable``) and DIR/hosts.json; ``down`` stops everything ``up`` started.
Nodes run modules with a stdlib-only Python (a venv without site packages).
Needs root, iproute2, util-linux (unshare) and openssh-server.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time

SSHD = "/usr/sbin/sshd"
MANAGED = ("/var/lib/fleetops", "/opt/fleetops")


def run(*cmd: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=check, capture_output=True, text=True)


def ids(workdir: str) -> tuple[str, int]:
    """A short name and a /24 for this set of hosts, derived from its directory."""
    digest = hashlib.sha256(os.path.realpath(workdir).encode()).hexdigest()
    return digest[:5], 16 + int(digest[5:9], 16) % 200


def node_python(workdir: str) -> str:
    venv = os.path.join(workdir, "nodepy")
    if not os.path.exists(os.path.join(venv, "bin", "python")):
        base = getattr(sys, "_base_executable", sys.executable)
        run(base, "-m", "venv", "--without-pip", venv)
    return os.path.join(venv, "bin", "python")


def up(args: argparse.Namespace) -> int:
    workdir = os.path.abspath(args.dir)
    os.makedirs(workdir, exist_ok=True)
    tag, net = ids(workdir)
    bridge = "fob" + tag
    key = os.path.join(workdir, "id_ed25519")
    if not os.path.exists(key):
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
        run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(workdir, "host_ed25519"))
        shutil.copy(key + ".pub", os.path.join(workdir, "authorized_keys"))
    os.makedirs("/run/sshd", exist_ok=True)
    python = node_python(workdir)
    run("ip", "link", "add", bridge, "type", "bridge", check=False)
    run("ip", "addr", "add", "10.%d.0.1/16" % net, "dev", bridge, check=False)
    run("ip", "link", "set", bridge, "up")
    hosts = []
    for index in range(args.count):
        name = "h%02d" % (index + 1)
        addr = "10.%d.%d.%d" % (net, 1 + index // 200, 10 + index % 200)
        ns = "fo%s%s" % (tag, name)
        home = os.path.join(workdir, "hosts", name)
        for path in MANAGED:
            os.makedirs(home + path, exist_ok=True)
        veth = "fv%s%d" % (tag, index)
        run("ip", "netns", "add", ns)
        run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        run("ip", "link", "set", veth, "master", bridge, "up")
        run("ip", "-n", ns, "addr", "add", addr + "/16", "dev", "eth0")
        run("ip", "-n", ns, "link", "set", "eth0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        config = os.path.join(home, "sshd_config")
        with open(config, "w", encoding="utf-8") as handle:
            handle.write("\n".join([
                "ListenAddress %s" % addr, "Port 22", "HostKey %s/host_ed25519" % workdir,
                "AuthorizedKeysFile %s/authorized_keys" % workdir, "PermitRootLogin prohibit-password",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
                "PidFile %s/sshd.pid" % home, "MaxSessions 50", "MaxStartups 200", "LogLevel ERROR",
                "AcceptEnv LANG LC_*", "Subsystem sftp internal-sftp", ""]))
        mounts = []
        for path in MANAGED:
            source = home + path
            if path == "/var/lib/fleetops" and args.state_tmpfs and index == 0:
                mounts.append("mount -t tmpfs -o size=%s tmpfs %s" % (args.state_tmpfs, path))
            else:
                mounts.append("mount --bind %s %s" % (source, path))
        for path in MANAGED:
            os.makedirs(path, exist_ok=True)
        script = " && ".join(mounts + ["exec %s -D -f %s -E %s/sshd.log" % (SSHD, config, home)])
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        hosts.append(dict(name=name, address=addr, netns=ns, veth=veth, pid=proc.pid, home=home))
    unreachable = [dict(name="u%02d" % (i + 1), address="10.%d.250.%d" % (net, 10 + i)) for i in range(args.unreachable)]
    state = dict(bridge=bridge, net=net, gateway="10.%d.0.1" % net, hosts=hosts, unreachable=unreachable, python=python, key=key)
    with open(os.path.join(workdir, "hosts.json"), "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=1)
    write_inventory(workdir, state)
    deadline = time.monotonic() + 30
    for host in hosts:
        while run("ip", "netns", "exec", host["netns"], "bash", "-c", "exec 3<>/dev/tcp/%s/22" % host["address"], check=False).returncode:
            if time.monotonic() > deadline:
                print("sshd on %s did not come up; see %s/sshd.log" % (host["name"], host["home"]), file=sys.stderr)
                return 1
            time.sleep(0.05)
    print("%d hosts up in %s (%d unreachable)" % (len(hosts), workdir, len(unreachable)))
    return 0


def write_inventory(workdir: str, state: dict) -> None:
    control = os.path.join(workdir, "cp")
    os.makedirs(control, exist_ok=True)
    common = ("-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=3 "
              "-o ControlMaster=auto -o ControlPersist=120s -o ControlPath=%s/%%C" % control)
    lines = ["all:", "  vars:", "    ansible_user: root", "    ansible_ssh_private_key_file: %s" % state["key"],
             "    ansible_python_interpreter: %s" % state["python"], "    ansible_ssh_common_args: '%s'" % common,
             "    ansible_ssh_pipelining: true", "  children:", "    fleet:", "      hosts:"]
    for host in state["hosts"] + state["unreachable"]:
        lines.append("        %s: {ansible_host: %s}" % (host["name"], host["address"]))
    lines += ["    unreachable:", "      hosts:"] + ["        %s: {}" % h["name"] for h in state["unreachable"]]
    if not state["unreachable"]:
        lines[-1] = "      hosts: {}"
    with open(os.path.join(workdir, "inventory.yml"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")


def down(args: argparse.Namespace) -> int:
    workdir = os.path.abspath(args.dir)
    path = os.path.join(workdir, "hosts.json")
    if not os.path.exists(path):
        return 0
    with open(path, encoding="utf-8") as handle:
        state = json.load(handle)
    control = os.path.join(workdir, "cp")
    if os.path.isdir(control):  # ControlPersist masters first, or they linger on dead hosts
        for sock in os.listdir(control):
            run("ssh", "-o", "ControlPath=%s/%s" % (control, sock), "-O", "exit", "x", check=False)
    for host in state["hosts"]:
        try:
            os.killpg(host["pid"], signal.SIGTERM)
        except ProcessLookupError:
            pass
        pidfile = os.path.join(host["home"], "sshd.pid")
        try:
            with open(pidfile, encoding="utf-8") as handle:
                os.kill(int(handle.read().strip()), signal.SIGTERM)
        except (ProcessLookupError, ValueError, FileNotFoundError):
            pass  # not written, or already gone: the SIGTERM to its process group above made sshd remove it
    time.sleep(0.1)
    for host in state["hosts"]:
        run("ip", "netns", "pids", host["netns"], check=False)
        pids = run("ip", "netns", "pids", host["netns"], check=False).stdout.split()
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except ProcessLookupError:
                pass
        run("ip", "netns", "del", host["netns"], check=False)
        run("ip", "link", "del", host["veth"], check=False)
    run("ip", "link", "del", state["bridge"], check=False)
    os.unlink(path)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument("--dir", required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--unreachable", type=int, default=0)
    parser.add_argument("--state-tmpfs", default=None)
    args = parser.parse_args()
    return up(args) if args.action == "up" else down(args)


if __name__ == "__main__":
    sys.exit(main())
