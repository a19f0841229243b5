# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.

from __future__ import annotations


class ModuleDocFragment:
    # The node paths (module_utils/_node/paths.py NODE_PATHS_ARGSPEC): all four, or one of them.
    DOCUMENTATION = r"""
options:
  state_file:
    description: The node state file, C(images.yaml) (docs/node-states.md).
    type: path
    default: /var/lib/fleetops/images.yaml
  cache_dir:
    description: The node's content-addressed artifact cache (C(<cache_dir>/sha256/<digest>)).
    type: path
    default: /var/lib/fleetops/cache
  modules_dir:
    description: Where module versions are extracted, C(<modules_dir>/<Module>/<version>/).
    type: path
    default: /var/lib/fleetops/modules
  log_dir:
    description: Script logs go to C(<log_dir>/<run_id>/).
    type: path
    default: /var/lib/fleetops/logs
"""

    STATE_FILE = r"""
options:
  state_file:
    description: The node state file, C(images.yaml) (docs/node-states.md).
    type: path
    default: /var/lib/fleetops/images.yaml
"""

    CACHE_DIR = r"""
options:
  cache_dir:
    description: The node's content-addressed artifact cache (C(<cache_dir>/sha256/<digest>)).
    type: path
    default: /var/lib/fleetops/cache
"""
