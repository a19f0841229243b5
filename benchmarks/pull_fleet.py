#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pull mode at fleet scale: simulated nodes running the real agent against a local S3, on a compressed clock.

Starts moto on loopback (its own process) and publishes one module (a small REL package whose deploy.sh exits 0).
Each simulated node is the real pull agent (plugins/module_utils/_pull/agent.py) with a directory of its own: its
own images.yaml, cache, module tree, memory and copy of the desired state. A release applies there with
dist_deploy's Deployer, as on a real node: download, sha256, extraction, deploy.sh.

The clock is compressed: one round is one timer period (60 s on a real fleet). In a round every node polls
once, in a random order, spread over --processes worker processes (each runs its nodes one at a time, as a real
node runs one agent), as fast as this machine goes. After each round the
controller (plugins/module_utils/_pull/rollout.py) reads the wave's status folder with one LIST and gates.
When the wave has converged it writes the next one.

Measured, per fleet size:
  release   4 waves (1 %, 10 %, 50 %, 100 %) from an empty fleet to every node on 1.0.0: rounds (timer
            periods) to converge, real seconds, S3 requests by kind, and the controller's own CPU
            (thread time of the controller's calls only)
  idle      --idle-rounds rounds with nothing to do: S3 requests per node per poll
and, with --idle-only N, only the idle figure for N nodes whose memory is seeded as after a release.

Run from the repository root:
  PYTHONPATH=.tmp/collections .venv/bin/python benchmarks/pull_fleet.py --sizes 1000,10000 --idle-only 100000
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import io
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# pylint: disable=wrong-import-position  # the helpers of the benchmark next to this file, found through sys.path
from deploy_fleet import free_port, wait_port

from ansible_collections.fleetops.release.plugins.module_utils._pull import documents as docs
from ansible_collections.fleetops.release.plugins.module_utils._pull import rollout
from ansible_collections.fleetops.release.plugins.module_utils._pull.agent import Agent, check_config
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store

BIN = os.path.dirname(sys.executable)
KEYS = dict(access_key="bench", secret_key="bench-secret", region="us-east-1")
BUCKET = "pull-bench"
WAVES = ("1%", "10%", "50%", "100%")


class Counting:
    """One HttpStore for every simulated node and the controller, counting requests by kind (thread-safe)."""

    def __init__(self, store):
        self.store = store
        self.counts = collections.Counter()
        self.lock = threading.Lock()

    def count(self, kind: str, n: int = 1) -> None:
        with self.lock:
            self.counts[kind] += n

    def get_small(self, bucket, key, max_size, if_none_match=None):
        body, response = self.store.get_small(bucket, key, max_size, if_none_match=if_none_match)
        self.count("GET desired 304" if response.get("NotModified") else "GET desired 200" if body is not None else "GET 404")
        return body, response

    def put_bytes(self, *args, **kwargs):
        self.count("PUT status")
        return self.store.put_bytes(*args, **kwargs)

    def open(self, *args, **kwargs):
        self.count("GET artifact")
        return self.store.open(*args, **kwargs)

    def list(self, bucket, prefix="", delimiter=None):
        objects, prefixes = self.store.list(bucket, prefix, delimiter)
        self.count("LIST", max(1, -(-len(objects) // 1000)))
        return objects, prefixes

    def __getattr__(self, name):
        attr = getattr(self.store, name)
        if callable(attr):
            def call(*args, **kwargs):
                self.count(name)
                return attr(*args, **kwargs)
            return call
        return attr


def publish(s3, bucket: str) -> dict:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for script in ("deploy.sh", "upgrade.sh"):
            text = b"#!/bin/sh\nexit 0\n"
            info = tarfile.TarInfo(script)
            info.size, info.mode = len(text), 0o755
            tar.addfile(info, io.BytesIO(text))
    data = raw.getvalue()
    key = "Web/1.0.0/Web.tar.gz"
    s3.put_bytes(bucket, key, data, content_type="application/gzip")
    rel = dict(bucket=bucket, key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    step = dict(module="Web", version="1.0.0", action="deploy", required_by=["dist"], rel=rel, src=[])
    return dict(dist=dict(name="Dist", version="1.0.0"), install=[step], upgrade=[], modules={"Web": "1.0.0"})


def node_config(root: str, index: int, environment: str) -> dict:
    name = "n%06d" % index
    base = os.path.join(root, name)
    return check_config(dict(project="bench", environment=environment, node=name, bucket=BUCKET, tags=["canary"] if index < 5 else [],
                             paths=dict(state_file=base + "/images.yaml", cache_dir=base + "/cache", modules_dir=base + "/modules",
                                        log_dir=base + "/logs", agent_state=base + "/agent.json", desired_cache=base + "/desired.json")),
                        name)


def _shard(conn, endpoint: str, root: str, indexes: list[int], environment: str, seed: int) -> None:
    """One worker process: its share of the nodes, each polled in turn (one process per node on a real fleet; here
    one process runs many, one at a time, so no two of them share a process while one writes a script the other runs)."""
    random.seed(seed)
    store = Counting(open_store(dict(KEYS, endpoint_url=endpoint, retries=2, connect_timeout=10.0, read_timeout=60.0)))
    agents = [Agent(node_config(root, index, environment), lambda: store) for index in indexes]
    while True:
        command = conn.recv()
        if command == "stop":
            conn.close()
            return
        if command == "seed":
            seed_idle(agents, store, environment)
            conn.send(None)
            continue
        store.counts.clear()
        order = list(agents)
        random.shuffle(order)
        actions: collections.Counter = collections.Counter()
        errors = []
        for agent in order:
            try:
                outcome = agent.poll()
                key = outcome["action"] if outcome["action"] != "reported" else "reported " + outcome["status"]["result"]
            except Exception as exc:  # pylint: disable=broad-exception-caught  # counted and shown, the round goes on
                key = "error"
                errors.append("%s: %s" % (agent.node, exc))
            actions[key] += 1
        conn.send(dict(actions=dict(actions), requests=dict(store.counts), errors=errors[:3]))


class Fleet:
    """The simulated nodes, in --processes worker processes."""

    def __init__(self, endpoint: str, root: str, size: int, environment: str, processes: int) -> None:
        import multiprocessing  # pylint: disable=import-outside-toplevel

        context = multiprocessing.get_context("fork")
        self.size = size
        self.workers = []
        for number in range(processes):
            parent, child = context.Pipe()
            proc = context.Process(target=_shard, args=(child, endpoint, root, list(range(number, size, processes)), environment,
                                                        1000 + number), daemon=True)
            proc.start()
            self.workers.append((proc, parent))

    def round(self) -> dict:
        start = time.monotonic()
        for _proc, conn in self.workers:
            conn.send("round")
        actions: collections.Counter = collections.Counter()
        requests: collections.Counter = collections.Counter()
        errors: list[str] = []
        for _proc, conn in self.workers:
            answer = conn.recv()
            actions.update(answer["actions"])
            requests.update(answer["requests"])
            errors.extend(answer["errors"])
        return dict(actions=dict(actions), requests=requests, errors=errors[:5], seconds=time.monotonic() - start)

    def seed(self) -> None:
        for _proc, conn in self.workers:
            conn.send("seed")
        for _proc, conn in self.workers:
            conn.recv()

    def close(self) -> None:
        for proc, conn in self.workers:
            conn.send("stop")
            proc.join(timeout=30)


def release(store: Counting, fleet: Fleet, nodes: dict, plan: dict, environment: str, log) -> dict:
    channel = rollout.Channel(store, BUCKET, None, "bench", environment)
    waves = rollout.parse_waves(list(WAVES))
    controller_cpu = 0.0
    rounds = 0
    real = 0.0
    node_requests: collections.Counter = collections.Counter()
    per_wave = []
    for number, wave in enumerate(waves, 1):
        t0 = time.thread_time()
        spec = dict(number=number, of=len(waves), name=wave["name"], selector=wave["selector"])
        document = channel.write("bench-rel", "1.0.0", plan, spec)
        follow = rollout.Follow(store, BUCKET, None, document, nodes)
        controller_cpu += time.thread_time() - t0
        wave_rounds = 0
        while True:
            done = fleet.round()
            node_requests.update(done["requests"])
            rounds += 1
            wave_rounds += 1
            real += done["seconds"]
            t0 = time.thread_time()
            progress = follow.poll()
            verdict, why = rollout.gate(progress, rollout.failure_budget(0, progress["selected"]), finished=wave_rounds >= 3)
            controller_cpu += time.thread_time() - t0
            shown = (number, wave["name"], wave_rounds, done["seconds"], done["actions"], rollout.line("wave", progress), verdict)
            log("  wave %d (%s): round %d, %.1f s, %s; %s -> %s" % shown)
            if done["errors"] or progress["errors"]:
                log("    errors: %s %s" % ("; ".join(done["errors"]), json.dumps(progress["errors"])[:600]))
            if verdict != "wait":
                break
        per_wave.append(dict(wave=wave["name"], selected=progress["selected"], rounds=wave_rounds, verdict=verdict, why=why))
        if verdict == "stop":
            break
    return dict(rounds=rounds, real_seconds=round(real, 1), controller_cpu=round(controller_cpu, 3), waves=per_wave,
                node_requests=dict(node_requests))


def seed_idle(agents, store: Counting, environment: str) -> None:
    """Memory and desired-state copy of a node that reported the current generation (as after a release)."""
    body, response = store.store.get_small(BUCKET, docs.desired_key(None, "bench", environment), docs.MAX_DESIRED_BYTES)
    generation = json.loads(body)["generation"]
    memory = json.dumps(dict(etag=response["ETag"], generation=generation, reported=True,
                             status=dict(result="up_to_date", generation=generation)))
    for agent in agents:
        os.makedirs(os.path.dirname(agent.memory_path), exist_ok=True)
        with open(agent.memory_path, "w", encoding="utf-8") as handle:
            handle.write(memory)
        with open(agent.cache_path, "wb") as handle:
            handle.write(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000", help="fleet sizes for a whole release (comma separated)")
    parser.add_argument("--idle-only", default="", help="fleet sizes measured idle only (comma separated), e.g. 100000")
    parser.add_argument("--idle-rounds", type=int, default=2)
    parser.add_argument("--processes", type=int, default=8, help="worker processes the simulated nodes are spread over")
    parser.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    random.seed(12)
    work = tempfile.mkdtemp(prefix="fleetops-pull-", dir=args.workdir)
    port = free_port()
    moto = subprocess.Popen([os.path.join(BIN, "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict = dict(release={}, idle={})

    def log(text: str) -> None:
        print(text, flush=True)

    try:
        wait_port("127.0.0.1", port)
        raw_store = open_store(dict(KEYS, endpoint_url="http://127.0.0.1:%d" % port, retries=2, connect_timeout=10.0, read_timeout=60.0))
        import boto3  # pylint: disable=import-outside-toplevel  # the bucket itself, once

        boto3.client("s3", endpoint_url="http://127.0.0.1:%d" % port, aws_access_key_id="bench", aws_secret_access_key="bench-secret",
                     region_name="us-east-1").create_bucket(Bucket=BUCKET)
        plan = publish(raw_store, BUCKET)
        endpoint = "http://127.0.0.1:%d" % port
        for size in [int(s) for s in args.sizes.split(",") if s]:
            store = Counting(raw_store)
            environment = "e%d" % size
            log("%d nodes: release in %d waves" % (size, len(WAVES)))
            nodes = {"n%06d" % i: (["canary"] if i < 5 else []) for i in range(size)}
            fleet = Fleet(endpoint, os.path.join(work, environment), size, environment, args.processes)
            try:
                figures = release(store, fleet, nodes, plan, environment, log)
                requests = collections.Counter(figures.pop("node_requests"))
                requests.update(store.counts)
                figures["requests"] = dict(requests)
                figures["requests_total"] = sum(requests.values())
                idle = collections.Counter()
                idle_seconds = []
                for _round in range(args.idle_rounds):
                    done = fleet.round()
                    idle.update(done["requests"])
                    idle_seconds.append(done["seconds"])
                figures["idle_requests_per_poll"] = round(sum(idle.values()) / float(size * args.idle_rounds), 4)
                figures["idle_round_seconds"] = round(min(idle_seconds), 1)
            finally:
                fleet.close()
            results["release"][size] = figures
            log("  -> %s" % json.dumps(figures, sort_keys=True))
            shutil.rmtree(os.path.join(work, environment), ignore_errors=True)
        for size in [int(s) for s in args.idle_only.split(",") if s]:
            store = Counting(raw_store)
            environment = "idle%d" % size
            channel = rollout.Channel(store, BUCKET, None, "bench", environment)
            channel.write("bench-rel", "1.0.0", plan, dict(number=1, of=1, name="100%", selector=dict(percent=100)))
            fleet = Fleet(endpoint, os.path.join(work, environment), size, environment, args.processes)
            try:
                fleet.seed()
                done = fleet.round()
            finally:
                fleet.close()
            total = sum(done["requests"].values())
            figures = dict(requests=dict(done["requests"]), requests_per_poll=round(total / float(size), 4),
                           round_seconds=round(done["seconds"], 1), actions=done["actions"],
                           requests_per_second=round(total / done["seconds"], 1))
            results["idle"][size] = figures
            log("%d idle nodes: %s" % (size, json.dumps(figures, sort_keys=True)))
            shutil.rmtree(os.path.join(work, environment), ignore_errors=True)
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(results, handle, indent=2, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
