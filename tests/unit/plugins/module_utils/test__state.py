# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for images.yaml: loading, transitions, the gate, atomic writes, backups and the lock."""

from __future__ import annotations

import datetime
import errno
import os
import stat

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._node import state as state_mod
from ansible_collections.fleetops.release.plugins.module_utils._node.state import (
    ACTIVE,
    BUILDING,
    FAILURE,
    HEADER,
    HISTORY_LIMIT,
    INSTALL,
    MAINTAIN,
    SKIP,
    TRANSITIONS,
    UPGRADE,
    LoadResult,
    LockedError,
    NodeLock,
    NodeState,
    StateWriteError,
    TransitionError,
    backup_corrupt,
    gate,
    load,
    render,
    save,
    write_atomic,
)
from ansible_collections.fleetops.release.plugins.module_utils._yamlite import loads

UTC = datetime.UTC
T0 = datetime.datetime(2026, 11, 22, 6, 0, 0, tzinfo=UTC)
PATH = "/var/lib/fleetops/images.yaml"


def at(seconds):
    return T0 + datetime.timedelta(seconds=seconds)


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return str(path)


def state_in(status, version="2.1.0", path=PATH):
    """A state that reached ``status`` the way runs do (through allowed transitions)."""
    state = NodeState(path)
    state.transition(BUILDING, "run-1", version="2.1.0", now=T0)
    if status == BUILDING:
        return state
    state.transition(ACTIVE, "run-1", version=version, now=at(60))
    if status == ACTIVE:
        return state
    if status == FAILURE:
        state.transition(MAINTAIN, "run-2", version="2.2.0", now=at(120))
        state.transition(FAILURE, "run-2", error="upgrade.sh of ModuleX exited 3", now=at(180))
        return state
    state.transition(MAINTAIN, "run-2", version="2.2.0", now=at(120))
    return state


# ------------------------------------------------------------------ load


def test_absent_file_is_a_new_node(tmp_path):
    result = load(str(tmp_path / "images.yaml"))
    assert result.absent
    assert result.state is None and result.problem is None and result.ignored_keys == []


@pytest.mark.parametrize("text", [
    "image:\n  version: 2.1.0\nstatus: active\n",
    "image: {version: 2.1.0}\nstatus: active\n",
    "image: {version: 2.1.0}\nstatus: active          # building | maintain | failure | active\n",
])
def test_load_seed_format(tmp_path, text):
    result = load(write(tmp_path / "images.yaml", text), source_label="node1:images.yaml")
    assert result.problem is None and not result.absent
    state = result.state
    assert (state.path, state.status, state.image_version) == ("node1:images.yaml", ACTIVE, "2.1.0")
    assert (state.project, state.modules, state.updated_at, state.last_error, state.history, state.run_id, state.started_at) == (
        None, {}, None, None, [], None, None)
    assert result.ignored_keys == []


def test_load_design_example_format(tmp_path):
    text = (
        "image: {version: 2.1.0}\n"
        "status: active\n"
        "# extensions\n"
        "project: projectx\n"
        "modules: {ModuleX: 1.0.0, ModuleY: 3.2.0}\n"
        "updated_at: 2026-11-22T06:00:00Z\n"
        "last_error: null\n"
        "history: []\n"
    )
    state = load(write(tmp_path / "images.yaml", text)).state
    assert state.project == "projectx"
    assert state.modules == {"ModuleX": "1.0.0", "ModuleY": "3.2.0"}
    assert list(state.modules) == ["ModuleX", "ModuleY"]
    assert state.updated_at == "2026-11-22T06:00:00Z"


def test_save_and_load_our_full_format(tmp_path):
    path = str(tmp_path / "images.yaml")
    state = state_in(ACTIVE, path=path)
    state.project = "projectx"
    state.modules = {"ModuleY": "3.2.0", "ModuleX": "1.0.0"}
    save(path, state)
    text = (tmp_path / "images.yaml").read_text(encoding="utf-8")
    assert text.splitlines()[0] == HEADER
    assert yaml.safe_load(text) == state.to_dict()
    result = load(path)
    assert result.problem is None and result.ignored_keys == []
    assert result.state.to_dict() == state.to_dict()
    assert list(result.state.modules) == ["ModuleY", "ModuleX"]


def test_to_dict_key_order():
    assert list(state_in(ACTIVE).to_dict()) == [
        "image", "status", "project", "modules", "updated_at", "last_error", "history", "run_id", "started_at"]
    assert list(state_in(ACTIVE).history[0]) == ["at", "run_id", "from", "to", "version", "reason"]


