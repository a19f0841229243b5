# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The pull agent: one poll of the desired state, and what the node does about it.

A poll is one conditional GET of ``desired.json`` (``If-None-Match`` with the ETag of the last
object read). When nothing changed and nothing is left to retry, that 304 is the whole poll.
Otherwise the agent checks the document (a malformed or foreign one changes nothing and is
reported as ``rejected``), decides whether the node is in the wave, applies the plan with the
same :class:`Deployer` that ``dist_deploy`` runs (same gate, lock, fetch, verify, extraction and
images.yaml), and writes one status object to its own key.

What the agent remembers between polls (``agent_state``, written atomically) is the ETag, the
generation it acted on, whether its status reached S3, and, while a release runs, which run it
is. The document itself is kept beside it (``desired_cache``) so that a retry after a 304 needs
no second request. What is retried on the next poll: a failed status write, a fetch failure
(nothing on the node changed), and a node another run held. A run of this agent that was killed
mid-apply is found by its run id in images.yaml on the next poll; the node is then marked
``failure`` (the recorded way to say a run died: fix it, then reset it with ``node_state``) and
reported as failed.

Standard library only, apart from boto3 when the node's store is boto3's.
"""

from __future__ import annotations

import json
import os
import socket
import time
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._lock import iso, name_problem
from ansible_collections.fleetops.release.plugins.module_utils._node.deploy import DIST_DEPLOY_ARGSPEC, Deployer
from ansible_collections.fleetops.release.plugins.module_utils._node.state import (
    BUILDING,
    MAINTAIN,
    LockedError,
    NodeLock,
    StateWriteError,
    load,
    save,
    write_atomic,
)
from ansible_collections.fleetops.release.plugins.module_utils._pull import documents as docs
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import s3_url

AGENT_VERSION = "1"
AGENT_STATE = "/var/lib/fleetops/pull-agent.json"
DESIRED_CACHE = "/var/lib/fleetops/pull-desired.json"
_PATH_KEYS = ("state_file", "cache_dir", "modules_dir", "log_dir", "agent_state", "desired_cache")
_CONFIG_KEYS = ("project", "environment", "node", "tags", "bucket", "prefix", "s3", "paths", "fetch")
_FETCH_TYPES = {"attempts": (int, "a whole number"), "timeout": ((int, float), "a number of seconds"),
                "allow_unverified": (bool, "true or false")}
_FETCH_KEYS = tuple(_FETCH_TYPES)
_S3_KEYS = tuple(name for name in S3_ARGSPEC if name not in ("access_key", "secret_key", "session_token"))
FETCH_RETRIES = 3   # polls that try a failed fetch again before the node waits for a new generation


class ConfigError(FleetopsError):
    """The agent's configuration cannot be used; the message names the file and the key."""


def _defaults() -> dict[str, t.Any]:
    return {name: spec.get("default") for name, spec in DIST_DEPLOY_ARGSPEC.items()}


