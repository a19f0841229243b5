# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.fleetops.release.plugins.plugin_utils._report.summary import lock_scope, outcome, report, still_out


def deploy_outcome(result, halted=False):
    return outcome(result, halted)


def deploy_report(hosts, hostvars, halted=False, var="deploy_result", aborted=None):
    return report(list(hosts), hostvars, halted, var, aborted=aborted or None)


def deploy_lb_still_out(recover, hostvars, var="deploy_recovered"):
    return still_out(recover, hostvars, var)


def release_lock_scope(hosts, hostvars, project=None, environment=None, fallback_project=None, pattern=None):
    try:
        return lock_scope(list(hosts), hostvars, project, environment, fallback_project, pattern)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    def filters(self):
        return dict(deploy_outcome=deploy_outcome, deploy_report=deploy_report,
                    deploy_lb_still_out=deploy_lb_still_out,
                    release_lock_scope=release_lock_scope)
