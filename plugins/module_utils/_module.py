# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The end of every module's main(): run the entry point, turn its outcome into exit_json/fail_json."""

from __future__ import annotations

import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError


def finish(module: t.Any, call: t.Callable[[], dict]) -> None:
    """Exit the module with ``call()``'s result; a FleetopsError or a result marked failed fails it."""
    try:
        result = call()
    except FleetopsError as exc:
        module.fail_json(msg=str(exc))
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)
