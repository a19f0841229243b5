# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pull mode's documents and the node agent, the agent against a real moto server on loopback."""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import time

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._node.state import NodeState, load, save
from ansible_collections.fleetops.release.plugins.module_utils._pull import documents as docs
from ansible_collections.fleetops.release.plugins.module_utils._pull.agent import FETCH_RETRIES, Agent, ConfigError, check_config
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store

KEYS = dict(access_key="testing", secret_key="testing", region="us-east-1")
BUCKET = "pull-releases"


# -- documents ---------------------------------------------------------------------------------------------------------

def plan_for(version, modules=(("Web", None),), bucket=BUCKET):
    install = []
    for module, rel in modules:
        install.append(dict(module=module, version=version, action="deploy", required_by=["dist"],
                            rel=rel or dict(bucket=bucket, key="%s/%s/%s.tar.gz" % (module, version, module)), src=[]))
    return dict(dist=dict(name="Dist", version=version), install=install, upgrade=[], modules={m: version for m, _rel in modules})


def desired(generation=1, version="1.0.0", selector=None, converge=True, plan=None, **extra):
    wave = dict(number=1, of=1, name="all", selector=selector or dict(percent=100))
    doc = docs.desired_document("shop", "online", generation, "rel-1", version, plan or plan_for(version), wave, converge=converge,
                                written_at="2026-12-07T00:00:00Z", written_by="ci")
    doc.update(extra)
    return doc


def test_a_desired_state_survives_its_own_check():
    doc = desired()
    assert docs.check_desired(docs.render(doc), "s3://b/k", "shop", "online")["generation"] == 1
    assert docs.render(doc) == docs.render(json.loads(docs.render(doc)))  # byte-for-byte stable


@pytest.mark.parametrize("change, key, words", [
    (dict(project="other"), "project", "for project 'other', not 'shop'"),
    (dict(environment="beta"), "environment", "not 'online'"),
    (dict(kind="something/else"), "kind", "expected 'fleetops.release/desired-state'"),
    (dict(schema=2), "schema", "newer fleetops.release"),
    (dict(generation=0), "generation", "expected 1 or more"),
    (dict(generation=True), "generation", "a whole number"),
    (dict(converge="yes"), "converge", "true or false"),
    (dict(colour="blue"), None, "unknown key colour"),
    (dict(dist_version="2.0.0"), "plan", "the plan is for DIST version '1.0.0'"),
    (dict(plan={"dist": {}}), "plan", "needs dist and install"),
    (dict(deploy={"keep_versions": "3"}), "deploy.keep_versions", "expected int"),
    (dict(deploy={"rm_rf": True}), "deploy", "unknown option 'rm_rf'"),
    (dict(upgradable="1.0.0"), "upgradable", "a list of names"),
    (dict(plan=plan_for("1.0.0", [("Web", dict(key="Web/1.0.0/Web.tar.gz", url="https://x/?X-Amz-Signature=s"))])),
     "plan.install[0].rel", "holds no presigned URL"),
    (dict(plan=dict(plan_for("1.0.0"), install=["Web"])), "plan.install[0]", "expected a step"),
    (dict(plan=dict(plan_for("1.0.0"), upgrade={})), "plan.upgrade", "a list of steps"),
    (dict(plan=plan_for("1.0.0", [("../../etc", None)])), "plan.install[0].module", "expected 1 to 128"),
    (dict(plan=dict(plan_for("1.0.0"), install=[dict(plan_for("1.0.0")["install"][0], src=5)])), "plan.install[0].src",
     "a list of artifacts"),
    (dict(plan=dict(plan_for("1.0.0"), install=[dict(plan_for("1.0.0")["install"][0], rel=None)])), "plan.install[0].rel",
     "an artifact with a key"),
    (dict(deploy={"corrupt_policy": "Fail"}), "deploy.corrupt_policy", "expected one of fail, rebuild"),
    (dict(deploy={"script_timeout": 0}), "deploy.script_timeout", "expected 1 or more"),
])
def test_a_bad_or_foreign_desired_state_is_refused_naming_the_object_and_key(change, key, words):
    doc = desired()
    doc.update(change)
    with pytest.raises(docs.DocumentError) as caught:
        docs.check_desired(docs.render(doc), "s3://b/.fleetops/pull/shop/online/desired.json", "shop", "online")
    assert caught.value.key == key
    assert words in str(caught.value)
    assert str(caught.value).startswith("s3://b/.fleetops/pull/shop/online/desired.json: ")


