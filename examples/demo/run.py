#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""`make demo`: the whole product on one machine, in under two minutes, leaving nothing behind.

1. start a local S3 (moto) and bring up three nodes: real SSH hosts in network namespaces when run
   as root, local-connection nodes otherwise;
2. publish the example repositories the way their bitbucket-pipelines.yml does
   (fleetops.release.publish, with the pipeline's BITBUCKET_* variables): LibGreet 1.0.0,
   HelloService 1.0.0 and 1.1.0 with their SRC package, DemoProject.dist 1.0.0 and 1.1.0;
3. release DemoProject.dist 1.0.0 (install), then 1.1.0 (upgrade from 1.0.0);
4. print every node's state, then stop everything it started.

``--local`` uses local-connection nodes even as root.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.dirname(sys.executable)
TESTHOSTS = os.path.join(ROOT, "tests", "integration", "targets", "setup_hosts", "files", "testhosts.py")
RELEASES = [  # (repository, kind, channel, extra vars)
    ("LibGreet", "rel", "1.0.0", {}),
    ("HelloService", "src", "1.0.0", {}),
    ("HelloService", "rel", "1.0.0", {}),
    ("HelloService", "src", "1.1.0", {}),
    ("HelloService", "rel", "1.1.0", {}),
    ("DemoProject.dist", "dist", "1.0.0", {}),
    ("DemoProject.dist", "dist", "1.1.0", {}),
]
REPO_INFO = {
    ("LibGreet", "1.0.0"): "rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: none\n",
    ("HelloService", "1.0.0"): "rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list:\n  LibGreet: 1.0.0\n",
    ("HelloService", "1.1.0"): "rel_branch: 1.1.0\nsrc_branch: 1.1.0\ndepend_list:\n  LibGreet: 1.0.0\n",
    ("DemoProject.dist", "1.0.0"): "rel_branch: 1.0.0\nsub_repo:\n  LibGreet: 1.0.0\n  HelloService: 1.0.0\nupgrade_list: none\n",
    ("DemoProject.dist", "1.1.0"): "rel_branch: 1.1.0\nsub_repo:\n  LibGreet: 1.0.0\n  HelloService: 1.1.0\nupgrade_list:\n  HelloService: 1.1.0\n",
}
STARTED = time.monotonic()


def say(text: str) -> None:
    print("[%5.1fs] %s" % (time.monotonic() - STARTED, text), flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def playbook(env: dict, *args: str, quiet: bool = True) -> str:
    proc = subprocess.run([os.path.join(BIN, "ansible-playbook"), *args], env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-6000:] + proc.stderr[-3000:])
        raise SystemExit("demo: ansible-playbook %s failed (exit %d)" % (" ".join(args[:2]), proc.returncode))
    if not quiet:
        sys.stdout.write(proc.stdout)
    return proc.stdout


def main() -> int:
    work = tempfile.mkdtemp(prefix="fleetops-demo-")
    ssh = "--local" not in sys.argv and os.geteuid() == 0 and shutil.which("sshd", path="/usr/sbin:/usr/bin") and shutil.which("ip")
    moto = None
    hosts_dir = os.path.join(work, "hosts")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, ".tmp", "collections"), ANSIBLE_HOST_KEY_CHECKING="false",
               AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               ANSIBLE_REMOTE_TEMP=os.path.join(work, "ansible-tmp"), ANSIBLE_LOCALHOST_WARNING="false",
               ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore", ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    try:
        # 1. the store and the nodes
        if ssh:
            subprocess.run([sys.executable, TESTHOSTS, "up", "--dir", hosts_dir, "--count", "3"], check=True, env=env)
            import json  # pylint: disable=import-outside-toplevel

            with open(os.path.join(hosts_dir, "hosts.json"), encoding="utf-8") as handle:
                address = json.load(handle)["gateway"]
            inventory = os.path.join(hosts_dir, "inventory.yml")
        else:
            address = "127.0.0.1"
            inventory = os.path.join(work, "inventory.yml")
            with open(inventory, "w", encoding="utf-8") as handle:
                handle.write("fleet:\n  hosts:\n")
                for name in ("node1", "node2", "node3"):
                    node = os.path.join(work, "nodes", name)
                    handle.write("    %s:\n      ansible_connection: local\n      ansible_python_interpreter: %s\n"
                                 "      fleetops_node_paths: {state_file: %s/images.yaml, cache_dir: %s/cache, modules_dir: %s/modules,"
                                 " log_dir: %s/logs}\n" % (name, sys.executable, node, node, node, node))
        port = free_port()
        moto = subprocess.Popen([os.path.join(BIN, "moto_server"), "-H", address, "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        endpoint = "http://%s:%d" % (address, port)
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection((address, port), 1.0).close()
                break
            except OSError:
                if time.monotonic() > deadline or moto.poll() is not None:
                    sys.exit("the local S3 (moto_server on %s:%d) did not come up within 120 s" % (address, port))
                time.sleep(0.1)
        say("S3 on %s, three %s nodes" % (endpoint, "SSH" if ssh else "local-connection"))
        import boto3  # pylint: disable=import-outside-toplevel

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="demo",
                     aws_secret_access_key="demo").create_bucket(Bucket="demoproject-releases")
        s3 = '{"fleetops_s3": {"endpoint_url": "%s"}, "fleetops_bucket": "demoproject-releases"}' % endpoint

        # 2. publish as each repository's pipeline does
        for repo, kind, tag, _extra in RELEASES:
            tree = os.path.join(work, "ci", "%s-%s-%s" % (repo, kind, tag))
            source = os.path.join(ROOT, "examples", repo, "src" if kind == "src" else "")
            shutil.copytree(source, tree, ignore=shutil.ignore_patterns("src", "bitbucket-pipelines.yml"))
            if kind != "src":
                with open(os.path.join(tree, "repo-info"), "w", encoding="utf-8") as handle:
                    handle.write(REPO_INFO[(repo, tag)])
            paths = {"rel": '["etc", "repo-info", "deploy.sh", "upgrade.sh"]', "src": '["hello"]', "dist": '["repo-info"]'}[kind]
            ci_env = dict(env, BITBUCKET_TAG=tag, BITBUCKET_CLONE_DIR=tree, BITBUCKET_REPO_SLUG=repo)
            args = ["fleetops.release.publish", "-e", s3, "-e", '{"fleetops_publish_paths": %s}' % paths,
                    "-e", "fleetops_publish_kind=%s" % kind]
            if kind == "src":
                args += ["-e", "fleetops_publish_bin_name=hello-bin"]
            playbook(ci_env, *args)
            say("published %s %s %s" % (repo, kind.upper(), tag))

        # 3. install 1.0.0, upgrade to 1.1.0
        release = ["fleetops.release.deploy", "-i", inventory, "-e", s3, "-e", "fleetops_hosts=fleet",
                   "-e", "fleetops_dist=DemoProject.dist"]
        out = playbook(env, *release, "-e", "fleetops_version=1.0.0")
        say("DemoProject.dist 1.0.0 installed:\n" + summary(out))
        out = playbook(env, *release, "-e", "fleetops_version=1.1.0", "-e", '{"fleetops_upgradable": ["1.0.0"]}')
        say("DemoProject.dist 1.1.0 upgraded:\n" + summary(out))

        # 4. node states
        out = playbook(env, os.path.join(HERE, "status.yml"), "-i", inventory, "-e", "fleetops_hosts=fleet")
        say("node states:\n" + "\n".join("    " + line.split('"msg": "', 1)[1].rstrip('"') for line in out.splitlines() if '"msg": "' in line))
    finally:
        if moto is not None:
            os.killpg(moto.pid, signal.SIGTERM)
            moto.wait()
        if ssh and os.path.exists(os.path.join(hosts_dir, "hosts.json")):
            subprocess.run([sys.executable, TESTHOSTS, "down", "--dir", hosts_dir], check=False)
        shutil.rmtree(work, ignore_errors=True)
    say("done; everything the demo started is stopped")
    return 0


def summary(output: str) -> str:
    lines = []
    capture = False
    for line in output.splitlines():
        if "Release summary" in line:
            capture = True
        elif capture and line.strip().startswith('"') and not line.strip().startswith('"msg'):
            lines.append("    " + line.strip().strip('",'))
        elif capture and line.startswith("TASK"):
            break
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
