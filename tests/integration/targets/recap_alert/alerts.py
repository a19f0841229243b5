# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""recap_alert and audit, end to end: real ansible-playbook runs, a real webhook server, moto S3.

Each case asserts what reached the webhook (count, fields, limits), what the audit files hold,
and that the run's exit code is the one Ansible gives without our callbacks.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.parse

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
WEBHOOK_PY = os.path.join(HERE, "..", "setup_webhook", "files", "webhook.py")
PY = sys.executable
WORK = os.path.join(sys.argv[1], "alerts")
CANARY = "T0CANARY/B0CANARY/CANARYs3cr3tW3bh00k"
FLEET = ["ok1", "fail1", "stale1", "new1", "evil", "later1", "later2"]
NODE_HOSTS = ["ok1", "fail1", "stale1", "new1", "evil"]
STEPS: list[str] = []


def free_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


class Webhook:
    def __init__(self, root: str) -> None:
        self.root = root
        os.makedirs(root, exist_ok=True)
        self.port = free_port()
        self.proc = subprocess.Popen([PY, WEBHOOK_PY, "serve", str(self.port), root])  # pylint: disable=consider-using-with
        deadline = time.monotonic() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1.0).close()
                break
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    sys.exit("FAILED: the webhook receiver on 127.0.0.1:%d did not start within 120 s" % self.port)
                time.sleep(0.05)
        self.seen = 0

    def url(self, path: str = "/services/" + CANARY) -> str:
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def script(self, answers: list) -> None:
        subprocess.run([PY, WEBHOOK_PY, "script", self.root, json.dumps(answers)], check=True)

    def requests(self) -> list[dict]:
        try:
            with open(os.path.join(self.root, "requests.jsonl"), encoding="utf-8") as handle:
                return [json.loads(line) for line in handle if line.strip()]
        except FileNotFoundError:
            return []

    def new(self) -> list[dict]:
        """Requests since the last call."""
        found = self.requests()
        fresh = found[self.seen:]
        self.seen = len(found)
        return fresh

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()


def write_inventory() -> str:
    path = os.path.join(WORK, "hosts.ini")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("[fleet]\n" + "\n".join(FLEET) + "\n\n[big]\n")
        handle.write("\n".join("n%03d" % i for i in range(500)) + "\n\n")
        handle.write("[sweep]\nok1\nfail1\nstale1\nnew1\ngone ansible_connection=ssh ansible_host=127.0.0.1 ansible_port=%d "
                     "ansible_user=nobody ansible_ssh_common_args='-o ConnectTimeout=3 -o BatchMode=yes'\n\n" % free_port())
        handle.write("[all:vars]\nansible_connection=local\nansible_python_interpreter=%s\n" % PY)
    nodes = os.path.join(WORK, "nodes")
    docs = {
        "ok1": "image: {version: 1.0.0}\nstatus: active\n",
        "fail1": "image: {version: 1.0.0}\nstatus: failure\nlast_error: 'deploy.sh of HelloService exited 1'\n",
        "stale1": "image: {version: 1.0.0}\nstatus: building\nstarted_at: '2026-01-01T00:00:00Z'\n",
        "evil": "image: {version: 1.0.0}\nstatus: active\n",
    }
    for host, doc in docs.items():
        os.makedirs(os.path.join(nodes, host), exist_ok=True)
        with open(os.path.join(nodes, host, "images.yaml"), "w", encoding="utf-8") as handle:
            handle.write(doc)
    os.makedirs(os.path.join(nodes, "new1"), exist_ok=True)
    return path


def base_env(hook: Webhook, **extra: str) -> dict:
    env = dict(os.environ)
    env.update(
        ANSIBLE_CALLBACKS_ENABLED="fleetops.release.recap_alert,fleetops.release.audit",
        FLEETOPS_SLACK_WEBHOOK_URL=hook.url(),
        FLEETOPS_ALERT_SPOOL_DIR=os.path.join(WORK, "spool"),
        FLEETOPS_AUDIT_DIR=os.path.join(WORK, "audit"),
        FLEETOPS_ALERT_TOTAL_TIMEOUT="20",
        ANSIBLE_HOST_KEY_CHECKING="false",
        ANSIBLE_REMOTE_TEMP=os.path.join(WORK, "remote-tmp"),
        ANSIBLE_LOCAL_TEMP=os.path.join(WORK, "local-tmp"),
        ANSIBLE_FORKS="20",
    )
    env.update(extra)
    return env