@pytest.mark.parametrize("selector, words", [
    ({}, "selects no node"),
    ({"percent": 101}, "from 0 to 100"),
    ({"percent": "10"}, "from 0 to 100"),
    ({"hosts": "web01"}, "a list of names"),
    ({"hosts": ["web01"], "groups": ["x"]}, "unknown key groups"),
])
def test_a_bad_wave_selector_is_refused(selector, words):
    doc = desired()
    doc["wave"]["selector"] = selector
    with pytest.raises(docs.DocumentError, match=words):
        docs.check_desired(docs.render(doc), "w")


@pytest.mark.parametrize("body, words", [(b"{", "not JSON"), (b"[1]", "not a JSON object"), (b"[" * 100000 + b"]" * 100000, "not JSON"),
                                         (b" " * (docs.MAX_DESIRED_BYTES + 1), "more than the")])
def test_a_desired_state_that_is_not_a_document_is_refused(body, words):
    with pytest.raises(docs.DocumentError, match=words):
        docs.check_desired(body, "w")


def test_waves_by_percentage_grow_cumulatively_and_close_to_their_share():
    nodes = ["node%05d" % i for i in range(10000)]
    chosen = {p: {n for n in nodes if docs.selected({"percent": p}, "rel-1", n)} for p in (1, 10, 50, 100)}
    assert chosen[1] <= chosen[10] <= chosen[50] <= chosen[100] == set(nodes)
    for percent, expected in ((1, 100), (10, 1000), (50, 5000)):
        assert abs(len(chosen[percent]) - expected) < expected * 0.2 + 20
    other_seed = {n for n in nodes if docs.selected({"percent": 10}, "rel-2", n)}
    assert other_seed != chosen[10]  # each release picks its own canaries


def test_named_hosts_and_tags_select_whatever_the_percentage():
    assert docs.selected({"hosts": ["web01"], "percent": 0}, "s", "web01")
    assert docs.selected({"tags": ["canary"]}, "s", "web02", ["eu", "canary"])
    assert not docs.selected({"tags": ["canary"], "hosts": ["web01"]}, "s", "web02", ["eu"])


def test_a_status_counts_only_where_its_node_would_write_it():
    folder = docs.generation_prefix(None, "shop", "online", 3)
    key = docs.status_key(None, "shop", "online", "web01.eu", 3, "applied")
    assert key == ".fleetops/pull/shop/online/status/g3/web01.eu.applied.json"
    good = docs.status_document("web01.eu", "shop", "online", "applied", generation=3, version="1.0.0", modules={"Web": "1.0.0"})
    assert docs.check_status(docs.render(good), key, folder, "shop", "online", 3)["result"] == "applied"
    for stored, words in ((folder + "web02.applied.json", "says node 'web01.eu' but is stored as 'web02'"),
                          (folder + "web01.eu.failed.json", "says result 'applied' but is stored as 'failed'"),
                          (folder + "x/web01.eu.applied.json", "not a status object"),
                          (folder + "web01.eu.great.json", "not a status object")):
        with pytest.raises(docs.DocumentError, match=re.escape(words)):
            docs.check_status(docs.render(good), stored, folder, "shop", "online", 3)
    with pytest.raises(docs.DocumentError, match="says generation 3 but is stored as 2"):
        docs.check_status(docs.render(good), docs.status_key(None, "shop", "online", "web01.eu", 2, "applied"),
                          docs.generation_prefix(None, "shop", "online", 2), "shop", "online", 2)
    with pytest.raises(docs.DocumentError, match="environment: expected 'online'"):
        docs.check_status(docs.render(dict(good, environment="beta")), key, folder, "shop", "online", 3)
    assert len(docs.status_document("w", "shop", "online", "failed", error="x" * 10000)["error"]) == docs.MAX_TEXT