def test_unknown_and_unusable_keys_are_ignored_and_listed(tmp_path):
    text = (
        "image: {version: 2.1.0, arch: x86_64}\n"
        "status: active\n"
        "owner: ops\n"
        "project: [not, text]\n"
        "updated_at: yesterday\n"
        "history:\n"
        "  - {at: 2026-11-22T06:00:00Z, run_id: r1, from: null, to: building, version: 2.1.0, reason: null, note: hand}\n"
        "  - just a string\n"
        "  - {to: [active]}\n"
    )
    result = load(write(tmp_path / "images.yaml", text))
    assert result.problem is None
    assert result.ignored_keys == ["owner", "image.arch", "project", "updated_at", "history[0].note", "history[1]", "history[2]"]
    state = result.state
    assert state.project is None and state.updated_at is None
    assert state.history == [{"at": "2026-11-22T06:00:00Z", "run_id": "r1", "from": None, "to": "building", "version": "2.1.0", "reason": None}]


@pytest.mark.parametrize("text, problem", [
    ("", "empty file"),
    ("  \n\n", "empty file"),
    ("# nothing here\n", "empty file (comments only)"),
    ("status: active\nimage: {version: 2.1.0\n", "unparsable at line 2: unterminated flow mapping: missing '}'"),
    ("image: {version: 2.1.0\nstatus: active\n", "unparsable at line 2: expected ',' or '}' in the flow mapping, found 's'"),
    ("status: active\n\tjunk\n", "unparsable at line 2: tab character in indentation; indent with spaces"),
    ("\x00\x01garbage", "unparsable at line 1: character U+0000 is not allowed here; write it as an escape in a double-quoted string"),
    ("just garbage\n", "not a mapping (found the scalar 'just garbage')"),
    ("- active\n", "not a mapping (found a sequence)"),
    ("image: {version: 2.1.0}\nstatus: broken\n", "unknown status 'broken' (expected one of building, maintain, failure, active)"),
    ("image: {version: 2.1.0}\nstatus: {a: b}\n", "unknown status a mapping (expected one of building, maintain, failure, active)"),
    ("image: {version: 2.1.0}\n", "status is missing"),
    ("image: {version: 2.1.0}\nstatus:\n", "status is missing"),
    ("image: 2.1.0\nstatus: active\n", "image is not a mapping (found the scalar '2.1.0')"),
    ("image: {version: [2, 1]}\nstatus: active\n", "image.version is not a string (found a sequence)"),
    ("image: {version: 2.1.0}\nstatus: active\nmodules: [ModuleX, ModuleY]\n",
     "modules is not a mapping of module name to version (found a sequence)"),
    ("image: {version: 2.1.0}\nstatus: active\nmodules: {ModuleX: {v: 1}}\n",
     "modules: version of 'ModuleX' is not a string (found a mapping)"),
])
def test_unusable_files(tmp_path, text, problem):
    result = load(write(tmp_path / "images.yaml", text))
    assert result.state is None and not result.absent
    assert result.problem == problem


def test_not_utf8(tmp_path):
    path = tmp_path / "images.yaml"
    path.write_bytes(b"status: \xff\n")
    assert load(str(path)).problem == "not UTF-8 text (byte 8)"


# ------------------------------------------------------------------ backup of a corrupt file


def test_backup_corrupt_naming_and_no_overwrite(tmp_path):
    path = write(tmp_path / "images.yaml", "garbage one\n")
    first = backup_corrupt(path, now=T0)
    assert first == path + ".corrupt-20261122T060000Z"
    assert not os.path.exists(path)
    write(tmp_path / "images.yaml", "garbage two\n")
    second = backup_corrupt(path, now=T0)
    assert second == path + ".corrupt-20261122T060000Z.1"
    write(tmp_path / "images.yaml", "garbage three\n")
    assert backup_corrupt(path, now=T0) == path + ".corrupt-20261122T060000Z.2"
    with open(first, encoding="utf-8") as handle:
        assert handle.read() == "garbage one\n"
    with open(second, encoding="utf-8") as handle:
        assert handle.read() == "garbage two\n"
    assert sorted(os.listdir(str(tmp_path))) == [
        "images.yaml.corrupt-20261122T060000Z", "images.yaml.corrupt-20261122T060000Z.1", "images.yaml.corrupt-20261122T060000Z.2"]