def command(inventory: str, *args: str, playbook: str = "recap.yml") -> list[str]:
    cmd = [os.path.join(os.path.dirname(PY), "ansible-playbook"), "-i", inventory, os.path.join(HERE, playbook),
           "-e", "work=%s" % WORK, "-e", json.dumps({"node_hosts": NODE_HOSTS, "evil_hosts": ["evil"]})]
    if not os.path.exists(cmd[0]):
        cmd[0] = "ansible-playbook"
    return cmd + list(args)


def play(env: dict, inventory: str, *args: str, name: str, playbook: str = "recap.yml") -> tuple[int, str, float]:
    started = time.monotonic()
    proc = subprocess.run(command(inventory, *args, playbook=playbook), env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - started
    out = proc.stdout + proc.stderr
    with open(os.path.join(WORK, "outputs", name + ".out"), "w", encoding="utf-8") as handle:
        handle.write(out)
    if "Traceback" in out or "Unexpected Exception" in out:
        sys.exit("%s: a traceback in the output:\n%s" % (name, out[-3000:]))
    return proc.returncode, out, seconds


def check(condition: bool, what: str, detail: str = "") -> None:
    if not condition:
        sys.exit("FAILED: %s\n%s" % (what, detail[-4000:]))


def texts(message: dict) -> list[str]:
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [field["text"] for field in block.get("fields", [])]
        found += [element["text"] for element in block.get("elements", [])]
    return found


def assert_slack_limits(message: dict) -> None:
    check(len(message["blocks"]) <= 50, "at most 50 blocks", str(len(message["blocks"])))
    check(message["blocks"][0]["type"] == "header" and len(message["blocks"][0]["text"]["text"]) <= 150, "a header within 150 characters")
    for text in texts(message):
        check(len(text) <= 3000, "every section within 3,000 characters", text[:200])


def audit_lines() -> list[dict]:
    folder = os.path.join(WORK, "audit")
    lines = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        if name.endswith(".jsonl"):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                lines += [json.loads(line) for line in handle if line.strip()]
    return lines


def spooled() -> list[str]:
    folder = os.path.join(WORK, "spool", "pending", "slack")
    return sorted(os.listdir(folder)) if os.path.isdir(folder) else []


def case_main_run(hook: Webhook, inventory: str) -> int:
    """Every kind of host in one run: one message, the seed's fields, escaped, within limits."""
    env = base_env(hook)
    plain = {k: v for k, v in env.items() if k != "ANSIBLE_CALLBACKS_ENABLED"}
    rc_plain, _out, _secs = play(plain, inventory, "-e", "batch=5", "-e", "fleetops_project=projectx", name="main-plain")
    check(hook.new() == [], "no message without the callback")
    rc, out, _secs = play(env, inventory, "-e", "batch=5", "-e", "fleetops_project=projectx", "-e", "fleetops_environment=online",
                          "-e", "fleetops_version=1.1.0", name="main")
    check(rc == rc_plain == 2, "the callbacks do not change the exit code (%s vs %s)" % (rc, rc_plain), out)
    sent = hook.new()
    check(len(sent) == 1, "exactly one message for a normal run, got %d" % len(sent))
    message = json.loads(sent[0]["body"])
    assert_slack_limits(message)
    joined = "\n".join(texts(message))
    header = message["blocks"][0]["text"]["text"]
    check(header == "projectx online 1.1.0: partial", "the header names project, environment, version and result", header)
    expect = {"fail1": ("ok", "failure"), "stale1": ("ok", "stale"), "new1": ("ok", "missing"), "evil": ("failed", "active"),
              "later1": ("not attempted", "-"), "later2": ("not attempted", "-")}
    for host, (ansible_status, node) in expect.items():
        check("`%s`" % host in joined and "Ansible: *%s*  node: *%s*" % (ansible_status, node) in joined,
              "host %s reported as %s / %s" % (host, ansible_status, node), joined)
    check("`ok1`" not in joined, "a healthy host is counted, not listed", joined)
    check("deploy.sh of HelloService exited 1" in joined, "the node's last error is shown", joined)
    check("@channel" not in joined and "<!channel>" not in joined and "<!here>" not in joined and "`uptime`" not in joined,
          "host output and task names cannot mention or format", joined)
    check("Check &lt;b&gt;&amp;amp;" in joined, "task names are escaped, not dropped", joined)
    check("more characters]" in joined or "\u2026" in joined, "a 100 kB stderr is cut", joined)
    check(len(sent[0]["body"]) < 40000, "the message stays small", str(len(sent[0]["body"])))
    records = audit_lines()
    check(len(records) == 1, "one audit record per run", json.dumps(records))
    record = records[0]
    check(record["result"] == "partial" and record["hosts"] == {"ok": 4, "failed": 1, "unreachable": 0, "rescued": 0, "not_attempted": 2},
          "the audit record counts hosts per outcome", json.dumps(record))
    check(record["project"] == "projectx" and record["environment"] == "online" and record["version_to"] == "1.1.0"
          and record["kind"] == "release", "the audit record names project, environment and version", json.dumps(record))
    check(record["node_health"] == {"active": 2, "failure": 1, "stale": 1, "missing": 1}, "node health counts", json.dumps(record))
    STEPS.append("main run: 1 message, 7 hosts classified, rc %d unchanged" % rc)
    return rc


def case_many(hook: Webhook, inventory: str) -> None:
    """500 failing hosts: one message, within limits, '+N more'."""
    env = base_env(hook)
    rc, out, secs = play(env, inventory, name="many", playbook="many.yml")
    check(rc == 2, "500 failing hosts fail the run", out[-2000:])
    sent = hook.new()
    check(len(sent) == 1, "one message for 500 failing hosts, got %d" % len(sent))
    message = json.loads(sent[0]["body"])
    assert_slack_limits(message)
    joined = "\n".join(texts(message))
    listed = joined.count("Ansible: *failed*")
    more = [t for t in texts(message) if t.startswith("+")]
    check(len(more) == 1, "a '+N more' line", joined[-500:])
    hidden = int(more[0][1:].split(" ", 1)[0])
    check(listed + hidden == 500 and listed >= 10, "listed plus more is 500 (%d + %d)" % (listed, hidden))
    STEPS.append("500 failing hosts: %d listed, +%d more, %d blocks, run %.1f s" % (listed, hidden, len(message["blocks"]), secs))


def small(hook: Webhook, inventory: str, name: str, **env_extra: str) -> tuple[int, str, float]:
    env = base_env(hook, **env_extra)
    return play(env, inventory, "-l", "ok1", "-e", json.dumps({"node_hosts": ["ok1"], "evil_hosts": []}), name=name)


def case_delivery(hook: Webhook, inventory: str) -> None:
    # 429 with Retry-After, then a 5xx, then accepted.
    hook.script([{"status": 429, "retry_after": "2", "body": "rate_limited"}, {"status": 503, "body": "busy"}])
    rc, out, secs = small(hook, inventory, "retry")
    sent = hook.new()
    check(rc == 0 and [r["status"] for r in sent] == [429, 503, 200], "429 and 503 are retried until accepted",
          json.dumps([r["status"] for r in sent]) + out[-1500:])
    check(sent[1]["time"] - sent[0]["time"] >= 1.9, "Retry-After is honoured (%.2f s)" % (sent[1]["time"] - sent[0]["time"]))
    check(len({r["body"] for r in sent}) == 1 and spooled() == [], "the same message each time, nothing spooled")
    STEPS.append("429 Retry-After 2 then 503 then 200: delivered on attempt 3, run %.1f s" % secs)

    # Other 4xx: one attempt, spooled, delivered by the next run.
    hook.script([{"status": 404, "body": "no_service"}])
    rc, out, _secs = small(hook, inventory, "not-found")
    sent = hook.new()
    check(rc == 0 and len(sent) == 1, "a 404 is not retried (got %d attempts)" % len(sent), out[-1500:])
    check(len(spooled()) == 1 and "HTTP 404 no_service" in out and "spooled" in out, "an undelivered message is spooled and said so", out[-1500:])
    rc, out, _secs = small(hook, inventory, "after-not-found")
    sent = hook.new()
    check(len(sent) == 2 and all(r["status"] == 200 for r in sent), "the next run sends the spooled message, then its own", out[-1000:])
    first = "\n".join(texts(json.loads(sent[0]["body"])))
    check("delayed: run" in first and "HTTP 404" in first, "the late message says it is late and why", first)
    check(spooled() == [], "the spool is empty again")
    STEPS.append("404: 1 attempt, spooled, delivered late by the next run")

    # 400 (a payload Slack refuses) is kept aside, not retried forever.
    hook.script([{"status": 400, "body": "invalid_blocks"}])
    rc, out, _secs = small(hook, inventory, "bad-request")
    hook.new()
    rejected = os.path.join(WORK, "spool", "rejected", "slack")
    check(rc == 0 and len(os.listdir(rejected)) == 1 and spooled() == [] and "will not be retried" in out,
          "a 400 is kept in rejected/ and not queued", out[-1000:])

    # The webhook down (nothing listening): the run is unchanged, the message waits.
    down = "http://127.0.0.1:%d/services/%s" % (free_port(), CANARY)
    rc, out, secs = small(hook, inventory, "down", FLEETOPS_SLACK_WEBHOOK_URL=down, FLEETOPS_ALERT_TOTAL_TIMEOUT="3")
    check(rc == 0 and "connection failed" in out and len(spooled()) == 1, "webhook down: warned and spooled", out[-1500:])
    rc, out, base = small(hook, inventory, "up-again")
    check(len(hook.new()) == 2 and spooled() == [], "webhook back: both delivered")
    # Against the same run with a webhook that answers, so the bound holds however loaded the machine is.
    check(secs < base + 30, "webhook down: bounded (%.1f s, %.1f s when it answers)" % (secs, base))
    STEPS.append("webhook down: run %.1f s, rc 0, spooled, delivered by the next run" % secs)

    # A receiver that hangs (for 300 s, far beyond any run's noise): bounded by request_timeout and total_timeout.
    hook.script([{"status": 200, "hang": 300}, {"status": 200, "hang": 300}, {"status": 200, "hang": 300}])
    rc, out, secs = small(hook, inventory, "slow", FLEETOPS_ALERT_REQUEST_TIMEOUT="2", FLEETOPS_ALERT_TOTAL_TIMEOUT="5")
    attempts = hook.new()
    check(rc == 0 and "timed out" in out and len(spooled()) == 1, "a hanging webhook times out and the message is spooled", out[-1500:])
    hook.script([])
    _rc, _out, base = small(hook, inventory, "after-slow")
    check(len(hook.new()) == 2 and spooled() == [], "after the slow receiver: both delivered")
    check(secs < base + 60 and 1 <= len(attempts) <= 3, "bounded: %.1f s (%.1f s when it answers), %d attempts" % (secs, base, len(attempts)))
    STEPS.append("hanging webhook (request 2 s, total 5 s): run %.1f s, %d attempts, spooled" % (secs, len(attempts)))


def case_callback_error(hook: Webhook, inventory: str) -> None:
    """Our callback failing must not change the run: a spool dir that is a file, a corrupt spooled message."""
    blocker = os.path.join(WORK, "not-a-dir")
    with open(blocker, "w", encoding="utf-8") as handle:
        handle.write("x")
    down = "http://127.0.0.1:%d/x" % free_port()
    env = base_env(hook, FLEETOPS_ALERT_SPOOL_DIR=blocker, FLEETOPS_SLACK_WEBHOOK_URL=down, FLEETOPS_ALERT_TOTAL_TIMEOUT="2")
    plain = {k: v for k, v in env.items() if k != "ANSIBLE_CALLBACKS_ENABLED"}
    args = ("-e", "batch=5")
    rc_plain, _o, _s = play(plain, inventory, *args, name="error-plain")
    rc, out, _s = play(env, inventory, *args, name="error")
    check(rc == rc_plain and "[WARNING]" in out and "recap_alert" in out, "a failing callback is a warning, the exit code is %d" % rc, out[-2000:])
    hook.new()
    folder = os.path.join(WORK, "spool", "pending", "slack")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "00000000T000000-broken.json"), "w", encoding="utf-8") as handle:
        handle.write("{not json")
    rc, out, _s = small(hook, inventory, "corrupt-spool")
    check(rc == 0 and len(hook.new()) == 1 and spooled() == [] and "unreadable spooled message moved" in out,
          "a corrupt spooled file is moved aside and the run's message still goes out", out[-1500:])
    STEPS.append("callback errors (spool dir is a file, corrupt spool entry): warnings only, rc %d unchanged" % rc)


