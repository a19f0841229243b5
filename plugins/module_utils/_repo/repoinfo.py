# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Parse, validate and resolve repo-info documents.

A REL repo (one module) carries::

    rel_branch: 1.2.0            # developer | release tag: where this REL package lives
    src_branch: 1.2.0            # developer | release tag: where the SRC package lives
    depend_list:                 # none | {module: release tag}, installed first
      LibA: 2.0.1

A DIST repo (one product release) carries::

    rel_branch: 3.0.0
    sub_repo:                    # none | ordered {module: version}: the install order
      LibA: 2.0.1
      ModuleX: 1.2.0
    upgrade_list:                # none | {module: version}: modules whose upgrade.sh runs
      ModuleX: 1.2.0

Besides plain scalars, the forms the original template writes are accepted: a
one-element flow list (``[developer]``, ``[none]``, ``[1.2.0]``) and ``none`` in
any case, ``~`` or an empty value for "no entries".  Every scalar is read as
text, so ``1.10`` stays ``"1.10"``.  Every error is a :class:`RepoInfoError`
naming the document, the key and the offending value.

Controller side: needs PyYAML, which ships with ansible-core.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from typing import Callable, ClassVar

try:
    import yaml
    HAS_YAML = True
except ImportError:  # modules report it through missing_required_lib
    HAS_YAML = False

from ansible_collections.fleetops.release.plugins.module_utils._errors import RepoInfoError
from ansible_collections.fleetops.release.plugins.module_utils._repo.versions import DEVELOPER, channel_problem, module_name_problem

MAX_BYTES = 64 * 1024
"""Largest repo-info document accepted, in bytes of UTF-8."""

KIND_REL = "rel"
KIND_DIST = "dist"

REL_KEYS = ("rel_branch", "src_branch", "depend_list")
DIST_KEYS = ("rel_branch", "sub_repo", "upgrade_list")
_REL_ONLY = ("src_branch", "depend_list")
_DIST_ONLY = ("sub_repo", "upgrade_list")

ACTION_DEPLOY = "deploy"
ACTION_UPGRADE = "upgrade"
TOP_LEVEL = "dist"
"""The ``required_by`` entry of modules listed by the DIST itself."""

MAX_DEPTH = 100
"""Longest dependency chain followed before giving up."""

_NULL_TAG = "tag:yaml.org,2002:null"
_CHANNEL = "one channel (developer or a release tag)"
_MODULE_MAP = "none or a mapping of module: version"
_VERSION = "one version (developer or a release tag)"
_RELEASE_TAG = "one release tag"


# ---------------------------------------------------------------------------
# YAML loading
# ---------------------------------------------------------------------------

class _Mapping:
    """A YAML mapping exactly as written: entries in order, duplicates kept, with line numbers."""

    __slots__ = ("entries",)

    def __init__(self, entries: list) -> None:
        self.entries = entries  # list of (key, value, line)


def _plain(value: object) -> object:
    """Turn loaded YAML into plain Python data for error messages."""
    if isinstance(value, _Mapping):
        return {_plain_key(key): _plain(item) for key, item, dummy in value.entries}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _plain_key(key: object) -> object:
    plain = _plain(key)
    return plain if isinstance(plain, (str, type(None))) else repr(plain)