def test_one_listing_tells_who_answered_how_the_newer_answer_counting():
    folder = docs.generation_prefix(None, "shop", "online", 7)
    at = datetime.datetime(2026, 12, 7, tzinfo=datetime.UTC)
    later = at + datetime.timedelta(seconds=60)
    listing = [dict(Key=folder + "web01.failed.json", LastModified=at, Size=900),
               dict(Key=folder + "web01.applied.json", LastModified=later, Size=900),
               dict(Key=folder + "web02.in_progress.json", LastModified=at, Size=900),
               dict(Key=folder + "web02.up_to_date.json", LastModified=at, Size=900),   # same second: the more final one
               dict(Key=folder + "web03.not_selected.json", LastModified=at, Size=900),
               dict(Key=folder + "notes.txt", LastModified=at, Size=9),
               dict(Key=folder + "web04.applied.json", LastModified=at, Size=docs.MAX_STATUS_BYTES + 1)]
    answers, strays = docs.tally(listing, folder)
    assert {node: a["result"] for node, a in answers.items()} == {"web01": "applied", "web02": "up_to_date", "web03": "not_selected"}
    assert strays == [folder + "notes.txt", folder + "web04.applied.json"]


def test_the_layout_refuses_names_that_would_leave_their_folder():
    assert docs.desired_key(None, "shop", "online") == ".fleetops/pull/shop/online/desired.json"
    assert docs.status_key("p/", "shop", "online", "web01", 1, "held") == "p/shop/online/status/g1/web01.held.json"
    with pytest.raises(Exception, match=r"node name '\.\./x'"):
        docs.status_key(None, "shop", "online", "../x", 1, "held")
    with pytest.raises(Exception, match="environment 'a/b'"):
        docs.desired_key(None, "shop", "a/b")


# -- the agent against moto --------------------------------------------------------------------------------------------

class Counting:
    """The real HttpStore, counting requests, with an optional fault on status writes."""

    def __init__(self, store):
        self.store = store
        self.calls = []
        self.fail_puts = 0

    def __getattr__(self, name):
        method = getattr(self.store, name)

        def call(*args, **kwargs):
            self.calls.append(name)
            if name == "put_bytes" and self.fail_puts:
                self.fail_puts -= 1
                raise S3Error("s3://%s/%s: S3 answered 503 SlowDown" % (args[0], args[1]), True)
            return method(*args, **kwargs)
        return call


@pytest.fixture
def world(moto_endpoint, tmp_path, monkeypatch, no_aws_env):
    store = open_store(dict(KEYS, endpoint_url=moto_endpoint, retries=0, connect_timeout=2.0, read_timeout=5.0))
    bucket = "b%d" % (abs(hash(str(tmp_path))) % 10 ** 9)
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, aws_access_key_id="testing", aws_secret_access_key="testing",
                      region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    counting = Counting(store)
    node = tmp_path / "node"
    config = check_config(dict(project="shop", environment="online", node="web01", tags=["eu"], bucket=bucket,
                               paths=dict(state_file=str(node / "images.yaml"), cache_dir=str(node / "cache"),
                                          modules_dir=str(node / "modules"), log_dir=str(node / "logs"),
                                          agent_state=str(node / "pull-agent.json"),
                                          desired_cache=str(node / "pull-desired.json"))), "test")
    os.makedirs(node)

    class World:
        pass

    w = World()
    w.s3, w.bucket, w.store, w.node, w.config = s3, bucket, counting, node, config
    w.agent = lambda: Agent(config, lambda: counting)
    w.key = docs.desired_key(None, "shop", "online")

    def publish(module, version, script="echo deployed >> \"$FLEETOPS_MODULE_DIR/../ran\"\n", corrupt=False):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            for name, text in (("deploy.sh", "#!/bin/sh\n" + script), ("upgrade.sh", "#!/bin/sh\n" + script)):
                info = tarfile.TarInfo(name)
                info.size = len(text)
                info.mode = 0o755
                tar.addfile(info, io.BytesIO(text.encode()))
        data = raw.getvalue()
        key = "%s/%s/%s.tar.gz" % (module, version, module)
        s3.put_object(Bucket=bucket, Key=key, Body=data)
        digest = hashlib.sha256(b"not it" if corrupt else data).hexdigest()
        return dict(bucket=bucket, key=key, sha256=digest, size=len(data))

    def write(doc):
        s3.put_object(Bucket=bucket, Key=w.key, Body=docs.render(doc))

    def status():
        """The node's last status object, found as the controller finds it: one LIST of its generation."""
        generation = json.loads((node / "pull-agent.json").read_text())["status"]["generation"]
        folder = docs.generation_prefix(None, "shop", "online", generation)
        answers, strays = docs.tally(store.list(bucket, folder)[0], folder)
        assert not strays and set(answers) == {"web01"}
        body = s3.get_object(Bucket=bucket, Key=answers["web01"]["key"])["Body"].read()
        return docs.check_status(body, answers["web01"]["key"], folder, "shop", "online", generation)

    w.publish, w.write, w.status = publish, write, status
    return w