def test_backup_corrupt_without_hard_links(tmp_path, monkeypatch):
    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = write(tmp_path / "images.yaml", "bad\n")
    write(tmp_path / "images.yaml.corrupt-20261122T060000Z", "older backup\n")
    assert backup_corrupt(path, now=T0) == path + ".corrupt-20261122T060000Z.1"
    with open(path + ".corrupt-20261122T060000Z", encoding="utf-8") as handle:
        assert handle.read() == "older backup\n"
    assert not os.path.exists(path)


def test_backup_corrupt_uses_the_current_time_by_default(tmp_path):
    path = write(tmp_path / "images.yaml", "bad\n")
    backup = backup_corrupt(path)
    stamp = backup[len(path + ".corrupt-"):]
    assert datetime.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")


def test_backup_corrupt_of_a_missing_file(tmp_path):
    path = str(tmp_path / "images.yaml")
    with pytest.raises(StateWriteError) as exc:
        backup_corrupt(path, now=T0)
    assert str(exc.value) == "cannot back up %s: No such file or directory [ENOENT]" % path


# ------------------------------------------------------------------ transitions


def test_new_node_to_building():
    state = NodeState(PATH)
    state.transition(BUILDING, "run-1", version="2.1.0", reason="install", now=T0)
    assert state.status == BUILDING
    assert state.image_version is None  # building records the target in history only
    assert (state.updated_at, state.started_at, state.run_id) == ("2026-11-22T06:00:00Z", "2026-11-22T06:00:00Z", "run-1")
    assert state.history == [
        {"at": "2026-11-22T06:00:00Z", "run_id": "run-1", "from": None, "to": BUILDING, "version": "2.1.0", "reason": "install"}]


def test_building_to_active_sets_the_version():
    state = state_in(BUILDING)
    state.transition(ACTIVE, "run-1", version="2.1.0", now=at(60))
    assert (state.status, state.image_version, state.started_at, state.last_error) == (ACTIVE, "2.1.0", None, None)
    assert state.updated_at == "2026-11-22T06:01:00Z"
    assert state.history[-1]["from"] == BUILDING


def test_building_to_failure_records_the_error():
    state = state_in(BUILDING)
    state.transition(FAILURE, "run-1", version="2.1.0", reason="deploy.sh failed", error="deploy.sh exited 2", now=at(60))
    assert (state.status, state.image_version, state.started_at, state.last_error) == (FAILURE, None, None, "deploy.sh exited 2")


def test_failure_without_an_error_uses_the_reason():
    state = state_in(BUILDING)
    state.transition(FAILURE, "run-1", reason="deploy.sh failed", now=at(60))
    assert state.last_error == "deploy.sh failed"


def test_active_to_maintain_keeps_the_version_until_active():
    state = state_in(ACTIVE)
    state.transition(MAINTAIN, "run-2", version="2.2.0", now=at(120))
    assert (state.status, state.image_version, state.started_at, state.run_id) == (MAINTAIN, "2.1.0", "2026-11-22T06:02:00Z", "run-2")
    assert state.history[-1]["version"] == "2.2.0"
    state.transition(ACTIVE, "run-2", version="2.2.0", now=at(180))
    assert (state.status, state.image_version, state.started_at) == (ACTIVE, "2.2.0", None)


def test_maintain_to_active_without_version_keeps_the_old_one():
    state = state_in(MAINTAIN)
    state.transition(ACTIVE, "run-2", reason="fetch failed before any change", now=at(180))
    assert (state.status, state.image_version) == (ACTIVE, "2.1.0")


def test_maintain_to_failure():
    state = state_in(FAILURE)
    assert (state.status, state.image_version, state.started_at) == (FAILURE, "2.1.0", None)
    assert state.last_error == "upgrade.sh of ModuleX exited 3"
    assert [(entry["from"], entry["to"]) for entry in state.history] == [
        (None, BUILDING), (BUILDING, ACTIVE), (ACTIVE, MAINTAIN), (MAINTAIN, FAILURE)]


def test_operator_reset_of_a_failed_node():
    state = state_in(FAILURE)
    state.reset("  fixed the disk  ", "op-1", now=at(300))
    assert (state.status, state.last_error, state.run_id, state.image_version) == (ACTIVE, None, "op-1", "2.1.0")
    assert state.history[-1] == {
        "at": "2026-11-22T06:05:00Z", "run_id": "op-1", "from": FAILURE, "to": ACTIVE, "version": "2.1.0", "reason": "fixed the disk"}


