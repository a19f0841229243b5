#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dist_deploy
short_description: Apply a whole release plan on a node in one call
version_added: 0.1.0
description:
  - Applies the plan from M(fleetops.release.repo_info) on one node in a single module call, because the cost of a release
    is dominated by remote module calls per host.
  - "Gate first, from the node state file C(images.yaml): no file means install (every C(install) step runs C(deploy.sh));
    V(active) at a version in O(upgradable) means upgrade (the C(upgrade) steps run C(upgrade.sh), their dependencies
    C(deploy.sh); with O(converge) every module of the DIST is brought to its version); anything else is skipped with
    the reason (up to date, not eligible, failed, in progress, stale in progress)."
  - Then fetch and verify every artifact the node needs (as M(fleetops.release.s3_artifact) does) and extract each module
    into a fresh C(<modules_dir>/<Module>/<version>/) (SRC packages into its C(src/<bin_name>/)). A failure here, before any
    script ran, leaves the node as it was and is reported with RV(stage=fetch).
  - Then the state goes to V(building) (install) or V(maintain) (upgrade), each script runs in plan order with a timeout and a
    documented environment, its output goes to a log file under O(log_dir), and each module's version is recorded as it
    succeeds. At the end the state is V(active) on the new version, or V(failure) with the error (RV(stage=script)).
  - State writes are atomic and durable (temp file, fsync, rename, fsync of the directory) whatever C(ANSIBLE_UNSAFE_WRITES)
    says. One run at a time per node (a lock beside the state file).
  - "Scripts get this environment: C(FLEETOPS_ACTION) (V(deploy) or V(upgrade)), C(FLEETOPS_MODULE), C(FLEETOPS_VERSION),
    C(FLEETOPS_PREVIOUS_VERSION), C(FLEETOPS_MODULE_DIR), C(FLEETOPS_MODULES_DIR), C(FLEETOPS_SRC_DIR) (first SRC package),
    C(FLEETOPS_SRC_DIRS) (colon-separated), C(FLEETOPS_PROJECT), C(FLEETOPS_DIST), C(FLEETOPS_DIST_VERSION),
    C(FLEETOPS_DIRECTION) (RV(direction)), C(FLEETOPS_RESTART) (V(1) or V(0)), C(FLEETOPS_RUN_ID), C(FLEETOPS_STATE_FILE).
    The working directory is the module's directory. From the module's own environment only C(PATH), C(LANG), C(LC_ALL), C(HOME),
    C(TZ), C(USER) and C(LOGNAME) are passed on."
  - Keeps the newest O(keep_versions) versions of each module on disk for rollback and prunes older ones.
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._node_paths
  - fleetops.release._node_fetch
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.S3_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Gates and computes the plan diff against the node (per module install, upgrade or unchanged) without fetching or
        running anything.
  diff_mode:
    support: full
    details:
      - The diff is the node's DIST version and module versions before and after.
  idempotent:
    support: full
    details:
      - A node already on the target version is skipped as up to date; nothing is downloaded and no script runs.
