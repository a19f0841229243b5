# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.fleetops.release.plugins.module_utils._repo.plan import REPO_INFO
from ansible_collections.fleetops.release.plugins.plugin_utils._local_module import LocalModuleAction


class ActionModule(LocalModuleAction):
    """Runs repo_info (in this process on a local connection, see plugin_utils/_local_module.py), and hides the result
    like no_log when it carries presigned URLs."""

    ENTRY = REPO_INFO

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if boolean(self._task.args.get("presign", False), strict=False) and "plan" in result:
            result["_ansible_no_log"] = True
        return result
