# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""recap_alert and audit inside ansible-runner (what AWX uses): the job's events and status, the
message with the AWX job link and user, the audit record, a canceled job, and no secret anywhere in
the private data directory (ansible-runner keeps the job's environment in its artifacts).

Then the real deploy playbook as AWX runs it: the example AWX project (examples/awx/project: the wrapper playbook and
the ansible.cfg that enables both callbacks) against the loopback S3, on three local-connection nodes (each a
directory), once releasing DemoProject.dist 1.0.0 everywhere and once FaultDist 1.0.0 with deploy.sh failing on the
second node: status, rc, the job events of every play, host and task, the nodes' state files and the audit record."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

import ansible_runner
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
WEBHOOK_PY = os.path.join(HERE, "..", "setup_webhook", "files", "webhook.py")
COLLECTION = os.environ.get("FLEETOPS_COLLECTION_ROOT") or os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
PY = sys.executable
WORK = sys.argv[1]
TOKEN = "T0RUNNER/B0RUNNER/RUNNERc4n4ryS3cret"


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        sys.exit("FAILED: %s\n%s" % (what, detail[-4000:]))


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def requests(root: str) -> list[dict]:
    try:
        with open(os.path.join(root, "requests.jsonl"), encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except FileNotFoundError:
        return []


def audit(root: str) -> list[dict]:
    found = []
    for name in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if name.endswith(".jsonl"):
            with open(os.path.join(root, name), encoding="utf-8") as handle:
                found += [json.loads(line) for line in handle if line.strip()]
    return found


def deploy_texts() -> str:
    """The deploy playbook as installed and the role it uses, to know which plays and tasks the job must show."""
    parts = []
    for base in (os.path.join(COLLECTION, "playbooks", "deploy.yml"), os.path.join(COLLECTION, "roles", "deploy")):
        for root, _dirs, names in os.walk(base) if os.path.isdir(base) else [(os.path.dirname(base), [], [os.path.basename(base)])]:
            for name in sorted(names):
                with open(os.path.join(root, name), encoding="utf-8") as handle:
                    parts.append(handle.read())
    return "\n".join(parts)


def deploy_job(data: str, ident: str, envvars: dict, extravars: dict):
    started = time.monotonic()
    run = ansible_runner.run(private_data_dir=data, playbook="deploy.yml", envvars=envvars, extravars=extravars, quiet=True, ident=ident,
                             timeout=120)
    return run, time.monotonic() - started


def node_state(nodes: str, host: str) -> dict:
    with open(os.path.join(nodes, host, "images.yaml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def by_host(events: list[dict], kind: str, action: str) -> dict:
    found: dict = {}
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") == kind and data.get("task_action") == action:
            found.setdefault(data.get("host"), []).append(data)
    return found


def check_lock_events(run, audit_record: dict, what: str) -> str:
    """With the release lock in the deploy playbook: one acquire and one release of the same lock in the job's events."""
    if "fleetops.release.release_lock" not in deploy_texts():
        return "no release lock in the deploy playbook yet"
    locks = [e["event_data"] for e in run.events if e.get("event") == "runner_on_ok"
             and e.get("event_data", {}).get("task_action") == "fleetops.release.release_lock"]
    acquired = [d for d in locks if d["res"].get("acquired") and not d["res"].get("renewed") and "released" not in d["res"]]
    released = [d for d in locks if d["res"].get("released")]
    check(len(acquired) == 1 and len(released) == 1, "%s: one release_lock acquire and one release event" % what,
          json.dumps([{k: d["res"].get(k) for k in ("acquired", "renewed", "released", "lock_id")} for d in locks]))
    lock_id = acquired[0]["res"]["lock_id"]
    check(released[0]["res"]["lock_id"] == lock_id and lock_id.startswith("s3://releases/") and audit_record.get("lock_id") == lock_id,
          "%s: the lock released is the one acquired, and the audit record names it" % what, json.dumps([lock_id, released[0]["res"], audit_record]))
    return "lock %s acquired and released" % lock_id


def deploy_jobs(hook_dir: str, url_file: str) -> str:
    """The real fleetops.release.deploy through ansible-runner, as an AWX job of the example project."""
    endpoint = os.environ["S3_ENDPOINT"]
    root = os.path.join(WORK, "deploy")
    data = os.path.join(root, "job")
    project = os.path.join(data, "project")
    os.makedirs(project)
    os.makedirs(os.path.join(data, "inventory"))
    for name in ("deploy.yml", "ansible.cfg"):
        shutil.copy(os.path.join(COLLECTION, "examples", "awx", "project", name), project)
    nodes = os.path.join(root, "nodes")
    hosts = {}
    for host in ("node1", "node2", "node3", "fault1", "fault2", "fault3"):
        os.makedirs(os.path.join(nodes, host))
        hosts[host] = {"fleetops_node_paths": {key: os.path.join(nodes, host, sub) for key, sub in
                                               (("state_file", "images.yaml"), ("cache_dir", "cache"), ("modules_dir", "modules"), ("log_dir", "logs"))}}
    inventory = {"all": {"vars": {"ansible_connection": "local", "ansible_python_interpreter": PY},
                         "children": {"fleet": {"hosts": {h: v for h, v in hosts.items() if h.startswith("node")}},
                                      "faulty": {"hosts": {h: v for h, v in hosts.items() if h.startswith("fault")}}}}}
    with open(os.path.join(data, "inventory", "hosts.yml"), "w", encoding="utf-8") as handle:
        yaml.safe_dump(inventory, handle)
    with open(os.path.join(nodes, "fault2", "fail-deploy"), "w", encoding="utf-8"):
        pass
    state = os.path.join(root, "state")
    # No ANSIBLE_CALLBACKS_ENABLED here: the project's ansible.cfg enables both callbacks, as in AWX. These variables
    # only move their state into the test's directory, as a persistent volume would.
    envvars = dict(
        FLEETOPS_SLACK_WEBHOOK_URL_FILE=url_file,
        FLEETOPS_ALERT_SPOOL_DIR=os.path.join(state, "spool"),
        FLEETOPS_AUDIT_DIR=os.path.join(state, "audit"),
        AWX_HOST="https://awx.example.test",
        ANSIBLE_REMOTE_TEMP=os.path.join(root, "remote-tmp"),
        ANSIBLE_PIPELINING="1",
        ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
        ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore",
        PATH=os.path.dirname(PY) + os.pathsep + os.environ.get("PATH", ""),
    )
    # ansible-runner hands its own environment to the job; ansible-test's ANSIBLE_CONFIG (or callbacks enabled from
    # outside) would hide the project's ansible.cfg, which AWX jobs read.
    for name in ("ANSIBLE_CONFIG", "ANSIBLE_CALLBACKS_ENABLED", "ANSIBLE_CALLBACK_WHITELIST"):
        os.environ.pop(name, None)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EC2_METADATA_DISABLED",
                 "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        envvars[name] = os.environ[name]
    base = dict(fleetops_bucket="releases", fleetops_s3={"endpoint_url": endpoint}, fleetops_project="demo",
                awx_user_name="bob", awx_job_template_name="projectx deploy")
    sent_before = len(requests(hook_dir))
    expected_plays = [play["name"] for play in yaml.safe_load(open(os.path.join(COLLECTION, "playbooks", "deploy.yml"), encoding="utf-8"))]

    # Job 90: DemoProject.dist 1.0.0 to three new nodes in one batch.
    job90 = dict(base, awx_job_id="90", fleetops_hosts="fleet", fleetops_environment="runner", fleetops_dist="DemoProject.dist",
                 fleetops_version="1.0.0", fleetops_serial=3)
    run, seconds = deploy_job(data, "job90", envvars, job90)
    events = list(run.events)
    names = [e.get("event") for e in events]
    check(run.status == "successful" and run.rc == 0, "job90: the release succeeds (%s, rc %s)" % (run.status, run.rc), run.stdout.read())
    check(names[0] == "playbook_on_start" and names.count("playbook_on_start") == 1 and names[-1] == "playbook_on_stats",
          "job90: the events start with playbook_on_start and end with playbook_on_stats", json.dumps(names))
    plays = [e["event_data"]["play"] for e in events if e.get("event") == "playbook_on_play_start"]
    check(plays == expected_plays, "job90: a playbook_on_play_start for each play of deploy.yml (one batch)", json.dumps([plays, expected_plays]))
    deployed = by_host(events, "runner_on_ok", "fleetops.release.release_host")
    check(sorted(deployed) == ["node1", "node2", "node3"], "job90: a release_host runner_on_ok for each node", json.dumps(sorted(deployed)))
    for host, results in deployed.items():
        res = results[0]["res"]
        check(len(results) == 1 and res["changed"] is True and res["action"] == "install" and res["dist_version"] == "1.0.0"
              and res["node_status_after"] == "active" and results[0]["play"] == "Release to the fleet",
              "job90: %s installed 1.0.0 and changed" % host, json.dumps(res)[:1500])
    check(not by_host(events, "runner_on_failed", "fleetops.release.release_host") and "runner_on_unreachable" not in names,
          "job90: no failed or unreachable host")
    stats = events[-1]["event_data"]
    for host in ("node1", "node2", "node3"):
        oks = [e for e in events if e.get("event") == "runner_on_ok" and e["event_data"].get("host") == host]
        changed = [e["event_data"]["task_action"] for e in oks if e["event_data"]["res"].get("changed")]
        # The release step (dist_deploy on the node, the lock renewed in the batch's first step) is the one change.
        check(stats["ok"].get(host) == len(oks) and stats["changed"].get(host) == len(changed) and changed.count("fleetops.release.release_host") == 1
              and set(changed) == {"fleetops.release.release_host"} and host not in stats["failures"]
              and host not in stats.get("dark", {}), "job90: playbook_on_stats counts %s as its events do: ok %d, changed %d, no failure"
              % (host, len(oks), len(changed)), json.dumps(stats))
        node = node_state(os.path.join(root, "nodes"), host)
        check(node["status"] == "active" and node["image"]["version"] == "1.0.0" and node["modules"] == {"LibGreet": "1.0.0", "HelloService": "1.0.0"},
              "job90: %s images.yaml active on 1.0.0" % host, json.dumps(node, default=str))
    check(stats["failures"] == {} and stats["dark"] == {}, "job90: no failures in the stats", json.dumps(stats))
    records = audit(os.path.join(state, "audit"))
    check(len(records) == 1, "job90: one audit record", json.dumps(records))
    record = records[0]
    check(record["result"] == "success" and record["kind"] == "release" and record["version_to"] == "1.0.0" and record["dist"] == "DemoProject.dist"
          and record["hosts"]["ok"] == 3 and record["hosts"]["failed"] == 0 and record["problem_hosts"] == []
          and record["changed_hosts"] == 3 and record["awx_job_id"] == "90" and record["user"] == "bob"
          and record["project"] == "demo" and record["environment"] == "runner" and record["node_health"] == {"active": 3},
          "job90: the audit record: success, 3 hosts changed, the AWX job and user", json.dumps(record))
    lock90 = check_lock_events(run, record, "job90")
    sent = requests(hook_dir)[sent_before:]
    check(len(sent) == 1 and "demo runner" in sent[0]["body"] and "success" in sent[0]["body"], "job90: one message, success",
          json.dumps(sent)[:2000])
    print("job90: DemoProject.dist 1.0.0 on 3 nodes through ansible-runner: %s rc %d, %d events, %s (%.1f s)" % (
        run.status, run.rc, len(events), lock90, seconds))

    # Job 91: FaultDist 1.0.0 in batches of two; deploy.sh fails on fault2, so the rollout stops before fault3's batch.
    job91 = dict(base, awx_job_id="91", fleetops_hosts="faulty", fleetops_environment="faulty", fleetops_dist="FaultDist",
                 fleetops_version="1.0.0", fleetops_serial=2)
    run, seconds = deploy_job(data, "job91", envvars, job91)
    events = list(run.events)
    check(run.status == "failed" and run.rc == 2, "job91: the release fails (%s, rc %s)" % (run.status, run.rc))
    plays = [e["event_data"]["play"] for e in events if e.get("event") == "playbook_on_play_start"]
    check(plays.count("Release to the fleet") == 2 and len(plays) == len(expected_plays) + 1,
          "job91: with serial 2 the release play starts for the batch fault1+fault2 and for fault3's", json.dumps(plays))
    failed = by_host(events, "runner_on_failed", "fleetops.release.release_host")
    check(sorted(failed) == ["fault2"] and failed["fault2"][0]["ignore_errors"] is True
          and "deploy.sh exited with 3" in failed["fault2"][0]["res"]["msg"], "job91: a release_host runner_on_failed for fault2 alone",
          json.dumps({h: [d["res"].get("msg") for d in v] for h, v in failed.items()}))
    deployed = by_host(events, "runner_on_ok", "fleetops.release.release_host")
    check(sorted(deployed) == ["fault1"], "job91: fault1, in fault2's batch, was released", json.dumps(sorted(deployed)))
    fault3 = [e for e in events if e.get("event_data", {}).get("host") == "fault3" and e["event_data"].get("task_action") == "fleetops.release.release_host"]
    said = "\n".join(e.get("stdout") or "" for e in events)
    check([e["event"] for e in fault3] == ["runner_on_start", "runner_on_skipped"] and re.search(r"fault3 +not started", said) is not None,
          "job91: fault3's release step did not start after the rollout stopped (skipped; the summary says not started)",
          json.dumps([e["event"] for e in fault3]) + said[-1500:])
    check(not os.path.exists(os.path.join(nodes, "fault3", "images.yaml")), "job91: fault3 untouched")
    check(node_state(nodes, "fault2")["status"] == "failure" and node_state(nodes, "fault1")["status"] == "active",
          "job91: fault2 in failure, fault1 active")
    summary = [e for e in events if e.get("event") == "runner_on_failed" and e["event_data"].get("host") == "localhost"]
    check(len(summary) == 1 and "release failed on fault2; the rollout was stopped" in summary[0]["event_data"]["res"]["msg"],
          "job91: the summary fails the job naming fault2", json.dumps([e["event_data"]["res"].get("msg") for e in summary]))
    stats = events[-1]["event_data"]
    fault1_changed = [e for e in events if e.get("event") == "runner_on_ok" and e["event_data"].get("host") == "fault1"
                      and e["event_data"]["res"].get("changed")]
    check(events[-1].get("event") == "playbook_on_stats" and "fault2" not in stats["failures"] and stats["failures"].get("localhost") == 1
          and stats["ignored"].get("fault2") == 1 and "fault3" not in stats["changed"] and "fault3" not in stats["ignored"]
          and stats["changed"].get("fault1") == len(fault1_changed),
          "job91: the stats: fault2's failure ignored for the stop policy, the summary failed", json.dumps(stats))
    records = audit(os.path.join(state, "audit"))
    record = records[-1]
    check(len(records) == 2 and record["awx_job_id"] == "91" and record["result"] == "partial" and record["problem_hosts"] == ["fault2", "fault3"]
          and record["hosts"]["failed"] == 1 and record["hosts"]["not_attempted"] == 1 and record["hosts"]["ok"] == 1,
          "job91: the audit record: partial, fault2 failed, fault3 not attempted", json.dumps(record))
    lock91 = check_lock_events(run, record, "job91")
    print("job91: FaultDist 1.0.0, deploy.sh failing on fault2: %s rc %d, fault3 not attempted, %s (%.1f s)" % (
        run.status, run.rc, lock91, seconds))
    return root


def main() -> int:
    hook_dir = os.path.join(WORK, "webhook")
    os.makedirs(hook_dir)
    port = free_port()
    server = subprocess.Popen([PY, WEBHOOK_PY, "serve", str(port), hook_dir])  # pylint: disable=consider-using-with
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1.0).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("FAILED: the webhook receiver on 127.0.0.1:%d did not start within 120 s" % port)
                time.sleep(0.05)
        url = "http://127.0.0.1:%d/services/%s" % (port, TOKEN)
        secrets = os.path.join(WORK, "secrets")
        os.makedirs(secrets, mode=0o700)
        url_file = os.path.join(secrets, "slack-webhook")
        with open(url_file, "w", encoding="utf-8") as handle:
            handle.write(url + "\n")
        nodes = os.path.join(WORK, "nodes")
        for host, status in (("web01", "active"), ("web02", "active"), ("web03", "failure")):
            os.makedirs(os.path.join(nodes, host))
            with open(os.path.join(nodes, host, "images.yaml"), "w", encoding="utf-8") as handle:
                handle.write("image: {version: 1.0.0}\nstatus: %s\n" % status)
        data = os.path.join(WORK, "job")
        os.makedirs(os.path.join(data, "project"))
        os.makedirs(os.path.join(data, "inventory"))
        shutil.copy(os.path.join(HERE, "site.yml"), os.path.join(data, "project", "site.yml"))
        with open(os.path.join(data, "inventory", "hosts"), "w", encoding="utf-8") as handle:
            handle.write("web01\nweb02\nweb03\n\n[all:vars]\nansible_connection=local\nansible_python_interpreter=%s\n" % PY)
        state = os.path.join(WORK, "state")
        envvars = dict(
            ANSIBLE_CALLBACKS_ENABLED="fleetops.release.recap_alert,fleetops.release.audit",
            FLEETOPS_SLACK_WEBHOOK_URL_FILE=url_file,
            FLEETOPS_ALERT_SPOOL_DIR=os.path.join(state, "spool"),
            FLEETOPS_AUDIT_DIR=os.path.join(state, "audit"),
            AWX_HOST="https://awx.example.test",
            ANSIBLE_REMOTE_TEMP=os.path.join(WORK, "remote-tmp"),
            ANSIBLE_COLLECTIONS_PATH=os.environ.get("ANSIBLE_COLLECTIONS_PATH", ""),
            ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH="ignore",
            PATH=os.path.dirname(PY) + os.pathsep + os.environ.get("PATH", ""),
        )
        extravars = dict(node_root=nodes, awx_job_id="77", awx_user_name="alice", fleetops_project="projectx",
                         fleetops_environment="online", fleetops_version="1.1.0")
        run = ansible_runner.run(private_data_dir=data, playbook="site.yml", envvars=envvars, extravars=extravars, quiet=True, ident="job77")
        events = [e.get("event") for e in run.events]
        check(run.status == "failed" and run.rc == 2, "the job fails because web02 failed (%s, rc %s)" % (run.status, run.rc))
        check("playbook_on_stats" in events and events.count("runner_on_failed") == 1 and "runner_on_ok" in events,
              "the job's events are those of a normal run", json.dumps(events))
        sent = requests(hook_dir)
        check(len(sent) == 1, "one message for the job (got %d)" % len(sent))
        body = json.loads(sent[0]["body"])
        text = json.dumps(body, ensure_ascii=False)
        check("<https://awx.example.test/#/jobs/playbook/77/output|" in text, "the message links the AWX job", text)
        check("alice" in text and "projectx online 1.1.0: partial" in text, "the AWX user, project, environment, version", text)
        check("`web02`" in text and "`web03`" in text and "node: *failure*" in text, "the failing host and the node in failure", text)
        records = audit(os.path.join(state, "audit"))
        check(len(records) == 1 and records[0]["user"] == "alice" and records[0]["awx_job_id"] == "77"
              and records[0]["job_url"] == "https://awx.example.test/#/jobs/playbook/77/output" and records[0]["result"] == "partial",
              "the audit record names the AWX user, job and link", json.dumps(records))
        print("job77: %s rc %s, %d events, 1 message, 1 audit record" % (run.status, run.rc, len(events)))

        # Cancel: ansible-runner kills the job's process group (SIGKILL). The next job reports it.
        started = time.monotonic()
        canceled = ansible_runner.run(private_data_dir=data, playbook="site.yml", envvars=envvars, quiet=True, ident="job78",
                                      extravars=dict(extravars, awx_job_id="78", nap=60),
                                      cancel_callback=lambda: time.monotonic() - started > 8)
        check(canceled.status == "canceled", "the job is canceled (%s)" % canceled.status)
        check(len(requests(hook_dir)) == 1, "a SIGKILLed job cannot send anything itself")
        again = ansible_runner.run(private_data_dir=data, playbook="site.yml", envvars=envvars, quiet=True, ident="job79",
                                   extravars=dict(extravars, awx_job_id="79"))
        sent = requests(hook_dir)[1:]
        check(again.rc == 2 and len(sent) == 2, "the next job reports the canceled one, then itself (%d)" % len(sent))
        late = json.loads(sent[0]["body"])
        check("killed" in late["blocks"][0]["text"]["text"] and "jobs/playbook/78/output" in json.dumps(late),
              "the late message is about job 78 and says it was killed", json.dumps(late)[:1500])
        records = audit(os.path.join(state, "audit"))
        check([(r["awx_job_id"], r["result"]) for r in records] == [("77", "partial"), ("78", "aborted"), ("79", "partial")],
              "audit: job 78 recorded as aborted", json.dumps(records))
        print("job78 canceled (SIGKILL): reported by job79 as killed, audit result aborted")

        deploy_root = deploy_jobs(hook_dir, url_file)

        # Nothing in the private data dir (artifacts: env, command, stdout, job events) holds the secret.
        needles = {TOKEN, TOKEN.rsplit("/", maxsplit=1)[-1], urllib.parse.quote(TOKEN, safe=""), urllib.parse.quote(url, safe=""),
                   urllib.parse.quote_plus(url)}
        found, files = [], 0
        for root in (data, state, deploy_root):
            for base, _dirs, names in os.walk(root):
                for name in names:
                    files += 1
                    with open(os.path.join(base, name), "rb") as handle:
                        blob = handle.read().decode("utf-8", "replace")
                    found += ["%s: %r" % (os.path.join(base, name), n) for n in needles if n in blob]
        check(files > 20, "the search saw the artifacts (%d files)" % files)
        check(not found, "the webhook URL leaked into the job's artifacts", "\n".join(found))
        print("no secret in %d files of the private data dir and state" % files)
    finally:
        server.terminate()
        server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
