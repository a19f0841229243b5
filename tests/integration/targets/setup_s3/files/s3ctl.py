# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Small test-side helper for the loopback S3 (moto) and the fault proxy.

  s3ctl.py mb BUCKET [--versioned]
  s3ctl.py put BUCKET KEY FILE            upload a file as `aws s3 cp` does (multipart above 8 MiB)
  s3ctl.py flip BUCKET KEY OFFSET         rewrite the stored object with one byte flipped (damage at rest)
  s3ctl.py rm BUCKET KEY
  s3ctl.py get BUCKET KEY FILE
  s3ctl.py ls BUCKET [PREFIX]             one key per line
  s3ctl.py fault JSON | reset             script the proxy (see s3proxy.py)
  s3ctl.py gets PATH                      how many GETs the proxy saw for /BUCKET/KEY
  s3ctl.py clear-stats
  s3ctl.py zeros FILE SIZE                write a file of SIZE pseudo-random bytes (for big artifacts)

Endpoints come from MOTO_ENDPOINT and S3_ENDPOINT (set by env.sh).
"""

from __future__ import annotations

import json
import os
import random
import sys
import urllib.request

import boto3


def client():
    return boto3.client("s3", endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1",
                        aws_access_key_id="setup", aws_secret_access_key="setup")


def proxy(path: str, method: str = "GET", body: bytes | None = None) -> bytes:
    req = urllib.request.Request(os.environ["S3_ENDPOINT"] + path, data=body, method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read()


def main(argv: list[str]) -> int:
    cmd, args = argv[0], argv[1:]
    if cmd == "mb":
        s3 = client()
        s3.create_bucket(Bucket=args[0])
        if "--versioned" in args:
            s3.put_bucket_versioning(Bucket=args[0], VersioningConfiguration={"Status": "Enabled"})
    elif cmd == "put":
        client().upload_file(args[2], args[0], args[1])
    elif cmd == "flip":
        s3 = client()
        data = bytearray(s3.get_object(Bucket=args[0], Key=args[1])["Body"].read())
        data[int(args[2])] ^= 0x01
        s3.put_object(Bucket=args[0], Key=args[1], Body=bytes(data))
    elif cmd == "get":
        with open(args[2], "wb") as handle:
            handle.write(client().get_object(Bucket=args[0], Key=args[1])["Body"].read())
    elif cmd == "ls":
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1] if len(args) > 1 else "")
        for page in pages:
            for obj in page.get("Contents", []):
                print(obj["Key"])
    elif cmd == "rm":
        client().delete_object(Bucket=args[0], Key=args[1])
    elif cmd == "fault":
        body = b'{"reset": true}' if args[0] == "reset" else args[0].encode()
        json.loads(body)
        proxy("/__fault__", "POST", body)
    elif cmd == "gets":
        print(json.loads(proxy("/__stats__")).get(args[0], 0))
    elif cmd == "clear-stats":
        proxy("/__stats__", "DELETE")
    elif cmd == "zeros":
        rnd = random.Random(int(args[1]))
        remaining = int(args[1])
        with open(args[0], "wb") as handle:
            while remaining:
                block = rnd.randbytes(min(remaining, 1 << 20))
                handle.write(block)
                remaining -= len(block)
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
