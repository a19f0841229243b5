# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What a playbook run did to each host, for the recap_alert and audit callbacks.

Pure data: the callbacks feed events in; :meth:`RunTracker.summary` classifies every host the
plays targeted (Ansible's stats leave out hosts of serial batches that never ran) and adds the
node states that ``dist_deploy`` and ``node_state`` reported. No Ansible import here, so the
classification is unit tested on its own.
"""

from __future__ import annotations

import collections
import datetime
import random
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._node.node_state import NODE_PROBLEMS

CONTROLLER_NAMES = ("localhost", "127.0.0.1", "::1")
BOOKKEEPING = ("meta", "validate_argument_spec")
DETAIL_LIMIT = 2000


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def iso(when: datetime.datetime | None) -> str | None:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def parse_iso(value: t.Any) -> datetime.datetime | None:
    """The inverse of :func:`iso`; None for anything else."""
    try:
        return datetime.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC) if value else None
    except ValueError:
        return None


def new_run_id(now: datetime.datetime | None = None) -> str:
    """The same shape as the deploy playbook's run id: ``20261122T101500Z-4821``."""
    return "%s-%05d" % ((now or utcnow()).strftime("%Y%m%dT%H%M%SZ"), random.randint(0, 99999))


def short_action(action: str | None) -> str:
    return (action or "").rsplit(".", 1)[-1]


def _text(value: t.Any, limit: int = DETAIL_LIMIT) -> str:
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = text.strip()
    if len(text) > limit:
        text = text[:limit] + " [%d more characters]" % (len(text) - limit)
    return text


def failure_detail(task: str, result: dict) -> str:
    """Why a task failed: the task name, msg, and the end of stderr (where scripts say why)."""
    msg = _text(result.get("msg"), 500)
    stderr = result.get("stderr")
    if stderr:
        tail = str(stderr).strip()[-500:]
        msg = "%s: ...%s" % (msg, tail) if msg else tail
    if not msg and result.get("rc") not in (None, 0):
        msg = "rc=%s" % result.get("rc")
    return _text("%s: %s" % (task, msg or "failed") if task else (msg or "failed"))


def node_status_from(action: str, result: dict) -> tuple[str | None, str | None]:
    """(node status, detail) reported by a fleetops node module result, or (None, None)."""
    name = short_action(action)
    if result.get("unreachable"):
        return None, None
    if name == "node_state":
        health = result.get("health")
        status = result.get("status")
        if health in NODE_PROBLEMS:
            status = health
        elif status is None and result.get("exists") is False:
            status = "missing"
        elif status is None:
            return None, None
        detail = result.get("last_error") or result.get("problem")
        if status == "stale":
            detail = "%s since %s" % (result.get("status"), result.get("started_at"))
        return status, _text(detail) if detail else None
    if name in ("dist_deploy", "release_host"):
        if result.get("reason") == "stale in progress":
            return "stale", _text(result.get("message"))
        after = result.get("node_status_after", result.get("node_status"))
        if after is None:
            if "node_status_after" not in result and "node_status" not in result:
                return None, None
            after = "missing"
        detail = result.get("message") if result.get("action") == "skip" else None
        return after, _text(detail) if detail else None
    return None, None


class HostRecord:
    __slots__ = (
        "changed",
        "detail",
        "failed",
        "first",
        "ignored",
        "last",
        "name",
        "node_detail",
        "node_status",
        "ok",
        "previous_version",
        "release_failed",
        "rescued",
        "skipped",
        "unreachable",
        "version",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.first: datetime.datetime | None = None
        self.last: datetime.datetime | None = None
        self.ok = self.changed = self.failed = self.ignored = self.unreachable = self.rescued = self.skipped = 0
        self.detail: str | None = None
        self.node_status: str | None = None
        self.node_detail: str | None = None
        self.version: str | None = None
        self.previous_version: str | None = None
        self.release_failed = False

    def touch(self, when: datetime.datetime) -> None:
        self.first = self.first or when
        self.last = when


class RunTracker:
    """Collects one playbook run; every method is cheap (500 hosts x many tasks)."""

    def __init__(self, run_id: str | None = None, started: datetime.datetime | None = None) -> None:
        self.started = started or utcnow()
        self.run_id = run_id or new_run_id(self.started)
        self.playbook: str | None = None
        self.targeted: dict[str, None] = {}
        self.controller_only: set[str] = set()
        self.hosts: dict[str, HostRecord] = {}
        self.stats: dict[str, dict[str, int]] | None = None
        self.extra_vars: dict[str, t.Any] = {}
        self.facts: dict[str, t.Any] = {}
        self.plays: list[str] = []
        self.check_mode = False
        self.interrupted_by: str | None = None
        # A graceful abort (the first Ctrl-C or SIGTERM while a release held its lock): the run still ends with a recap.
        self.abort_requested_by: str | None = None
        self.ended: datetime.datetime | None = None
        self.user: str | None = None
        self.actions: set[str] = set()

    # events -------------------------------------------------------------
    def play(self, name: str, hosts: t.Iterable[str]) -> None:
        hosts = list(hosts)
        if name not in self.plays:
            self.plays.append(name)
        controller = bool(hosts) and all(h in CONTROLLER_NAMES for h in hosts)
        for host in hosts:
            if controller and host not in self.targeted:
                self.controller_only.add(host)
            elif not controller:
                self.controller_only.discard(host)
            self.targeted.setdefault(host, None)

    def _host(self, host: str, when: datetime.datetime | None) -> HostRecord:
        record = self.hosts.get(host)
        if record is None:
            record = self.hosts[host] = HostRecord(host)
            self.targeted.setdefault(host, None)
        record.touch(when or utcnow())
        return record

    def result(self, host: str, status: str, task: str, action: str | None, result: dict, ignore_errors: bool = False,
               when: datetime.datetime | None = None) -> None:
        """status: ok, failed, unreachable, skipped."""
        name = short_action(action)
        if name == "release_host":
            # One host's whole release step: a step that did not start leaves the host not attempted; one that ran
            # is read as its dist_deploy result, and a rotation or health check problem fails the host.
            step = result.get("release") if isinstance(result, dict) else None
            if isinstance(step, dict) and step.get("stage") == "not started":
                return
            name = "dist_deploy"
        if name in BOOKKEEPING and status in ("ok", "skipped"):
            # meta (end_host ...) and a role's argument check run on the controller: they do not
            # make a host attempted (a batch after the rollout stopped runs exactly these).
            return
        record = self._host(host, when)
        result = result if isinstance(result, dict) else {}
        if name in ("node_state", "dist_deploy") and status != "skipped":
            self.actions.add(name)
        if status == "unreachable":
            record.unreachable += 1
            record.detail = failure_detail(task, result)
        elif status == "failed":
            if ignore_errors:
                record.ignored += 1
            else:
                record.failed += 1
                record.detail = failure_detail(task, result)
        elif status == "skipped":
            record.skipped += 1
        else:
            record.ok += 1
            if result.get("changed"):
                record.changed += 1
        if name in ("node_state", "dist_deploy"):
            node, detail = node_status_from(name, result)
            if node is not None:
                record.node_status, record.node_detail = node, detail
            if name == "dist_deploy" and status != "skipped":
                record.version = result.get("dist_version") or record.version
                record.previous_version = result.get("previous_version", record.previous_version)
                if status == "failed":
                    record.release_failed = True
                    record.detail = failure_detail(task, result)
            if name == "node_state" and result.get("version"):
                record.version = result.get("version")
        facts = result.get("ansible_facts")
        if isinstance(facts, dict) and status == "ok":
            for key in ("fleetops_run_id", "fleetops_lock_id"):
                if isinstance(facts.get(key), str):
                    self.facts[key] = facts[key]
        if name == "repo_info" and isinstance(result.get("plan"), dict):
            plan = result["plan"]
            for key in ("project", "dist", "version"):
                if plan.get(key) and "plan_" + key not in self.facts:
                    self.facts["plan_" + key] = plan[key]
        if name == "release_lock" and status == "ok":
            self.lock_result(result)

    def lock_result(self, result: dict) -> None:
        """Follow the run's release lock: taken (and by breaking whose), renewed, released."""
        if isinstance(result.get("lock_id"), str):
            self.facts["fleetops_lock_id"] = result["lock_id"]
        lock = dict(self.facts.get("fleetops_lock") or {})
        if result.get("acquired") and not self.check_mode:
            lock.update(id=result.get("lock_id"), expires=result.get("expires"), held=True, released=False)
            previous = result.get("previous") if isinstance(result.get("previous"), dict) else {}
            if result.get("forced"):
                # A broken lock is part of the record: who held it, since when, for what.
                lock["forced"] = True
                lock["broke"] = {key: previous.get(key) for key in ("user", "owner", "run_id", "reason", "since", "expires")}
        elif result.get("released"):
            lock.update(held=False, released=True)
        if lock:
            self.facts["fleetops_lock"] = lock

    def lock_renewed(self, expires: t.Any) -> None:
        """A renewal seen outside a release_lock result (a release step's note): the lock now expires then."""
        lock = self.facts.get("fleetops_lock")
        if isinstance(lock, dict) and lock.get("held") and not lock.get("released") and isinstance(expires, str) and not self.check_mode:
            if parse_iso(expires) and (not parse_iso(lock.get("expires")) or parse_iso(expires) > parse_iso(lock.get("expires"))):
                lock["expires"] = expires

    def set_stats(self, stats: dict[str, dict[str, int]]) -> None:
        self.stats = stats

    def finish(self, interrupted_by: str | None = None, when: datetime.datetime | None = None) -> None:
        self.ended = when or utcnow()
        if interrupted_by and not self.interrupted_by:
            self.interrupted_by = interrupted_by

    # classification -----------------------------------------------------
    def _ansible_status(self, host: str, record: HostRecord | None) -> str:
        stats = self.stats or {}
        in_stats = any(host in counts for counts in stats.values())
        if record is None:
            # No task reported on it, not even as skipped: its batch never ran, or ended before it (meta: end_host).
            return "not attempted"
        if (stats.get("dark", {}).get(host) or 0) > 0 or (record and record.unreachable):
            return "unreachable"
        if record and record.release_failed:
            return "failed"
        if in_stats:
            # After the recap, Ansible knows which failures a rescue block caught.
            if (stats.get("failures", {}).get(host) or 0) > 0:
                return "failed"
            return "rescued" if (stats.get("rescued", {}).get(host) or 0) > 0 else "ok"
        return "failed" if record and record.failed else "ok"

    def _var(self, *names: str) -> t.Any:
        for name in names:
            value = self.extra_vars.get(name)
            if value not in (None, ""):
                return value
            value = self.facts.get(name)
            if value not in (None, ""):
                return value
        return None

    def summary(self) -> dict:
        """Everything both callbacks report, as plain data (JSON-ready)."""
        rows = []
        counts: dict[str, int] = collections.Counter()
        node_counts: dict[str, int] = collections.Counter()
        controller_rows = []
        for host in self.targeted:
            record = self.hosts.get(host)
            status = self._ansible_status(host, record)
            row = dict(host=host, ansible_status=status, node_status=record.node_status if record else None,
                       time=iso(record.last) if record else None,
                       detail=(record.detail or record.node_detail) if record else None,
                       changed=bool(record and record.changed), version=record.version if record else None,
                       previous_version=record.previous_version if record else None)
            if host in self.controller_only:
                if status != "ok":
                    controller_rows.append(row)
                continue
            if row["node_status"] in NODE_PROBLEMS and not row["detail"] and record:
                row["detail"] = record.node_detail
            row["problem"] = status in ("failed", "unreachable", "not attempted") or row["node_status"] in NODE_PROBLEMS
            rows.append(row)
            counts[status] += 1
            if row["node_status"]:
                node_counts[row["node_status"]] += 1
        problems = [r for r in rows if r["problem"]]
        # A failed controller play matters when it is the story (an unknown version, an unreachable store);
        # when hosts failed, the playbook's own "fail the run" summary task only repeats them.
        problems += controller_rows if not problems else []
        good = [r for r in rows if not r["problem"]]
        if self.interrupted_by or self.abort_requested_by:
            result = "aborted"
        elif not problems:
            result = "success"
        elif good:
            result = "partial"
        else:
            result = "failed"
        versions_to = collections.Counter(r["version"] for r in rows if r["version"])
        versions_from = collections.Counter(r["previous_version"] for r in rows if r["previous_version"])
        version_to = self._var("fleetops_version", "plan_version") or (versions_to.most_common(1)[0][0] if versions_to else None)
        ended = self.ended or utcnow()
        if "dist_deploy" in self.actions or self._var("fleetops_version") is not None:
            kind = "release"
        elif "node_state" in self.actions:
            kind = "status"
        else:
            kind = "other"
        return dict(
            schema=1,
            run_id=self._var("fleetops_run_id") or self.run_id,
            kind=kind,
            playbook=self.playbook,
            user=self.user,
            project=self._var("fleetops_project", "plan_project"),
            environment=self._var("fleetops_environment", "fleetops_hosts"),
            dist=self._var("fleetops_dist", "plan_dist"),
            version_from=(versions_from.most_common(1)[0][0] if versions_from else None),
            versions_from=sorted(versions_from),
            version_to=version_to,
            started_at=iso(self.started),
            ended_at=iso(ended),
            duration_s=round((ended - self.started).total_seconds(), 1),
            result=result,
            hosts={key.replace(" ", "_"): counts.get(key, 0) for key in ("ok", "failed", "unreachable", "rescued", "not attempted")},
            changed_hosts=sum(1 for r in rows if r["changed"]),
            node_health=dict(node_counts),
            targeted=len(rows),
            problem_hosts=[r["host"] for r in problems],
            problems=problems,
            lock_id=self._var("fleetops_lock_id"),
            awx_job_id=self._var("awx_job_id", "tower_job_id"),
            job_template=self._var("awx_job_template_name", "tower_job_template_name"),
            check_mode=self.check_mode,
            interrupted_by=self.interrupted_by or (("%s (graceful abort)" % self.abort_requested_by) if self.abort_requested_by else None),
            lock=self._lock_summary(),
        )

    def _lock_summary(self) -> dict | None:
        lock = self.facts.get("fleetops_lock")
        if not isinstance(lock, dict) or not lock.get("id"):
            return None
        out = dict(id=lock.get("id"), released=bool(lock.get("released")), expires=lock.get("expires"))
        # Still held at the end: a run that stopped at once (second signal, kill) leaves it until it expires.
        out["held"] = bool(lock.get("held")) and not out["released"]
        if lock.get("forced"):
            out.update(forced=True, broke=lock.get("broke"))
        return out

    # the journal of an open run (for runs killed before they could report) -----
    def snapshot(self) -> dict:
        return dict(run_id=self.run_id, started=iso(self.started), playbook=self.playbook, user=self.user,
                    targeted=list(self.targeted), controller_only=sorted(self.controller_only), extra_vars=self.extra_vars,
                    facts=self.facts, check_mode=self.check_mode, actions=sorted(self.actions),
                    hosts={name: {key: getattr(rec, key) if not isinstance(getattr(rec, key), datetime.datetime) else iso(getattr(rec, key))
                                  for key in HostRecord.__slots__}
                           for name, rec in self.hosts.items()})

    @classmethod
    def from_snapshot(cls, data: dict) -> RunTracker:
        tracker = cls(run_id=data.get("run_id"), started=parse_iso(data.get("started")) or utcnow())
        tracker.playbook = data.get("playbook")
        tracker.user = data.get("user")
        tracker.targeted = dict.fromkeys(data.get("targeted") or [])
        tracker.controller_only = set(data.get("controller_only") or [])
        tracker.extra_vars = dict(data.get("extra_vars") or {})
        tracker.facts = dict(data.get("facts") or {})
        tracker.check_mode = bool(data.get("check_mode"))
        tracker.actions = set(data.get("actions") or [])
        for name, fields in (data.get("hosts") or {}).items():
            record = HostRecord(name)
            for key in HostRecord.__slots__:
                if key in fields:
                    value = fields[key]
                    setattr(record, key, parse_iso(value) if key in ("first", "last") else value)
            tracker.hosts[name] = record
        return tracker
