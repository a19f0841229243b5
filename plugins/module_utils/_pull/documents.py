# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Pull mode's two documents and where they live: the desired state and a node's status.

Under the pull prefix (default ``.fleetops/pull/``) of the project's bucket::

    <prefix><project>/<environment>/desired.json                         the desired state: the controller
                                                                         writes it (conditional writes),
                                                                         every node reads it
    <prefix><project>/<environment>/status/g<generation>/<node>.<result>.json
                                                                         a node's status for a generation:
                                                                         only that node writes it

The result is part of the key, so one LIST of ``status/g<generation>/`` tells the controller who
answered and how, without a request per node; it reads the body only of the few it reports on
(failures). A node that answers one generation twice (a retried fetch) leaves two keys; the newer
one counts.

The desired state carries a ``generation`` that grows by one with every write. A new wave, a stop
and a rollback are each a new generation; a node acts on a generation once and reports it.
Whether a node is in the current wave is decided by the node from the wave's ``selector``: its
name, one of its tags, or its hash bucket under the wave's percentage (the bucket comes from the
release's seed and the node name, so a 10 % wave holds every node of the 1 % wave before it).

This module is the one owner of both formats: building them, and refusing a malformed or
foreign one with a message that names the object and the key. Standard library only: it runs on
nodes (the agent) and on the controller.
"""

from __future__ import annotations

import hashlib
import json
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._lock import name_problem
from ansible_collections.fleetops.release.plugins.module_utils._repo.layout import key_prefix

SCHEMA = 1
DESIRED_KIND = "fleetops.release/desired-state"
STATUS_KIND = "fleetops.release/node-status"
DEFAULT_PREFIX = ".fleetops/pull/"
MAX_DESIRED_BYTES = 4 * 1024 * 1024
MAX_STATUS_BYTES = 64 * 1024
MAX_TEXT = 4096          # longest free text (an error, a reason) kept in a status object
BUCKETS = 10000          # hash buckets: a percentage has two decimals

# What a node reports for a generation, and what each means to the controller.
RESULTS = {
    "applied": "the release ran and the node is active on the target",
    "up_to_date": "the node already had the target",
    "failed": "the release failed on the node (see stage and error)",
    "held": "the desired state says hold (converge is off): nothing changed",
    "not_selected": "the node is not in the current wave: nothing changed",
    "not_eligible": "the node's version is not in the upgradable set: nothing changed",
    "in_progress": "another run is applying on the node, or a killed run left it building or maintaining",
    "rejected": "the desired state could not be used (see error): nothing changed",
}
DONE = ("applied", "up_to_date")
# Options passed through to the node's dist_deploy run, with their types.
CORRUPT_POLICIES = ("fail", "rebuild")
DEPLOY_OPTIONS = {"converge": bool, "restart": bool, "script_timeout": int, "stale_after": int,
                  "keep_versions": int, "corrupt_policy": str}
_DESIRED_KEYS = ("kind", "schema", "project", "environment", "generation", "release_id", "written_at", "written_by",
                 "dist_version", "plan", "upgradable", "converge", "deploy", "wave", "reason", "seed")
_WAVE_KEYS = ("number", "of", "name", "selector")
_SELECTOR_KEYS = ("hosts", "tags", "percent")
_STATUS_KEYS = ("kind", "schema", "node", "project", "environment", "generation", "release_id", "wave", "result",
                "selected", "dist_version", "version", "previous_version", "node_status", "modules", "stage", "error", "reason", "warnings",
                "started_at", "finished_at", "seconds", "downloaded_bytes", "agent")


class DocumentError(FleetopsError):
    """A desired-state or status object that cannot be used; the message names the object and the key."""

    def __init__(self, where: str, problem: str, key: str | None = None) -> None:
        self.where = where
        self.problem = problem
        self.key = key
        super().__init__("%s: %s%s" % (where, ("%s: " % key) if key else "", problem))


# -- where they live ---------------------------------------------------------------------------------------------------

def _names(project: str, environment: str) -> None:
    for what, value in (("project", project), ("environment", environment)):
        problem = name_problem(value)
        if problem:
            raise FleetopsError("%s %r: %s" % (what, value, problem))


def base_prefix(prefix: str | None, project: str, environment: str) -> str:
    """``<prefix><project>/<environment>/``, the folder of one project and environment."""
    _names(project, environment)
    return "%s%s/%s/" % (key_prefix(prefix, DEFAULT_PREFIX), project, environment)


def desired_key(prefix: str | None, project: str, environment: str) -> str:
    return base_prefix(prefix, project, environment) + "desired.json"


def status_prefix(prefix: str | None, project: str, environment: str) -> str:
    return base_prefix(prefix, project, environment) + "status/"


def generation_prefix(prefix: str | None, project: str, environment: str, generation: int) -> str:
    """``.../status/g<generation>/``: what one LIST reads to follow a generation."""
    return status_prefix(prefix, project, environment) + "g%d/" % generation


def status_key(prefix: str | None, project: str, environment: str, node: str, generation: int, result: str) -> str:
    problem = name_problem(node)
    if problem:
        raise FleetopsError("node name %r: %s" % (node, problem))
    if result not in RESULTS:
        raise FleetopsError("status result %r: expected one of %s" % (result, ", ".join(RESULTS)))
    return generation_prefix(prefix, project, environment, generation) + "%s.%s.json" % (node, result)


def parse_status_key(key: str, folder: str) -> tuple[str, str] | None:
    """``(node, result)`` of a status key in ``folder`` (a generation prefix); None for any other key."""
    if not key.startswith(folder) or not key.endswith(".json"):
        return None
    rest = key[len(folder):-len(".json")]
    if "/" in rest or "." not in rest:
        return None
    node, result = rest.rsplit(".", 1)
    if result not in RESULTS or name_problem(node):
        return None
    return node, result


# Which of two answers of one node to one generation counts when S3 gives both the same time: a retry
# only follows a fetch failure or a held node, so the later answer is the more final one.
_FINALITY = {"in_progress": 0, "failed": 1}


def tally(objects: t.Iterable[dict], folder: str) -> tuple[dict[str, dict], list[str]]:
    """From one LIST of a generation prefix: per node its answer (``result``, ``key``, ``at``), and the keys that are not
    status objects (named, never counted)."""
    answers: dict[str, dict] = {}
    strays: list[str] = []
    for obj in objects:
        parsed = parse_status_key(obj.get("Key") or "", folder)
        if parsed is None or int(obj.get("Size") or 0) > MAX_STATUS_BYTES:
            strays.append(obj.get("Key") or "")
            continue
        node, result = parsed
        at = obj.get("LastModified")
        rank = (at.timestamp() if hasattr(at, "timestamp") else 0.0, _FINALITY.get(result, 2))
        known = answers.get(node)
        if known is None or rank > known["rank"]:
            answers[node] = dict(result=result, key=obj["Key"], at=at, rank=rank)
    for answer in answers.values():
        del answer["rank"]
    return answers, strays


# -- the wave selector -------------------------------------------------------------------------------------------------

def bucket_of(seed: str, node: str) -> int:
    """The node's hash bucket, 0 to 9999, for a release's seed."""
    digest = hashlib.sha256(("%s\n%s" % (seed, node)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def selected(selector: dict, seed: str, node: str, tags: t.Iterable[str] = ()) -> bool:
    """Whether a node is in a wave: named, tagged, or in the wave's share of hash buckets."""
    if node in (selector.get("hosts") or ()):
        return True
    wanted = set(selector.get("tags") or ())
    if wanted and wanted.intersection(tags):
        return True
    percent = selector.get("percent") or 0
    return bucket_of(seed, node) < round(percent * BUCKETS / 100)