def _describe(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, _Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list of %d entries" % len(value)
    return type(value).__name__


if HAS_YAML:
    class _RepoInfoLoader(yaml.SafeLoader):
        """A SafeLoader that reads every scalar but null as text and keeps mappings as written.

        Only the null resolver survives, so ``1.10``, ``2``, ``yes`` and
        ``2024-01-01`` all stay strings.  Only str, null, seq and map tags can be
        constructed; anything else (``!!int``, ``!!binary``, ``!!set``) is refused.
        Mappings become :class:`_Mapping` so that duplicate keys and their order
        reach the validation below instead of being silently merged.
        """

        yaml_implicit_resolvers: ClassVar[dict] = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag == _NULL_TAG]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
            if any(tag == _NULL_TAG for tag, dummy in resolvers)
        }
        yaml_constructors: ClassVar[dict] = {}
        yaml_multi_constructors: ClassVar[dict] = {}

        def construct_mapping(self, node, deep=False):
            if not isinstance(node, yaml.MappingNode):
                raise yaml.constructor.ConstructorError(None, None, "expected a mapping, but found %s" % node.id, node.start_mark)
            entries = []
            for key_node, value_node in node.value:
                key = self.construct_object(key_node, deep=True)
                value = self.construct_object(value_node, deep=True)
                entries.append((key, value, key_node.start_mark.line + 1))
            return _Mapping(entries)

        def construct_plain_sequence(self, node):
            if not isinstance(node, yaml.SequenceNode):
                raise yaml.constructor.ConstructorError(None, None, "expected a sequence, but found %s" % node.id, node.start_mark)
            return [self.construct_object(child, deep=True) for child in node.value]

        def construct_refused(self, node):
            raise yaml.constructor.ConstructorError(
                None, None, "the tag %s is not allowed in repo-info: write plain values" % node.tag, node.start_mark)

    _RepoInfoLoader.add_constructor("tag:yaml.org,2002:str", yaml.SafeLoader.construct_yaml_str)
    _RepoInfoLoader.add_constructor(_NULL_TAG, yaml.SafeLoader.construct_yaml_null)
    _RepoInfoLoader.add_constructor("tag:yaml.org,2002:seq", _RepoInfoLoader.construct_plain_sequence)
    _RepoInfoLoader.add_constructor("tag:yaml.org,2002:map", _RepoInfoLoader.construct_mapping)
    _RepoInfoLoader.add_constructor(None, _RepoInfoLoader.construct_refused)


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """Describe a YAML error with its line and column (1-based)."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or "syntax error"
        if exc.context:
            context = exc.context
            if exc.context_mark is not None and exc.context_mark.line != mark.line:
                context = "%s (line %d)" % (context, exc.context_mark.line + 1)
            problem = "%s, %s" % (context, problem)
        return "invalid YAML at line %d, column %d: %s" % (mark.line + 1, mark.column + 1, problem)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        return "invalid YAML at line %d, column %d: character #x%04x is not allowed" % (line, column, exc.character)
    return "invalid YAML: %s" % " ".join(str(exc).split())


def _load(text: str | bytes, source: str) -> _Mapping:
    """Check size and encoding, load the YAML and return its top-level mapping."""
    if not HAS_YAML:
        raise RepoInfoError(source, "reading repo-info needs the Python library PyYAML (it ships with ansible-core)")
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_BYTES:
            raise RepoInfoError(source, "document is larger than %d bytes (%d bytes)" % (MAX_BYTES, len(text)))
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RepoInfoError(source, "document is not valid UTF-8 text (bad byte at offset %d)" % exc.start) from None
    elif isinstance(text, str):
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_BYTES:
            raise RepoInfoError(source, "document is larger than %d bytes (%d bytes)" % (MAX_BYTES, size))
    else:
        raise TypeError("repo-info text must be str or bytes, not %s" % type(text).__name__)
    try:
        loader = _RepoInfoLoader(text)
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise RepoInfoError(source, _yaml_problem(exc, text)) from None
    except RecursionError:
        raise RepoInfoError(source, "invalid YAML: nested too deeply") from None
    if data is None:
        raise RepoInfoError(source, "document is empty: expected a mapping with rel_branch and the other repo-info keys")
    if not isinstance(data, _Mapping):
        raise RepoInfoError(source, "the top level must be a mapping of repo-info keys, not %s" % _describe(data), value=_plain(data))
    return data


# ---------------------------------------------------------------------------
# Validation of values
# ---------------------------------------------------------------------------

def _unwrap(value: object, source: str, key: str, expected: str, choose_one: bool) -> object:
    """Undo the one-element list form and map every spelling of none to ``None``."""
    if isinstance(value, list):
        if not value:
            return None
        if len(value) > 1:
            problem = "expected %s, not %s" % (expected, _describe(value))
            if choose_one:
                problem = "choose one value: " + problem
            raise RepoInfoError(source, problem, key=key, value=_plain(value))
        value = value[0]
        if isinstance(value, (list, _Mapping)):
            raise RepoInfoError(source, "expected %s, not a list holding %s" % (expected, _describe(value)), key=key, value=_plain([value]))
    if isinstance(value, str) and value.strip().casefold() == "none":
        return None
    return value


def _text_value(value: object, source: str, key: str, expected: str) -> str:
    """Check that an unwrapped value is text and not the template's ``a|b`` placeholder."""
    if not isinstance(value, str):
        raise RepoInfoError(source, "expected %s, not %s" % (expected, _describe(value)), key=key, value=_plain(value))
    if "|" in value:
        raise RepoInfoError(source, "holds the template's list of choices; choose one value: expected %s" % expected, key=key, value=value)
    return value


