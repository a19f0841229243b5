#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fleet benchmark: the deploy playbook against a builtins-only playbook and the floor.

Brings up --hosts real SSH hosts (network namespaces, as the tests do; needs root), a moto S3
behind the counting proxy on their bridge, and publishes a DIST of five modules (a 5 MB SRC
package and a small REL package each) at 1.0.0 and 1.1.0. Then, in one run:

  floor   one `ping` task per host (the least any Ansible run over these hosts costs)
  ours    ansible-playbook fleetops.release.deploy (one dist_deploy call per host), serial 100%
  plain   benchmarks/plain/deploy.yml: stat/slurp gating, per module get_url (checksum),
          unarchive, command, then copy the state file

each for a fresh install, an idempotent rerun and an upgrade, reporting wall time, controller
CPU (user+sys of ansible-playbook and its children) and bytes the nodes downloaded.

Run from the repository root as root:
  PYTHONPATH=.tmp/collections .venv/bin/python benchmarks/deploy_fleet.py --hosts 50 --forks 10
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
TARGETS = os.path.join(ROOT, "tests", "integration", "targets")
TESTHOSTS = os.path.join(TARGETS, "setup_hosts", "files", "testhosts.py")
PROXY = os.path.join(TARGETS, "setup_s3", "files", "s3proxy.py")
MODULES = ["Bench%d" % i for i in range(1, 6)]
SCRIPT = "#!/bin/sh\nset -eu\ncp -r \"$FLEETOPS_SRC_DIR\" \"$FLEETOPS_MODULE_DIR/installed\" 2>/dev/null || true\necho ok\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_port(host: str, port: int) -> None:
    for _attempt in range(200):
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("nothing listens on %s:%d" % (host, port))


def timed(cmd: list[str], env: dict, log: str) -> tuple[float, float, int]:
    """Wall seconds, controller CPU seconds (children), exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    with open(log, "w", encoding="utf-8") as out:
        rc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, check=False).returncode
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), rc


def forks_for(size: int) -> int:
    """Forks per fleet size in a scaling run: a fifth of the hosts, at least 10, at most 40 (2 cores here)."""
    return max(10, min(40, size // 5))


def sized_inventory(inventory: str, size: int) -> str:
    """The test hosts' inventory cut to its first ``size`` hosts."""
    with open(inventory, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    out, kept = [], 0
    for line in lines:
        if re.match(r"^        h\d+: ", line):
            kept += 1
            if kept > size:
                continue
        out.append(line)
    path = "%s-%d.yml" % (inventory[:-4], size)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(out) + "\n")
    return path


