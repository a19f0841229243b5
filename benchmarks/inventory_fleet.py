#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Inventory benchmark: the fleet inventory plugin against the static YAML inventory a user would write.

Generates a fleet of --hosts hosts (default 10,000: 10 projects, 7 environments each named
both ways round, every host with ansible_host, a rack variable and dc/canary tags) and
the same hosts and groups as a static YAML inventory (ansible.builtin.yaml: project,
<project>_<environment>, env_*, service_* and tag_* groups, the same variables). Each
round loads each inventory the way ansible-inventory does, with Ansible's InventoryManager,
in a fresh Python process (imports happen before the clock starts), and checks that the
two give the same hosts, groups and memberships:

  fleet-yaml    plugin: fleetops.release.fleet with the projects inline (YAML)
  fleet-json    the same document as a JSON CMDB export, read through source.file
  static-yaml   ansible.builtin.yaml with the same hosts, groups and variables

Run from the repository root:
  PYTHONPATH=.tmp/collections .venv/bin/python benchmarks/inventory_fleet.py --hosts 10000 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

import yaml

try:
    DUMPER = yaml.CSafeDumper
except AttributeError:
    DUMPER = yaml.SafeDumper

ENVIRONMENTS = (("sdk_beta", "beta", "sdk"), ("beta_console", "beta", "console"), ("online", "online", None),
                ("gray", "gray", None), ("crontab", None, "crontab"), ("api-prod", "prod", "api"), ("dev", "dev", None))

CONTESTANT = r'''
import json, os, sys, time
path, enabled = sys.argv[1:3]
os.environ["ANSIBLE_INVENTORY_ENABLED"] = enabled
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader()
start, cpu = time.monotonic(), time.process_time()
inventory = InventoryManager(loader=DataLoader(), sources=[path])
elapsed, cpu = time.monotonic() - start, time.process_time() - cpu
hosts = inventory.get_hosts()
groups = {name: sorted(h.name for h in group.get_hosts()) for name, group in inventory.groups.items()}
sample = hosts[len(hosts) // 2]
vars_ = sample.get_vars()
merged = {}
for group in sorted(sample.get_groups(), key=lambda g: (g.depth, g.priority, g.name)):
    merged.update(group.get_vars())
merged.update(vars_)
print(json.dumps(dict(seconds=elapsed, cpu=cpu, hosts=len(hosts), groups=groups, sample=sample.name,
                      sample_vars={k: merged[k] for k in sorted(merged) if not k.startswith(("inventory_", "group_names"))})))
'''