def _channel(value: object, source: str, key: str) -> str:
    """Validate ``rel_branch`` or ``src_branch``: one channel, never none."""
    value = _unwrap(value, source, key, _CHANNEL, choose_one=True)
    if value is None:
        raise RepoInfoError(source, "none is not allowed here: expected %s" % _CHANNEL, key=key)
    channel = _text_value(value, source, key, _CHANNEL)
    problem = channel_problem(channel)
    if problem is not None:
        raise RepoInfoError(source, problem, key=key, value=channel)
    return channel


def _version(value: object, source: str, key: str, dependency: bool) -> str:
    """Validate the version of one entry of a module mapping."""
    expected = _RELEASE_TAG if dependency else _VERSION
    value = _unwrap(value, source, key, expected, choose_one=True)
    if value is None:
        raise RepoInfoError(source, "missing version: expected %s" % expected, key=key)
    version = _text_value(value, source, key, expected)
    problem = channel_problem(version)
    if problem is not None:
        raise RepoInfoError(source, problem, key=key, value=version)
    if dependency and version == DEVELOPER:
        raise RepoInfoError(source, "dependencies must be release tags, never the developer channel", key=key, value=version)
    return version


def _module_map(value: object, source: str, key: str, dependency: bool = False) -> tuple[tuple[str, str], ...]:
    """Validate ``depend_list``, ``sub_repo`` or ``upgrade_list``: none or an ordered mapping."""
    value = _unwrap(value, source, key, _MODULE_MAP, choose_one=False)
    if value is None:
        return ()
    if not isinstance(value, _Mapping):
        _text_value(value, source, key, _MODULE_MAP)  # names the template text if that is what it is
        raise RepoInfoError(source, "expected %s, not %s" % (_MODULE_MAP, _describe(value)), key=key, value=_plain(value))
    seen: dict[str, int] = {}
    result = []
    for module, version, line in value.entries:
        problem = module_name_problem(module)
        if problem is not None:
            raise RepoInfoError(source, problem, key=key, value=_plain(module))
        if module in seen:
            raise RepoInfoError(source, "%s listed twice (lines %d and %d)" % (module, seen[module], line), key=key)
        seen[module] = line
        result.append((module, _version(version, source, "%s.%s" % (key, module), dependency)))
    return tuple(result)


def _top_level(doc: _Mapping, source: str, allowed: tuple[str, ...], required: tuple[str, ...], label: str) -> dict:
    """Check the top-level keys; return ``{key: value}``."""
    other = _DIST_ONLY if allowed == REL_KEYS else _REL_ONLY
    found: dict[str, tuple[object, int]] = {}
    for key, value, line in doc.entries:
        if not isinstance(key, str) or key not in allowed:
            problem = "unknown key in a %s repo-info; expected %s" % (label, ", ".join(allowed))
            if isinstance(key, str) and key in other:
                problem += " (%s belongs in a %s repo-info)" % (key, "DIST" if label == "REL" else "REL")
            elif isinstance(key, str):
                close = difflib.get_close_matches(key.lower(), allowed, n=1)
                if close:
                    problem += " (did you mean %s?)" % close[0]
            if not isinstance(key, str):
                problem += " (line %d)" % line
            raise RepoInfoError(source, problem, key=key if isinstance(key, str) else None, value=None if isinstance(key, str) else _plain(key))
        if key in found:
            raise RepoInfoError(source, "%s given twice (lines %d and %d)" % (key, found[key][1], line), key=key)
        found[key] = (value, line)
    for key in required:
        if key not in found:
            raise RepoInfoError(source, "missing required key in a %s repo-info" % label, key=key)
    return {key: item[0] for key, item in found.items()}


