# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Apply a whole release plan on one node in one module call (dist_deploy).

Order of work, chosen so that a failure costs as little as possible:

1. take the node lock, read images.yaml (a corrupt file is backed up, then the
   policy decides), and gate: install, upgrade or skip;
2. fetch and verify every artifact the plan needs and extract each module into
   a fresh ``<modules_dir>/<Module>/<version>/``; a failure here leaves the node
   exactly as it was (still ``active`` on its old version);
3. write ``building`` (install) or ``maintain`` (upgrade), run each module's
   ``deploy.sh`` or ``upgrade.sh`` in plan order with a timeout, logging to a
   file, recording each module's version in images.yaml as it succeeds;
4. write ``active`` with the new version, or ``failure`` with the error;
5. prune module versions beyond ``keep_versions``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import typing as t
import uuid

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.fetch import Artifact, Fetcher
from ansible_collections.fleetops.release.plugins.module_utils._fetch.node_fetch import NODE_FETCH_OPTIONS, extract_state, extract_to, url_id
from ansible_collections.fleetops.release.plugins.module_utils._node.paths import NODE_PATHS_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._node.state import NodeLock, NodeState, StateWriteError, backup_corrupt, gate, load, save
from ansible_collections.fleetops.release.plugins.module_utils._repo import layout as _layout
from ansible_collections.fleetops.release.plugins.module_utils._repo.versions import DEVELOPER, version_key

TAIL_LINES = 20
TAIL_BYTES = 4000


class StepFailed(FleetopsError):
    """A deploy.sh/upgrade.sh failed or timed out."""


