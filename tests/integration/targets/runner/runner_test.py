# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""recap_alert and audit inside ansible-runner (what AWX uses): the job's events and status, the
message with the AWX job link and user, the audit record, a canceled job, and no secret anywhere in
the private data directory (ansible-runner keeps the job's environment in its artifacts)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse

import ansible_runner

HERE = os.path.dirname(os.path.abspath(__file__))
WEBHOOK_PY = os.path.join(HERE, "..", "setup_webhook", "files", "webhook.py")
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


def main() -> int:
    hook_dir = os.path.join(WORK, "webhook")
    os.makedirs(hook_dir)
    port = free_port()
    server = subprocess.Popen([PY, WEBHOOK_PY, "serve", str(port), hook_dir])  # pylint: disable=consider-using-with
    try:
        for _attempt in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
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

        # Nothing in the private data dir (artifacts: env, command, stdout, job events) holds the secret.
        needles = {TOKEN, TOKEN.rsplit("/", maxsplit=1)[-1], urllib.parse.quote(TOKEN, safe=""), urllib.parse.quote(url, safe=""),
                   urllib.parse.quote_plus(url)}
        found, files = [], 0
        for root in (data, state):
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
