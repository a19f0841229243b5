# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller modules' action: when it runs the module's entry in its own process, and what that answers."""

from __future__ import annotations

import sys
import types

import pytest
from ansible.plugins.action import ActionBase
from ansible.plugins.connection.local import Connection as LocalConnection
from ansible.template import Templar

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._module import Entry
from ansible_collections.fleetops.release.plugins.plugin_utils import _local_module
from ansible_collections.fleetops.release.plugins.plugin_utils._local_module import LocalModuleAction, same_python

SPEC = dict(name=dict(type="str", required=True), token=dict(type="str", no_log=True), count=dict(type="int", default=1))


def entry(call, stores=None):
    return Entry("probe", SPEC, call, stores)


def action(args=None, transport="local", environment=None, become=False, async_val=0, call=None, stores=None, delegate_to=None):
    """A LocalModuleAction with just what runs_here, run_entry and run read."""
    act = LocalModuleAction.__new__(LocalModuleAction)
    act.ENTRY = entry(call or (lambda params, check_mode: dict(changed=check_mode, seen=params)), stores)
    shell = types.SimpleNamespace(env_prefix=lambda **kw: "", tmpdir=None)
    if transport == "local":
        act._connection = LocalConnection.__new__(LocalConnection)
        act._connection._shell = shell
    else:
        act._connection = types.SimpleNamespace(transport=transport, _shell=shell, has_native_async=False)
    act._task = types.SimpleNamespace(args=dict(args or {"name": "x"}), environment=environment, async_val=async_val,
                                      check_mode=False, delegate_to=delegate_to, resolved_action="fleetops.release.probe",
                                      action="probe")
    act._play_context = types.SimpleNamespace(become=become)
    act._templar = Templar(loader=None, variables={})
    return act


@pytest.fixture(autouse=True)
def no_interpreter_setting(monkeypatch):
    """The developer's own ANSIBLE_PYTHON_INTERPRETER must not decide these tests."""
    monkeypatch.delenv("ANSIBLE_PYTHON_INTERPRETER", raising=False)


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


def test_a_connection_that_only_calls_itself_local_runs_the_module():
    act = action(transport="ssh")
    act._connection.transport = "local"
    assert act.runs_here({}) is False


def test_the_interpreter_is_the_delegated_hosts():
    other = {"ansible_python_interpreter": "/nonexistent/python3.6"}
    mine = {"ansible_python_interpreter": sys.executable}
    assert action(delegate_to="localhost").runs_here(dict(other, ansible_delegated_vars={"localhost": mine})) is True
    assert action(delegate_to="localhost").runs_here(dict(mine, ansible_delegated_vars={"localhost": other})) is False


def test_in_a_virtual_environment_its_base_interpreter_is_another_python(tmp_path, monkeypatch):
    base = tmp_path / "base" / "bin" / "python3.11"
    base.parent.mkdir(parents=True)
    base.write_text("")
    venv = tmp_path / "venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "python").symlink_to(base)
    (venv / "python3").symlink_to("python")
    (tmp_path / "injected").mkdir()
    (tmp_path / "injected" / "python3").symlink_to(venv / "python3")
    monkeypatch.setattr(sys, "executable", str(venv / "python"))
    monkeypatch.setattr(sys, "prefix", str(venv.parent))
    monkeypatch.setattr(sys, "base_prefix", str(base.parent.parent))
    assert same_python(str(venv / "python3")) is True
    assert same_python(str(tmp_path / "injected" / "python3")) is True
    assert same_python(str(base)) is False
    monkeypatch.setattr(sys, "prefix", str(base.parent.parent))  # not a venv: the same file is the same Python
    monkeypatch.setattr(sys, "executable", str(base))
    assert same_python(str(venv / "python3")) is True


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


def test_bad_arguments_fail_as_ansiblemodule_says_it_without_the_secret():
    result = action(args={"name": "x", "token": "s3cr3t-value", "nmae": "x"}).run_entry({})
    assert result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("Unsupported parameters for (fleetops.release.probe) module: nmae. Supported parameters include: ")
    assert "s3cr3t-value" not in repr(result)
    missing = action(args={"count": "2"}).run_entry({})
    assert missing["msg"] == "missing required arguments: name"


def test_an_option_set_through_its_alias_too_warns():
    act = action(args={"name": "x", "label": "y"})
    act.ENTRY = Entry("probe", dict(name=dict(type="str", aliases=["label"])), lambda params, check_mode: dict(warnings=["w"]))
    assert act.run_entry({})["warnings"] == ["Both option name and its alias label are set.", "w"]


def test_an_error_fails_with_its_message():
    def call(params, check_mode):
        raise FleetopsError("s3://b/k: S3 answered 403 AccessDenied")

    result = action(call=call).run_entry({})
    assert result == dict(failed=True, msg="s3://b/k: S3 answered 403 AccessDenied", changed=False,
                          invocation=dict(module_args={"name": "x", "token": None, "count": 1}))


def run(act, monkeypatch):
    """ActionModule.run with ActionBase.run's own checks stubbed; returns the result and the module calls made."""
    calls = []
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    act._execute_module = lambda **kwargs: calls.append(kwargs) or dict(changed=False, module=True)
    act._remove_tmp_path = lambda path: None
    return act.run(task_vars={}), calls


def test_run_answers_here_on_a_local_connection(monkeypatch):
    result, calls = run(action(), monkeypatch)
    assert calls == [] and result["seen"]["name"] == "x"


@pytest.mark.parametrize("change, wrap_async", [(dict(transport="ssh"), False), (dict(async_val=30), True),
                                                (dict(environment=[{"AWS_PROFILE": "ops"}]), False)])
def test_run_falls_back_to_the_module(monkeypatch, change, wrap_async):
    result, calls = run(action(**change), monkeypatch)
    assert result == dict(changed=False, module=True)
    assert [(call["module_name"], call["wrap_async"]) for call in calls] == [("fleetops.release.probe", wrap_async)]


def test_the_async_keyword_is_accepted():
    assert LocalModuleAction._supports_async is True


def test_a_store_this_python_cannot_open_runs_the_module(monkeypatch):
    monkeypatch.setattr(_local_module, "store_problem", lambda options: "boto3 is required")
    ran = []
    act = action(call=lambda params, check_mode: ran.append(1) or {}, stores=lambda params: [params])
    assert act.run_entry({}) is None and ran == []


def test_the_controller_modules_have_entries():
    from ansible_collections.fleetops.release.plugins.action import artifact_info, release_lock, repo_info

    names = {plugin.ActionModule.ENTRY.name for plugin in (artifact_info, release_lock, repo_info)}
    assert names == {"artifact_info", "release_lock", "repo_info"}


def test_repo_info_hides_a_result_with_presigned_urls(monkeypatch):
    from ansible_collections.fleetops.release.plugins.action import repo_info

    spec = dict(SPEC, presign=dict(type="bool", default=False))
    for presign in (False, True):
        act = action(args={"name": "x", "presign": presign})
        act.__class__ = repo_info.ActionModule
        act.ENTRY = Entry("repo_info", spec, lambda params, check_mode: dict(plan={"install": []}))
        result, calls = run(act, monkeypatch)
        assert calls == [] and "plan" in result
        assert result.get("_ansible_no_log", False) is presign