def tail(path: str) -> str:
    """The last lines of a log, bounded in size."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - TAIL_BYTES))
            data = handle.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-TAIL_LINES:])


def run_script(script: str, cwd: str, env: dict[str, str], log_path: str, timeout: float) -> tuple[int, float, bool]:
    """Run one script in its own process group; returns (rc, seconds, timed_out)."""
    os.makedirs(os.path.dirname(log_path), mode=0o750, exist_ok=True)
    argv = [script] if os.access(script, os.X_OK) else ["/bin/sh", script]
    started = time.monotonic()
    with open(log_path, "ab") as log:
        log.write(("# %s  %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), " ".join(argv))).encode())
        log.flush()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
            return rc, time.monotonic() - started, False
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            log.write(("\n# killed after %ss timeout\n" % timeout).encode())
            return -signal.SIGKILL, time.monotonic() - started, True


def direction(target: str, previous: str | None) -> str:
    """``forward``, ``back`` or ``same``: the DIST target version against the node's previous one.

    Ranked by the release tag order of ``_versions.version_key`` (``1.10.0`` is after ``1.9.0``, ``1.2``
    ranks with ``1.2.0``). A new node (no previous version) goes ``forward``. ``developer`` has no rank:
    the same channel again is ``same``, any move to or from it is ``forward``.
    """
    if previous is None or previous == "":
        return "forward"
    if previous == target:
        return "same"
    if DEVELOPER in (previous, target):
        return "forward"
    new, old = _rank(target), _rank(previous)
    if new == old:
        return "same"
    return "forward" if new > old else "back"


def _rank(tag: str) -> tuple:
    """version_key without its tie-breakers (part count, raw text), so that equal releases compare equal."""
    key = version_key(tag)
    return key[:4] if key[0] == 1 else key[:2]


def _kill_group(proc: subprocess.Popen) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


class Deployer:
    """One node, one plan, one call."""

    def __init__(self, params: dict[str, t.Any], store_factory: t.Callable[[], t.Any] | None = None,
                 check_mode: bool = False, warn: t.Callable[[str], None] | None = None) -> None:
        self.p = params
        self.plan = params["plan"]
        if not isinstance(self.plan, dict) or not isinstance(self.plan.get("install"), list) or not isinstance(self.plan.get("dist"), dict):
            raise FleetopsError("plan: not a plan from fleetops.release.repo_info (needs dist and install)")
        self.check_mode = check_mode
        self.warn = warn or (lambda msg: None)
        self.run_id = params.get("run_id") or uuid.uuid4().hex[:12]
        self.state_file = params["state_file"]
        self.modules_dir = params["modules_dir"]
        self.log_dir = params["log_dir"]
        self.urls = params.get("presigned_urls") or {}
        self.fetcher = Fetcher(params["cache_dir"], store_factory=store_factory, attempts=params["attempts"],
                               timeout=params["timeout"], validate_certs=params.get("validate_certs", True),
                               allow_unverified=params["allow_unverified"])
        self.target = self.plan["dist"]["version"]
        self.direction = "forward"

    # -- reading the node ------------------------------------------------------------------
    def _load(self) -> tuple[NodeState | None, dict]:
        loaded = load(self.state_file)
        info: dict = {"corrupt": None}
        if loaded.problem is None:
            return loaded.state, info
        if self.check_mode:
            info["corrupt"] = dict(problem=loaded.problem, backup=None, policy=self.p["corrupt_policy"])
            if self.p["corrupt_policy"] == "fail":
                raise FleetopsError("%s: %s (corrupt_policy=fail; nothing changed in check mode)" % (self.state_file, loaded.problem))
            return None, info
        if self.p["corrupt_policy"] == "fail":
            backup = _same_backup(self.state_file)
            if backup is None:
                backup = backup_corrupt(self.state_file)
                # Put the file back (same inode) so that every later run stops here too, until someone decides.
                os.link(backup, self.state_file)
            info["corrupt"] = dict(problem=loaded.problem, backup=backup, policy="fail")
            raise FleetopsError("%s: %s; a copy is kept as %s. Fix or remove images.yaml, or rerun with "
                                "corrupt_policy=rebuild to treat the node as new" % (self.state_file, loaded.problem, backup))
        backup = backup_corrupt(self.state_file)
        info["corrupt"] = dict(problem=loaded.problem, backup=backup, policy="rebuild")
        self.warn("%s: %s; moved aside to %s and the node is treated as new (corrupt_policy=rebuild)"
                  % (self.state_file, loaded.problem, backup))
        return None, info

    # -- the plan against the node -----------------------------------------------------------
    def steps_for(self, state: NodeState | None, action: str) -> list[dict]:
        """Per plan step: what this node does (deploy, upgrade, unchanged).

        An install walks the ``install`` section. An upgrade walks the ``upgrade`` section, or with
        ``converge`` every module of the DIST (:func:`converge_steps`): then a module the node has at
        another version is upgraded, one it lacks deployed, whatever the step's own action says.
        """
        have = dict(state.modules) if state is not None else {}
        converge = action != "install" and bool(self.p.get("converge"))
        if action == "install":
            section = self.plan["install"]
        elif converge:
            section = converge_steps(self.plan)
        else:
            section = self.plan.get("upgrade") or []
        out = []
        for step in section:
            module, version = step["module"], step["version"]
            before = have.get(module)
            if before == version and version != DEVELOPER and os.path.isdir(self._module_dir(module, version)):
                todo = "unchanged"
            elif before is not None and (converge or step.get("action") == "upgrade"):
                todo = "upgrade"
            else:
                todo = "deploy"
            out.append(dict(module=module, version=version, from_version=before, action=todo, step=step))
        return out

    def _module_dir(self, module: str, version: str) -> str:
        return os.path.join(self.modules_dir, module, version)

    def _artifact(self, art: dict) -> Artifact:
        entry = dict(art)
        entry["url"] = entry.get("url") or self.urls.get(url_id(art.get("bucket"), art["key"], art.get("version_id")))
        return Artifact.from_dict(entry, art["key"])

    # -- stage 2: fetch, verify, extract (nothing on the node changes state yet) ----------------
    def prepare(self, todo: list[dict]) -> int:
        downloaded = 0
        for item in todo:
            if item["action"] == "unchanged":
                continue
            step = item["step"]
            rel = self._artifact(step["rel"])
            got = self.fetcher.fetch(rel)
            downloaded += got.size if got.downloaded else 0
            dest = self._module_dir(step["module"], step["version"])
            self._fresh(dest, got.sha256, rel.label, got.path)
            item["dir"] = dest
            item["src_dirs"] = []
            for src in step.get("src") or []:
                art = self._artifact(src)
                got_src = self.fetcher.fetch(art)
                downloaded += got_src.size if got_src.downloaded else 0
                name = _layout.bin_name_of(src["key"].rsplit("/", 1)[-1]) or "src"
                src_dest = os.path.join(dest, "src", name)
                self._fresh(src_dest, got_src.sha256, art.label, got_src.path)
                item["src_dirs"].append(src_dest)
        return downloaded

    def _fresh(self, dest: str, sha256: str, label: str, path: str) -> None:
        """Extract into dest unless it already holds this artifact; set aside anything else there."""
        try:
            if extract_state(dest, sha256) == "unchanged":
                return
        except FleetopsError:
            aside = "%s.replaced-%s" % (dest, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()))
            os.rename(dest, aside)
            self.warn("%s held other content; moved aside to %s" % (dest, aside))
        extract_to(path, dest, sha256, label)

    # -- stage 3 and 4: scripts and state ----------------------------------------------------
    def _env(self, item: dict, action: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "HOME", "TZ", "USER", "LOGNAME")}
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env.update(
            FLEETOPS_ACTION=action,
            FLEETOPS_MODULE=item["module"],
            FLEETOPS_VERSION=item["version"],
            FLEETOPS_PREVIOUS_VERSION=item["from_version"] or "",
            FLEETOPS_MODULE_DIR=item["dir"],
            FLEETOPS_MODULES_DIR=self.modules_dir,
            FLEETOPS_SRC_DIR=item["src_dirs"][0] if item["src_dirs"] else "",
            FLEETOPS_SRC_DIRS=":".join(item["src_dirs"]),
            FLEETOPS_PROJECT=self.plan.get("project") or self.p.get("project") or "",
            FLEETOPS_DIST=self.plan["dist"]["name"],
            FLEETOPS_DIST_VERSION=self.target,
            FLEETOPS_DIRECTION=self.direction,
            FLEETOPS_RESTART="1" if self.p["restart"] else "0",
            FLEETOPS_RUN_ID=self.run_id,
            FLEETOPS_STATE_FILE=self.state_file,
        )
        return env

    def _run_steps(self, state: NodeState, todo: list[dict], results: list[dict]) -> None:
        for index, item in enumerate(todo, 1):
            if item["action"] == "unchanged":
                continue
            name = "upgrade.sh" if item["action"] == "upgrade" else "deploy.sh"
            script = os.path.join(item["dir"], name)
            log_path = os.path.join(self.log_dir, self.run_id, "%02d-%s-%s-%s.log" % (index, item["module"], item["version"], name[:-3]))
            entry = dict(module=item["module"], version=item["version"], action=item["action"], script=name, log=log_path)
            results.append(entry)
            if not os.path.isfile(script):
                entry.update(rc=None, seconds=0.0, tail="")
                raise StepFailed("%s %s: the package has no %s" % (item["module"], item["version"], name))
            rc, seconds, timed_out = run_script(script, item["dir"], self._env(item, item["action"]), log_path, self.p["script_timeout"])
            entry.update(rc=rc, seconds=round(seconds, 3), tail=tail(log_path))
            if timed_out:
                raise StepFailed("%s %s: %s did not finish within %ss and was killed (log: %s)"
                                 % (item["module"], item["version"], name, self.p["script_timeout"], log_path))
            if rc != 0:
                raise StepFailed("%s %s: %s exited with %s (log: %s)" % (item["module"], item["version"], name, rc, log_path))
            state.modules[item["module"]] = item["version"]
            save(self.state_file, state)

    def prune(self, touched: list[str], installed: dict[str, str]) -> list[str]:
        """Keep the newest ``keep_versions`` of each touched module, and always the installed one."""
        removed = []
        keep = max(1, int(self.p["keep_versions"]))
        for module in touched:
            base = os.path.join(self.modules_dir, module)
            try:
                names = [n for n in os.listdir(base) if not n.startswith(".") and os.path.isdir(os.path.join(base, n))]
            except OSError:
                continue
            tags = sorted((n for n in names if n != DEVELOPER and ".replaced-" not in n), key=version_key, reverse=True)
            current = installed.get(module)
            others = [name for name in tags if name != current]
            room = keep - 1 if current in tags else keep
            for name in others[max(0, room):]:
                path = os.path.join(base, name)
                shutil.rmtree(path, ignore_errors=True)
                marker = os.path.join(base, ".%s.sha256" % name)
                if os.path.exists(marker):
                    os.unlink(marker)
                removed.append(path)
        return removed

    # -- the whole call ------------------------------------------------------------------------
    def run(self) -> dict:
        os.makedirs(os.path.dirname(self.state_file) or ".", mode=0o755, exist_ok=True)
        with NodeLock(self.state_file):
            return self._run_locked()

    def _run_locked(self) -> dict:
        state, info = self._load()
        decision = gate(state, self.target, self.p["upgradable"] or [], self.p["stale_after"])
        result = dict(changed=False, run_id=self.run_id, action=decision.action, reason=decision.reason, message=decision.message,
                      dist_version=self.target, node_status=state.status if state is not None else None,
                      previous_version=(state.image_version if state is not None else None), steps=[], downloaded_bytes=0,
                      corrupt=info["corrupt"], state_file=self.state_file)
        self.direction = result["direction"] = direction(self.target, result["previous_version"])
        if decision.action == "skip":
            return result
        todo = self.steps_for(state, decision.action)
        result["plan_diff"] = [dict(module=i["module"], version=i["version"], from_version=i["from_version"], action=i["action"])
                               for i in todo]
        modules_after = dict(state.modules) if state is not None else {}
        modules_after.update({i["module"]: i["version"] for i in todo})
        result["diff"] = dict(before=dict(version=result["previous_version"], modules=dict(state.modules) if state else {}),
                              after=dict(version=self.target, modules=modules_after))
        if self.p.get("converge"):
            # Modules the node has that the target DIST does not list at all: no script runs for them.
            listed = {i["module"] for i in todo}
            result["left_alone"] = sorted(m for m in result["diff"]["before"]["modules"] if m not in listed)
        changing = [i for i in todo if i["action"] != "unchanged"]
        result["changed"] = bool(changing) or result["previous_version"] != self.target
        if self.check_mode:
            result["node_status_after"] = "active"
            return result
        try:
            result["downloaded_bytes"] = self.prepare(todo)
        except (FleetopsError, OSError) as exc:
            result.update(changed=False, failed=True, stage="fetch", node_status_after=result["node_status"],
                          msg="%s; nothing on the node was changed (%s)" % (exc, _unchanged(state)))
            return result
        if state is None:
            state = NodeState(self.state_file)
            state.project = self.plan.get("project") or self.p.get("project")
        state.transition("building" if decision.action == "install" else "maintain", self.run_id, version=self.target,
                         reason="%s %s" % (decision.action, self.target))
        save(self.state_file, state)
        try:
            self._run_steps(state, todo, result["steps"])
        except (StepFailed, StateWriteError, OSError) as exc:
            message = str(exc) if isinstance(exc, FleetopsError) else "%s: %s" % (getattr(exc, "filename", None) or "script", exc)
            state.transition("failure", self.run_id, version=self.target, reason=decision.action, error=message)
            try:
                save(self.state_file, state)
            except StateWriteError as write_error:
                message = "%s; recording the failure failed too (%s), so images.yaml still says %s" % (
                    message, write_error, "building" if decision.action == "install" else "maintain")
            result.update(changed=True, failed=True, stage="script", node_status_after="failure", msg=message)
            return result
        state.transition("active", self.run_id, version=self.target, reason="%s %s" % (decision.action, self.target))
        save(self.state_file, state)
        result.update(node_status_after="active", pruned=self.prune([i["module"] for i in changing], state.modules))
        return result


def converge_steps(plan: dict) -> list[dict]:
    """Every module of the plan's DIST, each once at the version the DIST gives it, dependencies first.

    The ``install`` section in its order. A module the ``upgrade`` section names at another version
    (an ``upgrade_list`` entry newer than ``sub_repo``) takes that step instead, after the upgrade
    steps it depends on; upgrade steps of modules the install section lacks come last, in their order.
    So the versions are the plan's ``modules``; for the usual DIST (``upgrade_list`` versions as in
    ``sub_repo``) this is the install section unchanged.
    """
    upgrade = plan.get("upgrade") or []
    by_module = {step["module"]: step for step in upgrade}
    needs: dict[str, list[dict]] = {}
    for step in upgrade:
        for requirer in step.get("required_by") or []:
            needs.setdefault(requirer, []).append(step)
    out: list[dict] = []
    placed: set[str] = set()

    def place(step: dict) -> None:
        if step["module"] in placed:
            return
        placed.add(step["module"])
        for dependency in needs.get("%s@%s" % (step["module"], step["version"]), []):
            place(dependency)
        out.append(step)

    for step in plan["install"]:
        other = by_module.get(step["module"])
        place(other if other is not None and other["version"] != step["version"] else step)
    for step in upgrade:
        place(step)
    return out


def _same_backup(path: str) -> str | None:
    """An existing ``<path>.corrupt-*`` copy of the file as it is now (so repeated runs do not pile up copies)."""
    try:
        with open(path, "rb") as handle:
            current = handle.read()
        folder, base = os.path.split(path)
        for name in sorted(os.listdir(folder or "."), reverse=True):
            if name.startswith(base + ".corrupt-"):
                with open(os.path.join(folder, name), "rb") as handle:
                    if handle.read() == current:
                        return os.path.join(folder, name)
    except OSError:
        return None
    return None


def _unchanged(state: NodeState | None) -> str:
    if state is None:
        return "the node is still new"
    return "the node is still %s on %s" % (state.status, state.image_version)


DIST_DEPLOY_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    plan=dict(type="dict", required=True),
    upgradable=dict(type="list", elements="str", default=[]),
    project=dict(type="str"),
    run_id=dict(type="str"),
    restart=dict(type="bool", default=False),
    converge=dict(type="bool", default=False),
    script_timeout=dict(type="int", default=600),
    stale_after=dict(type="int", default=3600),
    keep_versions=dict(type="int", default=3),
    corrupt_policy=dict(type="str", choices=["fail", "rebuild"], default="fail"),
    **NODE_PATHS_ARGSPEC,
    **NODE_FETCH_OPTIONS,
)
