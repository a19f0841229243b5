# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The action plugin shared by modules that fetch artifacts on nodes (s3_artifact, dist_deploy)."""

from __future__ import annotations

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.plugin_utils._presign import hide_urls, sign_for_node


class NodeFetchAction(ActionBase):
    """Signs the plan's artifacts on the controller just in time, then runs the module on the node.

    URLs already in the arguments move into the no_log option ``presigned_urls``. With ``presign``
    (the default) unsigned artifacts get short-lived URLs and the node receives none of the
    controller's S3 settings or credentials.
    """

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = hide_urls(self._task.args)
        if boolean(args.get("presign", True), strict=False):
            try:
                args = sign_for_node(args)
            except FleetopsError as exc:
                raise AnsibleActionFail(str(exc)) from None
        result.update(self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                           module_args=args, task_vars=task_vars))
        return result
