# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: run_state
short_description: What the hosts of a release have shared on the controller so far
version_added: 0.2.0
description:
  - "Reads the run-state file the M(fleetops.release.release_host) steps of this C(ansible-playbook) run keep (see that
    module): whether the rollout was stopped and by which batch, the release lock's problems, what is out of rotation,
    and whether a graceful abort was asked for (the first Ctrl-C or SIGTERM, docs/abort.md)."
  - Returns one dict per term.
options:
  _terms:
    description: The run's id (C(fleetops_run_id)).
    required: true
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Say whether the rollout was stopped
  ansible.builtin.debug:
    msg: "{{ lookup('fleetops.release.run_state', fleetops_run_id) }}"
"""

RETURN = r"""
_raw:
  description: One dict per run id.
  type: list
  elements: dict
  contains:
    halted:
      description: A batch had more failures than C(fleetops_max_fail_percentage) allows; later hosts did not start.
      type: bool
    halted_by:
      description: The hosts of that batch, comma-separated; null when not halted.
      type: str
    lock_problem:
      description: Why the release lock could not be renewed or noted; null when none.
      type: str
    lock_lost:
      description: The lock was taken over or broken by someone else.
      type: bool
    aborted:
      description: The graceful abort request, C(<signal> <UTC time>); empty when none.
      type: str
    done:
      description: Hosts whose step ended.
      type: int
    bad:
      description: Of those, hosts that came out failed or unreachable.
      type: int
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout import abort as _abort
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runstate import RunState, RunStateError, summary


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        out = []
        for term in terms:
            try:
                data = summary(RunState(str(term)).read())
            except RunStateError as exc:
                raise AnsibleLookupError(str(exc)) from None
            data.pop("lease", None)
            data["aborted"] = _abort.current() or ""
            out.append(data)
        return out
