#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: pull_release
short_description: Write a pull-mode wave to S3 and follow it until it converges, or stop the fleet (preview)
version_added: 0.2.0
description:
  - Pull mode's controller step (a preview; see the collection's C(docs/pull-mode.md)). Nodes run the pull agent,
    which reads the desired state of their project and environment from
    C(<prefix><project>/<environment>/desired.json) in O(bucket) and writes one status object per generation.
  - O(state=wave) writes the next generation of the desired state, with the plan and one wave's selector. It then
    follows the wave with one LIST of the generation's status folder per O(poll_interval), until every selected node
    answered, failures pass O(max_failures), or O(wait) runs out. RV(verdict) says whether the next wave may start.
  - O(state=stopped) writes a generation that tells every node to hold (nothing changes on any node); O(reason) says
    why. Nodes already applying finish.
  - O(state=query) reads the desired state and, with O(nodes), the progress of its generation; it changes nothing.
  - Every write is conditional (C(If-Match) on the ETag read, or C(If-None-Match) for the first), so two controllers
    never overwrite each other; hold the release lock (M(fleetops.release.release_lock)) around a release anyway.
  - Runs where it is called; delegate it to the controller (C(localhost)), once per play (C(run_once)).
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.S3_GROUP
  - fleetops.release._attributes.CONTROLLER_ACTION
attributes:
  check_mode:
    support: full
    details:
      - Reads the desired state and reports the generation it would write; writes nothing and follows nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details:
      - Each O(state=wave) or O(state=stopped) writes a new generation; O(state=query) changes nothing.
options:
  bucket:
    description: The project's bucket, where the desired state and the status objects live.
    type: str
    required: true
  prefix:
    description: Key prefix of pull mode's objects in O(bucket).
    type: str
    default: .fleetops/pull/
  project:
    description: The project. 1 to 128 letters, digits, C(.), C(_) or C(-), starting with a letter or digit.
    type: str
    required: true
  environment:
    description: The environment, for example V(online). Same characters as O(project).
    type: str
    required: true
  state:
    description: V(wave) writes and follows a wave, V(stopped) tells every node to hold, V(query) reads.
    type: str
    choices: [wave, stopped, query]
    default: wave
  release_id:
    description: The release the generation belongs to (the run id); with the generation it names each node's run.
    type: str
  plan:
    description: The plan of M(fleetops.release.repo_info) (RV(fleetops.release.repo_info#module:plan)), resolved with C(presign=false).
    type: dict
  upgradable:
    description: The DIST versions a node may be upgraded from.
    type: list
    elements: str
    default: []
  deploy:
    description:
      - Options for each node's release, as M(fleetops.release.dist_deploy) takes them; only C(converge), C(restart),
        C(script_timeout), C(stale_after), C(keep_versions) and C(corrupt_policy).
    type: dict
    default: {}
  wave:
    description:
      - Who is in the wave, cumulative with the waves before it. A percentage (V(10%)) of the nodes by hash bucket, or
        a mapping with C(hosts), C(tags) and/or C(percent) and an optional C(name).
    type: raw
  wave_number:
    description: The wave's number, 1 for the first.
    type: int
    default: 1
  waves_total:
    description: How many waves the release has, for the progress lines.
    type: int
  nodes:
    description:
      - The nodes the controller expects to answer, as a mapping of node name to its list of tags (for example
        from the inventory). The wave's selection is computed for these names with the function the nodes use.
      - A status object of a name not in it is reported under C(unknown) and never counted.
    type: dict
    default: {}
  max_failures:
    description:
      - How many selected nodes of the wave may fail (or never answer, with O(count_silent)) before RV(verdict) is
        V(stop). A count (V(2)) or a share of the wave (V(5%), rounded down).
    type: raw
    default: 0
  count_silent:
    description: Whether selected nodes that never answered within O(wait) count against O(max_failures).
    type: bool
    default: true
  wait:
    description:
      - Seconds to follow the wave. V(0) reads the status folder once; selected nodes that have not answered by then count
        as silent. A negative value writes the generation without following it.
    type: int
    default: 1800
  poll_interval:
    description: Seconds between two LISTs of the status folder while following.
    type: float
    default: 15
  reason:
    description: Why the fleet holds (O(state=stopped)); every node reports it.
    type: str
seealso:
  - module: fleetops.release.repo_info
  - module: fleetops.release.release_lock
notes:
  - The documents' formats, the S3 layout and the agent are described in the collection's C(docs/pull-mode.md).
"""

EXAMPLES = r"""
- name: Canary wave of 1.2.0 (the nodes tagged canary), up to 10 minutes
  fleetops.release.pull_release:
    bucket: projectx-releases
    project: projectx
    environment: online
    release_id: "{{ fleetops_run_id }}"
    plan: "{{ resolved.plan }}"
    upgradable: [1.1.0]
    wave: {name: canary, tags: [canary]}
    wave_number: 1
    waves_total: 3
    nodes: "{{ dict(groups['projectx_online'] | zip(groups['projectx_online'] | map('extract', hostvars, 'fleetops_tags')
             | map('default', []))) }}"
    max_failures: 0
    wait: 600
  delegate_to: localhost
  run_once: true
  register: wave

