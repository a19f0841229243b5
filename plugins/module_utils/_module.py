# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The one module wrapper: the end of every module's main().

A module builds its AnsibleModule from its argument spec and hands ``finish`` the call that does the work. ``finish``
checks first that each S3 store the call will open can be opened here (boto3 installed where boto3 is needed), then
runs the call and turns its outcome into the module's answer: a result's ``warnings`` become Ansible warnings, a
FleetopsError or a result marked ``failed`` fails the task with its message, anything else exits with the result.
"""

from __future__ import annotations

import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import store_problem


def finish(module: t.Any, call: t.Callable[[], dict], s3: t.Iterable[dict[str, t.Any]] = ()) -> None:
    """Exit the module with ``call()``'s result (see the module docstring); ``s3``: the S3 options of each store used."""
    for options in s3:
        problem = store_problem(options)
        if problem:
            module.fail_json(msg=problem)
    try:
        result = call()
    except FleetopsError as exc:
        module.fail_json(msg=str(exc))
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)
