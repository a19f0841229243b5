# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the ``release_host`` action talks to: the load balancers, the node, the health check, the lock.

Load balancer memberships and the lock's note run in the action's own process on the controller (the code
``lb_member`` and ``release_lock`` run, called directly: no module process, no second connection). The release is one
``dist_deploy`` call on the node through the task's connection; a health check ``command`` runs on the node, a
``url`` is fetched from the controller.
"""

from __future__ import annotations

import functools
import os
import typing as t

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LB_ARGSPEC, LB_REQUIRED_IF, backend_for
from ansible_collections.fleetops.release.plugins.module_utils._lb.core import run as lb_run
from ansible_collections.fleetops.release.plugins.module_utils._lock import RELEASE_LOCK, LockError
from ansible_collections.fleetops.release.plugins.module_utils._lock import run as lock_run
from ansible_collections.fleetops.release.plugins.module_utils._node.deploy import DIST_DEPLOY_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._node.paths import NODE_PATH_KEYS
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout import abort as _abort
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout import health as _health

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
LB_DEFAULT_KEYS = ("min_healthy", "drain_timeout", "wait_timeout")
_LB_VALIDATOR = ArgumentSpecValidator(LB_ARGSPEC, required_if=LB_REQUIRED_IF)
_LOCK_VALIDATOR = ArgumentSpecValidator(RELEASE_LOCK.argument_spec, **RELEASE_LOCK.checks)
_DEPLOY_VALIDATOR = ArgumentSpecValidator(dict(DIST_DEPLOY_ARGSPEC, **S3_ARGSPEC))


def validated(validator: ArgumentSpecValidator, params: dict, where: str) -> dict:
    """Parameters checked and defaulted as the module would; a bad one fails naming ``where``."""
    result = validator.validate(params)
    if result.error_messages:
        raise FleetopsError("%s: %s" % (where, "; ".join(result.error_messages)))
    return result.validated_parameters


def is_local(lb_host: t.Any) -> bool:
    return lb_host in (None, "") or str(lb_host) in LOCAL_HOSTS


def lb_params(membership: dict, state: str, defaults: dict, host: str, index: int) -> dict:
    """lb_member's parameters for one membership of ``host``'s ``fleetops_lb`` list."""
    params = {key: value for key, value in membership.items() if key != "lb_host" and value is not None}
    for key in LB_DEFAULT_KEYS:
        if key not in params and defaults.get(key) is not None:
            params[key] = defaults[key]
    if state == "enabled":
        params.pop("min_healthy", None)
        params.pop("drain_timeout", None)
        params.pop("on_drain_timeout", None)
    params["state"] = state
    return validated(_LB_VALIDATOR, params, "fleetops_lb[%d] of %s" % (index, host))


# The deploy role's variables behind each option (role_vars): dist_deploy's options, then the rest of the step's.
ROLE_DEPLOY_VARS = (("plan", "deploy_plan"), ("upgradable", "deploy_upgradable"), ("restart", "deploy_restart"),
                    ("converge", "deploy_converge"), ("run_id", "deploy_run_id"), ("script_timeout", "deploy_script_timeout"),
                    ("stale_after", "deploy_stale_after"), ("keep_versions", "deploy_keep_versions"),
                    ("corrupt_policy", "deploy_corrupt_policy"))
S3_KEYS = ("endpoint_url", "region", "profile", "access_key", "secret_key", "session_token")
ROLE_STEP_VARS = (("lb", "deploy_lb"), ("health", "deploy_health"), ("health_retries", "deploy_health_retries"),
                  ("health_delay", "deploy_health_delay"), ("max_fail_percentage", "deploy_max_fail_percentage"))
ROLE_LB_DEFAULT_VARS = (("min_healthy", "deploy_lb_min_healthy"), ("drain_timeout", "deploy_lb_drain_timeout"),
                        ("wait_timeout", "deploy_lb_wait_timeout"))

# The fleetops.release.deploy playbook's variables behind the role's (deploy_playbook_vars), with the playbook's defaults:
# read here, in place of fifteen "deploy_x: {{ fleetops_x | default(...) }}" play vars, each a template compiled on every host.
PLAYBOOK_VARS = {
    "deploy_upgradable": ("fleetops_upgradable", []), "deploy_restart": ("fleetops_restart", False),
    "deploy_converge": ("fleetops_converge", False), "deploy_max_fail_percentage": ("fleetops_max_fail_percentage", 0),
    "deploy_script_timeout": ("fleetops_script_timeout", 600), "deploy_corrupt_policy": ("fleetops_corrupt_policy", "fail"),
    "deploy_s3": ("fleetops_s3", {}), "deploy_node_paths": ("fleetops_node_paths", {}), "deploy_lb": ("fleetops_lb", []),
    "deploy_lb_min_healthy": ("fleetops_lb_min_healthy", 1), "deploy_lb_drain_timeout": ("fleetops_lb_drain_timeout", 300),
    "deploy_lb_wait_timeout": ("fleetops_lb_wait_timeout", 60), "deploy_health": ("fleetops_health", {}),
    "deploy_health_retries": ("fleetops_health_retries", 10), "deploy_health_delay": ("fleetops_health_delay", 2),
}


def first(*values: t.Any) -> t.Any:
    """The first value that is defined (not None), as Jinja's ``default()`` chains pick it: an empty string counts."""
    return next((v for v in values if v is not None), None)