def test_a_node_applies_the_desired_state_reports_it_and_then_polls_with_one_conditional_get(world):
    rel = world.publish("Web", "1.0.0")
    world.write(desired(plan=plan_for("1.0.0", [("Web", rel)])))
    first = world.agent().poll()
    assert first["status"]["result"] == "applied", first
    status = world.status()
    assert status["result"] == "applied" and status["version"] == "1.0.0" and status["modules"] == {"Web": "1.0.0"}
    assert status["node_status"] == "active" and status["generation"] == 1 and status["selected"] is True
    assert load(str(world.node / "images.yaml")).state.image_version == "1.0.0"
    world.store.calls.clear()
    for _poll in range(3):
        idle = world.agent().poll()
        assert idle["action"] == "idle" and idle["requests"] == 1
    assert world.store.calls == ["get_small"] * 3
    assert (world.node / "modules" / "Web" / "ran").read_text() == "deployed\n"  # the script ran once


def test_a_node_outside_the_wave_or_told_to_hold_changes_nothing_but_says_so(world):
    rel = world.publish("Web", "1.0.0")
    plan = plan_for("1.0.0", [("Web", rel)])
    world.write(desired(plan=plan, selector=dict(hosts=["web99"])))
    assert world.agent().poll()["status"]["result"] == "not_selected"
    assert world.status()["selected"] is False
    assert not (world.node / "images.yaml").exists()
    world.write(desired(generation=2, plan=plan, selector=dict(tags=["eu"]), converge=False, reason="stopped: web07 failed"))
    held = world.agent().poll()["status"]
    assert held["result"] == "held" and held["reason"] == "stopped: web07 failed" and "error" not in held
    assert not (world.node / "images.yaml").exists()
    world.write(desired(generation=3, plan=plan, selector=dict(tags=["eu"])))
    assert world.agent().poll()["status"]["result"] == "applied"  # selected by its tag


def test_a_malformed_or_foreign_desired_state_is_reported_once_and_changes_nothing(world):
    world.s3.put_object(Bucket=world.bucket, Key=world.key, Body=b'{"kind": "fleetops.release/desired-state", "schema": 1')
    rejected = world.agent().poll()["status"]
    assert rejected["result"] == "rejected" and "not JSON" in rejected["error"]
    assert world.key in rejected["error"]
    assert world.status()["result"] == "rejected"
    assert world.agent().poll()["action"] == "idle"
    world.write(desired(generation=5, project="other"))
    foreign = world.agent().poll()["status"]
    assert foreign["result"] == "rejected" and "for project 'other', not 'shop'" in foreign["error"]
    assert not (world.node / "images.yaml").exists()