def start_napping(args: tuple, env: dict, log: str, **popen) -> subprocess.Popen:
    """Start ansible-playbook with its output in ``log``; return once it is in the Nap task (it has started its run)."""
    with open(log, "w", encoding="utf-8") as handle:
        proc = subprocess.Popen(command(*args), env=env, stdout=handle, stderr=subprocess.STDOUT, **popen)  # pylint: disable=consider-using-with
    deadline = time.monotonic() + 240
    while True:
        with open(log, encoding="utf-8") as reader:
            text = reader.read()
        if "TASK [Nap]" in text:
            return proc
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            sys.exit("FAILED: %s never reached the Nap task (rc %s)\n%s" % (log, proc.poll(), text[-2000:]))
        time.sleep(0.2)


def interrupt(hook: Webhook, inventory: str, sig: int, name: str) -> tuple[int, str]:
    env = base_env(hook)
    log = os.path.join(WORK, "outputs", name + ".out")
    proc = start_napping((inventory, "-l", "ok1,fail1", "-e", "nap=60", "-e", json.dumps({"node_hosts": ["ok1", "fail1"]})), env, log)
    proc.send_signal(sig)
    rc = proc.wait(timeout=120)
    rc = 128 - rc if rc < 0 else rc  # killed by the signal: what a shell reports
    with open(log, encoding="utf-8") as reader:
        return rc, reader.read()


