# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: run_id
short_description: The id of this ansible-playbook run
version_added: 0.2.0
description:
  - "Returns the id this C(ansible-playbook) run goes by, C(<UTC time>-<5 digits>), for example C(20261122T160637Z-02814):
    the one the C(fleetops.release.audit) and C(fleetops.release.recap_alert) callbacks give the run when they are enabled,
    otherwise a new one."
  - The deploy playbook keeps it as C(fleetops_run_id); it names the run-state file, every node's history entry and log
    directory, the release lock's holder and the audit record.
options: {}
"""

EXAMPLES = r"""
- name: Name this run
  ansible.builtin.set_fact:
    fleetops_run_id: "{{ lookup('fleetops.release.run_id') }}"
"""

RETURN = r"""
_raw:
  description: The run id, one element.
  type: list
  elements: str
"""

from ansible.plugins.lookup import LookupBase

from ansible_collections.fleetops.release.plugins.plugin_utils._callback import playbook_run_id


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        return [playbook_run_id()]