def test_operator_reset_can_declare_the_version():
    state = state_in(FAILURE)
    state.reset("upgraded by hand", "op-1", version="2.2.0", now=at(300))
    assert state.image_version == "2.2.0"


@pytest.mark.parametrize("status", [ACTIVE, FAILURE])
def test_operator_mark_maintain(status):
    state = state_in(status)
    state.mark_maintain("kernel patching", "op-2", now=at(400))
    assert (state.status, state.started_at, state.run_id) == (MAINTAIN, "2026-11-22T06:06:40Z", "op-2")
    assert state.history[-1]["reason"] == "kernel patching"


def test_every_allowed_pair_is_reachable():
    assert set(TRANSITIONS) == {
        (None, BUILDING), (BUILDING, ACTIVE), (BUILDING, FAILURE), (ACTIVE, MAINTAIN),
        (MAINTAIN, ACTIVE), (MAINTAIN, FAILURE), (FAILURE, ACTIVE), (FAILURE, MAINTAIN)}


@pytest.mark.parametrize("start, to, message", [
    (FAILURE, MAINTAIN, "cannot go from failure to maintain (allowed from failure: active by operator reset, maintain by operator mark_maintain)"),
    (FAILURE, ACTIVE, "cannot go from failure to active (allowed from failure: active by operator reset, maintain by operator mark_maintain)"),
    (ACTIVE, BUILDING, "cannot go from active to building (allowed from active: maintain (also by operator mark_maintain))"),
    (ACTIVE, ACTIVE, "cannot go from active to active (allowed from active: maintain (also by operator mark_maintain))"),
    (BUILDING, BUILDING, "cannot go from building to building (allowed from building: active, failure (also by operator mark_failed))"),
    (BUILDING, MAINTAIN, "cannot go from building to maintain (allowed from building: active, failure (also by operator mark_failed))"),
    (MAINTAIN, BUILDING, "cannot go from maintain to building (allowed from maintain: active, failure (also by operator mark_failed))"),
    (None, ACTIVE, "cannot go from new node to active (allowed from new node: building)"),
])
def test_refused_transitions(start, to, message):
    state = NodeState(PATH) if start is None else state_in(start)
    before = state.to_dict()
    with pytest.raises(TransitionError) as exc:
        state.transition(to, "run-9", now=at(900))
    assert str(exc.value) == "%s: %s" % (PATH, message)
    assert (exc.value.path, exc.value.current, exc.value.requested) == (PATH, start, to)
    assert isinstance(exc.value, FleetopsError)
    assert state.to_dict() == before


def test_unknown_target_status():
    with pytest.raises(ValueError):
        NodeState(PATH).transition("broken", "run-1")


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_reset_requires_a_reason(reason):
    state = state_in(FAILURE)
    with pytest.raises(TransitionError) as exc:
        state.reset(reason, "op-1")
    assert str(exc.value) == PATH + ": cannot go from failure to active (an operator reset needs a non-empty reason)"
    assert state.status == FAILURE


def test_mark_maintain_requires_a_reason():
    with pytest.raises(TransitionError) as exc:
        state_in(ACTIVE).mark_maintain("", "op-1")
    assert str(exc.value) == PATH + ": cannot go from active to maintain (an operator mark maintain needs a non-empty reason)"


def test_reset_only_from_failure():
    with pytest.raises(TransitionError) as exc:
        state_in(ACTIVE).reset("just because", "op-1")
    assert str(exc.value) == PATH + ": cannot go from active to active (an operator reset applies only to a node in failure)"


@pytest.mark.parametrize("status, message", [
    (MAINTAIN, "cannot go from maintain to maintain (allowed from maintain: active, failure (also by operator mark_failed))"),
    (BUILDING, "cannot go from building to maintain (allowed from building: active, failure (also by operator mark_failed))"),
])
def test_mark_maintain_refused(status, message):
    with pytest.raises(TransitionError) as exc:
        state_in(status).mark_maintain("kernel patching", "op-2")
    assert str(exc.value) == "%s: %s" % (PATH, message)


