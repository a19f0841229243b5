# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What the ``fleet`` inventory plugin does, apart from Ansible's plugin machinery.

* the fleet document: projects -> environments -> hosts, validated with errors that name the
  source, the key path and the offending value, and suggest the closest known key;
* environment names read either way round (``sdk_beta``, ``beta_console``, ``online``, ``crontab``);
* group names (the naming rule and collisions);
* sources: the inventory file itself, a local file, an S3 object or an HTTPS URL, read as raw text
  (the plugin caches that text), with errors that never carry credentials, headers or query strings.

docs/inventory.md is the user's description of all of this.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import keyword
import os
import re
import socket
import ssl
import typing as t
from collections.abc import Mapping
from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import urlsplit, urlunsplit

import yaml
from ansible.module_utils.urls import open_url
from ansible.plugins.inventory import detect_range, expand_hostname_range
from yaml.nodes import MappingNode, ScalarNode

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError, S3Error
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC

try:
    _BaseLoader: t.Any = yaml.CSafeLoader
except AttributeError:  # PyYAML without libyaml: same result, slower
    _BaseLoader = yaml.SafeLoader

DEFAULT_ENVIRONMENT_NAMES = ("dev", "test", "beta", "gray", "staging", "online", "prod")
DEFAULT_SEPARATORS = ("_", "-")
# A source document is refused above this size (a 10,000-host document is about 2 MB).
MAX_SOURCE_BYTES = 64 * 1024 * 1024
HTTP_AGENT = "fleetops.release-fleet-inventory"

PROJECT_KEYS = ("vars", "environments")
ENVIRONMENT_KEYS = ("vars", "hosts", "env", "service")
HOST_KEYS = ("vars", "tags")
DOCUMENT_KEYS = ("projects",)
SOURCE_KINDS = ("file", "s3", "https")
S3_SOURCE_KEYS = ("bucket", "key", "version_id")
HTTPS_SOURCE_KEYS = ("url", "headers", "validate_certs", "ca_path", "timeout")
# Variables the plugin sets itself; a document may not set them.
FACTS = ("fleet_project", "fleet_environment", "fleet_env", "fleet_service", "fleet_tags")
RESERVED_GROUPS = ("all", "ungrouped")

_GROUP_INVALID = re.compile(r"[^A-Za-z0-9_]")
_VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SPACE = re.compile(r"\s")
_PLAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_-]+$")
_MISSING = object()


# -- errors -----------------------------------------------------------------------------------
def render_path(path: t.Sequence[t.Any]) -> str:
    """``projects.px.environments.sdk_beta.hosts["web01.example.com"].tags.dc``"""
    out = ""
    for seg in path:
        if isinstance(seg, int) and not isinstance(seg, bool):
            out += "[%d]" % seg
        elif _PLAIN_SEGMENT.match(str(seg)):
            out += ("." if out else "") + str(seg)
        else:
            out += "[%s]" % json.dumps(str(seg))
    return out


