#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: s3_artifact
short_description: Fetch, verify and optionally extract release artifacts on a node
version_added: 0.1.0
description:
  - Runs on each node. Fetches the artifacts of a plan (from M(fleetops.release.repo_info)) or a list of artifacts straight
    from S3 into a content-addressed cache, C(<cache_dir>/sha256/<digest>).
  - "One pass: bytes stream into a temp file in the cache while sha256 and size are computed; only a match is renamed into
    place. A mismatch is refused and the download removed. Nothing is extracted from an unverified file."
  - By default the controller signs a short-lived URL per artifact just before the task runs, and the node downloads with
    Ansible's own URL code. The node needs no boto3 and no credentials, and never sees the controller's. URLs are passed
    in a C(no_log) option and never printed. With O(presign=false) the node reads bucket and key through boto3 with its own
    credentials (an instance role), pinned to the VersionId of the plan.
  - Idempotent. A cached artifact whose sha256 still matches is not downloaded again; an extraction directory that already
    holds the same artifact is left alone.
  - Extraction pre-scans every member against an allow-list (regular files, directories, relative symlinks that stay
    inside; no hardlinks, devices, FIFOs, setuid bits, C(..) or absolute names, duplicates or writes through symlinks),
    bounds member count and sizes, and extracts into a fresh directory that appears atomically.
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._node_paths.CACHE_DIR
  - fleetops.release._node_fetch
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.S3_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Reports which artifacts would be downloaded and extracted, from the cache as it is; downloads nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  plan:
    description:
      - A plan from M(fleetops.release.repo_info) (RV(fleetops.release.repo_info#module:plan)); every REL and SRC artifact of
        its install and upgrade steps is fetched once.
    type: dict
  artifacts:
    description:
      - Artifacts to fetch, in addition to those of O(plan).
    type: list
    elements: dict
    suboptions:
      key:
        description: Object key.
        type: str
        required: true
      bucket:
        description: Bucket name (needed unless O(artifacts[].url) is given).
        type: str
      version_id:
        description: S3 VersionId to pin.
        type: str
      sha256:
        description: Expected sha256. Required unless O(allow_unverified=true).
        type: str
      size:
        description: Expected size in bytes; a longer stream is cut off and refused.
        type: int
      url:
        description: A presigned HTTPS URL to fetch from. Never printed.
        type: str
      name:
        description: Label in the results; defaults to the key's file name.
        type: str
      dest:
        description: Extract into this directory, which must not exist (or already hold this same artifact).
        type: path
      last_modified:
        description: Informational, as found in a plan's artifacts; not used.
        type: str
  extract_root:
    description:
      - Extract each artifact of O(plan) into C(<extract_root>/<Module>/<version>/<archive name>), and each entry of
        O(artifacts) without O(artifacts[].dest) into C(<extract_root>/<archive name>).
    type: path
notes:
  - The S3 connection options are used on the controller to sign URLs (O(presign=true)) or on the node
    (O(presign=false)).
seealso:
  - module: fleetops.release.repo_info
"""

EXAMPLES = r"""
- name: Resolve the release once on the controller
  fleetops.release.repo_info:
    name: ProjectX.dist
    version: 1.1.0
    bucket: projectx-releases
  delegate_to: localhost
  run_once: true
  register: release

- name: Every node fetches and verifies its artifacts straight from S3
  fleetops.release.s3_artifact:
    plan: "{{ release.plan }}"
    extract_root: /opt/fleetops/staging

- name: Nodes with an instance role read S3 themselves
  fleetops.release.s3_artifact:
    plan: "{{ release.plan }}"
    presign: false
    region: eu-west-1
"""

RETURN = r"""
artifacts:
  description: One entry per artifact, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Label (file name).
      type: str
      sample: ModuleX.tar.gz
    key:
      description: Object key.
      type: str
      sample: ModuleX/1.2.0/ModuleX.tar.gz
    sha256:
      description: Verified sha256.
      type: str
    size:
      description: Size in bytes.
      type: int
    path:
      description: The verified file in the cache.
      type: str
      sample: /var/lib/fleetops/cache/sha256/0c6b1a0f3f1c5a3d1ba4cd0d5c1e5b8a0f3c2d1e9b8a7f6e5d4c3b2a1f0e9d8c
    downloaded:
      description: Whether it was (or in check mode would be) downloaded.
      type: bool
    dest:
      description: Extraction directory, if any.
      type: str
    extract:
      description: V(create) (extracted now) or V(unchanged) (already there).
      type: str
      returned: when extracted
downloaded_bytes:
  description: Bytes downloaded by this run.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.node_fetch import NODE_FETCH_ARGSPEC, run
from ansible_collections.fleetops.release.plugins.module_utils._module import finish
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3_ARGSPEC, open_store


def main() -> None:
    argument_spec = dict(NODE_FETCH_ARGSPEC)
    argument_spec.update(S3_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True, required_one_of=[("plan", "artifacts")])

    def call() -> dict:
        try:
            return run(module.params, lambda: open_store(module.params), module.check_mode,
                       validate_certs=module.params["validate_certs"])
        except OSError as exc:
            raise FleetopsError("%s: %s" % (exc.filename or module.params["cache_dir"], exc.strerror or exc)) from None

    finish(module, call)


if __name__ == "__main__":
    main()
