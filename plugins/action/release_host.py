# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleActionFail, AnsibleConnectionFailure, AnsibleUndefinedVariable, AnsibleValueOmittedError
from ansible.plugins.action import ActionBase

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.plugin_utils._presign import hide_urls, sign_for_node
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.recover import Recovery
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.release_host import ControllerOps, input_problems, options_from_role_vars
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.rollout import ARGSPEC, ARGSPEC_OPTIONS, Step
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.runstate import RunState, RunStateError


class ActionModule(ActionBase):
    """One host's whole release in one task: drain, dist_deploy on the node, health check, put back (or, with
    ``recover``, the put-back of what a release that died left out)."""

    TRANSFERS_FILES = False
    _requires_connection = True

    def run_on_node(self, module: str, args: dict, task_vars: dict, sign: bool = True) -> dict:
        """One module call on this host through the task's connection; unreachable comes back as a result."""
        if sign:
            try:
                args = sign_for_node(hide_urls(args))
            except FleetopsError as exc:
                return dict(failed=True, msg=str(exc), stage="fetch")
        try:
            return self._execute_module(module_name=module, module_args=args, task_vars=task_vars)
        except AnsibleConnectionFailure as exc:
            return dict(unreachable=True, msg=str(exc))

    def run_delegated(self, module: str, args: dict, delegate_to: str, task_vars: dict) -> dict:
        """One module call on another inventory host (a load balancer's ``lb_host``), the way ``delegate_to`` runs it:
        ansible-core's task executor resolves that host's connection variables and connects."""
        from ansible.executor.task_executor import TaskExecutor  # pylint: disable=import-outside-toplevel

        manager = self._task.get_variable_manager()
        inventory = getattr(manager, "_inventory", None)
        if manager is None or inventory is None or inventory.get_host(delegate_to) is None:
            return dict(failed=True, msg="lb_host %s is not a host of the inventory" % delegate_to)
        task = self._task.copy(exclude_parent=False, exclude_tasks=True)
        task.action = module
        task._resolved_action = None  # pylint: disable=protected-access  # resolved again for the new action
        task.args = {key: value for key, value in args.items() if value is not None}
        task.delegate_to = delegate_to
        task.loop = None
        task.loop_with = None
        task.until = []
        task.register = None
        task.async_val = 0
        task.changed_when = []
        task.failed_when = []
        host = inventory.get_host(task_vars.get("inventory_hostname"))
        executor = TaskExecutor(host, task, dict(task_vars), self._play_context, self._loader, self._shared_loader_obj, None, manager)
        result = executor.run()
        return {key: value for key, value in result.items() if not key.startswith("_ansible")}

    def role_vars(self, task_vars: dict) -> dict:
        """The options the task leaves out, from the deploy role's variables (``role_vars``); what the task gives wins."""
        def value(name: str, where: t.Any = task_vars):
            try:
                return self._templar.template(where[name]) if name in where else None
            except (AnsibleValueOmittedError, AnsibleUndefinedVariable):
                return None  # default(omit), or a default that reads what the controller play never set

        hostvars = task_vars.get("hostvars") or {}
        controller = hostvars["localhost"] if "localhost" in hostvars else {}
        found = options_from_role_vars(value, lambda name: value(name, controller))
        found.update((key, item) for key, item in self._task.args.items() if key != "role_vars")
        return found

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        if self._task.args.get("role_vars"):
            self._task.args = self.role_vars(task_vars or {})
        _spec, args = self.validate_argument_spec(argument_spec=ARGSPEC, **ARGSPEC_OPTIONS)
        task_vars = task_vars or {}
        host = task_vars.get("inventory_hostname", "?")
        if args.get("recover") is not None:
            # A dead run's put-back: node active, health check, enable what the lock record names (plugin_utils/_rollout/recover.py).
            ops = ControllerOps(self, task_vars, args, bool(self._task.check_mode))
            result.update(Recovery(host, args["lb"], args["recover"], args["health"], ops).run())
            return result
        try:
            state = RunState(args.get("run_id"))
            ops = ControllerOps(self, task_vars, args, bool(self._task.check_mode))
            step = Step(host, task_vars.get("ansible_play_batch") or [host], args["lb"], args["health"], ops, state,
                        max_fail_percentage=args["max_fail_percentage"], lock_enabled=bool(args.get("lock")),
                        problems=input_problems(host, args))
            result.update(step.run())
        except (RunStateError, FleetopsError) as exc:
            raise AnsibleActionFail("%s: %s" % (host, exc)) from None
        return result
