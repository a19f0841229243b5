# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's side of pull mode against a real moto server, with real agents (one directory each) as the fleet."""

from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._node.state import NodeState, load, save
from ansible_collections.fleetops.release.plugins.module_utils._pull import rollout
from ansible_collections.fleetops.release.plugins.module_utils._pull.agent import Agent, check_config
from ansible_collections.fleetops.release.plugins.module_utils._pull.rollout import Channel, Follow, PullError
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store

KEYS = dict(access_key="testing", secret_key="testing", region="us-east-1")


class Fleet:
    def __init__(self, endpoint, tmp_path, size):
        self.store = open_store(dict(KEYS, endpoint_url=endpoint, retries=0, connect_timeout=2.0, read_timeout=5.0))
        self.bucket = "f" + hashlib.sha256(str(tmp_path).encode()).hexdigest()[:16]
        self.store_boto = __import__("boto3").client("s3", endpoint_url=endpoint, aws_access_key_id="testing",
                                                     aws_secret_access_key="testing", region_name="us-east-1")
        self.store_boto.create_bucket(Bucket=self.bucket)
        self.names = ["n%02d" % i for i in range(1, size + 1)]
        self.root = tmp_path
        self.agents = {}
        for name in self.names:
            base = tmp_path / name
            config = check_config(dict(project="shop", environment="online", node=name, tags=["canary"] if name == "n01" else [],
                                       bucket=self.bucket,
                                       paths=dict(state_file=str(base / "images.yaml"), cache_dir=str(base / "cache"),
                                                  modules_dir=str(base / "modules"), log_dir=str(base / "logs"),
                                                  agent_state=str(base / "agent.json"), desired_cache=str(base / "desired.json"))),
                                  name)
            self.agents[name] = Agent(config, lambda: self.store)
        self.channel = Channel(self.store, self.bucket, None, "shop", "online")

    def plan(self, version):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for script in ("deploy.sh", "upgrade.sh"):
                text = b"#!/bin/sh\nexit 0\n"
                info = tarfile.TarInfo(script)
                info.size, info.mode = len(text), 0o755
                tar.addfile(info, io.BytesIO(text))
        key = "Web/%s/Web.tar.gz" % version
        self.store_boto.put_object(Bucket=self.bucket, Key=key, Body=raw.getvalue())
        rel = dict(bucket=self.bucket, key=key, sha256=hashlib.sha256(raw.getvalue()).hexdigest(), size=len(raw.getvalue()))
        step = dict(module="Web", version=version, action="deploy", required_by=["dist"], rel=rel, src=[])
        return dict(dist=dict(name="Dist", version=version), install=[step], upgrade=[dict(step, action="upgrade")],
                    modules={"Web": version})

    def tick(self, who=None):
        return {name: self.agents[name].poll() for name in (who or self.names)}

    def nodes(self):
        return {name: (["canary"] if name == "n01" else []) for name in self.names}

    def version(self, name):
        state = load(str(self.root / name / "images.yaml")).state
        return state.image_version if state else None


def release(fleet, version, waves, budget=0, silent=(), upgradable=()):
    """What the controller's rollout does, wave by wave; returns the verdicts and the lines a person sees."""
    plan = fleet.plan(version)
    lines, verdicts = [], []
    for number, wave in enumerate(rollout.parse_waves(waves), 1):
        spec = dict(number=number, of=len(waves), name=wave["name"], selector=wave["selector"])
        document = fleet.channel.write("rel-%s" % version, version, plan, spec, upgradable=upgradable)
        follow = Follow(fleet.store, fleet.bucket, None, document, fleet.nodes())
        fleet.tick([n for n in fleet.names if n not in silent])
        progress = follow.poll()
        lines.append(rollout.line("wave %d/%d (%s)" % (number, len(waves), wave["name"]), progress))
        verdict, why = rollout.gate(progress, rollout.failure_budget(budget, progress["selected"]), finished=True)
        verdicts.append((verdict, why, progress))
        if verdict == "stop":
            fleet.channel.write("rel-%s" % version, version, plan, None, converge=False, reason="wave %d: %s" % (number, why))
            fleet.tick([n for n in fleet.names if n not in silent])
            break
    return verdicts, lines


def test_a_release_converges_wave_by_wave_and_idle_nodes_cost_one_request(moto_endpoint, tmp_path, no_aws_env):
    fleet = Fleet(moto_endpoint, tmp_path, 12)
    verdicts, lines = release(fleet, "1.0.0", [{"tags": ["canary"]}, "50%", "100%"])
    assert [v[0] for v in verdicts] == ["go", "go", "go"], verdicts
    assert lines[0] == "wave 1/3 (wave 1): 1/1 done"
    assert verdicts[-1][2]["selected"] == 12 and len(verdicts[-1][2]["done"]) == 12
    assert all(fleet.version(n) == "1.0.0" for n in fleet.names)
    idle = fleet.tick()
    assert {p["action"] for p in idle.values()} == {"idle"} and sum(p["requests"] for p in idle.values()) == 12
    assert verdicts[-1][2]["lists"] == 1  # one LIST per poll