def test_a_plan_that_would_crash_a_node_is_refused_once_and_the_node_stays_as_it_was(world):
    doc = desired()
    doc["plan"]["install"][0]["src"] = [{"key": 5}]
    world.write(doc)
    status = world.agent().poll()["status"]
    assert status["result"] == "rejected" and "plan.install[0].src[0]" in status["error"]
    assert world.agent().poll()["action"] == "idle"
    assert not (world.node / "images.yaml").exists()


def test_an_older_generation_is_refused(world):
    rel = world.publish("Web", "1.0.0")
    world.write(desired(generation=4, plan=plan_for("1.0.0", [("Web", rel)])))
    assert world.agent().poll()["status"]["result"] == "applied"
    world.write(desired(generation=3, plan=plan_for("1.0.0", [("Web", rel)])))
    status = world.agent().poll()["status"]
    assert status["result"] == "rejected" and "generation 3 is older than generation 4" in status["error"]


def test_an_artifact_that_fails_verification_leaves_the_node_as_it_was_and_is_retried_a_few_times(world):
    rel = world.publish("Web", "1.0.0", corrupt=True)
    world.write(desired(plan=plan_for("1.0.0", [("Web", rel)])))
    first = world.agent().poll()["status"]
    assert first["result"] == "failed" and first["stage"] == "fetch" and "nothing on the node was changed" in first["error"]
    assert not (world.node / "images.yaml").exists()
    polls = [world.agent().poll() for _poll in range(FETCH_RETRIES + 2)]
    assert [p["action"] for p in polls] == ["reported"] * (FETCH_RETRIES - 1) + ["idle"] * 3
    world.write(desired(generation=2, plan=plan_for("1.0.0", [("Web", world.publish("Web", "1.0.0"))])))
    assert world.agent().poll()["status"]["result"] == "applied"  # a new generation fixes it


def test_a_lost_status_write_is_sent_again_without_running_anything_again(world):
    rel = world.publish("Web", "1.0.0")
    world.write(desired(plan=plan_for("1.0.0", [("Web", rel)])))
    world.store.fail_puts = 1
    first = world.agent().poll()
    assert first["action"] == "unreported" and "503 SlowDown" in first["status"]["report_error"]
    second = world.agent().poll()
    assert second["action"] == "reported" and second["status"]["result"] == "applied"
    assert world.status()["result"] == "applied"
    assert (world.node / "modules" / "Web" / "ran").read_text() == "deployed\n"
    assert world.agent().poll()["action"] == "idle"


def test_an_agent_killed_mid_apply_leaves_a_node_that_the_next_poll_marks_failed_once(world):
    rel = world.publish("Web", "1.0.0")
    world.write(desired(plan=plan_for("1.0.0", [("Web", rel)])))
    # What a kill during deploy.sh leaves: images.yaml in building for the agent's run, the agent's memory applying it.
    run_id = "rel-1-g1"
    state = NodeState(str(world.node / "images.yaml"))
    state.transition("building", run_id, version="1.0.0", reason="install 1.0.0")
    save(str(world.node / "images.yaml"), state)
    world.agent().poll()  # (first make the memory real: this poll sees building and reports in progress)
    memory = json.loads((world.node / "pull-agent.json").read_text())
    memory["applying"] = run_id
    (world.node / "pull-agent.json").write_text(json.dumps(memory))
    status = world.agent().poll()["status"]
    assert status["result"] == "failed" and status["stage"] == "interrupted", status
    assert "stopped during run rel-1-g1" in status["error"]
    after = load(str(world.node / "images.yaml"))
    assert after.problem is None and after.state.status == "failure"
    assert world.agent().poll()["action"] == "idle"