def case_interrupts(hook: Webhook, inventory: str) -> None:
    for sig, name, expected in ((signal.SIGINT, "SIGINT", 99), (signal.SIGTERM, "SIGTERM", 143)):
        before = len(audit_lines())
        rc, out = interrupt(hook, inventory, sig, "interrupt-" + name)
        sent = hook.new()
        check(rc == expected, "%s ends ansible-playbook with %d (got %d)" % (name, expected, rc), out[-1500:])
        check(len(sent) == 1, "%s: exactly one message (got %d)" % (name, len(sent)), out[-1500:])
        header = json.loads(sent[0]["body"])["blocks"][0]["text"]["text"]
        check(header.endswith("interrupted (%s)" % name), "%s: the message says interrupted" % name, header)
        record = audit_lines()[before:]
        check(len(record) == 1 and record[0]["result"] == "aborted" and record[0]["interrupted_by"] == name,
              "%s: one aborted audit record" % name, json.dumps(record))
        STEPS.append("%s mid-run: rc %d, 1 'interrupted' message, audit result aborted" % (name, rc))
    # SIGHUP while it is ignored (nohup): not an interruption; the run ends normally and reports once.
    env = base_env(hook)
    log = os.path.join(WORK, "outputs", "nohup.out")
    proc = start_napping((inventory, "-l", "ok1", "-e", "nap=4", "-e", json.dumps({"node_hosts": ["ok1"]})), env, log,
                         preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))  # pylint: disable=subprocess-popen-preexec-fn
    proc.send_signal(signal.SIGHUP)
    rc = proc.wait(timeout=120)
    sent = hook.new()
    check(rc == 0 and len(sent) == 1 and json.loads(sent[0]["body"])["blocks"][0]["text"]["text"].endswith(": success"),
          "an ignored SIGHUP (nohup) is not an interruption: one success message (rc %d, %d messages)" % (rc, len(sent)))
    check(os.listdir(os.path.join(WORK, "spool", "open")) == [], "no journal left behind")
    STEPS.append("SIGHUP under nohup: the run completes, one success message")
    # SIGKILL: nothing can run; the next run reports it from the journal.
    env = base_env(hook)
    before = len(audit_lines())
    proc = start_napping((inventory, "-l", "ok1", "-e", "nap=60", "-e", json.dumps({"node_hosts": ["ok1"]})), env,
                         os.path.join(WORK, "outputs", "sigkill.out"))
    proc.kill()
    proc.wait()
    check(hook.new() == [], "SIGKILL: nothing is sent by the killed run")
    rc, out, _s = small(hook, inventory, "after-kill")
    sent = hook.new()
    check(len(sent) == 2, "the next run reports the killed run, then itself (got %d)" % len(sent), out[-1500:])
    header = json.loads(sent[0]["body"])["blocks"][0]["text"]["text"]
    check("killed" in header, "the late message says the run was killed", header)
    records = audit_lines()[before:]
    check([r["result"] for r in records] == ["aborted", "success"], "the killed run gets an aborted audit record",
          json.dumps(records))
    STEPS.append("SIGKILL: reported by the next run (message and aborted audit record)")