# -- checking ----------------------------------------------------------------------------------------------------------

def _load(body: bytes | str, where: str, limit: int) -> dict:
    if len(body) > limit:
        raise DocumentError(where, "%d bytes, more than the %d allowed" % (len(body), limit))
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DocumentError(where, "not JSON (%s)" % exc) from None
    if not isinstance(data, dict):
        raise DocumentError(where, "not a JSON object")
    return data


def _kind(data: dict, where: str, kind: str, keys: tuple[str, ...]) -> None:
    if data.get("kind") != kind:
        raise DocumentError(where, "expected %r, found %r" % (kind, data.get("kind")), "kind")
    schema = data.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema < 1:
        raise DocumentError(where, "expected a whole number, found %r" % (schema,), "schema")
    if schema > SCHEMA:
        raise DocumentError(where, "schema %d was written by a newer fleetops.release (this one reads schema %d); "
                            "upgrade the agent" % (schema, SCHEMA), "schema")
    unknown = sorted(set(data) - set(keys))
    if unknown:
        raise DocumentError(where, "unknown key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)))


def _typed(data: dict, where: str, key: str, kind: type | tuple, required: bool = True, label: str = "") -> t.Any:
    value = data.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, kind) or (isinstance(value, bool) and kind in (int, (int, float))):
        expected = label or (kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind))
        raise DocumentError(where, "expected %s, found %r" % (expected, value), key)
    return value


