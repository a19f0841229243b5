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

The modules that run on the controller (repo_info, artifact_info, release_lock) describe themselves as an ``Entry``:
argument spec, checks, the call on validated parameters, and the S3 options of the stores it opens. ``run_module`` is
their main(); their action plugin (plugin_utils/_local_module.py) runs the same entry in its own process when the task's
connection is local, so the code and the answer are the same either way.
"""

from __future__ import annotations

import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError


class Entry:
    """A module without AnsibleModule: what ``run_module`` and the controller's in-process action both run.

    ``call(params, check_mode)`` returns the result (with ``warnings`` to emit); ``stores(params)`` the S3 options of
    each store it opens; ``checks`` are AnsibleModule's keyword checks (required_if, mutually_exclusive, ...). With
    ``progress``, the in-process action passes a third argument, a function that prints a line of progress as the call
    goes on (a module run as a module has no way to print before it ends, and gets none).
    """

    def __init__(self, name: str, argument_spec: dict, call: t.Callable[..., dict],
                 stores: t.Callable[[dict], list[dict]] | None = None, progress: bool = False, **checks: t.Any) -> None:
        self.name = name
        self.argument_spec = argument_spec
        self.call = call
        self.stores = stores or (lambda params: [])
        self.progress = progress
        self.checks = checks


def outcome(call: t.Callable[[], dict], s3: t.Iterable[dict[str, t.Any]] = ()) -> dict:
    """``call()``'s result, or a failed result naming why it could not run (a store needs boto3) or what went wrong."""
    s3 = list(s3)
    if s3:
        # Imported only for a call that opens a store: a node module that uses none does not load the S3 client code.
        from ansible_collections.fleetops.release.plugins.module_utils._s3.store import store_problem  # pylint: disable=import-outside-toplevel
    for options in s3:
        problem = store_problem(options)
        if problem:
            return dict(failed=True, msg=problem)
    try:
        return call()
    except FleetopsError as exc:
        return dict(failed=True, msg=str(exc))


def finish(module: t.Any, call: t.Callable[[], dict], s3: t.Iterable[dict[str, t.Any]] = ()) -> None:
    """Exit the module with ``call()``'s result (see the module docstring); ``s3``: the S3 options of each store used."""
    result = outcome(call, s3)
    for warning in result.pop("warnings", None) or []:
        module.warn(warning)
    if result.get("failed"):
        module.fail_json(**result)
    module.exit_json(**result)


def run_module(entry: Entry) -> None:
    """The main() of a module described by ``entry``."""
    from ansible.module_utils.basic import AnsibleModule  # pylint: disable=import-outside-toplevel

    module = AnsibleModule(argument_spec=entry.argument_spec, supports_check_mode=True, **entry.checks)
    finish(module, lambda: entry.call(module.params, module.check_mode), entry.stores(module.params))
