#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: repo_info
short_description: Read, validate and resolve repo-info into a release plan
version_added: 0.1.0
description:
  - Reads a REL or DIST repo-info from a local O(path) or from S3 (O(name) and O(version) in O(bucket)) and validates
    it (known keys only, one value per key, release tags for dependencies, no duplicate modules).
  - For a DIST, resolves the plan a node applies, dependencies first (recursively, each module once), then the
    C(sub_repo) order. Per module it lists the REL and SRC artifacts with key, sha256 and size (and the S3 VersionId where the
    bucket keeps versions). The C(upgrade_list) entries get their own ordered list. A cycle, two versions of one module,
    or a module or version missing from the bucket fails with an error naming the file, key and value.
  - The plan holds no secret. With O(presign=true) every artifact also gets a presigned URL, and the whole result is
    then hidden from output as with C(no_log); nodes fetching with M(fleetops.release.s3_artifact) do not need this,
    because that module signs just in time.
  - Runs on the controller (C(delegate_to=localhost) or a play on localhost).
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.INFO_MODULE
  - fleetops.release._attributes.S3_GROUP
  - fleetops.release._attributes.CONTROLLER_ACTION
options:
  path:
    description:
      - A local repo-info file to read instead of S3. With O(bucket) set, a DIST file is resolved against that bucket.
    type: path
  name:
    description:
      - DIST (or module) name in the bucket. The repo-info is read from C(<name>/<version>/repo-info), or from the
        package C(<name>/<version>/<name>.tar.gz) when the sidecar is missing.
    type: str
  version:
    description:
      - The channel to read, a release tag or V(developer).
    type: str
  kind:
    description:
      - What the repo-info must be. V(auto) tells by its keys.
    type: str
    choices: [auto, rel, dist]
    default: auto
  bucket:
    description:
      - The project's bucket.
    type: str
  resolve:
    description:
      - Resolve a DIST into the plan. Happens only when O(bucket) is set; without it the repo-info is only validated.
      - A local DIST file (O(path)) is resolved against O(bucket) under the DIST name given in O(name).
    type: bool
    default: true
  project:
    description:
      - Project name recorded in the plan.
    type: str
  allow_unverified:
    description:
      - Plan artifacts that have no C(.sha256) sidecar (they are then used unverified, with a warning).
      - By default a missing sidecar is an error.
    type: bool
    default: false
  pin_versions:
    description:
      - Where the bucket has versioning enabled, record each artifact's VersionId so nodes fetch exactly what was planned.
    type: bool
    default: true
  presign:
    description:
      - Add a presigned HTTPS URL to every artifact. The result is then masked in output like C(no_log).
    type: bool
    default: false
  url_expiry:
    description:
      - Lifetime of presigned URLs in seconds.
    type: int
    default: 3600
seealso:
  - module: fleetops.release.s3_artifact
  - module: fleetops.release.artifact_publish
"""

EXAMPLES = r"""
- name: Resolve DIST 1.1.0 into the plan
  fleetops.release.repo_info:
    name: ProjectX.dist
    version: 1.1.0
    bucket: projectx-releases
  delegate_to: localhost
  run_once: true
  register: release

- name: Show what each node will install
  ansible.builtin.debug:
    msg: "{{ release.plan.install | map(attribute='module') | zip(release.plan.install | map(attribute='version')) | list }}"

- name: Validate a repo-info file in a REL repository checkout (CI lint step)
  fleetops.release.repo_info:
    path: "{{ playbook_dir }}/repo-info"
    kind: rel
"""

RETURN = r"""
kind:
  description: V(rel) or V(dist).
  returned: always
  type: str
  sample: dist
source:
  description: Where the repo-info was read, a path or an C(s3://) location.
  returned: always
  type: str
  sample: s3://projectx-releases/ProjectX.dist/1.1.0/repo-info
repo_info:
  description: The validated repo-info, literal forms normalised (V(none) becomes an empty mapping).
  returned: always
  type: dict
  sample: {rel_branch: 1.1.0, sub_repo: {LibGreet: 1.0.0, HelloService: 1.1.0}, upgrade_list: {HelloService: 1.1.0}}
plan:
  description:
    - The resolved plan (DIST with O(resolve=true) and O(bucket)). See the plan reference in the collection docs.
  returned: when resolved
  type: dict
  contains:
    format:
      description: Plan format version.
      type: int
      sample: 1
    bucket:
      description: Bucket the artifacts are in.
      type: str
    dist:
      description: The DIST name, version, repo-info and its own package (or null).
      type: dict
    install:
      description:
        - Ordered steps for a new node. Each has V(module), V(version), V(src_branch), V(action), V(required_by),
          V(rel) (an artifact) and V(src) (a list of artifacts). An artifact has V(bucket), V(key), V(sha256),
          V(size), V(last_modified), optionally V(version_id), and V(url) with O(presign=true).
      type: list
      elements: dict
    upgrade:
      description: Ordered steps for an upgrade, same shape as RV(plan.install); C(upgrade_list) entries have V(action=upgrade).
      type: list
      elements: dict
    modules:
      description: Module to version after this release.
      type: dict
    tree:
      description: The dependency tree of the C(sub_repo) entries.
      type: list
      elements: dict
    warnings:
      description: Things the plan accepted but you should know (missing sidecars read from the package, unverified artifacts).
      type: list
      elements: str
tree:
  description: Same as RV(plan.tree), for convenience.
  returned: when resolved
  type: list
  elements: dict
"""

from ansible_collections.fleetops.release.plugins.module_utils._module import run_module
from ansible_collections.fleetops.release.plugins.module_utils._repo.plan import REPO_INFO


def main() -> None:
    run_module(REPO_INFO)


if __name__ == "__main__":
    main()
