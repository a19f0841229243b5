# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.plugin_utils._report.status import classify, report


def status_health(result):
    return classify(result)


def status_report(hosts, hostvars, var="fleetops_status_node"):
    return report(list(hosts), hostvars, var)


class FilterModule:
    def filters(self):
        return dict(status_health=status_health, status_report=status_report)