# ---------------------------------------------------------------------------
# Parsed documents
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class RelInfo:
    """The repo-info of one module's REL repo."""

    source: str
    rel_branch: str
    src_branch: str
    depend_list: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        """Plain data; ``depend_list`` as an ordered dict (empty for none)."""
        return {
            "source": self.source,
            "rel_branch": self.rel_branch,
            "src_branch": self.src_branch,
            "depend_list": dict(self.depend_list),
        }


@dataclass(frozen=True)
class DistInfo:
    """The repo-info of a DIST repo: one product release."""

    source: str
    rel_branch: str
    sub_repo: tuple[tuple[str, str], ...] = ()
    upgrade_list: tuple[tuple[str, str], ...] = ()

    def to_dict(self) -> dict:
        """Plain data; ``sub_repo`` and ``upgrade_list`` as ordered dicts (empty for none)."""
        return {
            "source": self.source,
            "rel_branch": self.rel_branch,
            "sub_repo": dict(self.sub_repo),
            "upgrade_list": dict(self.upgrade_list),
        }


def _build_rel(doc: _Mapping, source: str) -> RelInfo:
    values = _top_level(doc, source, REL_KEYS, ("rel_branch", "src_branch"), "REL")
    return RelInfo(
        source=source,
        rel_branch=_channel(values["rel_branch"], source, "rel_branch"),
        src_branch=_channel(values["src_branch"], source, "src_branch"),
        depend_list=_module_map(values.get("depend_list"), source, "depend_list", dependency=True),
    )


def _build_dist(doc: _Mapping, source: str) -> DistInfo:
    values = _top_level(doc, source, DIST_KEYS, ("rel_branch", "sub_repo"), "DIST")
    return DistInfo(
        source=source,
        rel_branch=_channel(values["rel_branch"], source, "rel_branch"),
        sub_repo=_module_map(values["sub_repo"], source, "sub_repo"),
        upgrade_list=_module_map(values.get("upgrade_list"), source, "upgrade_list"),
    )


def parse_rel(text: str | bytes, source: str) -> RelInfo:
    """Parse the repo-info of a REL repo; ``source`` labels every error (a path or ``s3://bucket/key``)."""
    return _build_rel(_load(text, source), source)


def parse_dist(text: str | bytes, source: str) -> DistInfo:
    """Parse the repo-info of a DIST repo; ``source`` labels every error."""
    return _build_dist(_load(text, source), source)


def parse(text: str | bytes, source: str, kind: str | None = None) -> RelInfo | DistInfo:
    """Parse a repo-info of either kind.

    ``kind`` is ``"rel"``, ``"dist"`` or ``None`` to tell from the keys:
    ``sub_repo``/``upgrade_list`` mean DIST, ``src_branch``/``depend_list`` mean
    REL; a document with both or neither is an error.
    """
    if kind not in (None, KIND_REL, KIND_DIST):
        raise ValueError("kind must be %r, %r or None, not %r" % (KIND_REL, KIND_DIST, kind))
    doc = _load(text, source)
    if kind is None:
        keys = [key for key, dummy, dummy2 in doc.entries if isinstance(key, str)]
        rel_keys = [key for key in keys if key in _REL_ONLY]
        dist_keys = [key for key in keys if key in _DIST_ONLY]
        if rel_keys and dist_keys:
            raise RepoInfoError(
                source, "mixes REL keys (%s) with DIST keys (%s); a repo-info is one or the other"
                % (", ".join(rel_keys), ", ".join(dist_keys)), key=dist_keys[0])
        if not rel_keys and not dist_keys:
            raise RepoInfoError(
                source, "cannot tell a REL repo-info (src_branch, depend_list) from a DIST one (sub_repo, upgrade_list); keys found: %s"
                % (", ".join(repr(key) for key in keys) or "none"))
        kind = KIND_DIST if dist_keys else KIND_REL
    return _build_dist(doc, source) if kind == KIND_DIST else _build_rel(doc, source)