def reset_nodes(hosts_dir: str, size: int) -> None:
    """Empty the first ``size`` nodes' /var/lib/fleetops (bind-mounted from the host's directory): a fresh install."""
    with open(os.path.join(hosts_dir, "hosts.json"), encoding="utf-8") as handle:
        hosts = json.load(handle)["hosts"][:size]
    for host in hosts:
        top = os.path.join(host["home"], "var", "lib", "fleetops")
        for name in os.listdir(top) if os.path.isdir(top) else []:
            path = os.path.join(top, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.unlink(path)


def print_single(rows: list[dict], hosts: int, forks: int, direct: bool) -> None:
    floor_wall = min(r["wall"] for r in rows if r["name"].startswith("floor"))
    by_name = {r["name"]: r for r in rows}
    print("\n%d hosts, forks %d, DIST of 5 modules (5 MB SRC + small REL each)\n" % (hosts, forks))
    print("| run | wall s | controller CPU s | x floor | plain / ours | %s |" % ("bytes downloaded (dist_deploy)" if direct else "artifact GETs (proxy)"))
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        phase = row["name"].split(" ", 1)[-1]
        vs_plain = ""
        if row["name"].startswith("ours") and "plain " + phase in by_name:
            vs_plain = "%.1fx" % (by_name["plain " + phase]["wall"] / row["wall"])
        print("| %s | %.1f | %.1f | %.1fx | %s | %d |" % (row["name"], row["wall"], row["cpu"], row["wall"] / floor_wall, vs_plain, row["gets"]))


def print_scaling(rows: list[dict], direct: bool) -> None:
    """One table, rows by host count: each run's wall and controller CPU per host, and both against the floor."""
    unit = "bytes downloaded" if direct else "artifact GETs"
    print("\n| hosts | forks | run | wall s | x floor wall | controller CPU s | controller CPU per host s | x floor CPU per host | %s |" % unit)
    print("| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for size in sorted({r["hosts"] for r in rows}):
        at = [r for r in rows if r["hosts"] == size]
        floor = [r for r in at if r["name"].startswith("floor")]
        floor_wall = min(r["wall"] for r in floor)
        floor_cpu = min(r["cpu"] for r in floor) / size
        for row in at:
            print("| %d | %d | %s | %.1f | %.2fx | %.1f | %.3f | %.2fx | %d |" % (
                size, row["forks"], row["name"], row["wall"], row["wall"] / floor_wall, row["cpu"], row["cpu"] / size,
                row["cpu"] / size / floor_cpu, row["gets"]))
    sizes = sorted({r["hosts"] for r in rows})
    rerun = {r["hosts"]: r["cpu"] / r["hosts"] for r in rows if r["name"] == "ours rerun"}
    if len(sizes) > 1 and sizes[0] in rerun and sizes[-1] in rerun:
        print("\nours rerun, controller CPU per host at %d hosts against %d hosts: %.2fx" % (sizes[-1], sizes[0], rerun[sizes[-1]] / rerun[sizes[0]]))
    # What each added host costs, without the run's fixed part (playbook start, the controller plays): the slope.
    for name in ("floor", "ours install", "ours rerun", "ours upgrade"):
        cpu = {r["hosts"]: r["cpu"] for r in rows if r["name"] == name}
        if len(sizes) > 1 and sizes[0] in cpu and sizes[-1] in cpu:
            print("%s: controller CPU per added host, %d to %d hosts: %.3f s" % (
                name, sizes[0], sizes[-1], (cpu[sizes[-1]] - cpu[sizes[0]]) / (sizes[-1] - sizes[0])))
    for phase in ("install", "rerun", "upgrade"):
        plain = [r for r in rows if r["name"] == "plain " + phase]
        if plain:
            ours = next(r for r in rows if r["name"] == "ours " + phase and r["hosts"] == plain[0]["hosts"])
            print("plain %s / ours at %d hosts (wall): %.1fx" % (phase, ours["hosts"], plain[0]["wall"] / ours["wall"]))


def plot(rows: list[dict], path: str) -> None:
    """Wall and controller CPU per host against hosts, floor and ours (install, rerun, upgrade)."""
    import matplotlib  # pylint: disable=import-outside-toplevel

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    sizes = sorted({r["hosts"] for r in rows})
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for name, style in (("floor", "k--"), ("ours install", "C0-"), ("ours rerun", "C1-"), ("ours upgrade", "C2-")):
        points = [(r["hosts"], r) for r in rows if r["name"] == name]
        if not points:
            continue
        left.plot([p[0] for p in points], [p[1]["wall"] / p[0] for p in points], style, marker="o", label=name)
        right.plot([p[0] for p in points], [p[1]["cpu"] / p[0] for p in points], style, marker="o", label=name)
    for axis, title in ((left, "wall time per host (s)"), (right, "controller CPU per host (s)")):
        axis.set_xlabel("hosts")
        axis.set_title(title)
        axis.set_xticks(sizes)
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend()
    fig.suptitle("fleetops.release deploy against the ping floor (benchmarks/deploy_fleet.py --sizes)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print("plot: %s" % path)


def commands(inventory: str, forks: int, endpoint: str) -> dict[str, list[str]]:
    """The command lines of the floor, ours (without its version) and the plain playbook over ``inventory``."""
    common = ["-i", inventory, "-f", str(forks)]
    release_vars = json.dumps({"fleetops_serial": "100%", "fleetops_s3": {"endpoint_url": endpoint}})
    return dict(
        floor=[os.path.join(BIN, "ansible"), *common, "fleet", "-m", "ansible.builtin.ping"],
        ours=[os.path.join(BIN, "ansible-playbook"), *common, "fleetops.release.deploy", "-e", "fleetops_hosts=fleet",
              "-e", "fleetops_dist=Bench.dist", "-e", "fleetops_bucket=bench", "-e", release_vars],
        plain=[os.path.join(BIN, "ansible-playbook"), *common, os.path.join(ROOT, "benchmarks", "plain", "deploy.yml")],
    )


def hold(work: str, env: dict, inventory: str, endpoint: str, forks: int) -> None:
    """Write the environment and the commands a measurement runs, then wait: the fleet stays up until Ctrl-C or SIGTERM."""
    lines = ["export %s=%s" % (key, shlex.quote(env[key])) for key in sorted(env) if key.startswith(("ANSIBLE_", "AWS_"))]
    lines += ['%s() { %s "$@"; }' % (name, shlex.join(cmd)) for name, cmd in commands(inventory, forks, endpoint).items()]
    path = os.path.join(work, "commands.sh")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    print("fleet up; source %s, then: floor; ours -e fleetops_version=1.0.0 (or plain). Ctrl-C or SIGTERM ends it." % path, flush=True)

    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--skip-plain", action="store_true", help="measure floor and ours only")
    parser.add_argument("--direct", action="store_true",
                        help="nodes fetch from moto itself, without the counting test proxy in the data path;"
                             " downloads are then counted from dist_deploy's own downloaded_bytes (ours only)")
    parser.add_argument("--sizes", help="a scaling run: comma-separated fleet sizes (e.g. 25,50,100,200,300), floor and ours at each "
                        "size in this one run, forks chosen per size (--forks is then ignored)")
    parser.add_argument("--plain-at", type=int, default=50, help="in a scaling run, the size at which the plain playbook runs (0: never)")
    parser.add_argument("--plot", help="in a scaling run, write a PNG (matplotlib) of wall and controller CPU per host against hosts")
    parser.add_argument("--json", help="write every row as JSON to this file")
    parser.add_argument("--hold", action="store_true",
                        help="set up the hosts, S3 and the DIST, write the floor/ours commands to <work>/commands.sh, then wait "
                             "for Ctrl-C or SIGTERM instead of measuring (to profile by hand)")
    args = parser.parse_args()
    sizes = sorted({int(n) for n in args.sizes.split(",")}) if args.sizes else [args.hosts]
    if args.sizes:
        args.hosts = max(sizes)
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")

    def stop(_signum, _frame):
        raise KeyboardInterrupt

    # SIGTERM (and SIGINT, which a background start inherits ignored) tears the fleet down, in a measuring run as in --hold.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    work = tempfile.mkdtemp(prefix="fleetops-fleet-")
    hosts_dir = os.path.join(work, "hosts")
    procs: list[subprocess.Popen] = []
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".tmp", "collections"), ANSIBLE_FORKS=str(args.forks),
               ANSIBLE_HOST_KEY_CHECKING="false", AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore", ANSIBLE_LOCALHOST_WARNING="false")
    try:
        subprocess.run([sys.executable, TESTHOSTS, "up", "--dir", hosts_dir, "--count", str(args.hosts)], check=True)
        with open(os.path.join(hosts_dir, "hosts.json"), encoding="utf-8") as handle:
            gateway = json.load(handle)["gateway"]
        inventory = os.path.join(hosts_dir, "inventory.yml")
        moto_port, proxy_port = free_port(), free_port()
        moto_host = gateway if args.direct else "127.0.0.1"
        procs.append(subprocess.Popen([os.path.join(BIN, "moto_server"), "-H", moto_host, "-p", str(moto_port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(moto_host, moto_port)
        if args.direct:
            endpoint = "http://%s:%d" % (gateway, moto_port)
        else:
            procs.append(subprocess.Popen([sys.executable, PROXY, str(proxy_port), str(moto_port), gateway],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(gateway, proxy_port)
            endpoint = "http://%s:%d" % (gateway, proxy_port)
        import boto3  # pylint: disable=import-outside-toplevel

        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
        s3.create_bucket(Bucket="bench")
        plain_modules = {}
        for version in ("1.0.0", "1.1.0"):
            plain_modules[version] = []
            for module in MODULES:
                tree = os.path.join(work, "src", module, version)
                os.makedirs(os.path.join(tree, "bin"))
                with open(os.path.join(tree, "bin", "payload.bin"), "wb") as handle:
                    handle.write(os.urandom(5 * 1024 * 1024))
                rel = os.path.join(work, "rel", module, version)
                os.makedirs(os.path.join(rel, "etc"))
                for script in ("deploy.sh", "upgrade.sh"):
                    with open(os.path.join(rel, script), "w", encoding="utf-8") as handle:
                        handle.write(SCRIPT)
                    os.chmod(os.path.join(rel, script), 0o755)
                with open(os.path.join(rel, "etc", "app.conf"), "w", encoding="utf-8") as handle:
                    handle.write("module=%s\n" % module)
                with open(os.path.join(rel, "repo-info"), "w", encoding="utf-8") as handle:
                    handle.write("rel_branch: %s\nsrc_branch: %s\ndepend_list: none\n" % (version, version))
                entry = dict(name=module, version=version)
                packages = (("src", tree, ["bin"], module.lower() + "-bin"),
                            ("rel", rel, ["etc", "repo-info", "deploy.sh", "upgrade.sh"], module))
                for kind, tree_dir, members, bin_name in packages:
                    archive = os.path.join(work, "%s-%s-%s.tar.gz" % (module, version, kind))
                    subprocess.run(["tar", "czf", archive, "-C", tree_dir] + members, check=True)
                    with open(archive, "rb") as handle:
                        digest = hashlib.sha256(handle.read()).hexdigest()
                    key = "%s/%s/%s.tar.gz" % (module, version, bin_name)
                    s3.upload_file(archive, "bench", key)
                    s3.put_object(Bucket="bench", Key=key + ".sha256", Body=("%s  %s.tar.gz\n" % (digest, bin_name)).encode())
                    if kind == "rel":  # the sidecar artifact_publish writes: the controller plans without the tarball
                        with open(os.path.join(rel, "repo-info"), "rb") as handle:
                            s3.put_object(Bucket="bench", Key="%s/%s/repo-info" % (module, version), Body=handle.read())
                    entry[kind + "_sha256"] = digest
                    entry[kind + "_url"] = s3.generate_presigned_url("get_object", Params=dict(Bucket="bench", Key=key), ExpiresIn=7200)
                plain_modules[version].append(entry)
            upgrade = "none" if version == "1.0.0" else "\n" + "".join("  %s: %s\n" % (m, version) for m in MODULES)
            dist = "rel_branch: %s\nsub_repo:\n%supgrade_list: %s\n" % (version, "".join("  %s: %s\n" % (m, version) for m in MODULES), upgrade)
            s3.put_object(Bucket="bench", Key="Bench.dist/%s/repo-info" % version, Body=dist.encode())

        def gets() -> int:
            if args.direct:
                return 0
            with urllib.request.urlopen(endpoint + "/__stats__", timeout=10) as resp:
                return sum(n for path, n in json.load(resp).items() if path.endswith(".tar.gz"))

        rows = []

        def measure(name: str, cmd: list[str], size: int, forks: int) -> None:
            log = os.path.join(work, "%d-%s.log" % (size, name.replace(" ", "-")))
            start_gets = gets()
            wall, cpu, rc = timed(cmd, env, log)
            if rc != 0:
                with open(log, encoding="utf-8") as handle:
                    sys.stdout.write(handle.read()[-4000:])
                raise SystemExit("%s at %d hosts failed (exit %d)" % (name, size, rc))
            if args.direct:  # no proxy to count GETs: add up what each node's dist_deploy reports
                with open(log, encoding="utf-8") as handle:
                    fetched = sum(int(m) for m in re.findall(r"(\d+) bytes downloaded", handle.read()))
            else:
                fetched = gets() - start_gets
            rows.append(dict(hosts=size, forks=forks, name=name, wall=wall, cpu=cpu, gets=fetched))
            unit = "bytes downloaded" if args.direct else "artifact GETs"
            print("%4d hosts %-16s %7.1f s wall %7.1f s cpu %6.3f s cpu/host  %d %s" % (size, name, wall, cpu, cpu / size, fetched, unit),
                  file=sys.stderr, flush=True)

        if args.hold:
            hold(work, env, inventory, endpoint, args.forks)
            return 0
        for size in sizes:
            forks = forks_for(size) if args.sizes else args.forks
            sized = sized_inventory(inventory, size)
            reset_nodes(hosts_dir, size)
            cmd = commands(sized, forks, endpoint)
            floor, ours, plain = cmd["floor"], cmd["ours"], cmd["plain"]
            # warm the SSH control masters once so every contestant starts from the same place
            timed(floor, env, os.path.join(work, "warm-%d.log" % size))
            measure("floor", floor, size, forks)
            measure("ours install", ours + ["-e", "fleetops_version=1.0.0"], size, forks)
            measure("ours rerun", ours + ["-e", "fleetops_version=1.0.0"], size, forks)
            measure("ours upgrade", ours + ["-e", "fleetops_version=1.1.0", "-e", '{"fleetops_upgradable": ["1.0.0"]}'], size, forks)
            if not args.skip_plain and (not args.sizes or size == args.plain_at):
                reset_nodes(hosts_dir, size)
                for label, version, upgradable in (("plain install", "1.0.0", []), ("plain rerun", "1.0.0", []),
                                                   ("plain upgrade", "1.1.0", ["1.0.0"])):
                    extra = json.dumps(dict(modules=plain_modules[version], dist_version=version, upgradable=upgradable))
                    measure(label, plain + ["-e", extra], size, forks)
            measure("floor again", floor, size, forks)
        if args.json:
            with open(args.json, "w", encoding="utf-8") as handle:
                json.dump(rows, handle, indent=1)
        if args.sizes:
            print_scaling(rows, args.direct)
            if args.plot:
                plot(rows, args.plot)
        else:
            print_single(rows, args.hosts, args.forks, args.direct)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        subprocess.run([sys.executable, TESTHOSTS, "down", "--dir", hosts_dir], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