def test_history_keeps_the_last_twenty():
    state = state_in(ACTIVE)
    for index in range(30):
        state.transition(MAINTAIN, "run-%d" % index, version="3.%d.0" % index, now=at(1000 + 2 * index))
        state.transition(ACTIVE, "run-%d" % index, version="3.%d.0" % index, now=at(1001 + 2 * index))
    assert HISTORY_LIMIT == 20
    assert len(state.history) == 20
    assert state.history[-1]["run_id"] == "run-29" and state.history[-1]["to"] == ACTIVE
    assert state.history[0]["run_id"] == "run-20" and state.history[0]["to"] == MAINTAIN
    assert state.image_version == "3.29.0"


def test_loaded_history_is_bounded(tmp_path):
    entries = "".join("  - {at: 2026-11-22T06:00:00Z, run_id: r%d, from: active, to: maintain, version: null, reason: null}\n" % index
                      for index in range(25))
    state = load(write(tmp_path / "images.yaml", "status: active\nhistory:\n" + entries)).state
    assert [entry["run_id"] for entry in state.history] == ["r%d" % index for index in range(5, 25)]


def test_current_time_is_used_by_default():
    state = NodeState(PATH)
    state.transition(BUILDING, "run-1")
    assert state_mod.parse_time(state.updated_at) is not None


# ------------------------------------------------------------------ gate


def test_gate_new_node():
    decision = gate(None, "2.2.0", ["2.1.0"], 3600)
    assert (decision.action, decision.reason, decision.message) == (INSTALL, "new node", "no node state: install 2.2.0")
    assert gate(LoadResult(PATH), "2.2.0", [], 3600).action == INSTALL


def test_gate_up_to_date():
    decision = gate(state_in(ACTIVE, version="2.2.0"), "2.2.0", ["2.1.0", "2.2.0"], 3600)
    assert (decision.action, decision.reason, decision.message) == (SKIP, "up to date", PATH + ": already active on 2.2.0")


def test_gate_upgradable():
    decision = gate(state_in(ACTIVE), "2.2.0", ("2.0.0", "2.1.0"), 3600)
    assert (decision.action, decision.reason, decision.message) == (UPGRADE, "upgradable", PATH + ": upgrade from 2.1.0 to 2.2.0")


def test_gate_not_eligible():
    decision = gate(state_in(ACTIVE, version="1.9.0"), "2.2.0", ["2.0.0", "2.1.0"], 3600)
    assert (decision.action, decision.reason) == (SKIP, "not eligible")
    assert decision.message == PATH + ": active on 1.9.0, which is not in the upgradable set (2.0.0, 2.1.0) of 2.2.0"
    assert gate(state_in(ACTIVE), "2.2.0", [], 3600).message == PATH + ": active on 2.1.0, which is not in the upgradable set (empty) of 2.2.0"


def test_gate_failed_names_the_last_error():
    decision = gate(state_in(FAILURE), "2.2.0", ["2.1.0"], 3600)
    assert (decision.action, decision.reason) == (SKIP, "failed")
    assert decision.message == (PATH + ": node is in failure (run run-2 at 2026-11-22T06:03:00Z): upgrade.sh of ModuleX exited 3;"
                                " fix it, then reset it with the node_state module")


@pytest.mark.parametrize("status, since", [(BUILDING, "2026-11-22T06:00:00Z"), (MAINTAIN, "2026-11-22T06:02:00Z")])
def test_gate_in_progress_and_stale(status, since):
    state = state_in(status)
    start = state_mod.parse_time(since)
    fresh = gate(state, "2.2.0", ["2.1.0"], 3600, now=start + datetime.timedelta(seconds=3600))
    assert (fresh.action, fresh.reason) == (SKIP, "in progress")
    assert fresh.message == "%s: status %s since %s (run %s)" % (PATH, status, since, state.run_id)
    stale = gate(state, "2.2.0", ["2.1.0"], 3600, now=start + datetime.timedelta(seconds=3601))
    assert (stale.action, stale.reason) == (SKIP, "stale in progress")
    assert stale.message == ("%s: status %s since %s (run %s), 3601 s ago, longer than 3600 s: the run may have died; check the node"
                             % (PATH, status, since, state.run_id))


def test_gate_stale_falls_back_to_updated_at_then_to_unknown():
    state = state_in(BUILDING)
    state.started_at = None
    state.updated_at = "2026-11-22T05:00:00Z"
    assert gate(state, "2.2.0", [], 3600, now=T0).reason == "in progress"
    assert gate(state, "2.2.0", [], 3599, now=T0).reason == "stale in progress"
    state.updated_at = None
    decision = gate(state, "2.2.0", [], 3600, now=T0)
    assert (decision.action, decision.reason) == (SKIP, "stale in progress")
    assert decision.message == PATH + ": status building since an unknown time (run run-1); treating it as stale: check the node"


