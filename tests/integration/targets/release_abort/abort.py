# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The deploy playbook's release lock and abort, end to end.

Three local-connection nodes (each a directory) stand behind Debian's haproxy as web01..web03 (the lab of
the lb_haproxy target: real haproxy, real HTTP servers, health checks). The deploy playbook runs with the
audit callback, takes its lock in the moto bucket and rotates every node through haproxy. The Faulty
module's deploy.sh holds on a node until the test says go, so that a signal lands mid-release:

- graceful SIGINT while web02 is being released: web01 done, web02 finishes and goes back into rotation,
  web03 untouched; lock released; audit record aborted with its counts; exit 2;
- graceful SIGTERM, the same from the first host;
- a second signal stops at once: the lock stays held (the alert and audit say until when), the next run is
  refused naming the holder, and a forced run breaks it (audited) and goes through;
- a lock held by someone else refuses a release before any host is touched.
"""

from __future__ import annotations

import datetime
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lb_haproxy"))
import boto3  # noqa: E402  pylint: disable=wrong-import-position
from lb_haproxy import Lab, check, wait_for  # noqa: E402  pylint: disable=wrong-import-position

PY = sys.executable
BIN = os.path.dirname(PY)
NAMES = ("web01", "web02", "web03")
LOCK_KEY = ".fleetops/locks/projectx/online.json"


class Release:
    def __init__(self, lab: Lab, work: str) -> None:
        self.lab = lab
        self.work = work
        self.audit = os.path.join(work, "audit")
        self.runs = 0
        self.s3 = boto3.client("s3", endpoint_url=os.environ["MOTO_ENDPOINT"], region_name="us-east-1")
        self.inventory = os.path.join(work, "fleet.yml")
        hosts = {}
        for name in NAMES:
            node = self.node(name)
            os.makedirs(node, exist_ok=True)
            port = lab.ports[name]
            hosts[name] = dict(
                ansible_connection="local", ansible_python_interpreter=PY,
                fleetops_node_paths=dict(state_file=node + "/images.yaml", cache_dir=node + "/cache", modules_dir=node + "/modules",
                                         log_dir=node + "/logs"),
                fleetops_lb=[dict(type="haproxy", lb_host="localhost", haproxy_socket=lab.admin, haproxy_backend="web",
                                  haproxy_server=name, poll_interval=0.1)],
                fleetops_health=dict(command="%s -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:%d/health', timeout=10)\""
                                     % (PY, port), retries=20, delay=0.2))
        with open(self.inventory, "w", encoding="utf-8") as handle:
            json.dump({"fleet": {"hosts": hosts}}, handle)

    def node(self, name: str) -> str:
        return os.path.join(self.work, "nodes", name)

    def start(self, version: str, extra: dict | None = None, new_session: bool = False,
              limit: str | None = None) -> tuple[subprocess.Popen, str]:
        self.runs += 1
        variables = dict(fleetops_hosts="fleet", fleetops_dist="FaultDist", fleetops_version=version, fleetops_bucket="releases",
                         fleetops_s3=dict(endpoint_url=os.environ["S3_ENDPOINT"]), fleetops_serial=1, fleetops_project="projectx",
                         fleetops_environment="online", fleetops_upgradable=["1.0.0"], fleetops_lb_drain_timeout=60)
        variables.update(extra or {})
        env = dict(os.environ, ANSIBLE_CALLBACKS_ENABLED="fleetops.release.audit", FLEETOPS_AUDIT_DIR=self.audit,
                   ANSIBLE_FORCE_COLOR="0", ANSIBLE_NOCOLOR="1")
        log = os.path.join(self.work, "run-%02d.log" % self.runs)
        playbook = os.path.join(BIN, "ansible-playbook")
        with open(log, "wb") as out:
            proc = subprocess.Popen(  # pylint: disable=consider-using-with
                [playbook if os.path.exists(playbook) else "ansible-playbook", "-i", self.inventory, "fleetops.release.deploy",
                 "-e", json.dumps(variables)] + (["--limit", limit] if limit else []),
                stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=new_session)
        return proc, log

    def run(self, version: str, extra: dict | None = None) -> tuple[int, str]:
        proc, log = self.start(version, extra)
        rc = proc.wait(180)
        return rc, read(log)

    def lease(self) -> dict:
        return json.loads(self.s3.get_object(Bucket="releases", Key=LOCK_KEY)["Body"].read())

    def state(self, name: str) -> str:
        path = os.path.join(self.node(name), "images.yaml")
        return read(path) if os.path.exists(path) else ""

    def on(self, name: str) -> tuple[str, str]:
        """(status, image version) from the node's images.yaml."""
        text = self.state(name)
        status = re.search(r"^status: \"?([a-z]+)", text, re.M)
        version = re.search(r"^image:\n  version: \"?([^\"\n]+)", text, re.M)
        return (status.group(1) if status else "", version.group(1) if version else "")

    def records(self) -> list[dict]:
        out = []
        for path in sorted(glob.glob(os.path.join(self.audit, "*.jsonl"))):
            out += [json.loads(line) for line in read(path).splitlines() if line.strip()]
        return out

    def hold(self, name: str) -> None:
        for marker in ("go", "started"):
            if os.path.exists(os.path.join(self.node(name), marker)):
                os.unlink(os.path.join(self.node(name), marker))
        open(os.path.join(self.node(name), "hold"), "w", encoding="utf-8").close()  # pylint: disable=consider-using-with

    def release_hold(self, name: str) -> None:
        open(os.path.join(self.node(name), "go"), "w", encoding="utf-8").close()  # pylint: disable=consider-using-with

    def clear(self, name: str) -> None:
        for marker in ("hold", "go", "started"):
            path = os.path.join(self.node(name), marker)
            if os.path.exists(path):
                os.unlink(path)

    def wait_started(self, name: str, proc: subprocess.Popen, log: str) -> None:
        def started() -> bool:
            check(proc.poll() is None, "the release is still running when %s should start" % name, read(log)[-3000:])
            return os.path.exists(os.path.join(self.node(name), "started"))
        wait_for(started, 90, "%s's deploy.sh to start" % name)