def options_from_role_vars(value: t.Callable[[str], t.Any], controller: t.Callable[[str], t.Any]) -> dict:
    """The step's options from the deploy role's variables, as its ``main`` entry point documents them.

    ``value(name)`` is a variable of this host (None when undefined), ``controller(name)`` one of ``localhost`` (the facts
    the controller play set: the lock's lease, scope and carry). Read here, in Python, each variable is templated once, and
    only when it is one: a task with some forty Jinja arguments costs a compile of each, on every host. With
    ``deploy_playbook_vars`` true (the deploy playbook's release play), each ``deploy_*`` of PLAYBOOK_VARS is read from
    its ``fleetops_*`` variable instead, with the playbook's default.
    """
    value = functools.lru_cache(maxsize=None)(value)  # each variable is templated once, however often it is asked for
    if value("deploy_playbook_vars"):
        role_value = value

        def value(name: str) -> t.Any:
            if name in PLAYBOOK_VARS:
                var, default = PLAYBOOK_VARS[name]
                return first(role_value(var), default)
            return role_value(name)
    deploy = {option: value(var) for option, var in ROLE_DEPLOY_VARS if value(var) is not None}
    for source, keys in ((value("deploy_node_paths"), NODE_PATH_KEYS), (value("deploy_s3"), S3_KEYS)):
        if isinstance(source, t.Mapping):
            deploy.update((key, source[key]) for key in keys if source.get(key) is not None)
    options: dict[str, t.Any] = dict(run_id=deploy.get("run_id"), deploy=deploy)
    options.update((option, value(var)) for option, var in ROLE_STEP_VARS if value(var) is not None)
    options["lb_defaults"] = {option: value(var) for option, var in ROLE_LB_DEFAULT_VARS if value(var) is not None}
    lease = controller("deploy_lock_lease")
    if lease is not None:
        scope = controller("deploy_lock_scope") or {}
        options["lock"] = dict(
            lease=lease, project=scope.get("project", ""), environment=scope.get("environment", ""),
            bucket=first(value("fleetops_lock_bucket"), value("fleetops_bucket"), ""), prefix=first(value("fleetops_lock_prefix"), ""),
            path=first(value("fleetops_lock_path"), ""), ttl=first(value("fleetops_lock_ttl"), 3600), run_id=deploy.get("run_id"),
            carry=controller("deploy_lock_carry") or {}, s3=value("fleetops_s3") or {})
    return options


def input_problems(host: str, args: dict) -> list[tuple[str, str]]:
    """What is wrong with this host's release options, as (stage, message), found on the controller before anything is drained.

    The ``deploy`` options are checked against ``dist_deploy``'s own argument spec (the node checks them again, after
    the drain, too late), and each load balancer membership against ``lb_member``'s, for both the drain and the put
    back. The values are not used: the node expands its own paths.
    """
    problems = []
    deploy = {key: value for key, value in (args.get("deploy") or {}).items() if value is not None}
    found = _DEPLOY_VALIDATOR.validate(deploy)
    if found.error_messages:
        problems.append(("release", "the release options of %s (dist_deploy): %s" % (host, "; ".join(found.error_messages))))
    defaults = args.get("lb_defaults") or {}
    for index, membership in enumerate(args.get("lb") or []):
        try:
            for state in ("drained", "enabled"):
                lb_params(membership, state, defaults, host, index)
        except FleetopsError as exc:
            problems.append(("load balancer", str(exc)))
    return problems