- name: Tell every node to hold
  fleetops.release.pull_release:
    bucket: projectx-releases
    project: projectx
    environment: online
    state: stopped
    reason: "canary failed: {{ wave.why }}"
  delegate_to: localhost
  run_once: true
  when: wave.verdict == 'stop'
"""

RETURN = r"""
location:
  description: Where the desired state is, C(s3://<bucket>/<key>).
  returned: always
  type: str
  sample: s3://projectx-releases/.fleetops/pull/projectx/online/desired.json
before:
  description:
    - The desired state found (generation, release_id, dist_version, converge, wave, wave_name, reason, written_at,
      written_by); null when there was none.
  returned: always
  type: dict
desired:
  description: The desired state written (O(state=wave), O(state=stopped)) or read (O(state=query)), summarised as RV(before).
  returned: success, not in check mode
  type: dict
generation:
  description: The generation written (in check mode, the one that would be).
  returned: when O(state=wave) or O(state=stopped)
  type: int
  sample: 7
verdict:
  description:
    - V(go) the wave converged within its failure budget (or the budget let silent nodes through); V(stop) failures
      (and silent nodes, with O(count_silent)) passed O(max_failures); V(check mode) in check mode.
  returned: when O(state=wave) with O(nodes)
  type: str
  sample: go
why:
  description: The verdict in words, naming up to five failed or silent nodes.
  returned: when O(state=wave) with O(nodes)
  type: str
  sample: "1 failed, more than the 0 allowed (web07)"
progress:
  description:
    - The last poll. C(selected) (count), and lists of node names C(done), C(failed), C(skipped) (not eligible),
      C(in_progress), C(pending) (selected, no final answer), C(silent) (expected nodes with no answer at all),
      C(unknown) (answers of names not in O(nodes)); C(strays) (keys that are not status objects), C(errors) (per
      failed node its C(stage) and C(error), for up to 20), C(seen) and C(lists) (LIST requests so far).
  returned: when O(nodes) is given
  type: dict
lines:
  description: The progress lines as they changed, for example C(wave 2/4 (10%) 96/100 done, 1 failed, 3 pending).
  returned: when O(state=wave) with O(nodes)
  type: list
  elements: str
budget:
  description: The failures the wave was allowed (O(max_failures) for its size).
  returned: when O(state=wave) with O(nodes)
  type: int
lists:
  description: LIST requests made while following the wave.
  returned: when O(state=wave) with O(nodes)
  type: int
"""

from ansible_collections.fleetops.release.plugins.module_utils._module import run_module
from ansible_collections.fleetops.release.plugins.module_utils._pull.rollout import PULL_RELEASE


def main() -> None:
    run_module(PULL_RELEASE)


if __name__ == "__main__":
    main()
