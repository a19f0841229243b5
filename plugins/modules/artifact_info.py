#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: artifact_info
short_description: List the channels and release tags of modules and DISTs in a bucket
version_added: 0.1.0
description:
  - Lists, per module or DIST, the release tags newest first by version order (C(1.10.0) after C(1.9.0), release
    candidates before their release), the latest O(latest) of them, and the C(developer) build, each with its date, size,
    artifacts and whether a checksum sidecar and repo-info are there.
  - Use it to choose what to release, or to check what CI has published.
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.INFO_MODULE
  - fleetops.release._attributes.S3_GROUP
  - fleetops.release._attributes.CONTROLLER_ACTION
options:
  bucket:
    description: The project's bucket.
    type: str
    required: true
  modules:
    description:
      - Modules or DISTs to describe. Default is every top-level folder in the bucket that is a valid module name.
    type: list
    elements: str
  latest:
    description:
      - How many release tags to return per module, newest first. V(0) returns all.
    type: int
    default: 10
  include_developer:
    description: Include the C(developer) channel.
    type: bool
    default: true
seealso:
  - module: fleetops.release.artifact_publish
  - module: fleetops.release.repo_info
"""

EXAMPLES = r"""
- name: The last ten release tags of the DIST and its modules
  fleetops.release.artifact_info:
    bucket: projectx-releases
    modules: [ProjectX.dist, ModuleX, ModuleY]
  delegate_to: localhost
  run_once: true
  register: catalog

- name: Newest tag of each
  ansible.builtin.debug:
    msg: "{{ catalog.modules | items2dict(key_name='module', value_name='latest_tag') }}"
"""

RETURN = r"""
modules:
  description: One entry per module, in the order asked (or by name).
  returned: always
  type: list
  elements: dict
  contains:
    module:
      description: Module name.
      type: str
      sample: ModuleX
    exists:
      description: Whether the bucket holds anything for it.
      type: bool
    tag_count:
      description: Number of release tags in the bucket.
      type: int
    latest_tag:
      description: The newest release tag by version order, or null.
      type: str
      sample: 1.2.0
    tags:
      description:
        - The newest O(latest) tags, newest first. Each has V(channel), V(release), V(last_modified), V(size) (sum of its
          archives), V(has_repo_info) and V(artifacts) (V(name), V(key), V(size), V(last_modified), V(verified)).
      type: list
      elements: dict
    developer:
      description: The developer channel, same shape as an entry of RV(modules[].tags), or null.
      type: dict
"""

from ansible_collections.fleetops.release.plugins.module_utils._module import run_module
from ansible_collections.fleetops.release.plugins.module_utils._repo.catalog import ARTIFACT_INFO


def main() -> None:
    run_module(ARTIFACT_INFO)


if __name__ == "__main__":
    main()
