# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Where fleetops keeps things on a node: the one owner of the node paths, their defaults and their options.

Documented once, in doc_fragments/_node_paths.py (all four, or one of them: STATE_FILE, CACHE_DIR); the
modules that take them (dist_deploy, node_state, s3_artifact) and release_host's ``deploy`` options use these.
"""

from __future__ import annotations

import typing as t

STATE_FILE = "/var/lib/fleetops/images.yaml"
CACHE_DIR = "/var/lib/fleetops/cache"
MODULES_DIR = "/var/lib/fleetops/modules"
LOG_DIR = "/var/lib/fleetops/logs"

NODE_PATHS_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    state_file=dict(type="path", default=STATE_FILE),
    cache_dir=dict(type="path", default=CACHE_DIR),
    modules_dir=dict(type="path", default=MODULES_DIR),
    log_dir=dict(type="path", default=LOG_DIR),
)
NODE_PATH_KEYS = tuple(NODE_PATHS_ARGSPEC)