class ControllerOps:
    """The ``ops`` of a :class:`~._rollout.Step`, for one host, inside the action plugin."""

    def __init__(self, action: t.Any, task_vars: dict, args: dict, check_mode: bool) -> None:
        self.action = action
        self.task_vars = task_vars
        self.args = args
        self.check_mode = check_mode
        self.host = task_vars.get("inventory_hostname", "?")
        self.memberships = list(args.get("lb") or [])
        self.health_result: dict | None = None
        self.playbook_pid = os.getppid()  # the worker's parent: ansible-playbook

    # -- load balancers -----------------------------------------------------------------------------------------
    def lb(self, membership: dict, state: str) -> dict:
        index = next((i for i, m in enumerate(self.memberships) if m is membership or m == membership), 0)
        try:
            params = lb_params(membership, state, self.args.get("lb_defaults") or {}, self.host, index)
            if not is_local(membership.get("lb_host")):
                # The balancer is driven on its own host (a local socket or file there), through that host's connection.
                return self.action.run_delegated("fleetops.release.lb_member", params, str(membership["lb_host"]), self.task_vars)
            return lb_run(backend_for(params), params, self.check_mode)
        except FleetopsError as exc:
            return dict(failed=True, changed=False, msg=str(exc))

    # -- the node -----------------------------------------------------------------------------------------------
    def deploy(self) -> dict:
        return self.action.run_on_node("fleetops.release.dist_deploy", self.args["deploy"], self.task_vars)

    def node_status(self) -> dict:
        """The node's ``images.yaml`` as node_state reads it, through the task's connection (no S3, nothing signed)."""
        state_file = (self.args.get("deploy") or {}).get("state_file")
        return self.action.run_on_node("fleetops.release.node_state", dict(state_file=state_file) if state_file else {}, self.task_vars,
                                       sign=False)

    def _command(self, command: str) -> tuple[int, str]:
        result = self.action.run_on_node("ansible.builtin.command", {"_raw_params": command}, self.task_vars, sign=False)
        if result.get("unreachable"):
            return 255, "cannot reach %s: %s" % (self.host, result.get("msg", ""))
        said = (result.get("stderr") or result.get("stdout") or result.get("msg") or "").strip()
        return int(result.get("rc", 1) if result.get("rc") is not None else 1), "rc %s%s" % (result.get("rc"), ": " + said[-300:] if said else "")

    def health(self) -> dict:
        spec = dict(self.args.get("health") or {})
        if self.check_mode:
            self.health_result = dict(ok=True, attempts=0, msg="health check not run in check mode")
            return self.health_result
        fetch = _health.http_once if is_local(spec.get("from")) else self._fetcher(str(spec["from"]))
        self.health_result = _health.check(spec, int(self.args.get("health_retries", 10)), float(self.args.get("health_delay", 2)),
                                           run_command=self._command, fetch=fetch)
        return self.health_result

    def _fetcher(self, where: str) -> t.Callable[..., tuple[bool, str]]:
        """One HTTP try made on the inventory host ``where`` (``fleetops_health.from``) with ansible.builtin.uri."""
        def fetch(url: str, status: int, contains: str, timeout: float, validate_certs: bool = True) -> tuple[bool, str]:
            result = self.action.run_delegated("ansible.builtin.uri", dict(url=url, status_code=[status], return_content=bool(contains),
                                                                           timeout=max(int(timeout), 1), validate_certs=validate_certs),
                                               where, self.task_vars)
            if result.get("unreachable"):
                return False, "cannot reach %s to make the check: %s" % (where, result.get("msg", ""))
            if result.get("failed"):
                return False, "from %s: %s" % (where, str(result.get("msg") or "failed")[:300])
            if contains and contains not in str(result.get("content") or ""):
                return False, "status %s, but the body does not contain %r" % (result.get("status"), contains)
            return True, "status %s (from %s)" % (result.get("status"), where)
        return fetch

    # -- the lock -----------------------------------------------------------------------------------------------
    def note(self, state: dict) -> str | None:
        """Write what the run has out of rotation into the lock record (a renew with out_of_rotation)."""
        lock = self.args.get("lock")
        if not lock or self.check_mode:
            return None
        lease = state.get("lease") or lock.get("lease")
        out = dict(lock.get("carry") or {})
        out.update(state.get("out_of_rotation") or {})
        params = dict(lock.get("s3") or {})
        params.update(project=lock["project"], environment=lock["environment"], lease=lease, out_of_rotation=out,
                      run_id=lock.get("run_id"), ttl=lock.get("ttl", 3600))
        for key in ("bucket", "prefix", "path"):
            if lock.get(key):
                params[key] = lock[key]
        try:
            result = lock_run(validated(_LOCK_VALIDATOR, params, "the release lock"), False, open_store)
        except LockError as exc:
            return str(exc)
        except FleetopsError as exc:
            return str(exc)
        if result.get("failed"):
            return str(result.get("msg") or "the release lock could not be renewed")
        if isinstance(result.get("lease"), dict):
            state["lease"] = result["lease"]
        return None

    # -- abort --------------------------------------------------------------------------------------------------
    def aborted(self) -> str | None:
        return _abort.current()

    def orphaned(self) -> bool:
        """True once ansible-playbook is gone (the worker was re-parented)."""
        return os.getppid() != self.playbook_pid