def test_a_failing_node_stops_the_rollout_and_the_rest_hold(moto_endpoint, tmp_path, no_aws_env):
    fleet = Fleet(moto_endpoint, tmp_path, 12)
    release(fleet, "1.0.0", ["100%"])
    broken = NodeState(str(tmp_path / "n05" / "images.yaml"))
    broken.transition("building", "r0", version="1.0.0")
    broken.transition("failure", "r0", version="1.0.0", error="disk full")
    save(str(tmp_path / "n05" / "images.yaml"), broken)
    verdicts, lines = release(fleet, "1.1.0", [{"hosts": ["n01"]}, {"hosts": ["n05", "n06"]}, "100%"], upgradable=["1.0.0"])
    assert [v[0] for v in verdicts] == ["go", "stop"], verdicts
    why, progress = verdicts[1][1], verdicts[1][2]
    assert progress["failed"] == ["n05"] and "1 failed, more than the 0 allowed (n05)" in why
    assert "disk full" in progress["errors"]["n05"]["error"] and progress["errors"]["n05"]["stage"] == "node"
    assert lines[1] == "wave 2/3 (wave 2): 1/2 done, 1 failed"
    assert fleet.version("n01") == fleet.version("n06") == "1.1.0"
    assert {fleet.version(n) for n in fleet.names if n not in ("n01", "n05", "n06")} == {"1.0.0"}  # held, never upgraded
    held = Follow(fleet.store, fleet.bucket, None, fleet.channel.current, fleet.nodes()).poll()
    assert held["seen"] == 12 and held["selected"] == 0


def test_a_node_that_never_answers_is_named_and_counts_against_the_budget(moto_endpoint, tmp_path, no_aws_env):
    fleet = Fleet(moto_endpoint, tmp_path, 6)
    verdicts, _lines = release(fleet, "1.0.0", ["100%"], budget=0, silent=("n03",))
    verdict, why, progress = verdicts[0]
    assert verdict == "stop" and progress["pending"] == ["n03"] and progress["silent"] == ["n03"]
    assert "0 failed and 1 never answered, more than the 0 allowed (n03)" in why
    # With a budget of one, the same silence is let through and said so.
    assert rollout.gate(progress, 1, finished=True) == ("go", "1 never answered (not counted)")
    assert rollout.gate(progress, 0, finished=False)[0] == "wait"


def test_an_offline_node_catches_up_to_the_current_generation_only(moto_endpoint, tmp_path, no_aws_env):
    fleet = Fleet(moto_endpoint, tmp_path, 4)
    release(fleet, "1.0.0", ["100%"], silent=("n04",), budget=1)
    release(fleet, "1.1.0", ["100%"], silent=("n04",), budget=1, upgradable=["1.0.0"])
    assert fleet.version("n04") is None
    back = fleet.agents["n04"].poll()
    assert back["status"]["result"] == "applied" and back["generation"] == fleet.channel.current["generation"]
    assert fleet.version("n04") == "1.1.0"  # straight to the current version, 1.0.0 never ran there


def test_a_second_writer_is_refused_naming_the_object(moto_endpoint, tmp_path, no_aws_env):
    fleet = Fleet(moto_endpoint, tmp_path, 1)
    plan = fleet.plan("1.0.0")
    fleet.channel.write("rel-a", "1.0.0", plan, dict(number=1, selector=dict(percent=100)))
    other = Channel(fleet.store, fleet.bucket, None, "shop", "online")
    other.read()
    other.write("rel-b", "1.0.0", plan, dict(number=1, selector=dict(percent=100)))
    with pytest.raises(PullError, match=r"desired\.json changed since it was read \(now generation 2"):
        fleet.channel.write("rel-a", "1.0.0", plan, dict(number=2, selector=dict(percent=100)))


@pytest.mark.parametrize("waves, words", [
    (["10%", "5%"], "waves only grow"), (["0%"], "above 0"), (["ten"], "a percentage such as 10%"),
    ([{"hosts": ["a"], "group": "x"}], "unknown key group"), ([{}], "selects no node"),
])
def test_bad_waves_are_refused_naming_the_wave(waves, words):
    with pytest.raises(PullError, match=words):
        rollout.parse_waves(waves)


