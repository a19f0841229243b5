#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fetch-and-verify benchmark: our one-pass fetch against what a user would write.

Starts a moto S3 server on loopback, uploads one artifact of --size bytes (as
`aws s3 cp` would: multipart), then in each round runs every contestant in a
fresh Python process (so peak RSS is its own) and reports the median time, the
ratio to our presigned fetch, and peak memory:

  ours-url      s3_artifact's path: presigned URL via Ansible's open_url, sha256 while streaming
  ours-boto3    s3_artifact with presign=false: boto3 get_object, sha256 while streaming
  plain-stream  boto3 get_object streamed to a file, then a separate sha256 pass
  plain-file    boto3 download_file (what amazon.aws.s3_object does), then a separate sha256 pass

Run from the repository root:
  PYTHONPATH=.tmp/collections .venv/bin/python benchmarks/fetch_verify.py --size 1G --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

CONTESTANT = r'''
import hashlib, json, os, sys, time
kind, endpoint, bucket, key, expected, size, workdir, url = sys.argv[1:9]
size = int(size)
# Imports happen before the clock starts; ours-url imports no boto3, like a node that fetches by URL.
if kind.startswith("ours"):
    from ansible_collections.fleetops.release.plugins.module_utils._fetch.fetch import Artifact, Fetcher
if kind != "ours-url":
    from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store
    import boto3
    from botocore.config import Config
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench", config=Config(s3={"addressing_style": "path"}))
    store = S3Store(dict(endpoint_url=endpoint, region="us-east-1", access_key="bench", secret_key="bench", retries=2,
                         connect_timeout=10, read_timeout=60, validate_certs=True))
    store._client = client
def status(field):
    return [int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(field + ":")][0]
rss_before = status("VmRSS")
start = time.monotonic()
if kind.startswith("ours"):
    fetcher = Fetcher(os.path.join(workdir, "cache"), store_factory=lambda: store)
    art = Artifact(key=key, sha256=expected, size=size, url=url if kind == "ours-url" else None,
                   bucket=None if kind == "ours-url" else bucket)
    digest = fetcher.fetch(art).sha256
else:
    target = os.path.join(workdir, "plain.tar.gz")
    if kind == "plain-file":
        client.download_file(bucket, key, target)
    else:
        body = client.get_object(Bucket=bucket, Key=key)["Body"]
        with open(target, "wb") as handle:
            for block in iter(lambda: body.read(1024 * 1024), b""):
                handle.write(block)
    digest_obj = hashlib.sha256()
    with open(target, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest_obj.update(block)
    digest = digest_obj.hexdigest()
elapsed = time.monotonic() - start
assert digest == expected, (kind, digest, expected)
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (larger) parent process.
print(json.dumps(dict(seconds=elapsed, maxrss_kib=status("VmHWM"), growth_kib=status("VmHWM") - rss_before)))
'''

KINDS = ("ours-url", "ours-boto3", "plain-stream", "plain-file")


def parse_size(text: str) -> int:
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="1G", help="artifact size, e.g. 64M, 1G (default 1G)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--workdir", default=None,
                        help="where downloads land (default: a temp dir); /dev/shm takes disk write-back noise out")
    args = parser.parse_args()
    size = parse_size(args.size)
    kinds = args.kinds.split(",")
    python = sys.executable
    moto = os.path.join(os.path.dirname(python), "moto_server")
    port = free_port()
    work = tempfile.mkdtemp(prefix="fleetops-bench-", dir=args.workdir)
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        endpoint = "http://127.0.0.1:%d" % port
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        import hashlib  # pylint: disable=import-outside-toplevel

        import boto3  # pylint: disable=import-outside-toplevel
        from botocore.config import Config  # pylint: disable=import-outside-toplevel

        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                              aws_secret_access_key="bench", config=Config(s3={"addressing_style": "path"}))
        client.create_bucket(Bucket="bench")
        source = os.path.join(work, "artifact.tar.gz")
        digest = hashlib.sha256()
        block = os.urandom(1 << 20)
        with open(source, "wb") as handle:
            written = 0
            while written < size:
                piece = block[:min(len(block), size - written)]
                handle.write(piece)
                digest.update(piece)
                written += len(piece)
        expected = digest.hexdigest()
        key = "Big/1.0.0/big.tar.gz"
        client.upload_file(source, "bench", key)
        os.unlink(source)
        results: dict[str, list[dict]] = {k: [] for k in kinds}
        for round_no in range(args.rounds):
            # Rotate the order each round and flush dirty pages between contestants, so nobody pays
            # for the previous contestant's write-back of a whole artifact.
            for kind in kinds[round_no % len(kinds):] + kinds[:round_no % len(kinds)]:
                os.sync()
                workdir = tempfile.mkdtemp(dir=work)
                url = client.generate_presigned_url("get_object", Params=dict(Bucket="bench", Key=key), ExpiresIn=3600)
                out = subprocess.run([python, "-c", CONTESTANT, kind, endpoint, "bench", key, expected, str(size), workdir, url],
                                     check=True, capture_output=True, text=True)
                results[kind].append(json.loads(out.stdout))
                shutil.rmtree(workdir)
                print("round %d %-12s %.2f s" % (round_no + 1, kind, results[kind][-1]["seconds"]), file=sys.stderr)
        base = statistics.median(r["seconds"] for r in results[kinds[0]])
        print("\nartifact %s (%d bytes), %d rounds, median seconds; ratio = time / %s time\n" % (args.size, size, args.rounds, kinds[0]))
        print("| contestant | median s | min s | ratio | MiB/s | peak RSS MiB | growth during transfer MiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for kind in kinds:
            secs = [r["seconds"] for r in results[kind]]
            med = statistics.median(secs)
            rss = max(r["maxrss_kib"] for r in results[kind]) / 1024
            growth = max(r["growth_kib"] for r in results[kind]) / 1024
            print("| %s | %.2f | %.2f | %.2fx | %.0f | %.1f | %.1f |" % (kind, med, min(secs), med / base, size / med / (1 << 20), rss, growth))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