def type_name(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return "a " + type(value).__name__


def describe(value: t.Any) -> str:
    text = repr(value)
    if len(text) > 80:
        text = text[:77] + "..."
    return "%s: %s" % (type_name(value), text) if value is not None else "null"


class FleetError(FleetopsError):
    """A fleet document or source problem: ``<source>: <key path>: <problem> (got <value>)``."""

    def __init__(self, source: str, problem: str, path: t.Sequence[t.Any] = (), value: t.Any = _MISSING,
                 unsupported_tag: bool = False) -> None:
        self.source = source
        self.path = tuple(path)
        self.problem = problem
        self.unsupported_tag = unsupported_tag
        where = source if not path else "%s: %s" % (source, render_path(path))
        if value is not _MISSING:
            problem = "%s (got %s)" % (problem, describe(value))
        super().__init__("%s: %s" % (where, problem))


def closest(key: str, known: t.Iterable[str]) -> str | None:
    match = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return match[0] if match else None


def check_keys(data: t.Mapping, known: t.Sequence[str], source: str, path: t.Sequence[t.Any]) -> None:
    for key in data:
        if key not in known:
            guess = closest(key, known)
            hint = " (did you mean %r?)" % guess if guess else ""
            raise FleetError(source, "unknown key %r%s; known keys: %s" % (key, hint, ", ".join(known)), path)


def _mapping(value: t.Any, source: str, path: t.Sequence[t.Any], what: str) -> t.Mapping:
    """A mapping (null counts as empty), else a type error."""
    if type(value) is dict:  # pylint: disable=unidiomatic-typecheck  # the common case, fast
        return value
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise FleetError(source, "expected %s" % what, path, value)
    return value


def _name(value: t.Any, source: str, path: t.Sequence[t.Any], what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FleetError(source, "%s must be a non-empty string" % what, path, value)
    return value


def _vars(value: t.Any, source: str, path: tuple, trust: t.Callable[[t.Any], t.Any] | None) -> dict:
    data = _mapping(value, source, path, "a mapping of variable names to values")
    out = {}
    for name, val in data.items():
        if not isinstance(name, str) or not _VAR_NAME.match(name) or keyword.iskeyword(name):
            raise FleetError(source, "not a valid variable name (letters, digits and underscores, not starting with a digit, "
                             "not a Python keyword)", path, name)
        if name in FACTS:
            raise FleetError(source, "%r is set by the fleet inventory itself; choose another variable name" % name, path + (name,))
        out[name] = trust(val) if trust is not None else val
    return out


# -- names ------------------------------------------------------------------------------------
def group_name(text: t.Any) -> str:
    """The group naming rule: ASCII letters, digits and ``_``; anything else becomes ``_``; a leading digit gets ``_``."""
    name = _GROUP_INVALID.sub("_", str(text))
    if not name or name[0].isdigit():
        name = "_" + name
    return name


class EnvironmentNames:
    """Reads ``env`` and ``service`` out of an environment name, written either way round.

    A name that is an environment word is just that environment (``online``). Otherwise a word at
    the end (``sdk_beta``) or, failing that, at the start (``beta_console``) is the environment and
    the rest the service; the longest matching word wins; with no word at either end the whole
    name is the service (``crontab``). Words match case-insensitively and are reported as written
    in the vocabulary.
    """

    def __init__(self, vocabulary: t.Iterable[t.Any] = DEFAULT_ENVIRONMENT_NAMES,
                 separators: t.Iterable[t.Any] = DEFAULT_SEPARATORS, source: str = "fleet inventory") -> None:
        words: dict[str, str] = {}
        for idx, word in enumerate(vocabulary):
            words[_name(word, source, ("environment_names", idx), "an environment word").lower()] = word
        if not words:
            raise FleetError(source, "needs at least one environment word", ("environment_names",))
        seps = [_name(sep, source, ("environment_separators", idx), "a separator")
                for idx, sep in enumerate(separators)]
        self.words = words
        self.separators = tuple(seps)
        self._split = re.compile("|".join(re.escape(sep) for sep in sorted(seps, key=len, reverse=True))) if seps else None

    def parse(self, name: str) -> tuple[str | None, str | None]:
        """``(env, service)``; either may be None."""
        whole = self.words.get(name.lower())
        if whole is not None:
            return whole, None
        if self._split is None:
            return None, name
        cuts = list(self._split.finditer(name))
        for match in cuts:  # suffix form, longest environment word first
            tail, head = name[match.end():], name[:match.start()]
            if head and tail.lower() in self.words:
                return self.words[tail.lower()], head
        for match in reversed(cuts):  # prefix form
            head, tail = name[:match.start()], name[match.end():]
            if tail and head.lower() in self.words:
                return self.words[head.lower()], tail
        return None, name


# -- the fleet model --------------------------------------------------------------------------
class Environment:
    __slots__ = ("env", "group", "name", "path", "project", "service", "vars")

    def __init__(self, project: Project, name: str, env: str | None, service: str | None, variables: dict,
                 group: str, path: tuple) -> None:
        self.project = project
        self.name = name
        self.env = env
        self.service = service
        self.vars = variables
        self.group = group
        self.path = path

    def facts(self) -> dict:
        return dict(fleet_environment=self.name, fleet_env=self.env, fleet_service=self.service)


class Project:
    __slots__ = ("environments", "group", "name", "path", "vars")

    def __init__(self, name: str, variables: dict, group: str, path: tuple) -> None:
        self.name = name
        self.vars = variables
        self.group = group
        self.environments: list[Environment] = []
        self.path = path


class HostEntry:
    __slots__ = ("memberships", "name", "path", "tag_groups", "tags", "vars")

    def __init__(self, name: str, variables: dict, tags: dict, path: tuple, tag_groups: list[str]) -> None:
        self.name = name
        self.vars = variables
        self.tags = tags
        self.memberships: list[Environment] = []
        self.path = path
        self.tag_groups = tag_groups


class Fleet:
    """A validated fleet document: projects in document order, hosts with all their listings."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.projects: list[Project] = []
        self.hosts: dict[str, HostEntry] = {}
        self._groups: dict[str, tuple[str, str, tuple]] = {}

    # group names: the same name may not serve two purposes
    def claim_group(self, name: str, kind: str, label: str, path: tuple) -> str:
        if name in RESERVED_GROUPS:
            raise FleetError(self.source, "%s %r would become the reserved group %r" % (kind, label, name), path)
        known = self._groups.get(name)
        if known is None:
            self._groups[name] = (kind, label, path)
        elif known[0] != kind or (kind in ("project", "environment") and known[1] != label):
            raise FleetError(self.source, "%s %r becomes group %r, which %s %r already is (%s)" % (
                kind, label, name, known[0], known[1], render_path(known[2]) or "document"), path)
        return name

    def host_variables(self, host: HostEntry) -> dict:
        """What a host sees from this document, for compose/groups/keyed_groups.

        Merged as Ansible merges group variables: project groups before the deeper environment
        groups, each level by ansible_group_priority, then name; host variables last.
        """
        def order(item: t.Any) -> tuple:
            return (item.vars.get("ansible_group_priority", 1), item.group)

        out: dict = {}
        for project in sorted({id(env.project): env.project for env in host.memberships}.values(), key=order):
            out["fleet_project"] = project.name
            out["fleet_tags"] = {}
            out.update(project.vars)
        for env in sorted(host.memberships, key=order):
            out.update(env.facts())
            out.update(env.vars)
        out.update(host.vars)
        if host.tags:
            out["fleet_tags"] = host.tags
        return out


def _tag_groups(fleet: Fleet, tags: dict, path: tuple) -> list[str]:
    groups = []
    for key, value in tags.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            if item is None or item is False or item == "":
                continue
            raw = "tag_%s" % key if item is True else "tag_%s_%s" % (key, item)
            groups.append(fleet.claim_group(group_name(raw), "tag", raw, path + (key,)))
    return groups


def _tags(value: t.Any, fleet: Fleet, path: tuple) -> dict:
    data = _mapping(value, fleet.source, path, "a mapping of tag names to values")
    out = {}
    for key, val in data.items():
        if not isinstance(key, str) or not key:
            raise FleetError(fleet.source, "tag names must be non-empty strings", path, key)
        items = val if isinstance(val, list) else [val]
        for item in items:
            if isinstance(item, (list, Mapping)) or not (item is None or isinstance(item, (str, int, float))):
                raise FleetError(fleet.source, "a tag value must be a string, number, boolean, null or a list of those",
                                 path + (key,), val)
        out[key] = val
    return out


def _host_names(name: t.Any, fleet: Fleet, path: tuple) -> list[str]:
    host = _name(name, fleet.source, path, "a host name")
    if _SPACE.search(host):
        raise FleetError(fleet.source, "a host name may not contain white space", path, host)
    if "[" in host and detect_range(host):
        try:
            return list(expand_hostname_range(host))
        except Exception as exc:  # ansible raises AnsibleError with its own wording
            raise FleetError(fleet.source, "not a valid host range: %s" % exc, path, host) from None
    return [host]


def _add_host(fleet: Fleet, env: Environment, name: t.Any, entry: t.Any, path: tuple,
              trust: t.Callable[[t.Any], t.Any] | None) -> None:
    data = _mapping(entry, fleet.source, path, "a mapping with vars and tags (or nothing)")
    check_keys(data, HOST_KEYS, fleet.source, path)
    variables = _vars(data.get("vars"), fleet.source, path + ("vars",), trust)
    tags = _tags(data.get("tags"), fleet, path + ("tags",))
    for host in _host_names(name, fleet, path):
        known = fleet.hosts.get(host)
        if known is None:
            known = fleet.hosts[host] = HostEntry(host, variables, tags, path, _tag_groups(fleet, tags, path + ("tags",)))
        elif known.vars != variables or known.tags != tags:
            what = "vars" if known.vars != variables else "tags"
            mine, theirs = (variables, known.vars) if what == "vars" else (tags, known.tags)
            differ = sorted(set(mine) ^ set(theirs)) + sorted(k for k in set(mine) & set(theirs) if mine[k] != theirs[k])
            detail = "; %s %r differs" % ("variable" if what == "vars" else "tag", differ[0]) if differ else ""
            if what == "tags" and differ:
                shown = [repr(side[differ[0]]) if differ[0] in side else "not set" for side in (theirs, mine)]
                detail += ": %s there, %s here" % tuple(shown)
            raise FleetError(fleet.source, "host %r is already listed at %s with different %s%s" % (
                host, render_path(known.path), what, detail), path)
        if env not in known.memberships:
            known.memberships.append(env)


def build(projects: t.Any, source: str, names: EnvironmentNames, trust: t.Callable[[t.Any], t.Any] | None = None,
          base: tuple = ("projects",)) -> Fleet:
    """Validate a ``projects`` mapping into a Fleet; ``trust`` marks the variable values of a trusted document."""
    fleet = Fleet(source)
    data = _mapping(projects, source, base, "a mapping of project names")
    for pname, pdata in data.items():
        ppath = base + (pname,)
        pname = _name(pname, source, ppath, "a project name")
        pdata = _mapping(pdata, source, ppath, "a mapping with vars and environments (or nothing)")
        check_keys(pdata, PROJECT_KEYS, source, ppath)
        project = Project(pname, _vars(pdata.get("vars"), source, ppath + ("vars",), trust),
                          fleet.claim_group(group_name(pname), "project", pname, ppath), ppath)
        fleet.projects.append(project)
        envs = _mapping(pdata.get("environments"), source, ppath + ("environments",), "a mapping of environment names")
        for ename, edata in envs.items():
            epath = ppath + ("environments", ename)
            ename = _name(ename, source, epath, "an environment name")
            edata = _mapping(edata, source, epath, "a mapping with vars, hosts, env and service (or nothing)")
            check_keys(edata, ENVIRONMENT_KEYS, source, epath)
            env, service = names.parse(ename)
            for key in ("env", "service"):
                if key in edata:
                    given = edata[key]
                    if given is not None and (not isinstance(given, str) or not given.strip()):
                        raise FleetError(source, "must be a non-empty string or null", epath + (key,), given)
                    if key == "env":
                        env = given
                    else:
                        service = given
            label = "%s/%s" % (pname, ename)
            environment = Environment(project, ename, env, service, _vars(edata.get("vars"), source, epath + ("vars",), trust),
                                      fleet.claim_group(group_name("%s_%s" % (pname, ename)), "environment", label, epath), epath)
            if env:
                fleet.claim_group(group_name("env_" + env), "env", env, epath)
            if service:
                fleet.claim_group(group_name("service_" + service), "service", service, epath)
            project.environments.append(environment)
            hosts = edata.get("hosts")
            hpath = epath + ("hosts",)
            if isinstance(hosts, list):
                for idx, host in enumerate(hosts):
                    _add_host(fleet, environment, host, None, hpath + (idx,), trust)
            else:
                for host, entry in _mapping(hosts, source, hpath, "a mapping of host names (or a list of them)").items():
                    _add_host(fleet, environment, host, entry, hpath + (host,), trust)
    return fleet


def populate(inventory: t.Any, fleet: Fleet) -> None:
    """Groups, group variables and hosts into an Ansible InventoryData."""
    for project in fleet.projects:
        inventory.add_group(project.group)
        inventory.set_variable(project.group, "fleet_project", project.name)
        inventory.set_variable(project.group, "fleet_tags", {})  # hosts with tags override it
        for key, value in project.vars.items():
            inventory.set_variable(project.group, key, value)
        for env in project.environments:
            inventory.add_group(env.group)
            inventory.add_child(project.group, env.group)
            for key, value in env.facts().items():
                inventory.set_variable(env.group, key, value)
            for key, value in env.vars.items():
                inventory.set_variable(env.group, key, value)
            for prefix, word in (("env_", env.env), ("service_", env.service)):
                if word:
                    parent = inventory.add_group(group_name(prefix + word))
                    inventory.add_child(parent, env.group)
    for host in fleet.hosts.values():
        for env in host.memberships:
            inventory.add_host(host.name, group=env.group)
        for key, value in host.vars.items():
            inventory.set_variable(host.name, key, value)
        if host.tags:
            inventory.set_variable(host.name, "fleet_tags", host.tags)
        for group in host.tag_groups:
            inventory.add_group(group)
            inventory.add_child(group, host.name)


# -- documents ----------------------------------------------------------------------------------
_STR_TAG = "tag:yaml.org,2002:str"
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


class _Loader(_BaseLoader):  # pylint: disable=too-many-ancestors
    """Safe YAML that refuses duplicate keys (YAML would silently keep the last one).

    Plain maps, sequences and strings are turned into Python directly, which is about twice
    as fast as PyYAML's generic construction; every other node (numbers, booleans, null,
    timestamps, merge keys, other tags) goes through the safe constructor as usual.
    """

    def get_single_data(self):
        node = self.get_single_node()
        return None if node is None else self._data(node, {})

    def _data(self, node, memo: dict) -> t.Any:
        tag = node.tag
        if tag == _STR_TAG:
            return node.value
        known = memo.get(id(node))
        if known is not None:
            return known
        if tag == _MAP_TAG and all(key.tag == _STR_TAG for key, _value in node.value):
            keys = [key.value for key, _value in node.value]
            if len(set(keys)) != len(keys):
                return self.construct_document(node)  # construct_mapping names the duplicate
            mapping: dict = {}
            memo[id(node)] = mapping
            for key, value in node.value:
                mapping[key.value] = self._data(value, memo)
            return mapping
        if tag == _SEQ_TAG:
            items: list = []
            memo[id(node)] = items
            items.extend(self._data(item, memo) for item in node.value)
            return items
        if isinstance(node, ScalarNode):
            return self.construct_object(node)
        return self.construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode) and len(node.value) > 1:
            keys = [(key.tag, key.value) for key, _value in node.value if isinstance(key, ScalarNode)]
            if len(set(keys)) != len(keys):
                seen = set()
                for key, _value in node.value:
                    marker = (key.tag, getattr(key, "value", None))
                    if marker in seen and key.tag != "tag:yaml.org,2002:merge":
                        raise yaml.constructor.ConstructorError(None, None, "found duplicate key %r" % key.value, key.start_mark)
                    seen.add(marker)
        return super().construct_mapping(node, deep=deep)


def _json_pairs(pairs: list) -> dict:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set = set()
        for key, _value in pairs:
            if key in seen:
                raise ValueError("found duplicate key %r" % key)
            seen.add(key)
    return out


def load_document(text: str, source: str) -> t.Any:
    """YAML (or JSON, parsed by the faster json module) into plain Python data."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text, object_pairs_hook=_json_pairs)
        except ValueError as exc:
            if "duplicate key" in str(exc):
                raise FleetError(source, "not valid JSON: %s" % exc) from None
            # not JSON: YAML flow style, parsed below
    try:
        return yaml.load(text, Loader=_Loader)  # nosec B506 - a safe loader
    except yaml.constructor.ConstructorError as exc:
        tag = "could not determine a constructor for the tag" in str(exc.problem)
        raise FleetError(source, "not valid YAML: %s%s" % (exc.problem, _mark(exc.problem_mark)), unsupported_tag=tag) from None
    except yaml.MarkedYAMLError as exc:
        # Problem and position only: the snippet YAML would quote may hold a secret.
        raise FleetError(source, "not valid YAML: %s%s" % (exc.problem, _mark(exc.problem_mark))) from None
    except yaml.YAMLError as exc:
        raise FleetError(source, "not valid YAML (%s)" % type(exc).__name__) from None


def _mark(mark: t.Any) -> str:
    return " (line %d, column %d)" % (mark.line + 1, mark.column + 1) if mark is not None else ""


def projects_of(document: t.Any, source: str) -> t.Any:
    """The ``projects`` of a source document (a mapping holding only ``projects``)."""
    if document is None:
        raise FleetError(source, "the document is empty")
    if not isinstance(document, Mapping):
        raise FleetError(source, "expected a mapping with projects at the top", (), document)
    check_keys(document, DOCUMENT_KEYS, source, ())
    if "projects" not in document:
        raise FleetError(source, "no projects key")
    return document["projects"]


# -- sources ------------------------------------------------------------------------------------
S3_ALIASES = {alias: name for name, spec in S3_ARGSPEC.items() for alias in spec.get("aliases", [])}
_S3_TYPES = {"str": (str,), "bool": (bool,), "int": (int,), "float": (int, float)}
_SECRET_S3 = tuple(name for name, spec in S3_ARGSPEC.items() if spec.get("no_log"))


class Source:
    """Where a document comes from: ``kind`` (file, s3, https), its options and a printable label."""

    def __init__(self, kind: str, options: dict, label: str, secrets: list[str]) -> None:
        self.kind = kind
        self.options = options
        self.label = label
        self.secrets = [s for s in secrets if isinstance(s, str) and len(s) >= 3]

    def identity(self) -> str:
        """A stable digest of where the document is (never of credentials), for the cache key."""
        opts = self.options
        if self.kind == "s3":
            parts = [opts.get(k) for k in ("bucket", "key", "version_id", "endpoint_url", "region", "profile")]
        else:
            parts = [opts.get("path") or opts.get("url")]
        return hashlib.sha256(json.dumps([self.kind] + parts).encode("utf-8")).hexdigest()[:16]

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def safe_url(url: str) -> str:
    """scheme://host[:port]/path: no user info, query or fragment."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = "[%s]" % host
        netloc = host if parts.port is None else "%s:%d" % (host, parts.port)
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    except ValueError:
        return "(an unparsable URL)"


def parse_source(spec: t.Any, config_path: str, render: t.Callable[[str], t.Any] | None = None) -> Source:
    """Validate the ``source`` option; ``render`` templates strings holding ``{{``."""
    where = config_path
    spec = _mapping(spec, where, ("source",), "a mapping with one of file, s3, https")
    check_keys(spec, SOURCE_KINDS, where, ("source",))
    if len(spec) != 1:
        raise FleetError(where, "needs exactly one of %s" % ", ".join(SOURCE_KINDS), ("source",))
    kind, value = next(iter(spec.items()))
    path = ("source", kind)

    def rendered(val: t.Any) -> t.Any:
        if render is not None and isinstance(val, str) and ("{{" in val or "{%" in val):
            return render(val)
        return val

    if kind == "file":
        name = _name(rendered(value), where, path, "the file path")
        full = os.path.expanduser(name)
        if not os.path.isabs(full):
            full = os.path.join(os.path.dirname(os.path.abspath(config_path)), full)
        return Source("file", {"path": full}, full, [])
    if kind == "s3":
        data = _mapping(value, where, path, "a mapping with bucket, key and the S3 connection options")
        known = S3_SOURCE_KEYS + tuple(S3_ARGSPEC) + tuple(S3_ALIASES)
        check_keys(data, known, where, path)
        options: dict[str, t.Any] = {name: spec_.get("default") for name, spec_ in S3_ARGSPEC.items()}
        for key, val in data.items():
            val = rendered(val)
            name = S3_ALIASES.get(key, key)
            if name in S3_SOURCE_KEYS:
                if val is not None or name != "version_id":
                    _name(val, where, path + (key,), name)
            elif val is not None and (not isinstance(val, _S3_TYPES[S3_ARGSPEC[name]["type"]]) or
                                      (isinstance(val, bool) and S3_ARGSPEC[name]["type"] != "bool")):
                raise FleetError(where, "expected %s" % S3_ARGSPEC[name]["type"], path + (key,),
                                 "(hidden)" if name in _SECRET_S3 else val)
            options[name] = val
        for name in ("bucket", "key"):
            if not options.get(name):
                raise FleetError(where, "missing %r" % name, path)
        label = "s3://%s/%s" % (options["bucket"], options["key"])
        return Source("s3", options, label, [options.get(n) for n in _SECRET_S3])
    data = _mapping(value, where, path, "a mapping with url and the HTTPS options")
    check_keys(data, HTTPS_SOURCE_KEYS, where, path)
    url = _name(rendered(data.get("url")), where, path + ("url",), "the URL")
    headers_in = _mapping(data.get("headers"), where, path + ("headers",), "a mapping of header names to values")
    headers = {}
    for hname, hval in headers_in.items():
        hval = rendered(hval)
        if not isinstance(hname, str) or not isinstance(hval, str):
            raise FleetError(where, "header names and values must be strings", path + ("headers", str(hname)))
        headers[hname] = hval
    parts = urlsplit(url)
    secrets = list(headers.values()) + [url, parts.query, parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""]
    if parts.scheme != "https" or not parts.hostname:
        raise FleetError(where, "only https:// URLs with a host are accepted", path + ("url",), safe_url(url))
    validate = data.get("validate_certs", True)
    if not isinstance(validate, bool):
        raise FleetError(where, "expected a boolean", path + ("validate_certs",), validate)
    ca_path = rendered(data.get("ca_path"))
    if ca_path is not None:
        ca_path = os.path.expanduser(_name(ca_path, where, path + ("ca_path",), "ca_path"))
    timeout = data.get("timeout", 30)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
        raise FleetError(where, "expected a positive number of seconds", path + ("timeout",), timeout)
    options = dict(url=url, headers=headers, validate_certs=validate, ca_path=ca_path, timeout=float(timeout))
    return Source("https", options, safe_url(url), secrets)


def _s3_store(options: dict) -> t.Any:
    # boto3 is imported only when an S3 source is read: it costs a third of a second
    from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store  # pylint: disable=import-outside-toplevel

    return open_store(options)


def read_source(source: Source, store_factory: t.Callable[[dict], t.Any] = _s3_store) -> str:
    """The raw text of a source document; FleetError naming the source otherwise."""
    if source.kind == "file":
        data = _read_file(source)
    elif source.kind == "s3":
        data = _read_s3(source, store_factory)
    else:
        data = _read_https(source)
    if len(data) > MAX_SOURCE_BYTES:
        raise FleetError(source.label, "larger than %d bytes; refused" % MAX_SOURCE_BYTES)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FleetError(source.label, "not UTF-8 text (byte %d)" % exc.start) from None


def _read_file(source: Source) -> bytes:
    path = source.options["path"]
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_SOURCE_BYTES + 1)
    except FileNotFoundError:
        raise FleetError(source.label, "cannot read the source: no such file") from None
    except IsADirectoryError:
        raise FleetError(source.label, "cannot read the source: it is a directory") from None
    except PermissionError:
        raise FleetError(source.label, "cannot read the source: permission denied") from None
    except OSError as exc:
        raise FleetError(source.label, "cannot read the source: %s" % (exc.strerror or type(exc).__name__)) from None


def _read_s3(source: Source, store_factory: t.Callable[[dict], t.Any]) -> bytes:
    opts = source.options
    try:
        data = store_factory(opts).get_bytes(opts["bucket"], opts["key"], MAX_SOURCE_BYTES, opts.get("version_id"))
    except S3Error as exc:
        text = str(exc)
        prefix = source.label + ": "
        if text.startswith(prefix):
            text = text[len(prefix):]
        raise FleetError(source.label, "cannot read the source: %s" % source.scrub(text)) from None
    if data is None:
        raise FleetError(source.label, "cannot read the source: no such object (NoSuchKey)")
    return data


def _read_https(source: Source) -> bytes:
    opts = source.options
    label = source.label
    try:
        resp = open_url(opts["url"], method="GET", headers=opts["headers"], validate_certs=opts["validate_certs"],
                        ca_path=opts["ca_path"], timeout=opts["timeout"], follow_redirects="none", http_agent=HTTP_AGENT,
                        use_proxy=True)
        try:
            return resp.read(MAX_SOURCE_BYTES + 1)
        finally:
            resp.close()
    except HTTPError as exc:
        reason = source.scrub(str(exc.reason or ""))[:100]
        note = " (redirects are not followed: use the final URL)" if 300 <= exc.code < 400 else ""
        raise FleetError(label, "cannot read the source: the server answered %d %s%s" % (exc.code, reason, note)) from None
    except (URLError, TimeoutError, ConnectionError, HTTPException, ssl.SSLError, OSError, ValueError) as exc:
        raise FleetError(label, "cannot read the source: %s" % source.scrub(_https_reason(exc, opts["timeout"]))) from None


def _https_reason(exc: BaseException, timeout: float) -> str:
    cause: t.Any = exc.reason if isinstance(exc, URLError) else exc
    if isinstance(cause, ssl.SSLCertVerificationError):
        return "TLS certificate verification failed (%s); set ca_path to the CA that signed the server's certificate" % (
            cause.verify_message or cause.reason)
    if isinstance(cause, ssl.SSLError):
        return "TLS error (%s)" % (cause.reason or type(cause).__name__)
    if isinstance(cause, (socket.timeout, TimeoutError)) or "timed out" in str(cause):
        return "no answer within %g s (timeout)" % timeout
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    text = str(cause) or type(cause).__name__
    if "://" in text:
        return type(cause).__name__
    return text[:200]
