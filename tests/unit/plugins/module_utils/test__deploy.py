# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Deployer pieces that need no store: pruning, the corrupt-file policies, stuck nodes."""

from __future__ import annotations

import os

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._node.deploy import DIST_DEPLOY_ARGSPEC, Deployer, converge_steps, direction
from ansible_collections.fleetops.release.plugins.module_utils._node.state import NodeState, TransitionError, load, save

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


# -- converge: every module of the target DIST, not only its upgrade_list --------------------------------------------------

def step(module, version, action="deploy", required_by=("dist",)):
    return {"module": module, "version": version, "action": action, "required_by": list(required_by),
            "rel": {"key": "%s/%s/%s.tar.gz" % (module, version, module)}}


# DIST 1.1.0 lists Lib 1.0.0 (a dependency of Core) and Core 1.1.0; its upgrade_list only Core.
BACK = {"dist": {"name": "D", "version": "1.1.0"},
        "install": [step("Lib", "1.0.0", required_by=["dist", "Core@1.1.0"]), step("Core", "1.1.0")],
        "upgrade": [step("Lib", "1.0.0", required_by=["Core@1.1.0"]), step("Core", "1.1.0", "upgrade")]}
BACK_UPGRADE_ONLY_CORE = dict(BACK, upgrade=[step("Core", "1.1.0", "upgrade")])


def node_on(tmp_path, version, modules, dirs=True):
    node = NodeState(str(tmp_path / "images.yaml"))
    node.transition("building", "run-1", version=version)
    node.modules.update(modules)
    node.transition("active", "run-1", version=version)
    save(str(tmp_path / "images.yaml"), node)
    if dirs:
        for module, module_version in modules.items():
            os.makedirs(tmp_path / "modules" / module / module_version, exist_ok=True)
    return load(str(tmp_path / "images.yaml")).state


def test_converge_walks_the_install_section_for_the_usual_dist():
    assert [(s["module"], s["version"]) for s in converge_steps(BACK)] == [("Lib", "1.0.0"), ("Core", "1.1.0")]


def test_converge_takes_a_newer_upgrade_list_version_after_its_dependencies_and_adds_upgrade_only_modules():
    plan = {"dist": {"name": "D", "version": "2.0.0"},
            "install": [step("A", "1.0.0"), step("Core", "1.0.0"), step("B", "1.0.0")],
            "upgrade": [step("Dep", "1.0.0", required_by=["Core@2.0.0"]), step("Core", "2.0.0", "upgrade"),
                        step("Extra", "1.0.0", "upgrade")]}
    assert [(s["module"], s["version"]) for s in converge_steps(plan)] == [
        ("A", "1.0.0"), ("Dep", "1.0.0"), ("Core", "2.0.0"), ("B", "1.0.0"), ("Extra", "1.0.0")]


@pytest.mark.parametrize("converge", [False, True])
def test_converge_brings_every_listed_module_to_the_target_and_leaves_unlisted_ones_alone(tmp_path, converge):
    # The node is on 1.2.0, which changed Lib (outside 1.1.0's upgrade_list) and Core, and has Old from an older release.
    node_on(tmp_path, "1.2.0", {"Lib": "1.1.0", "Core": "1.2.0", "Old": "1.0.0"})
    params = dict(deployer(tmp_path).p, plan=BACK_UPGRADE_ONLY_CORE, upgradable=["1.2.0"], converge=converge)
    result = Deployer(params, check_mode=True).run()
    assert (result["action"], result["direction"], result["node_status_after"]) == ("upgrade", "back", "active")
    if converge:
        assert result["plan_diff"] == [
            dict(module="Lib", version="1.0.0", from_version="1.1.0", action="upgrade"),
            dict(module="Core", version="1.1.0", from_version="1.2.0", action="upgrade")]
        assert result["diff"]["after"]["modules"] == {"Lib": "1.0.0", "Core": "1.1.0", "Old": "1.0.0"}
        assert result["left_alone"] == ["Old"]
    else:
        assert result["plan_diff"] == [dict(module="Core", version="1.1.0", from_version="1.2.0", action="upgrade")]
        assert result["diff"]["after"]["modules"] == {"Lib": "1.1.0", "Core": "1.1.0", "Old": "1.0.0"}
        assert "left_alone" not in result
    assert load(str(tmp_path / "images.yaml")).state.image_version == "1.2.0"


def test_converge_step_actions_follow_what_the_node_has(tmp_path):
    state = node_on(tmp_path, "1.2.0", {"Core": "1.1.0", "Lib": "1.0.0"}, dirs=False)
    os.makedirs(tmp_path / "modules" / "Core" / "1.1.0")
    plan = dict(BACK, install=BACK["install"] + [step("New", "1.0.0"), step("Dev", "developer")])
    state.modules["Dev"] = "developer"
    os.makedirs(tmp_path / "modules" / "Dev" / "developer")
    todo = deployer(tmp_path, plan=plan, converge=True).steps_for(state, "upgrade")
    assert [(i["module"], i["action"], i["from_version"]) for i in todo] == [
        ("Lib", "upgrade", "1.0.0"),   # recorded at this version, but its directory is gone
        ("Core", "unchanged", "1.1.0"),
        ("New", "deploy", None),
        ("Dev", "upgrade", "developer"),  # a developer build is applied again
    ]


def test_converge_runs_the_target_scripts_with_the_version_left(tmp_path):
    node_on(tmp_path, "1.2.0", {"Lib": "1.1.0", "Core": "1.2.0", "Old": "1.0.0"})
    deploy = deployer(tmp_path, plan=BACK_UPGRADE_ONLY_CORE, upgradable=["1.2.0"], converge=True)
    calls = tmp_path / "calls.log"

    def prepare(todo):  # stands in for fetch and extract: each module version gets a script that records its call
        for item in todo:
            if item["action"] == "unchanged":
                continue
            item.update(dir=deploy._module_dir(item["module"], item["version"]), src_dirs=[])
            os.makedirs(item["dir"], exist_ok=True)
            for name in ("deploy.sh", "upgrade.sh"):
                with open(os.path.join(item["dir"], name), "w", encoding="utf-8") as handle:
                    handle.write('echo "$FLEETOPS_MODULE $FLEETOPS_VERSION %s $FLEETOPS_ACTION $FLEETOPS_PREVIOUS_VERSION '
                                 '$FLEETOPS_DIRECTION" >> %s\n' % (name, calls))
        return 0

    deploy.prepare = prepare
    result = deploy.run()
    assert not result.get("failed"), result
    assert calls.read_text().splitlines() == ["Lib 1.0.0 upgrade.sh upgrade 1.1.0 back", "Core 1.1.0 upgrade.sh upgrade 1.2.0 back"]
    after = load(str(tmp_path / "images.yaml")).state
    assert (after.status, after.image_version, after.modules) == ("active", "1.1.0", {"Lib": "1.0.0", "Core": "1.1.0", "Old": "1.0.0"})
    assert result["left_alone"] == ["Old"]


def test_converge_does_not_change_an_install(tmp_path):
    result = Deployer(dict(deployer(tmp_path).p, plan=BACK, converge=True), check_mode=True).run()
    assert result["action"] == "install"
    assert [(s["module"], s["action"]) for s in result["plan_diff"]] == [("Lib", "deploy"), ("Core", "deploy")]
    assert result["left_alone"] == []
