# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The controller's side of pull mode: write a generation, follow it with one LIST per poll, gate the next wave.

:class:`Channel` owns the desired-state object of one project and environment: every write is a
conditional write naming the ETag it read (or a create that fails if the object appeared), and its
generation is one more than the last. :class:`Follow` watches one generation. Each poll is one
(paginated) LIST of the generation's status folder. The keys alone tell who answered and how, so a
poll costs the same whatever the answers say. What the poll finds is measured against the nodes the
controller expects (the inventory), selected with the very function the nodes use.

The gate after a wave (:func:`gate`) follows what Systems Manager's rate control and CodeDeploy's
deployment configurations taught their users. The failure budget is a count or a percentage of the
wave. Once failures pass it, no further wave starts, while nodes already applying finish. Nodes that
never answered are named apart from failures, and by default they count against the budget: a
canary that went silent is no proof of health.
"""

from __future__ import annotations

import math
import socket
import time
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._lock import default_user, iso, name_problem
from ansible_collections.fleetops.release.plugins.module_utils._module import Entry
from ansible_collections.fleetops.release.plugins.module_utils._pull import documents as docs
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import PreconditionFailed, WriteConflict, open_store, s3_url

DEFAULT_WAVES = ("1%", "10%", "50%", "100%")
DONE = ("applied", "up_to_date")
FAILED = ("failed", "rejected")
SKIPPED = ("not_eligible",)
DETAIL_LIMIT = 20   # failed nodes whose status body a poll reads, to name their errors


class PullError(FleetopsError):
    """A pull-mode step cannot go on; the message names the object or the option."""


def _percent(value: object, where: str) -> float:
    text = str(value).strip()
    number = text[:-1] if text.endswith("%") else text
    try:
        percent = float(number)
    except ValueError:
        raise PullError("%s: expected a percentage such as 10%%, found %r" % (where, value)) from None
    if not 0 < percent <= 100:
        raise PullError("%s: expected a percentage above 0 and at most 100, found %r" % (where, value))
    return percent


def parse_waves(spec: t.Sequence[t.Any] | None) -> list[dict]:
    """Waves as ``{"name", "selector"}``: from ``"10%"``, a number, or a mapping with hosts, tags and/or percent.

    Waves are cumulative (a node selected once stays selected), so a percentage never goes down.
    """
    waves = []
    last = 0.0
    for index, item in enumerate(spec or DEFAULT_WAVES, 1):
        where = "waves[%d]" % index
        if isinstance(item, dict):
            unknown = sorted(set(item) - {"name", "hosts", "tags", "percent"})
            if unknown:
                plural = "s" if len(unknown) > 1 else ""
                raise PullError("%s: unknown key%s %s (known: name, hosts, tags, percent)" % (where, plural, ", ".join(unknown)))
            selector = {key: item[key] for key in ("hosts", "tags") if item.get(key)}
            if item.get("percent") is not None:
                selector["percent"] = _percent(item["percent"], where + ".percent")
            name = str(item.get("name") or "")
        else:
            selector = {"percent": _percent(item, where)}
            name = ""
        try:
            selector = docs.check_selector(selector, where)
        except docs.DocumentError as exc:
            raise PullError("%s: %s" % (where, exc.problem)) from None
        if selector["percent"] < last:
            raise PullError("%s: %s%% is less than the %s%% of the wave before; waves only grow" % (where, selector["percent"], last))
        last = selector["percent"]
        name = name or (("%g%%" % selector["percent"]) if selector["percent"] else "wave %d" % index)
        waves.append(dict(name=name, selector=selector))
    return waves


def failure_budget(spec: t.Any, wave_size: int) -> int:
    """How many failures a wave may have: a count (``2``) or a share of the wave (``"5%"``, rounded down)."""
    text = str(spec if spec is not None else 0).strip()
    if text.endswith("%"):
        share = _percent(text, "max_failures") if text != "0%" else 0.0
        return math.floor(wave_size * share / 100.0)
    try:
        count = int(text)
    except ValueError:
        raise PullError("max_failures: expected a count such as 2 or a share such as 5%%, found %r" % (spec,)) from None
    if count < 0:
        raise PullError("max_failures: expected 0 or more, found %r" % (spec,))
    return count


class Channel:
    """The desired-state object of one project and environment."""

    def __init__(self, store: t.Any, bucket: str, prefix: str | None, project: str, environment: str) -> None:
        self.store, self.bucket, self.prefix = store, bucket, prefix
        self.project, self.environment = project, environment
        self.key = docs.desired_key(prefix, project, environment)
        self.where = s3_url(bucket, self.key)
        self.etag: str | None = None
        self.current: dict | None = None
        self.damaged: str | None = None
        self.claimed = 0

    def read(self) -> dict | None:
        """The desired state, None when there is none. One that nodes refuse is kept aside in ``damaged`` (the
        problem) and ``claimed`` (the generation it says it is), so that the next write can replace it."""
        body, response = self.store.get_small(self.bucket, self.key, docs.MAX_DESIRED_BYTES)
        self.etag = response.get("ETag") if body is not None else None
        self.damaged, self.claimed = None, 0
        self.current = None
        if body is not None:
            try:
                self.current = docs.check_desired(body, self.where, self.project, self.environment)
            except docs.DocumentError as exc:
                self.damaged = str(exc)
                self.claimed = docs.claimed_generation(body) or 0
        return self.current

    def write(self, release_id: str, dist_version: str, plan: dict | None, wave: dict | None, converge: bool = True,
              upgradable: t.Iterable[str] = (), deploy: dict | None = None, reason: str | None = None,
              seed: str | None = None, now: float | None = None) -> dict:
        """Write the next generation; PullError when someone else wrote the object since it was read."""
        if self.current is None and self.etag is None:
            self.read()
        generation = max((self.current or {}).get("generation", 0), self.claimed) + 1
        document = docs.desired_document(
            self.project, self.environment, generation, release_id, dist_version, plan, wave, converge=converge,
            upgradable=upgradable, deploy=deploy, reason=reason, seed=seed,
            written_at=iso(time.time() if now is None else now),
            written_by="%s@%s" % (default_user(), socket.gethostname()))
        body = docs.render(document)
        docs.check_desired(body, self.where, self.project, self.environment)  # what nodes will accept, or nothing
        for _attempt in range(5):
            try:
                response = self.store.put_conditional(self.bucket, self.key, body, if_match=self.etag)
                break
            except WriteConflict:
                time.sleep(0.2)
            except PreconditionFailed:
                theirs = self._peek()
                raise PullError("%s changed since it was read (now generation %s, written by %s): another release of %s %s "
                                "is writing it; hold the release lock" % (self.where, theirs.get("generation"),
                                                                          theirs.get("written_by"), self.project,
                                                                          self.environment)) from None
        else:
            raise PullError("%s: S3 kept answering 409 to the conditional write" % self.where)
        self.etag = response.get("ETag")
        self.current = document
        return document

    def _peek(self) -> dict:
        try:
            return self.read() or {}
        except FleetopsError:
            return {}


class Follow:
    """One generation, as the status folder shows it, against the nodes the controller expects."""

    def __init__(self, store: t.Any, bucket: str, prefix: str | None, document: dict, nodes: dict[str, t.Sequence[str]]) -> None:
        self.store, self.bucket = store, bucket
        self.document = document
        self.generation = document["generation"]
        self.folder = docs.generation_prefix(prefix, document["project"], document["environment"], self.generation)
        self.nodes = nodes
        wave = document.get("wave") or {}
        seed = document.get("seed") or document["release_id"]
        if document.get("converge") and wave:
            self.selected = {name for name, tags in nodes.items() if docs.selected(wave["selector"], seed, name, tags)}
        else:
            self.selected = set()
        self.lists = 0   # LIST requests made (pages)
        self.details: dict[str, dict] = {}

    def poll(self) -> dict:
        """One LIST of the generation's folder; the progress it shows."""
        objects = self._list()
        answers, strays = docs.tally(objects, self.folder)
        unknown = sorted(name for name in answers if name not in self.nodes)
        by_result: dict[str, list[str]] = {}
        for name, answer in answers.items():
            if name in self.nodes:
                by_result.setdefault(answer["result"], []).append(name)
        picked = self.selected
        done = sorted(n for r in DONE for n in by_result.get(r, []) if n in picked)
        failed = sorted(n for r in FAILED for n in by_result.get(r, []) if n in picked or r == "rejected")
        skipped = sorted(n for r in SKIPPED for n in by_result.get(r, []) if n in picked)
        running = sorted(n for n in by_result.get("in_progress", []) if n in picked)
        answered = set(done) | set(failed) | set(skipped)
        pending = sorted(picked - answered)
        seen = sorted(n for n in answers if n in self.nodes)
        self._read_details(failed, answers)
        return dict(generation=self.generation, wave=(self.document.get("wave") or {}).get("number"),
                    selected=len(picked), done=done, failed=failed, skipped=skipped, in_progress=running, pending=pending,
                    seen=len(seen), silent=sorted(set(self.nodes) - set(seen)), unknown=unknown, strays=strays,
                    errors={name: self.details[name] for name in failed if name in self.details}, lists=self.lists)

    def _list(self) -> list[dict]:
        # One ListObjectsV2 call per page of 1,000 keys: the store pages; count the pages it took.
        objects = self.store.list(self.bucket, self.folder)[0]
        self.lists += max(1, math.ceil(len(objects) / 1000.0))
        return objects

    def _read_details(self, failed: list[str], answers: dict[str, dict]) -> None:
        """Read (once each, at most DETAIL_LIMIT) the status bodies of failed nodes, to name their errors."""
        for name in failed:
            if name in self.details or len(self.details) >= DETAIL_LIMIT:
                continue
            key = answers[name]["key"]
            try:
                body = self.store.get_bytes(self.bucket, key, docs.MAX_STATUS_BYTES)
                status = docs.check_status(body or b"", key, self.folder, self.document["project"], self.document["environment"],
                                           self.generation)
                self.details[name] = dict(stage=status.get("stage"), error=status.get("error"), version=status.get("version"),
                                          node_status=status.get("node_status"))
            except FleetopsError as exc:
                self.details[name] = dict(stage="status", error="its status object does not count: %s" % exc)