def test_the_agent_configuration_is_checked_naming_the_key():
    base = dict(project="shop", environment="online", node="web01", bucket="b")
    with pytest.raises(ConfigError, match="unknown key colour"):
        check_config(dict(base, colour=1), "/etc/fleetops/agent.json")
    with pytest.raises(ConfigError, match="never in this file"):
        check_config(dict(base, s3=dict(secret_key="x")), "/etc/fleetops/agent.json")
    with pytest.raises(ConfigError, match="bucket: required"):
        check_config(dict(base, bucket=""), "/etc/fleetops/agent.json")
    with pytest.raises(ConfigError, match=r"node '\.\./x'"):
        check_config(dict(base, node="../x"), "/etc/fleetops/agent.json")
    with pytest.raises(ConfigError, match=r"fetch\.allow_unverified: expected true or false, found 'false'"):
        check_config(dict(base, fetch=dict(allow_unverified="false")), "/etc/fleetops/agent.json")
    with pytest.raises(ConfigError, match=r"paths\.state_file: expected an absolute path"):
        check_config(dict(base, paths=dict(state_file="images.yaml")), "/etc/fleetops/agent.json")
    with pytest.raises(ConfigError, match="prefix: expected text"):
        check_config(dict(base, prefix=5), "/etc/fleetops/agent.json")


# -- the agent as one file, run by a Python without ansible or boto3 ---------------------------------------------------

def run_agent(pyz, config_path, env, **kwargs):
    # -I -S: no site-packages and no PYTHON* variables, so only the standard library and the bundle are importable.
    return subprocess.run([sys.executable, "-I", "-S", str(pyz), "--config", str(config_path)], env=env, capture_output=True,
                          text=True, timeout=60, check=False, **kwargs)


@pytest.fixture
def bundled(world, tmp_path, moto_endpoint):
    from ansible_collections.fleetops.release.plugins.plugin_utils._pull import bundle

    built = bundle.build(str(tmp_path / "fleetops-agent.pyz"))
    config = dict(world.config, s3=dict(endpoint_url=moto_endpoint, region="us-east-1", retries=0))
    config_path = tmp_path / "agent.json"
    config_path.write_text(json.dumps(config))
    env = {"PATH": os.environ["PATH"], "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing-secret-value"}
    return built, config_path, env


def test_the_bundle_holds_only_node_code_and_is_the_same_bytes_every_time(bundled, tmp_path):
    from ansible_collections.fleetops.release.plugins.plugin_utils._pull import bundle

    built = bundled[0]
    again = bundle.build(str(tmp_path / "again.pyz"))
    assert again["sha256"] == built["sha256"]
    assert "_pull/agent.py" in built["files"] and "_node/deploy.py" in built["files"]
    assert not [f for f in built["files"] if "plugin_utils" in f or f.startswith(("_lb", "_repo/plan"))]
    assert built["lazy_ansible_imports"] == ["_fetch/fetch.py: ansible.module_utils.urls", "_module.py: ansible.module_utils.basic"]


def test_a_top_level_ansible_import_on_the_agent_path_stops_the_build(tmp_path):
    from ansible_collections.fleetops.release.plugins.plugin_utils._pull import bundle

    root = tmp_path / "module_utils"
    (root / "_pull").mkdir(parents=True)
    (root / "_pull" / "__init__.py").write_text("")
    (root / "_pull" / "cli.py").write_text("from ansible.module_utils.basic import AnsibleModule\n")
    with pytest.raises(Exception, match=r"_pull/cli\.py imports ansible\.module_utils\.basic at the top"):
        bundle.build(str(tmp_path / "x.pyz"), root=str(root))
    assert not list(tmp_path.glob("*.pyz")) and not list(tmp_path.glob(".fleetops-agent.*"))


@pytest.mark.parametrize("source, words", [
    ("import os\n\nfrom ansible.module_utils.basic import AnsibleModule\n", "imports ansible.module_utils.basic at the top"),
    ("import ansible.module_utils.urls\n", "imports ansible.module_utils.urls at the top"),
    ("from ansible_collections.fleetops.release.plugins.plugin_utils import _presign\n", "which is not node code"),
    ("from . import documents\n", "relative import"),
])
def test_an_import_the_bundle_cannot_carry_stops_the_build(tmp_path, source, words):
    from ansible_collections.fleetops.release.plugins.plugin_utils._pull import bundle

    root = tmp_path / "module_utils"
    (root / "_pull").mkdir(parents=True)
    (root / "_pull" / "__init__.py").write_text("")
    (root / "_pull" / "cli.py").write_text(source)
    with pytest.raises(Exception, match=re.escape(words)):
        bundle.build(str(tmp_path / "x.pyz"), root=str(root))