# ---------------------------------------------------------------------------
# Resolution of a DIST into ordered steps
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Step:
    """One module to deploy or upgrade, in the order the steps are listed."""

    module: str
    version: str
    src_branch: str
    action: str
    required_by: tuple[str, ...]

    def to_dict(self) -> dict:
        """Plain data."""
        return {
            "module": self.module,
            "version": self.version,
            "src_branch": self.src_branch,
            "action": self.action,
            "required_by": list(self.required_by),
        }


@dataclass(frozen=True)
class Resolution:
    """A DIST resolved into install steps, upgrade steps and the dependency tree of ``sub_repo``."""

    install: tuple[Step, ...]
    upgrade: tuple[Step, ...]
    tree: list

    def to_dict(self) -> dict:
        """Plain data (a copy: changing it does not change the resolution)."""
        return {
            "install": [step.to_dict() for step in self.install],
            "upgrade": [step.to_dict() for step in self.upgrade],
            "tree": copy.deepcopy(self.tree),
        }


def _label(module: str, version: str) -> str:
    return "%s@%s" % (module, version)


class _Walk:
    """One depth-first walk over a set of modules: the install set or the upgrade set.

    ``wanted`` maps each module met to its version and first requirer,
    ``requirers`` lists every requirer in discovery order, and ``order`` is the
    post-order (dependencies before dependants), each module once.  Requirers
    are ``Module@version`` labels, or the section name for the DIST's own entries.
    """

    def __init__(self, resolver: _Resolver, section: str) -> None:
        self.resolver = resolver
        self.section = section
        self.wanted: dict[str, tuple[str, str]] = {}
        self.requirers: dict[str, list[str]] = {}
        self.order: list[tuple[str, str]] = []
        self._placed: set[str] = set()
        self._stack: list[tuple[str, str]] = []
        self._on_stack: dict[str, int] = {}

    def visit(self, module: str, version: str, requirer: str) -> None:
        known = self.wanted.get(module)
        if known is not None and known[0] != version:
            raise self.resolver.conflict(self.section, module, known[0], known[1], version, requirer)
        self.resolver.cross_check(self, module, version, requirer)
        if known is None:
            self.wanted[module] = (version, requirer)
        self.requirers.setdefault(module, []).append(requirer)
        if module in self._placed:
            return
        if module in self._on_stack:
            chain = self._stack[self._on_stack[module]:] + [(module, version)]
            raise RepoInfoError(
                self.resolver.dist.source, "dependency cycle: %s" % " -> ".join(_label(*link) for link in chain), key=self.section)
        if len(self._stack) >= MAX_DEPTH:
            raise RepoInfoError(
                self.resolver.dist.source, "dependency chain deeper than %d modules at %s" % (MAX_DEPTH, _label(module, version)), key=self.section)
        info = self.resolver.rel(module, version)
        self._on_stack[module] = len(self._stack)
        self._stack.append((module, version))
        for dependency, dependency_version in info.depend_list:
            self.visit(dependency, dependency_version, _label(module, version))
        self._stack.pop()
        del self._on_stack[module]
        self._placed.add(module)
        self.order.append((module, version))

    def steps(self, upgrade_targets: dict) -> tuple[Step, ...]:
        result = []
        for module, version in self.order:
            required_by: list[str] = []
            for requirer in self.requirers[module]:
                entry = TOP_LEVEL if requirer == self.section else requirer
                if entry not in required_by:
                    required_by.append(entry)
            result.append(Step(
                module=module,
                version=version,
                src_branch=self.resolver.rel(module, version).src_branch,
                action=ACTION_UPGRADE if upgrade_targets.get(module) == version else ACTION_DEPLOY,
                required_by=tuple(required_by),
            ))
        return tuple(result)


