#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rollback benchmark: going back to version A against a fresh deploy of A, on the same nodes.

Starts a moto S3 server on loopback and publishes a DIST of --modules modules (an SRC package of
--payload-mib MiB of random bytes and a small REL package each) at 1.0.0 (A) and 1.1.0 (B); B changes
every module, so going back to A runs each module's upgrade.sh (a rollback converges every module of
the target DIST, see docs/rollback.md). Every S3 client, the release lock's too, gets the loopback
endpoint from fleetops_s3. The nodes are
--nodes local-connection nodes, each a directory of its own. Per round, in one run:

  fresh     ansible-playbook fleetops.release.deploy of A to empty nodes (every artifact downloaded)
  (setup)   the deploy playbook upgrades the fleet to B (not timed)
  rollback  ansible-playbook fleetops.release.rollback -e fleetops_rollback_to=1.0.0 (A is still in
            every node's cache and module directory)

and reports the median wall time and controller CPU of each, the ratio, and the bytes the nodes
downloaded (the sum of dist_deploy's downloaded_bytes in the release summary).

Run from the repository root:
  PYTHONPATH=.tmp/collections .venv/bin/python benchmarks/rollback.py --nodes 10 --rounds 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
SCRIPT = "#!/bin/sh\nset -eu\necho \"$FLEETOPS_ACTION $FLEETOPS_MODULE $FLEETOPS_VERSION $FLEETOPS_DIRECTION\"\n"
VERSIONS = ("1.0.0", "1.1.0")

# The loopback and timing helpers of the fleet benchmark next to this file (no side effects on import).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deploy_fleet import free_port, timed, wait_port  # noqa: E402  pylint: disable=wrong-import-position


def publish(s3, work: str, modules: list[str], payload: int) -> None:
    """Every module at both versions (tar czf + sha256 + repo-info sidecar, as a CI step would), then the DIST."""
    for version in VERSIONS:
        for module in modules:
            src = os.path.join(work, "src", module, version)
            rel = os.path.join(work, "rel", module, version)
            os.makedirs(os.path.join(src, "bin"))
            os.makedirs(os.path.join(rel, "etc"))
            with open(os.path.join(src, "bin", "payload.bin"), "wb") as handle:
                handle.write(os.urandom(payload))
            for script in ("deploy.sh", "upgrade.sh"):
                with open(os.path.join(rel, script), "w", encoding="utf-8") as handle:
                    handle.write(SCRIPT)
                os.chmod(os.path.join(rel, script), 0o755)
            with open(os.path.join(rel, "etc", "app.conf"), "w", encoding="utf-8") as handle:
                handle.write("module=%s version=%s\n" % (module, version))
            with open(os.path.join(rel, "repo-info"), "w", encoding="utf-8") as handle:
                handle.write("rel_branch: %s\nsrc_branch: %s\ndepend_list: none\n" % (version, version))
            for tree, members, name in ((src, ["bin"], module.lower() + "-bin"), (rel, ["etc", "repo-info", "deploy.sh", "upgrade.sh"], module)):
                archive = os.path.join(work, "%s-%s-%s.tar.gz" % (module, version, name))
                subprocess.run(["tar", "czf", archive, "-C", tree] + members, check=True)
                with open(archive, "rb") as handle:
                    digest = hashlib.sha256(handle.read()).hexdigest()
                key = "%s/%s/%s.tar.gz" % (module, version, name)
                s3.upload_file(archive, "bench", key)
                s3.put_object(Bucket="bench", Key=key + ".sha256", Body=("%s  %s.tar.gz\n" % (digest, name)).encode())
            with open(os.path.join(rel, "repo-info"), "rb") as handle:
                s3.put_object(Bucket="bench", Key="%s/%s/repo-info" % (module, version), Body=handle.read())
        listed = "".join("  %s: %s\n" % (m, version) for m in modules)
        dist = "rel_branch: %s\nsub_repo:\n%supgrade_list:\n%s" % (version, listed, listed)
        s3.put_object(Bucket="bench", Key="Bench.dist/%s/repo-info" % version, Body=dist.encode())


def inventory(path: str, nodes_dir: str, count: int) -> None:
    hosts = {}
    for index in range(1, count + 1):
        node = os.path.join(nodes_dir, "n%02d" % index)
        hosts["n%02d" % index] = dict(
            ansible_connection="local", ansible_python_interpreter=sys.executable,
            fleetops_node_paths=dict(state_file=os.path.join(node, "images.yaml"), cache_dir=os.path.join(node, "cache"),
                                     modules_dir=os.path.join(node, "modules"), log_dir=os.path.join(node, "logs")))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(dict(fleet=dict(hosts=hosts)), handle)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--modules", type=int, default=3)
    parser.add_argument("--payload-mib", type=float, default=4.0, help="size of each module's SRC package (random, so incompressible)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fleetops-rollback-")
    procs: list[subprocess.Popen] = []
    port = free_port()
    endpoint = "http://127.0.0.1:%d" % port
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".tmp", "collections"), ANSIBLE_FORKS=str(args.nodes),
               AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1",
               AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_REMOTE_TEMP=os.path.join(work, "ansible-tmp"), ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore",
               ANSIBLE_LOCALHOST_WARNING="false", ANSIBLE_NOCOLOR="1")
    try:
        procs.append(subprocess.Popen([os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port("127.0.0.1", port)
        import boto3  # pylint: disable=import-outside-toplevel

        s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench", aws_secret_access_key="bench")
        s3.create_bucket(Bucket="bench")
        modules = ["Bench%d" % i for i in range(1, args.modules + 1)]
        publish(s3, work, modules, int(args.payload_mib * 1024 * 1024))
        nodes_dir = os.path.join(work, "nodes")
        inv = os.path.join(work, "inventory.json")
        inventory(inv, nodes_dir, args.nodes)
        release_vars = json.dumps({"fleetops_serial": "100%", "fleetops_s3": {"endpoint_url": endpoint}, "fleetops_project": "bench"})
        common = [os.path.join(BIN, "ansible-playbook"), "-i", inv, "-e", "fleetops_hosts=fleet", "-e", "fleetops_dist=Bench.dist",
                  "-e", "fleetops_bucket=bench", "-e", release_vars]
        deploy = common[:1] + ["fleetops.release.deploy"] + common[1:]
        rollback = common[:1] + ["fleetops.release.rollback"] + common[1:] + ["-e", "fleetops_rollback_to=1.0.0"]
        results: dict[str, list[dict]] = {"fresh": [], "rollback": []}

        def run(name: str, cmd: list[str], expect: str | None) -> dict:
            log = os.path.join(work, "%s.log" % name)
            wall, cpu, rc = timed(cmd, env, log)
            with open(log, encoding="utf-8") as handle:
                text = handle.read()
            if rc != 0 or (expect and len(re.findall(expect, text)) != args.nodes):
                sys.stdout.write(text[-4000:])
                raise SystemExit("%s failed (exit %d)" % (name, rc))
            fetched = sum(int(m) for m in re.findall(r"(\d+) bytes downloaded", text))
            print("%-12s %6.1f s wall %6.1f s cpu  %d bytes downloaded" % (name, wall, cpu, fetched), file=sys.stderr, flush=True)
            return dict(wall=wall, cpu=cpu, bytes=fetched)

        for round_no in range(1, args.rounds + 1):
            shutil.rmtree(nodes_dir, ignore_errors=True)
            os.makedirs(nodes_dir)
            results["fresh"].append(run("fresh-%d" % round_no, deploy + ["-e", "fleetops_version=1.0.0"], r"installed +1\.0\.0"))
            run("to-b-%d" % round_no, deploy + ["-e", "fleetops_version=1.1.0", "-e", '{"fleetops_upgradable": ["1.0.0"]}'],
                r"upgraded +1\.1\.0")
            results["rollback"].append(run("rollback-%d" % round_no, rollback, r"upgraded +1\.0\.0"))
        fresh = {k: statistics.median(r[k] for r in results["fresh"]) for k in ("wall", "cpu", "bytes")}
        back = {k: statistics.median(r[k] for r in results["rollback"]) for k in ("wall", "cpu", "bytes")}
        print("\n%d local-connection nodes, DIST of %d modules (%.1f MiB SRC + small REL each), %d rounds, medians\n"
              % (args.nodes, args.modules, args.payload_mib, args.rounds))
        print("| run | wall s | controller CPU s | bytes downloaded (all nodes) | wall / fresh |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, row in (("fresh deploy of 1.0.0", fresh), ("rollback 1.1.0 -> 1.0.0", back)):
            print("| %s | %.1f | %.1f | %d | %.2fx |" % (name, row["wall"], row["cpu"], row["bytes"], row["wall"] / fresh["wall"]))
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