def test_the_bundle_follows_every_form_of_import(tmp_path):
    from ansible_collections.fleetops.release.plugins.plugin_utils._pull import bundle

    root = tmp_path / "module_utils"
    (root / "_pull").mkdir(parents=True)
    (root / "_x").mkdir()
    for name in ("_pull/__init__.py", "_x/__init__.py", "_a.py", "_b.py", "_x/c.py", "_x/d.py", "_e.py"):
        (root / name).write_text("")
    pkg = "ansible_collections.fleetops.release.plugins.module_utils"
    (root / "_pull" / "cli.py").write_text(
        "from %s import _a\nimport %s._b\nfrom %s._x import (\n    c,\n    d as dee,\n)\n\ndef f():\n    from %s import _e\n"
        "    from ansible.module_utils.urls import Request\n" % (pkg, pkg, pkg, pkg))
    files = bundle.agent_files(str(root))
    assert files == ["_a.py", "_b.py", "_e.py", "_pull/__init__.py", "_pull/cli.py", "_x/__init__.py", "_x/c.py", "_x/d.py"]


def test_the_bundled_agent_applies_then_idles_on_one_request_under_a_bare_python(world, bundled):
    _built, config_path, env = bundled
    world.write(desired(plan=plan_for("1.0.0", [("Web", world.publish("Web", "1.0.0"))])))
    first = run_agent(bundled[0]["path"], config_path, env)
    assert first.returncode == 0, first.stdout + first.stderr
    line = json.loads(first.stdout)
    assert line["result"] == "applied" and line["version"] == "1.0.0" and line["action"] == "reported"
    assert world.status()["result"] == "applied"
    second = json.loads(run_agent(bundled[0]["path"], config_path, env).stdout)
    assert second["action"] == "idle" and second["requests"] == 1
    assert "testing-secret-value" not in first.stdout + first.stderr


def test_the_bundled_agent_names_a_bad_configuration_and_an_unreachable_store(world, bundled, tmp_path):
    _built, config_path, env = bundled
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(dict(json.loads(config_path.read_text()), colour="blue")))
    result = run_agent(bundled[0]["path"], bad, env)
    assert result.returncode == 2 and "unknown key colour" in json.loads(result.stdout)["error"]
    gone = tmp_path / "gone.json"
    gone.write_text(json.dumps(dict(json.loads(config_path.read_text()), s3=dict(endpoint_url="http://127.0.0.1:9", retries=0))))
    result = run_agent(bundled[0]["path"], gone, env)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "cannot reach the S3 endpoint http://127.0.0.1:9" in json.loads(result.stdout)["error"]


