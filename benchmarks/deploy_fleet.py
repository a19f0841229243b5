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
import shutil
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--forks", type=int, default=10)
    parser.add_argument("--skip-plain", action="store_true", help="measure floor and ours only")
    parser.add_argument("--direct", action="store_true",
                        help="nodes fetch from moto itself, without the counting test proxy in the data path;"
                             " downloads are then counted from dist_deploy's own downloaded_bytes (ours only)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
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

        common = ["-i", inventory, "-f", str(args.forks)]
        release_vars = json.dumps({"fleetops_serial": "100%", "fleetops_s3": {"endpoint_url": endpoint}})
        ours = [os.path.join(BIN, "ansible-playbook"), *common, "fleetops.release.deploy", "-e", "fleetops_hosts=fleet",
                "-e", "fleetops_dist=Bench.dist", "-e", "fleetops_bucket=bench", "-e", release_vars]
        plain = [os.path.join(BIN, "ansible-playbook"), *common, os.path.join(ROOT, "benchmarks", "plain", "deploy.yml")]
        floor = [os.path.join(BIN, "ansible"), *common, "fleet", "-m", "ansible.builtin.ping"]
        # warm the SSH control masters once so every contestant starts from the same place
        timed(floor, env, os.path.join(work, "warm.log"))
        rows = []

        def measure(name: str, cmd: list[str]) -> None:
            start_gets = gets()
            wall, cpu, rc = timed(cmd, env, os.path.join(work, name.replace(" ", "-") + ".log"))
            if rc != 0:
                with open(os.path.join(work, name.replace(" ", "-") + ".log"), encoding="utf-8") as handle:
                    sys.stdout.write(handle.read()[-4000:])
                raise SystemExit("%s failed (exit %d)" % (name, rc))
            log = os.path.join(work, name.replace(" ", "-") + ".log")
            if args.direct:  # no proxy to count GETs: add up what each node's dist_deploy reports
                with open(log, encoding="utf-8") as handle:
                    fetched = sum(int(m) for m in re.findall(r"(\d+) bytes downloaded", handle.read()))
                rows.append(dict(name=name, wall=wall, cpu=cpu, gets=fetched))
            else:
                rows.append(dict(name=name, wall=wall, cpu=cpu, gets=gets() - start_gets))
            unit = "bytes downloaded" if args.direct else "artifact GETs"
            print("%-16s %7.1f s wall %7.1f s cpu  %d %s" % (name, wall, cpu, rows[-1]["gets"], unit), file=sys.stderr, flush=True)

        measure("floor", floor)
        measure("ours install", ours + ["-e", "fleetops_version=1.0.0"])
        measure("ours rerun", ours + ["-e", "fleetops_version=1.0.0"])
        measure("ours upgrade", ours + ["-e", "fleetops_version=1.1.0", "-e", '{"fleetops_upgradable": ["1.0.0"]}'])
        if not args.skip_plain:
            for label, version, upgradable in (("plain install", "1.0.0", []), ("plain rerun", "1.0.0", []),
                                               ("plain upgrade", "1.1.0", ["1.0.0"])):
                extra = json.dumps(dict(modules=plain_modules[version], dist_version=version, upgradable=upgradable))
                measure(label, plain + ["-e", extra])
        measure("floor again", floor)
        floor_wall = min(r["wall"] for r in rows if r["name"].startswith("floor"))
        by_name = {r["name"]: r for r in rows}
        print("\n%d hosts, forks %d, DIST of 5 modules (5 MB SRC + small REL each)\n" % (args.hosts, args.forks))
        print("| run | wall s | controller CPU s | x floor | plain / ours | %s |" % (
            "bytes downloaded (dist_deploy)" if args.direct else "artifact GETs (proxy)"))
        print("| --- | ---: | ---: | ---: | ---: | ---: |")
        for row in rows:
            phase = row["name"].split(" ", 1)[-1]
            vs_plain = ""
            if row["name"].startswith("ours") and "plain " + phase in by_name:
                vs_plain = "%.1fx" % (by_name["plain " + phase]["wall"] / row["wall"])
            print("| %s | %.1f | %.1f | %.1fx | %s | %d |" % (row["name"], row["wall"], row["cpu"], row["wall"] / floor_wall, vs_plain, row["gets"]))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        subprocess.run([sys.executable, TESTHOSTS, "down", "--dir", hosts_dir], check=False)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
