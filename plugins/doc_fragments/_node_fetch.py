# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.

from __future__ import annotations


class ModuleDocFragment:
    # How a node fetches and verifies artifacts (module_utils/_fetch/node_fetch.py NODE_FETCH_OPTIONS), docs/fetching.md.
    DOCUMENTATION = r"""
options:
  presign:
    description:
      - Sign URLs on the controller, just before the task runs on each host, for artifacts that have none (with the S3
        options of this task or of C(module_defaults)), and send the node only those URLs. The node then needs no
        credentials and no boto3.
      - V(false) makes the node use its own S3 access (an instance role, or the S3 options given).
    type: bool
    default: true
  url_expiry:
    description: Lifetime in seconds of URLs signed for this task.
    type: int
    default: 900
  presigned_urls:
    description:
      - Map of C(<bucket>/<key>) (plus C(?versionId=<id>) when pinned) to a presigned URL.
      - Filled by the action plugin on the controller when O(presign=true); you rarely set it yourself. Never printed.
    type: dict
  allow_unverified:
    description:
      - Accept artifacts without a sha256 (their C(.sha256) sidecar is missing). They are downloaded every run.
    type: bool
    default: false
  attempts:
    description:
      - Download attempts per artifact on connection errors, timeouts, 5xx and 429, with exponential backoff.
        A checksum mismatch, 403 and 404 are not retried.
    type: int
    default: 4
  timeout:
    description: Seconds to wait for the store to answer, per attempt and per read.
    type: float
    default: 60
"""
