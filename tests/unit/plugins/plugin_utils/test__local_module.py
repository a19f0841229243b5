# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller modules' action: when it runs the module's entry in its own process, and what that answers."""

from __future__ import annotations

import sys
import types

import pytest
from ansible.template import Templar

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._module import Entry
from ansible_collections.fleetops.release.plugins.plugin_utils import _local_module
from ansible_collections.fleetops.release.plugins.plugin_utils._local_module import LocalModuleAction, same_python

SPEC = dict(name=dict(type="str", required=True), token=dict(type="str", no_log=True), count=dict(type="int", default=1))


def entry(call, stores=None):
    return Entry("probe", SPEC, call, stores)


def action(args=None, transport="local", environment=None, become=False, async_val=0, call=None, stores=None):
    """A LocalModuleAction with just what runs_here and run_entry read."""
    act = LocalModuleAction.__new__(LocalModuleAction)
    act.ENTRY = entry(call or (lambda params, check_mode: dict(changed=check_mode, seen=params)), stores)
    act._connection = types.SimpleNamespace(transport=transport, _shell=types.SimpleNamespace(env_prefix=lambda **kw: ""))
    act._task = types.SimpleNamespace(args=dict(args or {"name": "x"}), environment=environment, async_val=async_val,
                                      check_mode=False)
    act._play_context = types.SimpleNamespace(become=become)
    act._templar = Templar(loader=None, variables={})
    return act


@pytest.mark.parametrize("interpreter, expected", [
    (None, True), ("auto", True), ("auto_silent", True), (sys.executable, True),
    ("/nonexistent/python3.6", False),
])
def test_same_python(interpreter, expected):
    assert same_python(interpreter) is expected


def test_a_plain_local_task_runs_here():
    assert action().runs_here({}) is True
    assert action(environment=[{}]).runs_here({}) is True
    assert action().runs_here({"ansible_python_interpreter": sys.executable}) is True


@pytest.mark.parametrize("change", [
    dict(transport="ssh"), dict(transport="paramiko_ssh"), dict(become=True), dict(async_val=30),
    dict(environment=[{"AWS_PROFILE": "ops"}]),
])
def test_anything_that_changes_the_module_process_runs_the_module(change):
    assert action(**change).runs_here({}) is False


def test_another_interpreter_runs_the_module():
    assert action().runs_here({"ansible_python_interpreter": "/nonexistent/python3.6"}) is False


def test_the_entry_answers_with_validated_parameters_and_check_mode():
    act = action(args={"name": "x", "count": "3"})
    act._task.check_mode = True
    result = act.run_entry({})
    assert result["changed"] is True and result["seen"] == {"name": "x", "token": None, "count": 3}
    assert result["invocation"]["module_args"]["count"] == 3


def test_no_log_values_leave_the_result():
    act = action(args={"name": "x", "token": "s3cr3t-value"},
                 call=lambda params, check_mode: dict(changed=False, msg="used %s" % params["token"], warnings=["w " + params["token"]]))
    result = act.run_entry({})
    assert "s3cr3t-value" not in repr(result)
    assert result["warnings"] == ["w ********"] and result["invocation"]["module_args"]["token"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_bad_arguments_fail_naming_the_option_without_the_secret():
    result = action(args={"token": "s3cr3t-value", "nmae": "x"}).run_entry({})
    assert result["failed"] is True and result["changed"] is False
    assert "nmae" in result["msg"] or "name" in result["msg"]
    assert "s3cr3t-value" not in repr(result)


def test_an_error_fails_with_its_message():
    def call(params, check_mode):
        raise FleetopsError("s3://b/k: S3 answered 403 AccessDenied")

    result = action(call=call).run_entry({})
    assert result == dict(failed=True, msg="s3://b/k: S3 answered 403 AccessDenied", changed=False,
                          invocation=dict(module_args={"name": "x", "token": None, "count": 1}))


def test_a_store_this_python_cannot_open_runs_the_module(monkeypatch):
    monkeypatch.setattr(_local_module, "store_problem", lambda options: "boto3 is required")
    ran = []
    act = action(call=lambda params, check_mode: ran.append(1) or {}, stores=lambda params: [params])
    assert act.run_entry({}) is None and ran == []


def test_the_controller_modules_have_entries():
    from ansible_collections.fleetops.release.plugins.action import artifact_info, release_lock, repo_info

    names = {plugin.ActionModule.ENTRY.name for plugin in (artifact_info, release_lock, repo_info)}
    assert names == {"artifact_info", "release_lock", "repo_info"}