def test_gate_corrupt():
    decision = gate(LoadResult(PATH, problem="unknown status 'broken'"), "2.2.0", ["2.1.0"], 3600)
    assert (decision.action, decision.reason, decision.message) == (SKIP, "corrupt", PATH + ": unusable node state: unknown status 'broken'")


def test_gate_accepts_a_load_result_with_a_state(tmp_path):
    path = write(tmp_path / "images.yaml", "image: {version: 2.1.0}\nstatus: active\n")
    assert gate(load(path), "2.2.0", ["2.1.0"], 3600).action == UPGRADE


# ------------------------------------------------------------------ atomic write


def test_write_atomic_content_mode_and_no_temp(tmp_path):
    path = str(tmp_path / "images.yaml")
    write_atomic(path, "status: active\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    write_atomic(path, "status: maintain é\n", mode=0o600)
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == "status: maintain é\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert os.listdir(str(tmp_path)) == ["images.yaml"]


def test_write_atomic_syncs_file_and_directory(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync

    def recording_fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    write_atomic(str(tmp_path / "images.yaml"), "x\n")
    assert synced == [False, True]


def test_write_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    path = write(tmp_path / "images.yaml", "status: active\n")

    def no_space(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(StateWriteError) as exc:
        write_atomic(path, "status: maintain\n")
    assert str(exc.value) == "cannot write %s: No space left on device [ENOSPC]" % path
    assert isinstance(exc.value, FleetopsError)
    with open(path, encoding="utf-8") as handle:
        assert handle.read() == "status: active\n"
    assert os.listdir(str(tmp_path)) == ["images.yaml"]


def test_write_atomic_rename_failure_removes_the_temp(tmp_path):
    target = tmp_path / "images.yaml"
    target.mkdir()
    (target / "keep").write_text("x", encoding="utf-8")
    with pytest.raises(StateWriteError) as exc:
        write_atomic(str(target), "status: active\n")
    assert str(exc.value).startswith("cannot write %s: " % target)
    assert os.listdir(str(tmp_path)) == ["images.yaml"]


def test_write_atomic_into_a_missing_directory(tmp_path):
    path = str(tmp_path / "missing" / "images.yaml")
    with pytest.raises(StateWriteError) as exc:
        write_atomic(path, "x\n")
    assert str(exc.value) == "cannot write %s: cannot create a temporary file in %s: No such file or directory [ENOENT]" % (
        path, tmp_path / "missing")


def test_render_starts_with_the_header_and_parses_back():
    state = state_in(MAINTAIN)
    text = render(state)
    assert text.startswith(HEADER + "\nimage:\n  version: \"2.1.0\"\nstatus: maintain\n")
    assert loads(text, "x") == state.to_dict()


def test_render_refuses_a_state_without_status():
    with pytest.raises(ValueError):
        render(NodeState(PATH))


# ------------------------------------------------------------------ lock


def test_lock_refuses_a_second_holder_and_names_the_pid(tmp_path):
    path = str(tmp_path / "images.yaml")
    first = NodeLock(path)
    with first:
        assert first.held
        with open(path + ".lock", encoding="ascii") as handle:
            assert handle.read() == "%d\n" % os.getpid()
        second = NodeLock(path)
        with pytest.raises(LockedError) as exc:
            second.acquire()
        assert str(exc.value) == "another fleetops run holds %s.lock (pid %d)" % (path, os.getpid())
        assert (exc.value.lock_path, exc.value.pid) == (path + ".lock", os.getpid())
        assert not second.held
    assert not first.held
    with NodeLock(path) as again:
        assert again.held


def test_lock_without_a_pid_in_the_file(tmp_path):
    path = str(tmp_path / "images.yaml")
    with NodeLock(path):
        with open(path + ".lock", "w", encoding="ascii"):
            pass  # truncated, as if the holder had not written its pid yet
        with pytest.raises(LockedError) as exc:
            NodeLock(path).acquire()
    assert str(exc.value) == "another fleetops run holds %s.lock (pid unknown)" % path


def test_lock_in_a_missing_directory(tmp_path):
    with pytest.raises(FleetopsError) as exc:
        NodeLock(str(tmp_path / "missing" / "images.yaml")).acquire()
    assert str(exc.value).startswith("cannot open the lock file ")
