# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one module wrapper: store check, warnings, and the outcome as exit_json or fail_json."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils import _module
from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._s3 import store as _s3


class Exited(Exception):
    pass


class Module:
    """Records what AnsibleModule would be told; exit_json and fail_json end the call, as they end the process."""

    def __init__(self):
        self.warnings = []
        self.outcome = None

    def warn(self, text):
        self.warnings.append(text)

    def exit_json(self, **result):
        self.outcome = ("exit", result)
        raise Exited()

    def fail_json(self, **result):
        self.outcome = ("fail", result)
        raise Exited()


def finish(call, s3=()):
    module = Module()
    with pytest.raises(Exited):
        _module.finish(module, call, s3=s3)
    return module


def test_a_result_exits_with_its_warnings_as_warnings():
    module = finish(lambda: {"changed": True, "warnings": ["h1 skipped"], "x": 1})
    assert module.outcome == ("exit", {"changed": True, "x": 1}) and module.warnings == ["h1 skipped"]


def test_an_error_fails_with_its_message():
    def call():
        raise FleetopsError("s3://b/k: S3 answered 403 AccessDenied")

    assert finish(call).outcome == ("fail", {"failed": True, "msg": "s3://b/k: S3 answered 403 AccessDenied"})


def test_a_failed_result_fails_and_keeps_its_fields():
    module = finish(lambda: {"failed": True, "msg": "held by run 7", "holder": {"run_id": "7"}, "warnings": ["stale"]})
    assert module.outcome == ("fail", {"failed": True, "msg": "held by run 7", "holder": {"run_id": "7"}})
    assert module.warnings == ["stale"]


def test_a_store_that_cannot_open_fails_before_the_call(monkeypatch):
    monkeypatch.setattr(_s3, "boto3", None)
    monkeypatch.setattr(_s3.importlib.util, "find_spec", lambda name: None)
    called = []
    keys = {"access_key": "K", "secret_key": "S"}
    module = finish(lambda: called.append(1) or {}, s3=[dict(keys, endpoint_url="http://127.0.0.1:9"), dict(keys, profile="prod")])
    assert module.outcome[0] == "fail" and "boto3 is required" in module.outcome[1]["msg"] and not called
    module = finish(lambda: called.append(1) or {"changed": False}, s3=[dict(keys, endpoint_url="http://127.0.0.1:9")])
    assert module.outcome == ("exit", {"changed": False}) and called, "an explicit endpoint with keys needs no boto3"
