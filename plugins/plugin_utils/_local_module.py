# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The action plugin of the modules that run on the controller (repo_info, artifact_info, release_lock).

Those modules only talk to S3 (or a lock file on the controller). Run as a module, each task costs a module payload, a
new Python process and the import of AnsibleModule: about a third of a second of controller CPU, four times a release.
When the task's connection is ``local`` (``localhost``, or ``delegate_to: localhost``), the action runs the module's
``Entry`` (module_utils/_module.py) in its own worker process instead: the same argument spec, checks, call, result,
warnings and failures, with the module's ``no_log`` values removed from the result as AnsibleModule removes them.

It runs the module as a module instead whenever the two could differ: another connection, ``become``, a task
``environment``, ``async``, an ``ansible_python_interpreter`` other than the controller's own Python, or a store that
cannot be opened in this Python (boto3 needed and not importable here; the module's interpreter may have it).
"""

from __future__ import annotations

import os
import sys
import typing as t

from ansible import constants as C
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.parameters import remove_values
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._module import Entry, outcome
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import store_problem


def same_python(interpreter: t.Any) -> bool:
    """Whether ``interpreter`` (an ansible_python_interpreter value, None when unset) is this controller's Python."""
    if interpreter in (None, "", "auto", "auto_silent", "auto_legacy", "auto_legacy_silent"):
        return True
    try:
        return os.path.realpath(str(interpreter)) == os.path.realpath(sys.executable)
    except (OSError, ValueError):
        return False


class LocalModuleAction(ActionBase):
    """Runs ``ENTRY`` in this process on a local connection (see the module docstring), else the module."""

    ENTRY: Entry
    TRANSFERS_FILES = False

    def runs_here(self, task_vars: dict) -> bool:
        """Whether running the entry here gives what the module would: a local connection, nothing that changes the
        module's process (become, environment, async) and this Python."""
        if getattr(self._connection, "transport", None) != "local":
            return False
        if self._task.async_val or self._play_context.become:
            return False
        try:
            environment: dict = {}
            self._compute_environment_string(environment)  # the task's environment, as the module's command gets it
            if environment:
                return False
            # As the module's payload would find it: the host's ansible_python_interpreter, else the configuration.
            interpreter = C.config.get_config_value("INTERPRETER_PYTHON", variables=task_vars)
            interpreter = self._templar.template(interpreter) if isinstance(interpreter, str) else interpreter
        except Exception:  # pylint: disable=broad-exception-caught  # the module path reports what is wrong
            return False
        return same_python(interpreter)

    def run_entry(self, task_vars: dict) -> dict | None:
        """The entry's result, or None when the module must run instead (a store needs what this Python lacks)."""
        entry = self.ENTRY
        checked = ArgumentSpecValidator(entry.argument_spec, **entry.checks).validate(dict(self._task.args))
        hidden = checked._no_log_values  # pylint: disable=protected-access  # what AnsibleModule removes, too
        if checked.error_messages:
            return dict(failed=True, changed=False, msg=remove_values(checked.errors.msg, hidden))
        params = checked.validated_parameters
        stores = entry.stores(params)
        if any(store_problem(options) for options in stores):
            return None
        del task_vars
        result = outcome(lambda: entry.call(params, bool(self._task.check_mode)), stores)
        result.setdefault("changed", False)
        result["invocation"] = dict(module_args=params)
        return remove_values(result, hidden)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        answer = self.run_entry(task_vars) if self.runs_here(task_vars) else None
        if answer is None:
            answer = self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                          module_args=self._task.args, task_vars=task_vars)
        result.update(answer)
        return result