def line(wave_label: str, progress: dict) -> str:
    """One line a person can follow: ``wave 2/4 (10%): 96/100 done, 1 failed, 3 pending``."""
    parts = ["%d/%d done" % (len(progress["done"]), progress["selected"])]
    for key, word in (("failed", "failed"), ("skipped", "not eligible"), ("in_progress", "busy"), ("pending", "pending")):
        if progress[key]:
            parts.append("%d %s" % (len(progress[key]), word))
    if progress["unknown"]:
        parts.append("%d unknown" % len(progress["unknown"]))
    return "%s: %s" % (wave_label, ", ".join(parts))


def gate(progress: dict, budget: int, finished: bool, count_silent: bool = True) -> tuple[str, str]:
    """``(verdict, why)``: ``go`` (the wave converged within budget), ``wait``, or ``stop``."""
    failures = len(progress["failed"])
    silent = len(progress["pending"]) if finished and count_silent else 0
    if failures + silent > budget:
        names = progress["failed"][:5] + (progress["pending"][:5] if silent else [])
        return "stop", "%d failed%s, more than the %d allowed (%s%s)" % (
            failures, (" and %d never answered" % silent) if silent else "", budget, ", ".join(names),
            ", ..." if failures + silent > len(names) else "")
    if progress["pending"] and not finished:
        return "wait", "%d pending" % len(progress["pending"])
    if progress["pending"]:
        return "go", "%d never answered (not counted)" % len(progress["pending"])
    return "go", "converged"