def generate(total: int) -> dict:
    """The fleet document: hosts spread over 10 projects and their 7 environments."""
    projects: dict = {}
    per_env = -(-total // (10 * len(ENVIRONMENTS)))
    count = 0
    for pnum in range(10):
        project = projects["project%d" % pnum] = {"vars": {"fleetops_bucket": "project%d-releases" % pnum}, "environments": {}}
        for ename, _env, _service in ENVIRONMENTS:
            hosts = {}
            for hnum in range(per_env):
                if count >= total:
                    break
                name = "p%d-%s-%04d.example.com" % (pnum, ename.replace("_", "-"), hnum)
                tags: dict = {"dc": "bj%d" % (hnum % 3)}
                if hnum % 50 == 0:
                    tags["canary"] = True
                hosts[name] = {"vars": {"ansible_host": "10.%d.%d.%d" % (pnum, count // 250, count % 250), "rack": "r%02d" % (hnum % 16)},
                               "tags": tags}
                count += 1
            project["environments"][ename] = {"vars": {"release_channel": ename}, "hosts": hosts}
    return {"projects": projects}


def static_inventory(doc: dict) -> dict:
    """What a user would write by hand (or generate) for ansible.builtin.yaml: the same groups and variables."""
    children: dict = {}
    for pname, project in doc["projects"].items():
        penvs = {}
        for ename, env, service in ENVIRONMENTS:
            edata = project["environments"].get(ename)
            if edata is None:
                continue
            gname = "%s_%s" % (pname, ename.replace("-", "_"))
            hosts = {}
            for host, hdata in edata["hosts"].items():
                hosts[host] = dict(hdata["vars"], fleet_tags=hdata["tags"])
                for key, value in hdata["tags"].items():
                    tag = "tag_%s" % key if value is True else "tag_%s_%s" % (key, value)
                    children.setdefault(tag, {"hosts": {}})["hosts"][host] = None
            penvs[gname] = {"vars": dict(edata["vars"], fleet_environment=ename, fleet_env=env, fleet_service=service), "hosts": hosts}
            for prefix, word in (("env_", env), ("service_", service)):
                if word:
                    children.setdefault(prefix + word, {"children": {}})["children"][gname] = None
        children[pname] = {"vars": dict(project["vars"], fleet_project=pname), "children": penvs}
    return {"all": {"children": children}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="fleetops-inv-bench-")
    try:
        doc = generate(args.hosts)
        paths = {
            "fleet-yaml": os.path.join(work, "inline.fleet.yml"),
            "fleet-json": os.path.join(work, "file.fleet.yml"),
            "static-yaml": os.path.join(work, "static.yml"),
        }
        with open(paths["fleet-yaml"], "w", encoding="utf-8") as handle:
            yaml.dump(dict(plugin="fleetops.release.fleet", **doc), handle, Dumper=DUMPER, sort_keys=False)
        with open(os.path.join(work, "cmdb.json"), "w", encoding="utf-8") as handle:
            json.dump(doc, handle)
        with open(paths["fleet-json"], "w", encoding="utf-8") as handle:
            yaml.dump(dict(plugin="fleetops.release.fleet", source=dict(file="cmdb.json")), handle, Dumper=DUMPER)
        with open(paths["static-yaml"], "w", encoding="utf-8") as handle:
            yaml.dump(static_inventory(doc), handle, Dumper=DUMPER, sort_keys=False)
        enabled = {"fleet-yaml": "fleetops.release.fleet", "fleet-json": "fleetops.release.fleet", "static-yaml": "ansible.builtin.yaml"}
        kinds = list(paths)
        # The contestants find the collection where PYTHONPATH (or ANSIBLE_COLLECTIONS_PATH) says.
        env = dict(os.environ)
        env["ANSIBLE_COLLECTIONS_PATH"] = env.get("ANSIBLE_COLLECTIONS_PATH") or env.get("PYTHONPATH") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".tmp", "collections")
        results: dict[str, list[dict]] = {k: [] for k in kinds}
        for round_no in range(args.rounds):
            for kind in kinds[round_no % len(kinds):] + kinds[:round_no % len(kinds)]:
                out = subprocess.run([sys.executable, "-c", CONTESTANT, paths[kind], enabled[kind]], check=False,
                                     capture_output=True, text=True, env=env)
                if out.returncode:
                    sys.exit("%s failed:\n%s" % (kind, out.stderr[-3000:]))
                results[kind].append(json.loads(out.stdout))
                print("round %d %-12s %.2f s" % (round_no + 1, kind, results[kind][-1]["seconds"]), file=sys.stderr)
        # Same inventory from all three: hosts, groups with their members, and what one host sees.
        reference = results["static-yaml"][0]
        for kind in kinds:
            got = results[kind][0]
            assert got["hosts"] == args.hosts, (kind, got["hosts"])
            assert got["groups"] == reference["groups"], "%s: groups differ from static-yaml" % kind
            assert got["sample_vars"] == reference["sample_vars"], (kind, got["sample_vars"], reference["sample_vars"])
        base = statistics.median(r["seconds"] for r in results["static-yaml"])
        sizes = {k: os.path.getsize(p) for k, p in paths.items()}
        sizes["fleet-json"] = os.path.getsize(os.path.join(work, "cmdb.json"))
        print("\n%d hosts, %d groups, %d rounds; InventoryManager load time in a fresh process (wall and CPU seconds); ratio = median / static-yaml median\n"
              % (args.hosts, len(reference["groups"]), args.rounds))
        print("| contestant | document bytes | median s | min s | max s | median CPU s | ratio |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for kind in kinds:
            secs = [r["seconds"] for r in results[kind]]
            cpu = statistics.median(r["cpu"] for r in results[kind])
            row = (kind, sizes[kind], statistics.median(secs), min(secs), max(secs), cpu, statistics.median(secs) / base)
            print("| %s | %d | %.2f | %.2f | %.2f | %.2f | %.2fx |" % row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