def test_the_failure_budget_is_a_count_or_a_share_of_the_wave():
    assert rollout.failure_budget(2, 100) == 2
    assert rollout.failure_budget("5%", 100) == 5 and rollout.failure_budget("5%", 10) == 0
    assert rollout.failure_budget("0%", 10) == 0 and rollout.failure_budget(None, 10) == 0
    with pytest.raises(PullError, match="max_failures"):
        rollout.failure_budget("some", 10)
    assert [w["name"] for w in rollout.parse_waves(None)] == ["1%", "10%", "50%", "100%"]


# -- the pull_release module's call ------------------------------------------------------------------------------------

@pytest.fixture
def module_world(moto_endpoint, tmp_path, no_aws_env, monkeypatch):
    fleet = Fleet(moto_endpoint, tmp_path, 8)
    clock = [0.0]

    def sleep(seconds):
        # While the controller waits, the fleet's timers fire: every node polls once per interval.
        clock[0] += seconds
        fleet.tick()

    monkeypatch.setattr(rollout, "_sleep", sleep)
    monkeypatch.setattr(rollout, "_monotonic", lambda: clock[0])
    params = {name: spec.get("default") for name, spec in rollout.PULL_RELEASE.argument_spec.items()}
    params.update(KEYS, endpoint_url=moto_endpoint, retries=0, bucket=fleet.bucket, project="shop", environment="online",
                  release_id="rel-9", nodes=fleet.nodes(), poll_interval=5.0, wait=60)
    return fleet, params


def test_the_module_writes_a_wave_and_follows_it_to_convergence_printing_progress(module_world):
    fleet, params = module_world
    printed = []
    result = rollout._module_call(dict(params, plan=fleet.plan("1.0.0"), wave="100%", wave_number=1, waves_total=1), False,
                                  printed.append)
    assert result["verdict"] == "go" and result["why"] == "converged" and result["generation"] == 1, result
    assert printed[0] == "wave 1/1 (100%): 0/8 done, 8 pending" and printed[-1] == "wave 1/1 (100%): 8/8 done"
    assert result["lines"] == printed and result["lists"] == 2
    assert all(fleet.version(n) == "1.0.0" for n in fleet.names)
    query = rollout._module_call(dict(params, state="query"), False)
    assert query["changed"] is False and query["desired"]["generation"] == 1 and len(query["progress"]["done"]) == 8


def test_the_module_in_check_mode_writes_nothing(module_world):
    fleet, params = module_world
    result = rollout._module_call(dict(params, plan=fleet.plan("1.0.0"), wave="100%"), True)
    assert result["changed"] is True and result["generation"] == 1 and result["verdict"] == "check mode"
    assert fleet.channel.read() is None


def test_the_module_stops_the_fleet_and_names_a_silent_canary(module_world, monkeypatch):
    fleet, params = module_world
    real_tick = fleet.tick
    monkeypatch.setattr(fleet, "tick", lambda who=None: real_tick([n for n in fleet.names if n != "n01"]))
    result = rollout._module_call(dict(params, plan=fleet.plan("1.0.0"), wave={"name": "canary", "tags": ["canary"]}, wait=30), False)
    assert result["verdict"] == "stop" and "0 failed and 1 never answered, more than the 0 allowed (n01)" in result["why"]
    stop = rollout._module_call(dict(params, state="stopped", reason="canary n01 silent"), False)
    assert stop["desired"]["converge"] is False and stop["generation"] == 2
    fleet.tick()
    assert {fleet.agents[n].poll()["action"] for n in fleet.names if n != "n01"} == {"idle"}
    assert all(fleet.version(n) is None for n in fleet.names)


@pytest.mark.parametrize("change, words", [
    (dict(max_failures="many"), "max_failures"), (dict(wave="0%"), "above 0"), (dict(nodes={"a/b": []}), "nodes: 'a/b'"),
    (dict(plan={"install": []}), "needs dist.version"),
])
def test_bad_module_options_fail_before_anything_is_written(module_world, change, words):
    fleet, params = module_world
    options = dict(params, plan=fleet.plan("1.0.0"), wave="100%")
    options.update(change)
    result = rollout._module_call(options, False)
    assert result["failed"] is True and words in result["msg"]
    assert fleet.channel.read() is None


def test_a_desired_state_the_nodes_refuse_is_replaced_by_the_next_write(module_world):
    fleet, params = module_world
    fleet.store_boto.put_object(Bucket=fleet.bucket, Key=fleet.channel.key,
                                Body=b'{"kind": "fleetops.release/desired-state", "schema": 9, "generation": 41}')
    fleet.tick()
    result = rollout._module_call(dict(params, state="stopped", reason="replace the broken object"), False)
    assert result["generation"] == 42 and "schema 9 was written by a newer fleetops.release" in result["warnings"][0]
    assert "writes generation 42 over it" in result["warnings"][0]
    assert fleet.channel.read()["generation"] == 42
    answers = {name: agent.poll()["status"]["result"] for name, agent in fleet.agents.items()}
    assert set(answers.values()) == {"held"}
