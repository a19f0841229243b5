# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deployer pieces that need no store: pruning, the corrupt-file policies, stuck nodes."""

from __future__ import annotations

import os

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._deploy import DIST_DEPLOY_ARGSPEC, Deployer, direction
from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._state import NodeState, TransitionError, load, save

PLAN = {"dist": {"name": "D", "version": "2.0.0"}, "install": [], "upgrade": []}


def deployer(tmp_path, **overrides):
    params = {name: spec.get("default") for name, spec in DIST_DEPLOY_ARGSPEC.items()}
    params.update(plan=PLAN, state_file=str(tmp_path / "images.yaml"), cache_dir=str(tmp_path / "cache"),
                  modules_dir=str(tmp_path / "modules"), log_dir=str(tmp_path / "logs"))
    params.update(overrides)
    return Deployer(params)


def test_prune_keeps_the_installed_version_even_when_it_is_the_oldest(tmp_path):
    for version in ("1.0.0", "1.1.0", "1.2.0", "2.0.0"):
        os.makedirs(tmp_path / "modules" / "M" / version)
    removed = deployer(tmp_path, keep_versions=2).prune(["M"], {"M": "1.0.0"})
    assert sorted(os.listdir(tmp_path / "modules" / "M")) == ["1.0.0", "2.0.0"]
    assert sorted(os.path.basename(p) for p in removed) == ["1.1.0", "1.2.0"]


def test_prune_keeps_the_newest_when_the_installed_one_is_among_them(tmp_path):
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        os.makedirs(tmp_path / "modules" / "M" / version)
    deployer(tmp_path, keep_versions=2).prune(["M"], {"M": "1.2.0"})
    assert sorted(os.listdir(tmp_path / "modules" / "M")) == ["1.1.0", "1.2.0"]


def test_corrupt_policy_fail_keeps_failing_and_keeps_one_copy(tmp_path):
    state = tmp_path / "images.yaml"
    state.write_text("status: broken\n")
    for attempt in range(2):
        with pytest.raises(FleetopsError) as exc:
            deployer(tmp_path).run()
        assert "unknown status 'broken'" in str(exc.value), attempt
        assert "a copy is kept as %s.corrupt-" % state in str(exc.value)
        assert state.read_text() == "status: broken\n"
    assert len([n for n in os.listdir(tmp_path) if n.startswith("images.yaml.corrupt-")]) == 1


def test_a_node_left_in_building_can_be_declared_failed_then_reset(tmp_path):
    path = str(tmp_path / "images.yaml")
    node = NodeState(path)
    node.transition("building", "run-1", version="1.0.0")
    save(path, node)
    stuck = load(path).state
    with pytest.raises(TransitionError):
        stuck.reset("fixed by hand", "op-1")
    stuck.mark_failed("run run-1 was killed", "op-1")
    assert (stuck.status, stuck.last_error) == ("failure", "run run-1 was killed")
    stuck.reset("reinstalled by hand", "op-1", version="1.0.0")
    assert (stuck.status, stuck.image_version) == ("active", "1.0.0")


@pytest.mark.parametrize("target, previous, expected", [
    ("1.1.0", None, "forward"),
    ("1.1.0", "", "forward"),
    ("1.1.0", "1.0.0", "forward"),
    ("1.0.0", "1.1.0", "back"),
    ("1.10.0", "1.9.0", "forward"),
    ("1.9.0", "1.10.0", "back"),
    ("1.2.0-rc1", "1.2.0", "back"),
    ("1.2.0", "1.2.0-rc1", "forward"),
    ("1.2", "1.2.0", "same"),
    ("v1.2.0", "1.2.0", "same"),
    ("1.2.0+build7", "1.2.0", "same"),
    ("1.1.0", "1.1.0", "same"),
    ("developer", "developer", "same"),
    ("developer", "1.1.0", "forward"),
    ("1.1.0", "developer", "forward"),
    ("latest", "1.0.0", "back"),
])
def test_direction_follows_the_release_tag_order(target, previous, expected):
    assert direction(target, previous) == expected


def test_the_direction_is_in_the_script_environment(tmp_path):
    deploy = deployer(tmp_path)
    deploy.direction = "back"
    item = dict(module="M", version="1.0.0", from_version="1.1.0", dir=str(tmp_path / "M"), src_dirs=[])
    env = deploy._env(item, "upgrade")
    assert (env["FLEETOPS_DIRECTION"], env["FLEETOPS_ACTION"], env["FLEETOPS_PREVIOUS_VERSION"]) == ("back", "upgrade", "1.1.0")


@pytest.mark.parametrize("on, expected", [(None, "forward"), ("2.0.0", "same"), ("2.1.0", "back"), ("1.0.0", "forward")])
def test_the_result_carries_the_direction_also_when_the_node_is_skipped(tmp_path, on, expected):
    if on is not None:
        node = NodeState(str(tmp_path / "images.yaml"))
        node.transition("building", "run-1", version=on)
        node.transition("active", "run-1", version=on)
        save(str(tmp_path / "images.yaml"), node)
    result = deployer(tmp_path).run()
    assert result["direction"] == expected