def case_json_sink_and_s3(hook: Webhook, inventory: str, s3_endpoint: str) -> None:
    env = base_env(hook, FLEETOPS_WEBHOOK_URL=hook.url("/json/" + CANARY), FLEETOPS_AUDIT_S3_BUCKET="audit",
                   FLEETOPS_AUDIT_S3_ENDPOINT_URL=s3_endpoint, FLEETOPS_AUDIT_S3_REGION="us-east-1")
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="audit")
    rc, out, _s = play(env, inventory, "-e", "batch=5", "-e", "fleetops_project=projectx", name="json")
    sent = hook.new()
    check(rc == 2 and len(sent) == 2, "one Slack and one JSON message", out[-1500:])
    body = next(json.loads(r["body"]) for r in sent if r["path"].startswith("/json/"))
    check(body["result"] == "partial" and {p["host"] for p in body["problems"]} == {"fail1", "stale1", "new1", "evil", "later1", "later2"},
          "the JSON document carries the summary and the problem hosts", json.dumps(body)[:2000])
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="audit").get("Contents", [])]
    check(len(keys) == 1 and keys[0].startswith("fleetops-audit/") and keys[0].endswith(body["run_id"] + ".json"),
          "the audit record is in S3 under its day", json.dumps(keys) + " run " + str(body["run_id"]))
    # S3 down: the record waits in s3-pending and goes up with the next run.
    env_down = dict(env, FLEETOPS_AUDIT_S3_ENDPOINT_URL="http://127.0.0.1:%d" % free_port())
    small_env = ("-l", "ok1", "-e", json.dumps({"node_hosts": ["ok1"], "evil_hosts": []}))
    rc, out, _s = play(env_down, inventory, *small_env, name="s3-down")
    pending = os.path.join(WORK, "audit", "s3-pending", "pending", "s3")
    check(rc == 0 and len(os.listdir(pending)) == 1 and "not uploaded" in out, "S3 down: the record waits", out[-1500:])
    rc, out, _s = play(env, inventory, *small_env, name="s3-up")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="audit").get("Contents", [])]
    check(len(keys) == 3 and os.listdir(pending) == [], "S3 back: the waiting record and the new one are uploaded", json.dumps(keys))
    hook.new()
    STEPS.append("JSON sink and audit records in S3 (with S3 down then back)")