class _Resolver:
    """State shared by the install and upgrade walks: the DIST, the memoised loader, the install set."""

    def __init__(self, dist: DistInfo, load_rel: Callable[[str, str], RelInfo]) -> None:
        self.dist = dist
        self._load_rel = load_rel
        self._cache: dict[tuple[str, str], RelInfo] = {}
        self.upgrade_targets = dict(dist.upgrade_list)
        self.install = _Walk(self, "sub_repo")
        self.upgrade = _Walk(self, "upgrade_list")

    def rel(self, module: str, version: str) -> RelInfo:
        """Load a module's REL repo-info once, and check it was published where it claims."""
        key = (module, version)
        info = self._cache.get(key)
        if info is None:
            info = self._load_rel(module, version)
            if not isinstance(info, RelInfo):
                raise TypeError("load_rel(%r, %r) returned %s, not RelInfo" % (module, version, type(info).__name__))
            if info.rel_branch != version:
                raise RepoInfoError(
                    info.source, "this REL repo-info was published as %s but its rel_branch says %s"
                    % (_label(module, version), info.rel_branch), key="rel_branch", value=info.rel_branch)
            self._cache[key] = info
        return info

    def conflict(self, section: str, module: str, version_a: str, by_a: str, version_b: str, by_b: str) -> RepoInfoError:
        """The error for one module wanted at two versions."""
        return RepoInfoError(
            self.dist.source, "%s required at %s by %s and at %s by %s" % (module, version_a, by_a, version_b, by_b), key=section)

    def cross_check(self, walk: _Walk, module: str, version: str, requirer: str) -> None:
        """Check a requirement of the upgrade walk against the upgrade targets and the install set.

        An ``upgrade_list`` entry may name a newer version than ``sub_repo``
        (that is the upgrade), but not one that a dependency in the install set
        pins differently.  A dependency met while upgrading must match the
        upgrade target of its module, or else the install set.
        """
        if walk is not self.upgrade:
            return
        installed = self.install.wanted.get(module)
        if requirer == walk.section:
            if installed is not None and installed[0] != version:
                pinned_by = [by for by in self.install.requirers[module] if by != self.install.section]
                if pinned_by:
                    raise self.conflict(walk.section, module, installed[0], pinned_by[0], version, requirer)
            return
        target = self.upgrade_targets.get(module)
        if target is not None:
            if target != version:
                raise self.conflict(walk.section, module, target, walk.section, version, requirer)
        elif installed is not None and installed[0] != version:
            raise self.conflict(walk.section, module, installed[0], installed[1], version, requirer)

    def subtree(self, module: str, version: str) -> dict:
        return {
            "module": module,
            "version": version,
            "depends": [self.subtree(dependency, dependency_version) for dependency, dependency_version in self.rel(module, version).depend_list],
        }


def resolve(dist: DistInfo, load_rel: Callable[[str, str], RelInfo]) -> Resolution:
    """Resolve a DIST into ordered install and upgrade steps.

    ``load_rel(module, version)`` returns that module's REL repo-info; it is
    called at most once per (module, version) and any :class:`RepoInfoError` it
    raises (missing module or version) propagates unchanged.

    Install steps follow ``sub_repo`` order, each module preceded by its
    dependencies (depth first, in ``depend_list`` order), each module once.
    Upgrade steps do the same for ``upgrade_list``; its entries get the action
    ``upgrade``, the dependencies they pull in ``deploy``.  A module wanted at
    two versions, a dependency cycle or a REL published under the wrong
    channel is a :class:`RepoInfoError`.
    """
    resolver = _Resolver(dist, load_rel)
    for module, version in dist.sub_repo:
        resolver.install.visit(module, version, resolver.install.section)
    for module, version in dist.upgrade_list:
        resolver.upgrade.visit(module, version, resolver.upgrade.section)
    return Resolution(
        install=resolver.install.steps({}),
        upgrade=resolver.upgrade.steps(resolver.upgrade_targets),
        tree=[resolver.subtree(module, version) for module, version in dist.sub_repo],
    )