# -- the pull_release module -------------------------------------------------------------------------------------------

PULL_RELEASE_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    bucket=dict(type="str", required=True),
    prefix=dict(type="str", default=docs.DEFAULT_PREFIX),
    project=dict(type="str", required=True),
    environment=dict(type="str", required=True),
    state=dict(type="str", choices=["wave", "stopped", "query"], default="wave"),
    release_id=dict(type="str"),
    plan=dict(type="dict"),
    upgradable=dict(type="list", elements="str", default=[]),
    deploy=dict(type="dict", default={}),
    wave=dict(type="raw"),
    wave_number=dict(type="int", default=1),
    waves_total=dict(type="int"),
    nodes=dict(type="dict", default={}),
    max_failures=dict(type="raw", default=0),
    count_silent=dict(type="bool", default=True),
    wait=dict(type="int", default=1800),
    poll_interval=dict(type="float", default=15.0),
    reason=dict(type="str"),
)
PULL_RELEASE_REQUIRED_IF = [("state", "wave", ("release_id", "plan", "wave")), ("state", "stopped", ("reason",))]

# Seams for the tests: waiting is the only thing that takes time.
_sleep = time.sleep
_monotonic = time.monotonic


def _nodes(value: dict) -> dict[str, list[str]]:
    out = {}
    for name, tags in (value or {}).items():
        problem = name_problem(name)
        if problem:
            raise PullError("nodes: %r: %s" % (name, problem))
        if tags is None:
            tags = []
        if not isinstance(tags, (list, tuple)) or not all(isinstance(tag, str) for tag in tags):
            raise PullError("nodes: %s: expected a list of tags, found %r" % (name, tags))
        out[name] = list(tags)
    return out


