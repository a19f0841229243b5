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
from ansible.module_utils.errors import UnsupportedError
from ansible.plugins.action import ActionBase
from ansible.plugins.connection.local import Connection as LocalConnection

from ansible_collections.fleetops.release.plugins.module_utils._module import Entry, outcome
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import store_problem


def _links(path: str) -> list[str]:
    """``path`` and each path its symbolic links lead to, in order."""
    chain = [os.path.abspath(path)]
    while os.path.islink(chain[-1]) and len(chain) < 40:
        target = os.path.join(os.path.dirname(chain[-1]), os.readlink(chain[-1]))
        if os.path.normpath(target) in chain:
            break
        chain.append(os.path.normpath(target))
    return chain


def same_python(interpreter: t.Any) -> bool:
    """Whether ``interpreter`` (an ansible_python_interpreter value, None when unset) starts this controller's Python.

    Interpreter discovery (unset, ``auto*``) counts as this Python: the entries need nothing but the standard library
    and, where a store needs boto3, run here only when this Python has it. In a virtual environment only a path that is
    (or links to) one of its own executables counts, not the base interpreter its executables link to.
    """
    if interpreter in (None, "", "auto", "auto_silent", "auto_legacy", "auto_legacy_silent"):
        return True
    try:
        here = os.path.abspath(sys.executable)
        mine = _links(here)
        if sys.prefix != sys.base_prefix:
            mine = [path for path in mine if os.path.dirname(path) == os.path.dirname(here)]
        return any(path in mine for path in _links(str(interpreter)))
    except (OSError, ValueError):
        return False


class LocalModuleAction(ActionBase):
    """Runs ``ENTRY`` in this process on a local connection (see the module docstring), else the module."""

    ENTRY: Entry
    TRANSFERS_FILES = False
    _supports_async = True  # as the module, with async_val (see run)

    def host_vars(self, task_vars: dict) -> dict:
        """The variables of the host the module would run on: the delegated host's with ``delegate_to``."""
        if self._task.delegate_to:
            delegated = (task_vars.get("ansible_delegated_vars") or {}).get(self._task.delegate_to)
            if isinstance(delegated, dict):
                return delegated
        return task_vars

    def runs_here(self, task_vars: dict) -> bool:
        """Whether running the entry here gives what the module would: a local connection, nothing that changes the
        module's process (become, environment, async) and this Python."""
        if not isinstance(self._connection, LocalConnection):
            return False
        if self._task.async_val or self._play_context.become:
            return False
        try:
            environment: dict = {}
            self._compute_environment_string(environment)  # the task's environment, as the module's command gets it
            if environment:
                return False
            # As the module's payload would find it: the host's ansible_python_interpreter, else the configuration.
            host_vars = self.host_vars(task_vars)
            interpreter = C.config.get_config_value("INTERPRETER_PYTHON", variables=host_vars)
            if isinstance(interpreter, str):
                interpreter = self._templar.copy_with_new_env(available_variables=host_vars).template(interpreter)
        except Exception:  # pylint: disable=broad-exception-caught  # the module path reports what is wrong
            return False
        return same_python(interpreter)

    def run_entry(self, task_vars: dict) -> dict | None:
        """The entry's result, or None when the module must run instead (a store needs what this Python lacks)."""
        entry = self.ENTRY
        name = self._task.resolved_action or self._task.action
        checked = ArgumentSpecValidator(entry.argument_spec, **entry.checks).validate(dict(self._task.args))
        hidden = checked._no_log_values  # pylint: disable=protected-access  # what AnsibleModule removes, too
        if checked.error_messages:
            msg = checked.errors.msg
            if isinstance(checked.errors[0], UnsupportedError):
                msg = "Unsupported parameters for (%s) module: %s" % (name, msg)  # as AnsibleModule says it
            return remove_values(dict(failed=True, changed=False, msg=msg, invocation=dict(module_args=checked.validated_parameters)),
                                 hidden)
        params = checked.validated_parameters
        stores = entry.stores(params)
        if any(store_problem(options) for options in stores):
            return None
        if entry.progress:
            host = self._task.delegate_to or task_vars.get("inventory_hostname") or "localhost"

            def report(text: str) -> None:
                self._display.display("%s: %s" % (host, text))
            result = outcome(lambda: entry.call(params, bool(self._task.check_mode), report))
        else:
            result = outcome(lambda: entry.call(params, bool(self._task.check_mode)))
        result.setdefault("changed", False)
        # What the argument check warns about (an option set twice, through an alias and its name), as AnsibleModule.
        warnings = ["Both option %s and its alias %s are set." % (warning["option"], warning["alias"])
                    for warning in checked._warnings]  # pylint: disable=protected-access
        if warnings:
            result["warnings"] = warnings + list(result.get("warnings") or [])
        result["invocation"] = dict(module_args=params)
        return remove_values(result, hidden)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        answer = self.run_entry(task_vars) if self.runs_here(task_vars) else None
        if answer is None:
            wrap_async = bool(self._task.async_val) and not self._connection.has_native_async
            answer = self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                          module_args=self._task.args, task_vars=task_vars, wrap_async=wrap_async)
            if not wrap_async:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(answer)
        return result