def case_status(hook: Webhook, inventory: str) -> None:
    """The seed's monitoring: fleetops.release.status alerts on failure, missing, stale and unreachable nodes."""
    state_file = json.dumps({"fleetops_node_paths": {"state_file": WORK + "/nodes/{{ inventory_hostname }}/images.yaml"}})
    binary = command(inventory)[0]
    env = base_env(hook, FLEETOPS_ALERT_SEND_ON="problems")
    before = len(audit_lines())
    proc = subprocess.run([binary, "-i", inventory, "fleetops.release.status", "-e", "fleetops_hosts=sweep", "-e", state_file],
                          env=env, capture_output=True, text=True, check=False)
    out = proc.stdout + proc.stderr
    check(proc.returncode == 2, "the sweep exits 2 when nodes need attention (rc %d)" % proc.returncode, out[-2000:])
    sent = hook.new()
    check(len(sent) == 1, "one alert for the sweep (got %d)" % len(sent), out[-2000:])
    joined = "\n".join(texts(json.loads(sent[0]["body"])))
    for host, ansible_status, node in (("fail1", "ok", "failure"), ("stale1", "ok", "stale"), ("new1", "ok", "missing"),
                                       ("gone", "unreachable", "-")):
        check("`%s`" % host in joined and "Ansible: *%s*  node: *%s*" % (ansible_status, node) in joined,
              "sweep: %s is %s / %s" % (host, ansible_status, node), joined)
    check("`ok1`" not in joined, "sweep: the healthy node is only counted", joined)
    record = audit_lines()[before:]
    check(len(record) == 1 and record[0]["kind"] == "status", "sweep: an audit record of kind status", json.dumps(record))
    # All well and send_on=problems: a quiet sweep sends nothing.
    proc = subprocess.run([binary, "-i", inventory, "fleetops.release.status", "-e", "fleetops_hosts=ok1", "-e", state_file],
                          env=env, capture_output=True, text=True, check=False)
    check(proc.returncode == 0 and hook.new() == [], "a healthy sweep exits 0 and, with send_on=problems, sends nothing",
          (proc.stdout + proc.stderr)[-2000:])
    STEPS.append("status sweep: rc 2, one alert naming failure, stale, missing and unreachable nodes; a healthy sweep is quiet")