def load_config(path: str) -> dict:
    """The agent configuration file (JSON), checked; ConfigError names the file and key."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(1024 * 1024)
    except OSError as exc:
        raise ConfigError("%s: cannot read the agent configuration: %s" % (path, exc.strerror or exc)) from None
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ConfigError("%s: not JSON (%s)" % (path, exc)) from None
    return check_config(data, path)


def check_config(data: object, where: str) -> dict:
    if not isinstance(data, dict):
        raise ConfigError("%s: expected a JSON object" % where)
    unknown = sorted(set(data) - set(_CONFIG_KEYS))
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise ConfigError("%s: unknown key%s %s (known: %s)" % (where, plural, ", ".join(unknown), ", ".join(_CONFIG_KEYS)))
    config = dict(data)
    for key in ("project", "environment", "bucket"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise ConfigError("%s: %s: required, a name" % (where, key))
    config.setdefault("node", socket.gethostname())
    problem = name_problem(config["node"])
    if problem:
        raise ConfigError("%s: node %r: %s" % (where, config["node"], problem))
    if config.get("prefix") is not None and not isinstance(config["prefix"], str):
        raise ConfigError("%s: prefix: expected text, found %r" % (where, config["prefix"]))
    try:
        docs.base_prefix(config.get("prefix"), config["project"], config["environment"])
    except FleetopsError as exc:
        raise ConfigError("%s: %s" % (where, exc)) from None
    tags = config.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise ConfigError("%s: tags: expected a list of names, found %r" % (where, tags))
    config["tags"] = tags
    for section, allowed in (("s3", _S3_KEYS), ("paths", _PATH_KEYS), ("fetch", _FETCH_KEYS)):
        value = config.get(section) or {}
        if not isinstance(value, dict):
            raise ConfigError("%s: %s: expected a mapping, found %r" % (where, section, value))
        bad = sorted(set(value) - set(allowed))
        if bad:
            hint = " (keys belong in the environment or the instance role, never in this file)" if section == "s3" and any(
                name in S3_ARGSPEC for name in bad) else ""
            plural = "s" if len(bad) > 1 else ""
            raise ConfigError("%s: %s: unknown key%s %s%s (known: %s)" % (where, section, plural, ", ".join(bad), hint, ", ".join(allowed)))
        config[section] = value
    for key, value in config["paths"].items():
        if not isinstance(value, str) or not value.startswith("/"):
            raise ConfigError("%s: paths.%s: expected an absolute path, found %r" % (where, key, value))
    for key, (kind, label) in _FETCH_TYPES.items():
        value = config["fetch"].get(key)
        if value is not None and (not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)):
            raise ConfigError("%s: fetch.%s: expected %s, found %r" % (where, key, label, value))
    return config


class Agent:
    """One node's agent; :meth:`poll` is one timer tick."""

    def __init__(self, config: dict, store_factory: t.Callable[[], t.Any], now: t.Callable[[], float] = time.time) -> None:
        self.config = config
        self.node = config["node"]
        self.project = config["project"]
        self.environment = config["environment"]
        self.bucket = config["bucket"]
        self.key = docs.desired_key(config.get("prefix"), self.project, self.environment)
        self.where = s3_url(self.bucket, self.key)
        self._store_factory = store_factory
        self._store = None
        self._now = now
        paths = config.get("paths") or {}
        self.params = _defaults()
        self.params.update({key: paths[key] for key in ("state_file", "cache_dir", "modules_dir", "log_dir") if paths.get(key)})
        self.params.update(config.get("fetch") or {})
        self.params.update(project=self.project, presigned_urls=None)
        self.memory_path = paths.get("agent_state") or AGENT_STATE
        self.cache_path = paths.get("desired_cache") or DESIRED_CACHE
        self.requests = 0   # S3 requests of the last poll

    # -- what the agent remembers --------------------------------------------------------------------------------------
    def _remember(self) -> dict:
        try:
            with open(self.memory_path, "rb") as handle:
                data = json.loads(handle.read(64 * 1024))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}  # a lost or damaged memory costs one full GET and one status write, nothing else

    def _keep(self, memory: dict) -> None:
        write_atomic(self.memory_path, json.dumps(memory, sort_keys=True) + "\n", 0o600)

    def _cached(self) -> bytes | None:
        try:
            with open(self.cache_path, "rb") as handle:
                return handle.read(docs.MAX_DESIRED_BYTES + 1)
        except OSError:
            return None

    @property
    def store(self):
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    # -- one tick ------------------------------------------------------------------------------------------------------
    def poll(self) -> dict:
        """One poll; returns what happened: ``action`` (idle, absent, reported), the status written, requests made."""
        self.requests = 0
        for path in (self.memory_path, self.cache_path):
            directory = os.path.dirname(os.path.abspath(path))
            try:
                os.makedirs(directory, mode=0o755, exist_ok=True)
            except OSError as exc:
                raise FleetopsError("cannot create %s for the agent's state: %s" % (directory, exc.strerror or exc)) from None
        memory = self._remember()
        cached = self._cached()
        etag = memory.get("etag") if cached is not None else None
        self.requests += 1
        body, response = self.store.get_small(self.bucket, self.key, docs.MAX_DESIRED_BYTES, if_none_match=etag)
        if response.get("NotModified"):
            if memory.get("reported") and not _unfinished(memory):
                return dict(action="idle", requests=self.requests, generation=memory.get("generation"))
            body = cached
        elif body is None:
            return dict(action="absent", requests=self.requests, message="%s does not exist: nothing to converge to" % self.where)
        else:
            new_etag = response.get("ETag")
            if body != cached:
                try:
                    write_atomic(self.cache_path, body.decode("utf-8"), 0o600)
                except UnicodeDecodeError:
                    pass  # not a document at all: refused below, and again (one GET) on the next poll
            memory = dict(memory, etag=new_etag)
        status = self._act(body, memory)
        return dict(action="reported" if memory.get("reported") else "unreported", requests=self.requests, status=status,
                    generation=status.get("generation"))

    def _act(self, body: bytes, memory: dict) -> dict:
        started = self._now()
        try:
            desired = docs.check_desired(body, self.where, self.project, self.environment)
        except Exception as exc:  # pylint: disable=broad-exception-caught  # whatever the object holds, the node says so, once
            error = str(exc) if isinstance(exc, docs.DocumentError) else "%s: cannot be used (%s: %s)" % (self.where, type(exc).__name__, exc)
            status = self._status("rejected", docs.claimed_generation(body) or memory.get("generation") or 0, started, error=error)
            if memory.get("rejected") is not None and memory.get("rejected") == memory.get("etag") and memory.get("reported"):
                return status  # the same bad object again: reported once
            memory.update(rejected=memory.get("etag"))
            return self._report(status, memory)
        generation = desired["generation"]
        seen = memory.get("generation") or 0
        if generation < seen:
            status = self._status("rejected", generation, started, error="%s: generation %d is older than generation %d, which this "
                                  "node already acted on; a controller writes a newer one" % (self.where, generation, seen))
            return self._report(status, memory)
        if generation == seen and (memory.get("status") or {}).get("result") not in (None, "rejected") and not _unfinished(memory):
            if memory.get("reported"):
                self._keep(memory)  # the same generation rewritten: nothing new to do
                return memory["status"]
            return self._report(memory["status"], memory)  # done before, but the status write failed: send it again
        memory["fetch_failures"] = memory.get("fetch_failures", 0) if generation == seen else 0
        memory.update(generation=generation, reported=False, rejected=None)
        fields = dict(release_id=desired["release_id"], wave=(desired.get("wave") or {}).get("number"),
                      dist_version=desired["dist_version"])
        interrupted = self._interrupted(memory, generation, started, fields)
        if interrupted is not None:
            return self._report(interrupted, memory)
        if not desired["converge"]:
            return self._report(self._status("held", generation, started, reason=desired.get("reason"), **fields), memory)
        wave = desired["wave"]
        if not docs.selected(wave["selector"], desired.get("seed") or desired["release_id"], self.node, self.config["tags"]):
            return self._report(self._status("not_selected", generation, started, selected=False, **fields), memory)
        run_id = "%s-g%d" % (desired["release_id"], generation)
        memory.update(applying=run_id)
        self._keep(memory)
        result = self._deploy(desired, run_id)
        memory.update(applying=None)
        status = self._status(self._outcome(result), generation, started, selected=True, **fields)
        status.update(previous_version=result.get("previous_version"), node_status=result.get("node_status_after") or result.get(
            "node_status"), downloaded_bytes=result.get("downloaded_bytes") or 0)
        if status["result"] in ("failed", "in_progress", "not_eligible"):
            status.update(stage=result.get("stage") or ("node" if status["result"] == "failed" else None),
                          error=result.get("msg") or result.get("message"))
        if result["agent_warnings"]:
            status["warnings"] = [text[:docs.MAX_TEXT] for text in result["agent_warnings"][:10]]
        if status.get("stage") == "fetch":
            memory["fetch_failures"] = memory.get("fetch_failures", 0) + 1
        self._versions(status)
        return self._report(status, memory)

    def _deploy(self, desired: dict, run_id: str) -> dict:
        params = dict(self.params)
        params.update(desired["deploy"])
        params.update(plan=desired["plan"], upgradable=desired["upgradable"], run_id=run_id)
        warnings: list[str] = []
        try:
            result = Deployer(params, lambda: self.store, warn=warnings.append).run()
        except LockedError as exc:
            result = dict(action="skip", reason="in progress", message=str(exc))
        except (FleetopsError, OSError) as exc:
            result = dict(failed=True, stage="state", msg=str(exc))
        except Exception as exc:  # pylint: disable=broad-exception-caught  # reported, not a traceback on every poll
            result = dict(failed=True, stage="state", msg="unexpected error in the release: %s: %s" % (type(exc).__name__, exc))
        result["agent_warnings"] = warnings
        return result

    @staticmethod
    def _outcome(result: dict) -> str:
        if result.get("failed"):
            return "failed"
        if result.get("action") != "skip":
            return "applied"
        return {"up to date": "up_to_date", "not eligible": "not_eligible", "failed": "failed",
                "in progress": "in_progress"}.get(result.get("reason"), "failed")

    def _interrupted(self, memory: dict, generation: int, started: float, fields: dict) -> dict | None:
        """A run of this agent that died mid-apply: mark the node failed, once, and say so."""
        run_id = memory.get("applying")
        if not run_id:
            return None
        memory.update(applying=None)
        state_file = self.params["state_file"]
        try:
            with NodeLock(state_file):
                loaded = load(state_file)
                state = loaded.state
                if state is None or state.status not in (BUILDING, MAINTAIN) or state.run_id != run_id:
                    return None  # it finished after all, or someone else moved the node on: decide afresh
                reason = ("the pull agent stopped during run %s (images.yaml said %s since %s); check the node, then reset it"
                          % (run_id, state.status, state.started_at))
                state.mark_failed(reason, run_id)
                save(state_file, state)
        except LockedError:
            return None  # a run is live after all: the gate reports it in progress
        except (FleetopsError, StateWriteError, OSError) as exc:
            reason = "the pull agent stopped during run %s and the node could not be marked failed: %s" % (run_id, exc)
        status = self._status("failed", generation, started, selected=True, stage="interrupted", error=reason, **fields)
        self._versions(status)
        return status

    def _versions(self, status: dict) -> None:
        try:
            loaded = load(self.params["state_file"])
        except (FleetopsError, OSError):
            return  # the status says what happened; the versions stay unknown
        if loaded.state is not None:
            status.update(version=loaded.state.image_version, modules=dict(loaded.state.modules),
                          node_status=loaded.state.status)

    def _status(self, result: str, generation: int, started: float, **fields: t.Any) -> dict:
        finished = self._now()
        return docs.status_document(self.node, self.project, self.environment, result, generation=generation,
                                    started_at=iso(started), finished_at=iso(finished),
                                    seconds=round(finished - started, 3), agent=AGENT_VERSION, **fields)

    def _report(self, status: dict, memory: dict) -> dict:
        memory.update(result=status["result"], status=status)
        try:
            self.requests += 1
            key = docs.status_key(self.config.get("prefix"), self.project, self.environment, self.node, status["generation"],
                                  status["result"])
            self.store.put_bytes(self.bucket, key, docs.render(status), content_type="application/json")
            memory.update(reported=True, status_key=key)
        except FleetopsError as exc:
            memory["reported"] = False
            status = dict(status, report_error=str(exc))
        self._keep(memory)
        return status


def _unfinished(memory: dict) -> bool:
    """Whether the generation acted on is tried again on the next poll, even when the document did not change."""
    if memory.get("applying"):
        return True  # killed mid-apply: find out what it left
    status = memory.get("status") or {}
    if status.get("result") == "in_progress":
        return True  # another run held the node
    return status.get("stage") == "fetch" and memory.get("fetch_failures", 0) < FETCH_RETRIES