def test_a_bundled_agent_killed_during_deploy_sh_leaves_a_readable_state_that_the_next_run_marks_failed(world, bundled):
    _built, config_path, env = bundled
    marker = world.node / "started"
    # deploy.sh runs in a session of its own; it records its pid so the test can end it (systemd ends the unit's cgroup).
    rel = world.publish("Web", "1.0.0", script="echo $$ > %s.tmp && mv %s.tmp %s\nexec sleep 60\n" % (marker, marker, marker))
    world.write(desired(plan=plan_for("1.0.0", [("Web", rel)])))
    proc = subprocess.Popen([sys.executable, "-I", "-S", bundled[0]["path"], "--config", str(config_path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert marker.exists(), "deploy.sh never started"
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        if marker.exists():
            try:
                os.kill(int(marker.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
    during = load(str(world.node / "images.yaml"))
    assert during.problem is None and during.state.status == "building"
    after = run_agent(bundled[0]["path"], config_path, env)
    line = json.loads(after.stdout)
    assert after.returncode == 1 and line["result"] == "failed" and line["stage"] == "interrupted", after.stdout
    assert load(str(world.node / "images.yaml")).state.status == "failure"
    assert world.status()["stage"] == "interrupted"
    assert json.loads(run_agent(bundled[0]["path"], config_path, env).stdout)["action"] == "idle"


# -- the systemd units of examples/systemd/ ------------------------------------------------------------------------------

SYSTEMD = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "examples", "systemd")


def unit_keys(name):
    sections, current = {}, None
    with open(os.path.join(SYSTEMD, name), encoding="utf-8") as handle:
        for line in handle:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("["):
                current = sections.setdefault(line.strip("[]"), {})
            else:
                key, _sep, value = line.partition("=")
                current[key] = value
    return sections


def test_the_agent_units_poll_without_overlap_spread_over_the_fleet_and_keep_secrets_off_the_command_line():
    service = unit_keys("fleetops-agent.service")["Service"]
    assert service["Type"] == "oneshot" and service["KillMode"] == "control-group"
    assert service["EnvironmentFile"] == "-/etc/fleetops/agent.env"
    assert service["ExecStart"] == "/usr/bin/python3 /usr/local/lib/fleetops/fleetops-agent.pyz --config /etc/fleetops/agent.json"
    timer = unit_keys("fleetops-agent.timer")
    assert timer["Timer"]["OnUnitInactiveSec"] and timer["Timer"]["RandomizedDelaySec"]
    assert timer["Install"]["WantedBy"] == "timers.target"
    with open(os.path.join(SYSTEMD, "fleetops-agent.json"), encoding="utf-8") as handle:
        check_config(json.load(handle), "fleetops-agent.json")  # the example configuration is a valid one
    with open(os.path.join(SYSTEMD, "fleetops-agent.env"), encoding="utf-8") as handle:
        env = dict(line.split("=", 1) for line in handle.read().splitlines() if line and not line.startswith("#"))
    assert all(value.startswith("REPLACE_WITH_") for key, value in env.items() if key.startswith("AWS_") and "REGION" not in key)


def test_systemd_accepts_the_agent_units(tmp_path, bundled):
    units = tmp_path / "units"
    units.mkdir()
    for name in ("fleetops-agent.service", "fleetops-agent.timer"):
        with open(os.path.join(SYSTEMD, name), encoding="utf-8") as handle:
            text = handle.read().replace("/usr/local/lib/fleetops/fleetops-agent.pyz", bundled[0]["path"])
        (units / name).write_text(text.replace("/usr/bin/python3", sys.executable))
    proc = subprocess.run(["systemd-analyze", "verify", "--man=no", "./fleetops-agent.service", "./fleetops-agent.timer"],
                          cwd=units, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and not (proc.stdout + proc.stderr).strip(), proc.stdout + proc.stderr


def test_the_agent_runs_from_its_unit_files_command_line(world, bundled):
    _built, config_path, env = bundled
    world.write(desired(plan=plan_for("1.0.0", [("Web", world.publish("Web", "1.0.0"))])))
    argv = unit_keys("fleetops-agent.service")["Service"]["ExecStart"].split()
    argv = [sys.executable, "-I", "-S"] + [bundled[0]["path"] if a.endswith(".pyz") else str(config_path) if a.endswith(".json") else a
                                           for a in argv[1:]]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0 and json.loads(proc.stdout)["result"] == "applied", proc.stdout + proc.stderr


def test_the_bundled_agent_without_boto3_or_an_endpoint_says_what_it_needs(world, bundled, tmp_path):
    _built, config_path, env = bundled
    config = json.loads(config_path.read_text())
    config["s3"] = dict(region="eu-central-1")
    no_endpoint = tmp_path / "aws.json"
    no_endpoint.write_text(json.dumps(config))
    result = run_agent(bundled[0]["path"], no_endpoint, env)
    error = json.loads(result.stdout)["error"]
    assert result.returncode == 2 and "boto3" in error and "s3.endpoint_url" in error and str(no_endpoint) in error