def _summary(document: dict | None) -> dict | None:
    if document is None:
        return None
    wave = document.get("wave") or {}
    return dict(generation=document["generation"], release_id=document["release_id"], dist_version=document["dist_version"],
                converge=document["converge"], wave=wave.get("number"), wave_name=wave.get("name"), reason=document.get("reason"),
                written_at=document.get("written_at"), written_by=document.get("written_by"))


def follow(store: t.Any, params: dict, document: dict, nodes: dict, report: t.Callable[[str], None] | None = None) -> dict:
    """Watch a generation until its wave converges, passes its failure budget, or ``wait`` runs out."""
    watch = Follow(store, params["bucket"], params["prefix"], document, nodes)
    wave = document.get("wave") or {}
    label = "wave %s%s (%s)" % (wave.get("number"), ("/%s" % wave["of"]) if wave.get("of") else "", wave.get("name"))
    deadline = _monotonic() + max(0, params["wait"])
    lines: list[str] = []
    while True:
        progress = watch.poll()
        finished = _monotonic() >= deadline
        budget = failure_budget(params["max_failures"], progress["selected"])
        verdict, why = gate(progress, budget, finished, params["count_silent"])
        text = line(label, progress)
        if not lines or lines[-1] != text:
            lines.append(text)
            if report is not None:
                report(text)
        if verdict != "wait":
            return dict(verdict=verdict, why=why, progress=progress, lines=lines, budget=budget, lists=watch.lists)
        _sleep(max(0.0, min(params["poll_interval"], deadline - _monotonic())))


def run(params: dict, check_mode: bool, store_factory: t.Callable[[dict], t.Any], report: t.Callable[[str], None] | None = None) -> dict:
    store = store_factory(params)
    channel = Channel(store, params["bucket"], params["prefix"], params["project"], params["environment"])
    current = channel.read()
    nodes = _nodes(params["nodes"])
    state = params["state"]
    result: dict[str, t.Any] = dict(changed=False, location=channel.where, before=_summary(current))
    if channel.damaged:
        over = "" if state == "query" else ": this task writes generation %d over it" % (channel.claimed + 1)
        result["warnings"] = ["%s; nodes refuse it%s" % (channel.damaged, over)]
    if state == "query":
        result["desired"] = _summary(current)
        if current is not None and nodes:
            result["progress"] = Follow(store, params["bucket"], params["prefix"], current, nodes).poll()
        return result
    plan, wave = None, None
    if state == "wave":
        plan = params["plan"]
        if not isinstance(plan.get("dist"), dict) or not plan["dist"].get("version"):
            raise PullError("plan: not a plan from fleetops.release.repo_info (needs dist.version)")
        waves = parse_waves([params["wave"]])
        wave = dict(number=params["wave_number"], of=params["waves_total"], name=waves[0]["name"], selector=waves[0]["selector"])
        failure_budget(params["max_failures"], 0)  # a bad budget fails before anything is written
    release_id = params.get("release_id") or (current or {}).get("release_id") or "unknown"
    version = plan["dist"]["version"] if plan else (current or {}).get("dist_version") or "none"
    if check_mode:
        result.update(changed=True, generation=((current or {}).get("generation") or 0) + 1, verdict="check mode")
        return result
    document = channel.write(release_id, version, plan, wave, converge=(state == "wave"), upgradable=params["upgradable"],
                             deploy=params["deploy"], reason=params.get("reason"))
    result.update(changed=True, generation=document["generation"], desired=_summary(document))
    if state == "wave" and params["wait"] >= 0 and nodes:
        result.update(follow(store, params, document, nodes, report))
    return result


def _module_call(params: dict, check_mode: bool, report: t.Callable[[str], None] | None = None) -> dict:
    try:
        return run(params, check_mode, open_store, report)
    except PullError as exc:
        return dict(failed=True, changed=False, msg=str(exc))


PULL_RELEASE = Entry("pull_release", dict(PULL_RELEASE_ARGSPEC, **S3_ARGSPEC), _module_call, lambda params: [params], progress=True,
                     required_if=PULL_RELEASE_REQUIRED_IF)