options:
  plan:
    description: The plan, RV(fleetops.release.repo_info#module:plan).
    type: dict
    required: true
  upgradable:
    description:
      - DIST versions an V(active) node may be upgraded from (the seed's "upgradable node versions").
    type: list
    elements: str
    default: []
  project:
    description: Project name recorded in the node state when the plan has none.
    type: str
  run_id:
    description: Identifier of this release run, recorded in the state history and used for the log directory. Default is random.
    type: str
  restart:
    description: Passed to scripts as C(FLEETOPS_RESTART).
    type: bool
    default: false
  converge:
    description:
      - What an upgrade walks. V(false) walks the plan's C(upgrade) steps only (the DIST's C(upgrade_list) and the
        dependencies it pulls in), so modules outside them keep the version the node has.
      - V(true) walks every module of the target DIST, in dependency order (the plan's C(install) steps; a module whose
        C(upgrade_list) entry names another version than C(sub_repo) at that version, as in the plan's C(modules)), and
        brings each one to the DIST's version. A module the node has at that version, with its directory present, is
        unchanged (no script). One the node has at another version runs the target version's C(upgrade.sh) with
        C(FLEETOPS_PREVIOUS_VERSION) the version it leaves; so does a C(developer) module and one whose directory is gone.
        One the node lacks runs C(deploy.sh).
      - Modules on the node that the target DIST does not list at all are left alone, named in RV(left_alone).
      - The gate is the same either way, and an install walks every module either way. The rollback playbook sets it, so
        that a rollback takes every module back, also one a newer release changed outside the older one's C(upgrade_list).
      - Check mode, RV(plan_diff) and the diff show the same steps.
    type: bool
    default: false
  script_timeout:
    description: Seconds each script may run before it is killed (its process group gets SIGTERM, then SIGKILL) and the node marked V(failure).
    type: int
    default: 600
  stale_after:
    description: Seconds after which a node still V(building) or V(maintain) is reported as stale in progress.
    type: int
    default: 3600
  keep_versions:
    description: Versions of each module kept on disk.
    type: int
    default: 3
  corrupt_policy:
    description:
      - What to do when C(images.yaml) is unreadable, empty, or has an unknown status. A copy is kept as
        C(images.yaml.corrupt-<time>) either way.
      - V(fail) stops with an error naming the file and the copy, and leaves the file in place, so every run stops there until
        someone fixes or removes it. V(rebuild) treats the node as new and installs (the seed's rule).
    type: str
    choices: [fail, rebuild]
    default: fail
seealso:
  - module: fleetops.release.repo_info
  - module: fleetops.release.node_state
  - module: fleetops.release.s3_artifact
"""

EXAMPLES = r"""
- name: Resolve the release once
  fleetops.release.repo_info:
    name: ProjectX.dist
    version: 1.1.0
    bucket: projectx-releases
  delegate_to: localhost
  run_once: true
  register: release

- name: Install new nodes, upgrade nodes on 1.0.0, skip the rest
  fleetops.release.dist_deploy:
    plan: "{{ release.plan }}"
    upgradable: [1.0.0]
    restart: true
  register: deployed

- name: What would change on each node
  fleetops.release.dist_deploy:
    plan: "{{ release.plan }}"
    upgradable: [1.0.0]
  check_mode: true
  diff: true
"""

RETURN = r"""
action:
  description: V(install), V(upgrade) or V(skip).
  returned: always
  type: str
reason:
  description: Why, one of V(new node), V(upgradable), V(up to date), V(not eligible), V(failed), V(in progress), V(stale in progress).
  returned: always
  type: str
message:
  description: The gate decision in words.
  returned: always
  type: str
node_status:
  description: The node's status before the run (null for a new node).
  returned: always
  type: str
node_status_after:
  description: The node's status after the run.
  returned: unless skipped
  type: str
previous_version:
  description: The node's DIST version before the run.
  returned: always
  type: str
dist_version:
  description: The target DIST version.
  returned: always
  type: str
direction:
  description:
    - The target DIST version against RV(previous_version), by release tag order (C(1.10.0) is after C(1.9.0), C(1.2) equals
      C(1.2.0)). V(forward) for a newer target or a new node, V(back) for an older target (a rollback), V(same) for an equal one.
    - A move to or from C(developer), which has no order, is V(forward); C(developer) to C(developer) is V(same).
    - Scripts get it as C(FLEETOPS_DIRECTION), so an C(upgrade.sh) can tell a downgrade from an upgrade.
  returned: always
  type: str
  sample: back
stage:
  description: Where a failure happened, V(fetch) (nothing on the node changed) or V(script) (the node is V(failure)).
  returned: on failure
  type: str
plan_diff:
  description: Per plan step the module, version, the version the node had, and V(deploy), V(upgrade) or V(unchanged).
  returned: unless skipped
  type: list
  elements: dict
left_alone:
  description:
    - With O(converge), the modules the node has that the target DIST does not list; no script ran for them and the
      node keeps their versions.
  returned: when O(converge) is true, unless skipped
  type: list
  elements: str
  sample: [RbOld]
steps:
  description: Each script run, with V(module), V(version), V(script), V(rc), V(seconds), V(log) (path on the node) and V(tail) (last lines).
  returned: always
  type: list
  elements: dict
downloaded_bytes:
  description: Bytes downloaded.
  returned: always
  type: int
run_id:
  description: The run identifier.
  returned: always
  type: str
corrupt:
  description: When the state file was corrupt, the problem, where it was moved and the policy applied.
  returned: always
  type: dict
pruned:
  description: Module version directories removed by O(keep_versions).
  returned: success
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._module import finish
from ansible_collections.fleetops.release.plugins.module_utils._node.deploy import DIST_DEPLOY_ARGSPEC, Deployer
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC, store_opener


def main() -> None:
    argument_spec = dict(DIST_DEPLOY_ARGSPEC)
    argument_spec.update(S3_ARGSPEC)
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    finish(module, Deployer(module.params, store_opener(module.params), module.check_mode, warn=module.warn).run)


if __name__ == "__main__":
    main()
