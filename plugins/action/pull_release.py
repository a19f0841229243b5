# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.module_utils._pull.rollout import PULL_RELEASE
from ansible_collections.fleetops.release.plugins.plugin_utils._local_module import LocalModuleAction


class ActionModule(LocalModuleAction):
    """Runs pull_release, in this process on a local connection (see plugin_utils/_local_module.py), printing the
    progress lines as the wave converges."""

    ENTRY = PULL_RELEASE