def _text_list(data: dict, where: str, key: str) -> list[str]:
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise DocumentError(where, "expected a list of names, found %r" % (value,), key)
    return value


def check_selector(selector: object, where: str) -> dict:
    key = "wave.selector"
    if not isinstance(selector, dict):
        raise DocumentError(where, "expected a mapping with hosts, tags and/or percent, found %r" % (selector,), key)
    unknown = sorted(set(selector) - set(_SELECTOR_KEYS))
    if unknown:
        raise DocumentError(where, "unknown key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)), key)
    hosts = _text_list(selector, where, "hosts")
    tags = _text_list(selector, where, "tags")
    percent = selector.get("percent")
    if percent is not None and (isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100):
        raise DocumentError(where, "expected a number from 0 to 100, found %r" % (percent,), key + ".percent")
    if not hosts and not tags and not percent:
        raise DocumentError(where, "selects no node: give hosts, tags or a percent above 0", key)
    return dict(hosts=hosts, tags=tags, percent=percent or 0)


def _check_plan(plan: object, where: str, version: str) -> None:
    """Every part of the plan the node reads, by type, before the node acts on any of it."""
    if not isinstance(plan, dict) or not isinstance(plan.get("install"), list) or not isinstance(plan.get("dist"), dict):
        raise DocumentError(where, "not a plan from fleetops.release.repo_info (needs dist and install)", "plan")
    if plan["dist"].get("version") != version:
        raise DocumentError(where, "the plan is for DIST version %r, the document says %r" % (plan["dist"].get("version"), version), "plan")
    if not isinstance(plan["dist"].get("name"), str):
        raise DocumentError(where, "expected the DIST's name, found %r" % (plan["dist"].get("name"),), "plan.dist.name")
    for section in ("install", "upgrade"):
        steps = plan.get(section)
        if steps is None and section == "upgrade":
            continue
        if not isinstance(steps, list):
            raise DocumentError(where, "expected a list of steps, found %r" % (steps,), "plan." + section)
        for index, step in enumerate(steps):
            label = "plan.%s[%d]" % (section, index)
            if not isinstance(step, dict):
                raise DocumentError(where, "expected a step (a mapping), found %r" % (step,), label)
            for field in ("module", "version"):
                problem = name_problem(step.get(field))
                if problem:
                    raise DocumentError(where, "%r: %s" % (step.get(field), problem), "%s.%s" % (label, field))
            sources = step.get("src") or []
            if not isinstance(sources, list):
                raise DocumentError(where, "expected a list of artifacts, found %r" % (sources,), label + ".src")
            for art_label, art in [(label + ".rel", step.get("rel"))] + [("%s.src[%d]" % (label, i), a) for i, a in enumerate(sources)]:
                if not isinstance(art, dict) or not isinstance(art.get("key"), str) or not art["key"]:
                    raise DocumentError(where, "expected an artifact with a key, found %r" % (art,), art_label)
                if art.get("url"):
                    raise DocumentError(where, "the artifact %s carries a URL; every node reads this object, so it holds no presigned "
                                        "URL (nodes fetch with their own read-only role)" % art["key"], art_label)
                for field in ("bucket", "sha256", "version_id"):
                    if art.get(field) is not None and not isinstance(art[field], str):
                        raise DocumentError(where, "expected text, found %r" % (art[field],), "%s.%s" % (art_label, field))
                if art.get("size") is not None and (not isinstance(art["size"], int) or isinstance(art["size"], bool)):
                    raise DocumentError(where, "expected a whole number, found %r" % (art["size"],), art_label + ".size")


def check_desired(body: bytes | str, where: str, project: str | None = None, environment: str | None = None) -> dict:
    """The desired state as a dict, after every check; DocumentError otherwise.

    With ``project`` and ``environment``, a document for another project or environment is refused
    (a node reading a foreign object changes nothing).
    """
    data = _load(body, where, MAX_DESIRED_BYTES)
    _kind(data, where, DESIRED_KIND, _DESIRED_KEYS)
    for key, expected in (("project", project), ("environment", environment)):
        value = _typed(data, where, key, str)
        if expected is not None and value != expected:
            raise DocumentError(where, "this object is for %s %r, not %r" % (key, value, expected), key)
    generation = _typed(data, where, "generation", int, label="a whole number")
    if generation < 1:
        raise DocumentError(where, "expected 1 or more, found %r" % generation, "generation")
    _typed(data, where, "release_id", str)
    version = _typed(data, where, "dist_version", str)
    converge = _typed(data, where, "converge", bool, label="true or false")
    plan = data.get("plan")
    if converge or plan is not None:
        _check_plan(plan, where, version)
    data["upgradable"] = _text_list(data, where, "upgradable")
    deploy = data.get("deploy") or {}
    if not isinstance(deploy, dict):
        raise DocumentError(where, "expected a mapping, found %r" % (deploy,), "deploy")
    for key, value in deploy.items():
        kind = DEPLOY_OPTIONS.get(key)
        if kind is None:
            raise DocumentError(where, "unknown option %r (known: %s)" % (key, ", ".join(sorted(DEPLOY_OPTIONS))), "deploy")
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise DocumentError(where, "expected %s, found %r" % (kind.__name__, value), "deploy." + key)
        if kind is int and value < 1:
            raise DocumentError(where, "expected 1 or more, found %r" % (value,), "deploy." + key)
        if key == "corrupt_policy" and value not in CORRUPT_POLICIES:
            raise DocumentError(where, "expected one of %s, found %r" % (", ".join(CORRUPT_POLICIES), value), "deploy." + key)
    data["deploy"] = deploy
    wave = data.get("wave")
    if converge or wave is not None:
        if not isinstance(wave, dict):
            raise DocumentError(where, "expected a mapping with number and selector, found %r" % (wave,), "wave")
        unknown = sorted(set(wave) - set(_WAVE_KEYS))
        if unknown:
            raise DocumentError(where, "unknown key%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)), "wave")
        number = wave.get("number")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise DocumentError(where, "expected 1 or more, found %r" % (number,), "wave.number")
        wave["selector"] = check_selector(wave.get("selector"), where)
    _typed(data, where, "seed", str, required=False)
    return data


def desired_document(project: str, environment: str, generation: int, release_id: str, dist_version: str, plan: dict | None,
                     wave: dict | None, converge: bool = True, upgradable: t.Iterable[str] = (), deploy: dict | None = None,
                     reason: str | None = None, written_at: str | None = None, written_by: str | None = None,
                     seed: str | None = None) -> dict:
    """A desired-state document; check_desired accepts what this builds."""
    _names(project, environment)
    return dict(kind=DESIRED_KIND, schema=SCHEMA, project=project, environment=environment, generation=generation,
                release_id=release_id, written_at=written_at, written_by=written_by, dist_version=dist_version, plan=plan,
                upgradable=list(upgradable), converge=converge, deploy=dict(deploy or {}), wave=wave, reason=reason,
                seed=seed or release_id)


def claimed_generation(body: bytes | str) -> int | None:
    """The generation an object says it is, even one refused otherwise (so that a refusal is filed where its writer
    looks, and the next write goes past it)."""
    try:
        value = json.loads(body).get("generation")
    except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def render(document: dict) -> bytes:
    """The bytes written to S3 (sorted keys, so an unchanged document is byte-for-byte the same)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def check_status(body: bytes | str, key: str, folder: str, project: str, environment: str, generation: int) -> dict:
    """A node's status object as a dict, after every check; DocumentError otherwise.

    The object counts only if it is where its node would write it: ``node``, ``result`` and
    ``generation`` inside must be those of its key, and project and environment this folder's.
    """
    where = "s3 key %s" % key
    parsed = parse_status_key(key, folder)
    if parsed is None:
        raise DocumentError(where, "not a status object of %s (<node>.<result>.json)" % folder)
    name, result = parsed
    data = _load(body, where, MAX_STATUS_BYTES)
    _kind(data, where, STATUS_KIND, _STATUS_KEYS)
    for field, expected in (("node", name), ("result", result), ("generation", generation)):
        if data.get(field) != expected:
            raise DocumentError(where, "says %s %r but is stored as %r" % (field, data.get(field), expected), field)
    for field, expected in (("project", project), ("environment", environment)):
        if data.get(field) != expected:
            raise DocumentError(where, "expected %r, found %r" % (expected, data.get(field)), field)
    for field in ("release_id", "dist_version", "version", "previous_version", "node_status", "stage", "error", "reason",
                  "started_at", "finished_at", "agent"):
        value = _typed(data, where, field, str, required=False)
        if value is not None and len(value) > MAX_TEXT:
            raise DocumentError(where, "longer than %d characters" % MAX_TEXT, field)
    _typed(data, where, "seconds", (int, float), required=False, label="a number")
    _typed(data, where, "downloaded_bytes", int, required=False, label="a whole number")
    warnings = data.get("warnings")
    if warnings is not None and (not isinstance(warnings, list) or not all(isinstance(w, str) and len(w) <= MAX_TEXT for w in warnings)):
        raise DocumentError(where, "expected a list of texts, found %r" % (warnings,), "warnings")
    modules = data.get("modules")
    if modules is not None and (not isinstance(modules, dict)
                                or not all(isinstance(k, str) and isinstance(v, str) for k, v in modules.items())):
        raise DocumentError(where, "expected a mapping of module to version, found %r" % (modules,), "modules")
    return data


def status_document(node: str, project: str, environment: str, result: str, **fields: t.Any) -> dict:
    """A status document; check_status accepts what this builds (text longer than MAX_TEXT is cut)."""
    if result not in RESULTS:
        raise FleetopsError("status result %r: expected one of %s" % (result, ", ".join(RESULTS)))
    unknown = sorted(set(fields) - set(_STATUS_KEYS))
    if unknown:
        raise FleetopsError("status: unknown field%s %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)))
    data = dict(kind=STATUS_KIND, schema=SCHEMA, node=node, project=project, environment=environment, result=result)
    for field, value in fields.items():
        if isinstance(value, str) and len(value) > MAX_TEXT:
            value = value[:MAX_TEXT - 3] + "..."
        data[field] = value
    return data