def case_canary(hook: Webhook, inventory: str) -> None:
    """The webhook URL in no output, log, warning, spool or audit file, at -vvvv with ANSIBLE_DEBUG=1."""
    outputs = os.path.join(WORK, "canary")
    os.makedirs(outputs, exist_ok=True)
    url_file = os.path.join(WORK, "slack-url")
    with open(url_file, "w", encoding="utf-8") as handle:
        handle.write(hook.url() + "\n")
    runs = [
        ("env", dict(FLEETOPS_WEBHOOK_URL=hook.url("/json/" + CANARY))),
        ("file", dict(FLEETOPS_SLACK_WEBHOOK_URL="", FLEETOPS_SLACK_WEBHOOK_URL_FILE=url_file)),
        ("down", dict(FLEETOPS_SLACK_WEBHOOK_URL="http://127.0.0.1:%d/services/%s" % (free_port(), CANARY), FLEETOPS_ALERT_TOTAL_TIMEOUT="2")),
        ("refused", dict()),
    ]
    for name, extra in runs:
        if name == "refused":
            # A receiver whose error page echoes the path: the secret must not travel on in a warning or a note.
            hook.script([{"status": 404, "body": "<p>The requested URL {path} was not found</p>"}])
        env = base_env(hook, ANSIBLE_DEBUG="1", ANSIBLE_LOG_PATH=os.path.join(outputs, name + ".log"), **extra)
        proc = subprocess.run(command(inventory, "-vvvv", "-e", "batch=5"), env=env, capture_output=True, text=True, check=False)
        for stream, text in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            with open(os.path.join(outputs, "%s.%s" % (name, stream)), "w", encoding="utf-8") as handle:
                handle.write(text)
        check(proc.returncode == 2, "canary run %s completed (rc %d)" % (name, proc.returncode), proc.stdout[-1500:])
    hook.script([])
    check(len(hook.new()) >= 3, "the canary runs really sent messages")
    token = CANARY
    needles = {token, token.rsplit("/", maxsplit=1)[-1], urllib.parse.quote(token, safe=""), urllib.parse.quote(hook.url(), safe=""),
               urllib.parse.quote_plus(hook.url()), json.dumps(hook.url())[1:-1].replace("/", "\\/")}
    found, files = [], 0
    for root in (outputs, os.path.join(WORK, "spool"), os.path.join(WORK, "audit"), os.path.join(WORK, "outputs")):
        for base, _dirs, names in os.walk(root):
            for name in names:
                files += 1
                with open(os.path.join(base, name), "rb") as handle:
                    data = handle.read().decode("utf-8", "replace")
                found += ["%s: %r" % (os.path.join(base, name), n) for n in needles if n in data]
    check(files >= 12, "the canary search saw the outputs (%d files)" % files)
    check(not found, "the webhook URL leaked", "\n".join(sorted(found)))
    STEPS.append("canary webhook URL: not in %d files (stdout, stderr, -vvvv, ANSIBLE_DEBUG log, spool, audit)" % files)


def main() -> int:
    os.makedirs(os.path.join(WORK, "outputs"), exist_ok=True)
    inventory = write_inventory()
    hook = Webhook(os.path.join(WORK, "webhook"))
    only = sys.argv[2:]
    try:
        cases = [("main", lambda: case_main_run(hook, inventory)), ("many", lambda: case_many(hook, inventory)),
                 ("delivery", lambda: case_delivery(hook, inventory)), ("error", lambda: case_callback_error(hook, inventory)),
                 ("interrupts", lambda: case_interrupts(hook, inventory)),
                 ("json", lambda: case_json_sink_and_s3(hook, inventory, os.environ["MOTO_ENDPOINT"])),
                 ("status", lambda: case_status(hook, inventory)),
                 ("canary", lambda: case_canary(hook, inventory))]
        for name, case in cases:
            if only and name not in only:
                continue
            started = time.monotonic()
            case()
            print("ok %-10s %.1f s" % (name, time.monotonic() - started), flush=True)
    finally:
        hook.stop()
    print("\n".join(STEPS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