def summary_line(out: str, host: str) -> str:
    match = re.search(r'"(%s  +\S[^"]*)"' % host, out)  # the summary's columns, not a sentence starting with the name
    return match.group(1) if match else ""


def seconds(text: str) -> float:
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()


def read(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


def admin_states(lab: Lab) -> dict:
    # admin 0: in rotation (ready); 1 (MAINT) or 8 (DRAIN): taken out by an admin.
    return {name: (row["status"], row["admin"]) for name, row in lab.view().items()}


def graceful_sigint(lab: Lab, rel: Release) -> None:
    """SIGINT while web02's release runs: web02 finishes and goes back, web03 is never touched."""
    rel.hold("web02")
    proc, log = rel.start("1.0.0")
    rel.wait_started("web02", proc, log)
    view = admin_states(lab)
    check(view["web02"][1] != 0 and view["web01"] == ("UP", 0), "web02 is out of rotation while it is released, web01 back in", view)
    check(rel.lease()["status"] == "held", "the lock is held during the release", rel.lease())
    proc.send_signal(signal.SIGINT)
    # The run says it heard the signal; only then does "it is still running" mean the signal did not stop it.
    wait_for(lambda: "abort requested (SIGINT)" in read(log) or proc.poll() is not None, 120, "the run to hear the SIGINT")
    check(proc.poll() is None, "the first SIGINT does not stop the run", read(log)[-3000:])
    rel.release_hold("web02")
    rc = proc.wait(120)
    out = read(log)
    check(rc == 2, "an aborted release exits 2 (rc %s)" % rc, out[-4000:])
    check("abort requested (SIGINT)" in out, "the run says the abort was heard", out[-4000:])
    check("release aborted (SIGINT at " in out and "2 host(s) went through their release, 1 were not started and are untouched" in out,
          "the run ends with the abort's counts", out[-4000:])
    check("web03  not started  -         the release was aborted (SIGINT) before this host; nothing on it was changed" in out,
          "the summary names web03 as untouched", out[-4000:])
    for name in ("web01", "web02"):
        check(rel.on(name) == ("active", "1.0.0"), "%s finished its release" % name, rel.state(name))
    check(not os.path.exists(os.path.join(rel.node("web03"), "images.yaml")) and not os.path.exists(os.path.join(rel.node("web03"), "modules")),
          "web03 was never touched", os.listdir(rel.node("web03")))
    wait_for(lambda: all(v == ("UP", 0) for v in admin_states(lab).values()), 60, "every server in rotation and UP after the abort")
    lease = rel.lease()
    check(lease["status"] == "released" and lease["generation"] == 1, "the lock was released", lease)
    record = rel.records()[-1]
    check(record["result"] == "aborted" and record["interrupted_by"] == "SIGINT (graceful abort)", "the audit record says aborted", record)
    check(record["hosts"]["ok"] == 2 and record["hosts"]["not_attempted"] == 1, "the audit record counts 2 done and 1 untouched", record)
    check(record["lock"]["released"] and not record["lock"]["held"] and record["lock_id"].endswith("#1"), "the audit record has the lock", record)
    rel.clear("web02")


def graceful_sigterm(lab: Lab, rel: Release) -> None:
    """SIGTERM (what AWX and systemd send) during the first host of an upgrade: the other two stay on 1.0.0."""
    rel.hold("web01")
    proc, log = rel.start("1.1.0")
    rel.wait_started("web01", proc, log)
    proc.send_signal(signal.SIGTERM)
    # The run says it heard the signal; only then does "it is still running" mean the signal did not stop it.
    wait_for(lambda: "abort requested (SIGTERM)" in read(log) or proc.poll() is not None, 120, "the run to hear the SIGTERM")
    check(proc.poll() is None, "the first SIGTERM does not stop the run", read(log)[-3000:])
    rel.release_hold("web01")
    rc = proc.wait(120)
    out = read(log)
    check(rc == 2 and "release aborted (SIGTERM at " in out, "SIGTERM aborts gracefully (rc %s)" % rc, out[-4000:])
    check(rel.on("web01") == ("active", "1.1.0"), "web01 finished its upgrade", rel.state("web01"))
    check(rel.on("web02") == ("active", "1.0.0"), "web02 stays on 1.0.0", rel.state("web02"))
    check(not os.path.exists(os.path.join(rel.node("web03"), "images.yaml")), "web03 stays untouched", os.listdir(rel.node("web03")))
    wait_for(lambda: all(v == ("UP", 0) for v in admin_states(lab).values()), 60, "every server in rotation after SIGTERM")
    lease = rel.lease()
    check(lease["status"] == "released" and lease["generation"] == 2, "released again, generation 2", lease)
    record = rel.records()[-1]
    check(record["result"] == "aborted" and record["hosts"]["ok"] == 1 and record["hosts"]["not_attempted"] == 2, "SIGTERM's audit record", record)
    rel.clear("web01")


def hard_stop_then_force(lab: Lab, rel: Release) -> None:
    """Two SIGINTs: the run stops at once and the lock stays; the next run is refused; a forced one goes through."""
    rel.hold("web02")
    proc, log = rel.start("1.1.0")
    rel.wait_started("web02", proc, log)
    proc.send_signal(signal.SIGINT)
    # Two signals sent before Python ran its handler would count as one: the second goes once the first was heard.
    wait_for(lambda: "abort requested (SIGINT)" in read(log) or proc.poll() is not None, 120, "the run to hear the first SIGINT")
    proc.send_signal(signal.SIGINT)
    # Ansible stops, but waits for the module in flight: let web02's deploy.sh end. The second signal's effect (a
    # KeyboardInterrupt in ansible-playbook's main thread, raised by its next bytecode) shows nowhere outside the
    # process; the pause is a wide margin for that, not a wait for something this test could watch.
    time.sleep(2.0)
    rel.release_hold("web02")
    rc = proc.wait(60)
    out = read(log)
    check(rc == 99, "a second SIGINT stops the run at once (rc %s)" % rc, out[-3000:])
    lease = rel.lease()
    check(lease["status"] == "held" and lease["generation"] == 3, "the lock stays held after a hard stop", lease)
    record = rel.records()[-1]
    check(record["result"] == "aborted" and record["interrupted_by"] == "SIGINT" and record["lock"]["held"]
          and abs(seconds(record["lock"]["expires"]) - seconds(lease["expires"])) <= 5, "the audit record says the lock is held until its expiry",
          record)
    # The next release is refused before it touches anything, naming the holder.
    before = {name: rel.state(name) for name in NAMES}
    lease_before = lease
    rc, out = rel.run("1.1.0")
    check(rc == 2 and "is held by" in out and lease["run_id"] in out and "expires" in out, "a held lock refuses the next release", out[-3000:])
    check({name: rel.state(name) for name in NAMES} == before, "the refused release touched no node", before)
    check(rel.lease()["generation"] == 3, "the refused release left the lease alone", rel.lease())
    check(lease["out_of_rotation"] == {"web02": [0]}, "the lock's record says web02 is out of rotation", lease)
    # An operator breaks it. The forced run finds web02 noted out of rotation, but its upgrade was cut off (the node
    # says maintain): it is not put back, the run says why, and the note is kept for the next run.
    rel.clear("web02")
    rc, out = rel.run("1.1.0", dict(fleetops_lock_force=True, fleetops_lock_reason="break the stopped run's lock"))
    check(rc == 0, "the forced run succeeds (rc %s)" % rc, out[-4000:])
    check("broke" in out.lower() or "forced" in out.lower(), "the forced run warns that it broke a lock", out[-3000:])
    check("web02 was left out of its load balancers by a release that died, and is not active (node status maintain)" in out,
          "the forced run leaves web02 out and says why", out[-6000:])
    check(admin_states(lab)["web02"][1] != 0, "web02 stays out of rotation", admin_states(lab))
    lease = rel.lease()
    check(lease["status"] == "released" and lease["generation"] == 4, "the forced run took generation 4 and released it", lease)
    records = rel.records()
    stopped = [r for r in records if r["interrupted_by"] == "SIGINT"][-1]
    check(records[-1]["lock"].get("forced") and records[-1]["lock"]["broke"]["run_id"] == lease_before["run_id"],
          "the audit record says the lock was forced and whose it broke (%s)" % stopped["run_id"], records[-1])
    check(rel.on("web03") == ("active", "1.1.0"), "the forced run released web03", rel.state("web03"))
    check(rel.on("web02")[0] == "maintain" and "skipped" in summary_line(out, "web02") and "in progress" in summary_line(out, "web02"),
          "web02's upgrade was cut off by the second SIGINT: left in progress, and skipped", rel.state("web02") + summary_line(out, "web02"))
    check(lease["out_of_rotation"] == {"web02": [0]}, "web02 stays in the lock's note for the next run", lease)
    # The operator looks at web02 and puts it back by hand.
    lab.set_state("web02", "ready")
    wait_for(lambda: all(v == ("UP", 0) for v in admin_states(lab).values()), 60, "every server in rotation")


def killed(lab: Lab, rel: Release) -> None:
    """SIGKILL to the process group (what ansible-runner, and so AWX, does to cancel a job) while web01 is installed:
    the lock stays until it expires; then the next run puts web01 back and goes on."""
    shutil.rmtree(rel.node("web01"))  # a new node: its release runs deploy.sh, which holds
    os.makedirs(rel.node("web01"))
    rel.hold("web01")
    # The lease must outlast the next run's start (a whole playbook up to the lock, on a loaded machine that is tens of
    # seconds), so that "refused while held" is what is tested; the test then waits for its expiry.
    proc, log = rel.start("1.1.0", dict(fleetops_lock_ttl=60), new_session=True)
    rel.wait_started("web01", proc, log)
    check(admin_states(lab)["web01"][1] != 0, "web01 is out of rotation when the job is killed", admin_states(lab))
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(60)
    rel.release_hold("web01")  # the orphaned worker finishes its module call, as on AWX's execution node
    lease = rel.lease()
    check(lease["status"] == "held" and lease["out_of_rotation"] == {"web01": [0]}, "the killed run's lease says web01 is out", lease)
    rc, out = rel.run("1.1.0")
    check(rc == 2 and "is held by" in out and "expires" in out, "the lock is held until it expires", out[-3000:])
    time.sleep(max(0.0, seconds(lease["expires"]) - time.time() + 1.5))
    rel.clear("web01")
    rc, out = rel.run("1.1.0")
    check(rc == 0, "after the expiry the next run goes through (rc %s)" % rc, out[-4000:])
    check(re.search(r"Put the host back into the load balancers the run that died took it out of\][^\n]*\nchanged: \[web01", out) is not None,
          "web01 was put back by the next run", out[-6000:])
    after = rel.lease()
    check(after["generation"] == lease["generation"] + 1 and after["status"] == "released", "taken over after expiry, then released", after)
    check(all(v == ("UP", 0) for v in admin_states(lab).values()), "every server in rotation", admin_states(lab))
    for name in ("web01", "web03"):
        check(rel.on(name) == ("active", "1.1.0"), "%s on 1.1.0" % name, rel.state(name))


def held_by_another(lab: Lab, rel: Release) -> None:  # pylint: disable=unused-argument
    """A lock someone else holds (not expired) refuses the release before any host is touched, and is not changed."""
    body = dict(rel.lease(), status="held", generation=9, token="someone-else", user="bob", owner="bob@ops pid 7", run_id="R-bob",
                reason="hotfix 1.0.1", since="2026-11-22T20:00:00Z", ttl=86400)
    rel.s3.put_object(Bucket="releases", Key=LOCK_KEY, Body=json.dumps(body).encode())
    rc, out = rel.run("1.1.0")
    check(rc == 2 and "bob" in out and "hotfix 1.0.1" in out, "a lock held by bob refuses the release and says why", out[-3000:])
    check("TASK [fleetops.release.deploy : Release this host" not in out, "no host was touched", out[-3000:])
    check(rel.lease()["token"] == "someone-else", "bob's lease is untouched", rel.lease())


def lost_lock(lab: Lab, rel: Release) -> None:
    """Somebody breaks the lock while web01 is released: the next batch's renew finds it lost, the rollout stops,
    web02 and web03 stay untouched, and the run leaves the new holder's lease alone."""
    for name in NAMES:
        shutil.rmtree(rel.node(name))
        os.makedirs(rel.node(name))
    rel.hold("web01")
    proc, log = rel.start("1.1.0", dict(fleetops_lock_reason="the one that loses"))
    rel.wait_started("web01", proc, log)
    playbook = os.path.join(BIN, "ansible")
    carol = subprocess.run([playbook if os.path.exists(playbook) else "ansible", "localhost", "-i", "localhost,", "-c", "local",
                            "-m", "fleetops.release.release_lock", "-a",
                            "project=projectx environment=online bucket=releases force=true user=carol reason=INC-9 endpoint_url=%s"
                            % os.environ["S3_ENDPOINT"]], capture_output=True, text=True, check=False)
    check(carol.returncode == 0, "carol breaks the lock", carol.stdout + carol.stderr)
    rel.release_hold("web01")
    rc = proc.wait(120)
    out = read(log)
    check(rc == 2 and "the rollout was stopped because the release lock could not be renewed" in out and "lost the lock" in out,
          "the run stops when its lock is lost (rc %s)" % rc, out[-4000:])
    for name in ("web02", "web03"):
        check(not os.path.exists(os.path.join(rel.node(name), "images.yaml")), "%s stays untouched" % name, os.listdir(rel.node(name)))
    lease = rel.lease()
    check(lease["user"] == "carol" and lease["status"] == "held", "carol's lease is left alone", lease)
    check(all(v == ("UP", 0) for v in admin_states(lab).values()), "web01 went back into rotation", admin_states(lab))
    # Carol is done; --limit without localhost is refused before any host is touched.
    rel.clear("web01")
    rel.s3.put_object(Bucket="releases", Key=LOCK_KEY, Body=json.dumps(dict(lease, status="released")).encode())
    proc, log = rel.start("1.1.0", limit="web02")
    rc = proc.wait(60)
    out = read(log)
    check(rc == 2 and "does not run, most likely because --limit" in out.replace("did not run", "does not run"), "a limit without localhost is refused",
          out[-3000:])
    check(not os.path.exists(os.path.join(rel.node("web02"), "images.yaml")), "the limited run touched nothing", os.listdir(rel.node("web02")))


CASES = (("sigint", graceful_sigint), ("sigterm", graceful_sigterm), ("hard", hard_stop_then_force), ("killed", killed),
         ("lost", lost_lock), ("held", held_by_another))


def main(argv: list[str]) -> int:
    work = os.environ["LB_WORK"]
    lab = Lab(work, [])
    started = time.monotonic()
    try:
        lab.start()
        rel = Release(lab, work)
        for name, case in CASES:
            if argv and name not in argv:
                continue
            began = time.monotonic()
            case(lab, rel)
            print("ok %-8s %.1f s" % (name, time.monotonic() - began), flush=True)
    finally:
        lab.stop()
    print("release_abort: %d ansible-playbook runs, %.1f s" % (rel.runs, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
