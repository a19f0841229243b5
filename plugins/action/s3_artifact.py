# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.node_action import NodeFetchAction


class ActionModule(NodeFetchAction):
    """Signs URLs on the controller, fetches on the node (see plugin_utils/_rollout/node_action.py)."""
