# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.plugin_utils._report.plan_report import plan_report as _plan_report
from ansible_collections.fleetops.release.plugins.plugin_utils._report.plan_report import versions_report as _versions_report


def versions_report(modules, dist, latest=10):
    try:
        return _versions_report(modules, dist, latest)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


def plan_report(hosts, hostvars, var="fleetops_plan_result", plan=None):
    return _plan_report(list(hosts), hostvars, var, plan)


class FilterModule:
    def filters(self):
        return dict(versions_report=versions_report, plan_report=plan_report)
