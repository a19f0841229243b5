#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: node_state
short_description: Read, check and set a node's release state (images.yaml)
version_added: 0.1.0
description:
  - Reads C(images.yaml), the node state file of the seed's format (C(image.version), C(status)) with this collection's
    extensions (project, module versions, updated_at, last_error, a bounded history of transitions with run ids).
  - With O(target_version) it also returns the gate decision M(fleetops.release.dist_deploy) would take.
  - "Operator actions: O(action=reset) returns a V(failure) node to V(active) (a reason is required and recorded);
    O(action=maintain) marks an V(active) or V(failure) node V(maintain); O(action=fail) declares a node that a killed run left in
    V(building) or V(maintain) V(failure), so that it can then be reset. Any other transition is refused with the current state."
  - Writes are atomic and durable (temp file in the same directory, fsync, rename, fsync of the directory), never weakened by
    C(ANSIBLE_UNSAFE_WRITES).
  - A file that cannot be used (empty, not YAML, unknown status) is reported with RV(problem), and with O(backup_corrupt=true)
    moved aside to C(images.yaml.corrupt-<time>).
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._node_paths.STATE_FILE
  - fleetops.release._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows status and version before and after an operator action.
  idempotent:
    support: partial
    details:
      - O(action=read) never changes anything. O(action=reset) and O(action=maintain) are refused when the node is not in a
        state they apply to, so a second identical call fails instead of doing nothing.
options:
  action:
    description: V(read), or an operator action V(reset) (failure to active), V(maintain), or V(fail) (building or maintain to failure).
    type: str
    choices: [read, reset, maintain, fail]
    default: read
  reason:
    description: Why; required for V(reset), V(maintain) and V(fail), recorded in the history.
    type: str
  version:
    description: With V(reset), declare the DIST version the node is on after the operator's fix.
    type: str
  run_id:
    description: Recorded in the history entry of an operator action.
    type: str
  target_version:
    description: Also return the gate decision for this DIST version.
    type: str
  upgradable:
    description: Upgradable versions for the gate decision.
    type: list
    elements: str
    default: []
  stale_after:
    description: Seconds after which building or maintain counts as stale (the gate's C(stale in progress), RV(health=stale)).
    type: int
    default: 3600
  expect_status:
    description: Fail unless the status is one of these (V(absent) is never matched; use RV(exists)).
    type: list
    elements: str
  backup_corrupt:
    description: Move an unusable state file aside.
    type: bool
    default: false
seealso:
  - module: fleetops.release.dist_deploy
"""

EXAMPLES = r"""
- name: Read the node state
  fleetops.release.node_state:
  register: node

- name: Put a fixed node back into the rollout
  fleetops.release.node_state:
    action: reset
    reason: "disk replaced, INC-4711"

- name: Fail unless every node is active
  fleetops.release.node_state:
    expect_status: [active]

- name: Report nodes whose run has been in progress for more than two hours
  fleetops.release.node_state:
    stale_after: 7200
  register: node
  changed_when: false

- name: Show the health
  ansible.builtin.debug:
    msg: "{{ inventory_hostname }} is {{ node.health }}"
"""

RETURN = r"""
exists:
  description: Whether the state file exists (false for a new node).
  returned: always
  type: bool
status:
  description: building, maintain, failure, active, V(corrupt) for an unusable file, or null for a new node.
  returned: always
  type: str
version:
  description: The node's DIST version (C(image.version)).
  returned: always
  type: str
project:
  description: Project recorded by the last release.
  returned: always
  type: str
modules:
  description: Module name to installed version.
  returned: always
  type: dict
updated_at:
  description: When the state last changed (UTC).
  returned: always
  type: str
last_error:
  description: The error that put the node in failure.
  returned: always
  type: str
history:
  description: The last transitions (at, run_id, from, to, version, reason).
  returned: always
  type: list
  elements: dict
run_id:
  description: The run that set the current status.
  returned: always
  type: str
started_at:
  description: When the current building or maintain began.
  returned: always
  type: str
problem:
  description: Why the file is unusable, or null.
  returned: always
  type: str
backup:
  description: Where an unusable file was moved.
  returned: always
  type: str
decision:
  description: With O(target_version), the gate decision (V(action), V(reason), V(message)).
  returned: when target_version is set
  type: dict
health:
  description:
    - One word for monitoring, for the node as it is after the call (in check mode, as it would be).
    - V(ok) the status is C(active); V(missing) there is no state file (a new node); V(failure) the status is C(failure);
      V(in_progress) C(building) or C(maintain) started less than O(stale_after) seconds ago;
      V(stale) C(building) or C(maintain) since longer than O(stale_after) seconds (measured from C(started_at), else
      C(updated_at); stale at once when neither can be read), as the gate's C(stale in progress);
      V(corrupt) the file is unusable (RV(problem) says why).
    - Also returned when an operator action is refused, describing the node as it is.
  returned: always
  type: str
  choices: [ok, missing, failure, stale, in_progress, corrupt]
  sample: ok
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._module import finish
from ansible_collections.fleetops.release.plugins.module_utils._node.node_state import NODE_STATE_ARGSPEC, run


def main() -> None:
    module = AnsibleModule(argument_spec=NODE_STATE_ARGSPEC, supports_check_mode=True,
                           required_if=[("action", "reset", ["reason"]), ("action", "maintain", ["reason"]), ("action", "fail", ["reason"])])
    finish(module, lambda: run(module.params, module.check_mode))


if __name__ == "__main__":
    main()
