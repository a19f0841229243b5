# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugin_utils/_fleet.py: schema, environment names, groups, documents and sources.

HTTPS cases use an in-process HTTPS server on 127.0.0.1 with a self-signed certificate;
S3 cases use botocore's Stubber or a closed loopback port (no request leaves the machine).
"""

from __future__ import annotations

import datetime
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible.inventory.data import InventoryData
from botocore.stub import Stubber

from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store
from ansible_collections.fleetops.release.plugins.plugin_utils import _fleet
from ansible_collections.fleetops.release.plugins.plugin_utils._fleet import EnvironmentNames, FleetError

SRC = "/inv/test.fleet.yml"
NAMES = EnvironmentNames()


def build(projects, names=NAMES):
    return _fleet.build(projects, SRC, names)


def error_of(func, *args, **kwargs) -> str:
    with pytest.raises(FleetError) as info:
        func(*args, **kwargs)
    return str(info.value)


# -- names --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, expected", [
    ("sdk_beta", ("beta", "sdk")),
    ("beta_console", ("beta", "console")),
    ("online", ("online", None)),
    ("gray", ("gray", None)),
    ("crontab", (None, "crontab")),
    ("sdk-beta", ("beta", "sdk")),
    ("beta-console", ("beta", "console")),
    ("sdk_api_prod", ("prod", "sdk_api")),          # the rest of the name is the service, as written
    ("prod-sdk-api", ("prod", "sdk-api")),
    ("test_prod", ("prod", "test")),                # both ends are words: the end wins
    ("SDK_Beta", ("beta", "SDK")),                  # words match case-insensitively
    ("Online", ("online", None)),
    ("sdk_beta_v2", (None, "sdk_beta_v2")),         # a word in the middle is not read
    ("_beta", (None, "_beta")),                     # nothing in front of the separator: no service, no split
    ("betax", (None, "betax")),
    ("sdk.beta", (None, "sdk.beta")),               # '.' is not a default separator
])
def test_environment_names_both_ways(name, expected):
    assert NAMES.parse(name) == expected


def test_environment_vocabulary_and_separators_are_options():
    names = EnvironmentNames(["uat", "pre-prod", "Live"], [".", "--"])
    assert names.parse("sdk.uat") == ("uat", "sdk")
    assert names.parse("uat.console") == ("uat", "console")
    assert names.parse("sdk--live") == ("Live", "sdk")       # reported as written in the vocabulary
    assert names.parse("sdk_uat") == (None, "sdk_uat")      # '_' is no longer a separator
    assert names.parse("pre-prod") == ("pre-prod", None)     # a word may contain a separator of the defaults
    assert names.parse("api.pre-prod") == ("pre-prod", "api")
    assert names.parse("beta") == (None, "beta")             # beta is no longer a word
    # the longest matching word wins
    longest = EnvironmentNames(["prod", "pre_prod"], ["_"])
    assert longest.parse("sdk_pre_prod") == ("pre_prod", "sdk")
    # no separators: only whole names are environments
    assert EnvironmentNames(["prod"], []).parse("sdk_prod") == (None, "sdk_prod")
    assert EnvironmentNames(["prod"], []).parse("prod") == ("prod", None)


def test_environment_option_errors():
    assert error_of(EnvironmentNames, ["dev", ""], ["_"], SRC) == (
        "%s: environment_names[1]: an environment word must be a non-empty string (got a string: '')" % SRC)
    assert error_of(EnvironmentNames, [], ["_"], SRC) == "%s: environment_names: needs at least one environment word" % SRC
    assert error_of(EnvironmentNames, ["dev"], ["_", 3], SRC) == (
        "%s: environment_separators[1]: a separator must be a non-empty string (got an integer: 3)" % SRC)


@pytest.mark.parametrize("text, expected", [
    ("projectx", "projectx"), ("sdk-beta", "sdk_beta"), ("a.b c", "a_b_c"), ("2024-archive", "_2024_archive"),
    ("tag_dc_10.0.1", "tag_dc_10_0_1"), ("ünï", "_n_"), ("", "_"), ("_x", "_x"),
])
def test_group_name_rule(text, expected):
    assert _fleet.group_name(text) == expected


def test_render_path():
    assert _fleet.render_path(("projects", "px", "hosts", "web01.example.com", "tags", "dc")) == \
        'projects.px.hosts["web01.example.com"].tags.dc'
    assert _fleet.render_path(("environment_names", 2)) == "environment_names[2]"
    assert _fleet.render_path(()) == ""


# -- the model ----------------------------------------------------------------------------------
FLEET = {
    "projectx": {
        "vars": {"bucket": "px"},
        "environments": {
            "sdk_beta": {"vars": {"tier": "b"}, "hosts": {
                "h1": {"vars": {"ansible_host": "10.0.0.1"}, "tags": {"dc": "bj1", "canary": True}},
                "h2": {"tags": {"dc": "sh-2", "canary": False, "roles": ["web", 3], "note": None}},
            }},
            "online": {"hosts": {"h1": {"vars": {"ansible_host": "10.0.0.1"}, "tags": {"dc": "bj1", "canary": True}}}},
            "crontab": {"hosts": ["cron01"]},
            "odd": {"env": "prod", "service": None, "hosts": None},
        },
    },
    "empty": None,
}


def test_build_and_populate():
    fleet = build(FLEET)
    assert [p.name for p in fleet.projects] == ["projectx", "empty"]
    envs = fleet.projects[0].environments
    assert [(e.name, e.env, e.service, e.group) for e in envs] == [
        ("sdk_beta", "beta", "sdk", "projectx_sdk_beta"), ("online", "online", None, "projectx_online"),
        ("crontab", None, "crontab", "projectx_crontab"), ("odd", "prod", None, "projectx_odd")]
    h1 = fleet.hosts["h1"]
    assert [e.name for e in h1.memberships] == ["sdk_beta", "online"]   # listed twice, identically: both groups
    assert fleet.hosts["h2"].tag_groups == ["tag_dc_sh_2", "tag_roles_web", "tag_roles_3"]
    assert h1.tag_groups == ["tag_dc_bj1", "tag_canary"]

    inv = InventoryData()
    _fleet.populate(inv, fleet)
    groups = inv.groups
    assert set(groups) >= {"projectx", "projectx_sdk_beta", "env_beta", "service_sdk", "env_online", "service_crontab",
                           "env_prod", "projectx_odd", "empty", "tag_canary", "tag_dc_bj1"}
    assert "tag_canary_true" not in groups and "tag_canary_false" not in groups and "tag_note_None" not in groups
    assert {g.name for g in groups["projectx"].child_groups} == {"projectx_sdk_beta", "projectx_online", "projectx_crontab", "projectx_odd"}
    assert {g.name for g in groups["env_beta"].child_groups} == {"projectx_sdk_beta"}
    assert sorted(h.name for h in groups["projectx_sdk_beta"].get_hosts()) == ["h1", "h2"]
    assert sorted(h.name for h in groups["projectx"].get_hosts()) == ["cron01", "h1", "h2"]
    assert groups["projectx"].get_vars() == {"fleet_project": "projectx", "fleet_tags": {}, "bucket": "px"}
    assert groups["projectx_sdk_beta"].get_vars() == {"fleet_environment": "sdk_beta", "fleet_env": "beta", "fleet_service": "sdk", "tier": "b"}
    assert groups["projectx_crontab"].get_vars()["fleet_env"] is None
    assert inv.get_host("h1").vars["fleet_tags"] == {"dc": "bj1", "canary": True}
    assert "fleet_tags" not in inv.get_host("cron01").vars       # the project group's {} applies
    assert inv.get_host("h1").vars["ansible_host"] == "10.0.0.1"


def test_host_variables_follow_group_precedence():
    fleet = build(FLEET)
    view = fleet.host_variables(fleet.hosts["h1"])
    # projectx_sdk_beta sorts after projectx_online: Ansible merges same-depth groups by name, the last wins
    assert view["fleet_environment"] == "sdk_beta" and view["fleet_env"] == "beta" and view["fleet_service"] == "sdk"
    assert view["tier"] == "b" and view["bucket"] == "px" and view["ansible_host"] == "10.0.0.1"
    assert view["fleet_tags"] == {"dc": "bj1", "canary": True}
    prio = build({"p": {"environments": {
        "a_beta": {"vars": {"ansible_group_priority": 5, "x": "a"}, "hosts": ["h"]},
        "b_beta": {"vars": {"x": "b"}, "hosts": ["h"]}}}})
    assert prio.host_variables(prio.hosts["h"])["x"] == "a"
    assert build({"p": {"environments": {"online": {"hosts": ["h"]}}}}).host_variables(
        build({"p": {"environments": {"online": {"hosts": ["h"]}}}}).hosts["h"])["fleet_tags"] == {}


def test_host_ranges_and_lists():
    fleet = build({"p": {"environments": {"online": {"hosts": {"web[01:03].x": None}}, "crontab": {"hosts": ["web02.x", "c[a:b]"]}}}})
    assert list(fleet.hosts) == ["web01.x", "web02.x", "web03.x", "ca", "cb"]
    assert [e.name for e in fleet.hosts["web02.x"].memberships] == ["online", "crontab"]
    # a list entry has no vars or tags: listed elsewhere with tags, that is a conflict
    assert "host 'web02.x' is already listed" in error_of(build, {"p": {"environments": {
        "online": {"hosts": {"web[01:03].x": {"tags": {"dc": "a"}}}}, "crontab": {"hosts": ["web02.x"]}}}})


@pytest.mark.parametrize("projects, message", [
    ({"px": {"enviroments": {}}},
     "projects.px: unknown key 'enviroments' (did you mean 'environments'?); known keys: vars, environments"),
    ({"px": {"environments": {"beta": {"host": {}}}}},
     "projects.px.environments.beta: unknown key 'host' (did you mean 'hosts'?); known keys: vars, hosts, env, service"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"tag": {}}}}}}},
     "projects.px.environments.beta.hosts.h: unknown key 'tag' (did you mean 'tags'?); known keys: vars, tags"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"zzz": {}}}}}}},
     "projects.px.environments.beta.hosts.h: unknown key 'zzz'; known keys: vars, tags"),
    ({"px": {"environments": ["beta"]}},
     "projects.px.environments: expected a mapping of environment names (got a list: ['beta'])"),
    ({"px": "beta"}, "projects.px: expected a mapping with vars and environments (or nothing) (got a string: 'beta')"),
    (["px"], "projects: expected a mapping of project names (got a list: ['px'])"),
    ({1: {}}, "projects[1]: a project name must be a non-empty string (got an integer: 1)"),
    ({"px": {"vars": ["a"]}}, "projects.px.vars: expected a mapping of variable names to values (got a list: ['a'])"),
    ({"px": {"vars": {"bad-name": 1}}},
     "projects.px.vars: not a valid variable name (letters, digits and underscores, not starting with a digit, not a Python keyword) "
     "(got a string: 'bad-name')"),
    ({"px": {"environments": {"b": {"hosts": {"h": {"vars": {"class": 1}}}}}}},
     "projects.px.environments.b.hosts.h.vars: not a valid variable name (letters, digits and underscores, not starting with a digit, "
     "not a Python keyword) (got a string: 'class')"),
    ({"px": {"vars": {"fleet_env": "x"}}},
     "projects.px.vars.fleet_env: 'fleet_env' is set by the fleet inventory itself; choose another variable name"),
    ({"px": {"environments": {"beta": {"hosts": 5}}}},
     "projects.px.environments.beta.hosts: expected a mapping of host names (or a list of them) (got an integer: 5)"),
    ({"px": {"environments": {"beta": {"hosts": [None]}}}},
     "projects.px.environments.beta.hosts[0]: a host name must be a non-empty string (got null)"),
    ({"px": {"environments": {"beta": {"hosts": {"a b": None}}}}},
     'projects.px.environments.beta.hosts["a b"]: a host name may not contain white space (got a string: \'a b\')'),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"tags": {"dc": {"a": 1}}}}}}}},
     "projects.px.environments.beta.hosts.h.tags.dc: a tag value must be a string, number, boolean, null or a list of those "
     "(got a mapping: {'a': 1})"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"tags": {"dc": [["x"]]}}}}}}},
     "projects.px.environments.beta.hosts.h.tags.dc: a tag value must be a string, number, boolean, null or a list of those "
     "(got a list: [['x']])"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"tags": ["dc"]}}}}}},
     "projects.px.environments.beta.hosts.h.tags: expected a mapping of tag names to values (got a list: ['dc'])"),
    ({"px": {"environments": {"beta": {"env": ""}}}},
     "projects.px.environments.beta.env: must be a non-empty string or null (got a string: '')"),
    ({"px": {"environments": {"beta": {"service": 3}}}},
     "projects.px.environments.beta.service: must be a non-empty string or null (got an integer: 3)"),
    ({"web-a": {}, "web_a": {}},
     "projects.web_a: project 'web_a' becomes group 'web_a', which project 'web-a' already is (projects.web-a)"),
    ({"a": {"environments": {"b_c": {}}}, "a_b": {"environments": {"c": {}}}},
     "projects.a_b.environments.c: environment 'a_b/c' becomes group 'a_b_c', which environment 'a/b_c' already is "
     "(projects.a.environments.b_c)"),
    ({"env_beta": {}, "p": {"environments": {"beta": {}}}},
     "projects.p.environments.beta: env 'beta' becomes group 'env_beta', which project 'env_beta' already is (projects.env_beta)"),
    ({"all": {}}, "projects.all: project 'all' would become the reserved group 'all'"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"vars": {"a": 1}}}}, "online": {"hosts": {"h": {"vars": {"a": 2}}}}}}},
     "projects.px.environments.online.hosts.h: host 'h' is already listed at projects.px.environments.beta.hosts.h "
     "with different vars; variable 'a' differs"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"tags": {"dc": "a"}}}}, "online": {"hosts": {"h": {"tags": {"dc": "b"}}}}}}},
     "projects.px.environments.online.hosts.h: host 'h' is already listed at projects.px.environments.beta.hosts.h "
     "with different tags; tag 'dc' differs: 'a' there, 'b' here"),
    ({"px": {"environments": {"beta": {"hosts": {"h": {"tags": {"dc": "a"}}}}, "online": {"hosts": {"h": None}}}}},
     "projects.px.environments.online.hosts.h: host 'h' is already listed at projects.px.environments.beta.hosts.h "
     "with different tags; tag 'dc' differs: 'a' there, not set here"),
])
def test_schema_errors(projects, message):
    assert error_of(build, projects) == "%s: %s" % (SRC, message)


def test_conflicting_host_in_two_projects():
    projects = {"p1": {"environments": {"online": {"hosts": {"h": {"vars": {"x": 1}}}}}},
                "p2": {"environments": {"online": {"hosts": {"h": {"vars": {"x": 1}}}}}}}
    fleet = build(projects)
    assert [e.group for e in fleet.hosts["h"].memberships] == ["p1_online", "p2_online"]


def test_trust_is_applied_to_variable_values():
    seen = []

    def trust(value):
        seen.append(value)
        return value

    _fleet.build({"p": {"vars": {"a": "{{ x }}"}, "environments": {"online": {"vars": {"b": 1}, "hosts": {"h": {"vars": {"c": [1]}}}}}}},
                 SRC, NAMES, trust=trust)
    assert seen == ["{{ x }}", 1, [1]]


# -- documents ----------------------------------------------------------------------------------
def test_load_document_yaml_and_json():
    assert _fleet.load_document("projects: {p: {environments: {online: {hosts: [a, b]}}}}", "s") == \
        {"projects": {"p": {"environments": {"online": {"hosts": ["a", "b"]}}}}}
    assert _fleet.load_document('{"projects": {"p": null}}', "s") == {"projects": {"p": None}}
    # YAML flow style that is not JSON still parses
    assert _fleet.load_document("{projects: {p: }}", "s") == {"projects": {"p": None}}
    # anchors, merge keys, scalars of every kind
    doc = _fleet.load_document("a: &x {b: 1, c: [yes, ~, 1.5, '2']}\nd: *x\ne: {<<: *x, f: 2}\nt: 2024-01-02\n", "s")
    assert doc == {"a": {"b": 1, "c": [True, None, 1.5, "2"]}, "d": {"b": 1, "c": [True, None, 1.5, "2"]},
                   "e": {"b": 1, "c": [True, None, 1.5, "2"], "f": 2}, "t": datetime.date(2024, 1, 2)}
    assert _fleet.load_document("", "s") is None


@pytest.mark.parametrize("text, message", [
    ("a: 1\nb: [\n", "s: not valid YAML: did not find expected node content (line 3, column 1)"),
    ("hosts:\n  a:\n  a:\n", "s: not valid YAML: found duplicate key 'a' (line 3, column 3)"),
    ("x: {a: 1, b: {c: 1, c: 2}}", "s: not valid YAML: found duplicate key 'c' (line 1, column 21)"),
    ('{"a": 1, "a": 2}', "s: not valid JSON: found duplicate key 'a'"),
    ("x: !vault abc", "s: not valid YAML: could not determine a constructor for the tag '!vault' (line 1, column 4)"),
])
def test_load_document_errors(text, message):
    assert error_of(_fleet.load_document, text, "s") == message


def test_unsupported_tag_is_flagged_and_snippets_are_not_quoted():
    with pytest.raises(FleetError) as info:
        _fleet.load_document("secret_key: !vault s3cr3t-value", "s")
    assert info.value.unsupported_tag
    with pytest.raises(FleetError) as info:
        _fleet.load_document("secret_key: s3cr3t-value\n  bad: [", "s")
    assert "s3cr3t" not in str(info.value) and not info.value.unsupported_tag


@pytest.mark.parametrize("doc, message", [
    (None, "s: the document is empty"),
    (["a"], "s: expected a mapping with projects at the top (got a list: ['a'])"),
    ({"project": {}}, "s: unknown key 'project' (did you mean 'projects'?); known keys: projects"),
    ({}, "s: no projects key"),
])
def test_projects_of(doc, message):
    assert error_of(_fleet.projects_of, doc, "s") == message


# -- sources ------------------------------------------------------------------------------------
def test_parse_source_file_relative_to_the_inventory(tmp_path):
    src = _fleet.parse_source({"file": "cmdb/fleet.json"}, str(tmp_path / "a.fleet.yml"))
    assert src.kind == "file" and src.label == str(tmp_path / "cmdb" / "fleet.json")
    assert _fleet.parse_source({"file": "/abs/f.json"}, SRC).label == "/abs/f.json"


def test_parse_source_s3_options_aliases_and_identity():
    src = _fleet.parse_source({"s3": {"bucket": "b", "key": "k/f.yml", "aws_endpoint_url": "http://127.0.0.1:9", "retries": 0,
                                      "aws_secret_access_key": "SECRET-1", "access_key": "AKIA1", "read_timeout": 2}}, SRC)
    assert src.kind == "s3" and src.label == "s3://b/k/f.yml"
    assert src.options["endpoint_url"] == "http://127.0.0.1:9" and src.options["secret_key"] == "SECRET-1"
    assert src.options["validate_certs"] is True and src.options["connect_timeout"] == 10.0   # collection defaults
    other_keys = _fleet.parse_source({"s3": {"bucket": "b", "key": "k/f.yml", "endpoint_url": "http://127.0.0.1:9",
                                             "secret_key": "SECRET-2"}}, SRC)
    assert src.identity() == other_keys.identity()        # credentials are not part of the cache key
    assert src.identity() != _fleet.parse_source({"s3": {"bucket": "b", "key": "k/g.yml", "endpoint_url": "http://127.0.0.1:9"}},
                                                 SRC).identity()
    assert src.scrub("denied for SECRET-1 and AKIA1") == "denied for *** and ***"


@pytest.mark.parametrize("spec, message", [
    ({"s3": {"bucket": "b"}}, "source.s3: missing 'key'"),
    ({"s3": {"bucket": "b", "key": "k", "retries": "5"}}, "source.s3.retries: expected int (got a string: '5')"),
    ({"s3": {"bucket": "b", "key": "k", "retries": True}}, "source.s3.retries: expected int (got a boolean: True)"),
    ({"s3": {"bucket": "b", "key": "k", "secret_key": 12}}, "source.s3.secret_key: expected str (got a string: '(hidden)')"),
    ({"s3": {"bucket": "b", "key": "k", "endpoint": "x"}},
     "source.s3: unknown key 'endpoint' (did you mean 'endpoint_url'?); known keys: bucket, key, version_id, endpoint_url,"),
    ({"https": {"url": "https://h/x", "header": {}}},
     "source.https: unknown key 'header' (did you mean 'headers'?); known keys: url, headers, validate_certs, ca_path, timeout"),
    ({"http": {}}, "source: unknown key 'http' (did you mean 'https'?); known keys: file, s3, https"),
    ({"file": "a", "https": {}}, "source: needs exactly one of file, s3, https"),
    ({}, "source: needs exactly one of file, s3, https"),
    ("https://x", "source: expected a mapping with one of file, s3, https (got a string: 'https://x')"),
    ({"https": {"url": "http://user:pw@cmdb/x?token=T0K"}},
     "source.https.url: only https:// URLs with a host are accepted (got a string: 'http://cmdb/x')"),
    ({"https": {"url": "https://h/x", "timeout": 0}}, "source.https.timeout: expected a positive number of seconds (got an integer: 0)"),
    ({"https": {"url": "https://h/x", "validate_certs": "no"}}, "source.https.validate_certs: expected a boolean (got a string: 'no')"),
    ({"https": {"url": "https://h/x", "headers": {"A": 1}}}, "source.https.headers.A: header names and values must be strings"),
])
def test_parse_source_errors(spec, message):
    assert error_of(_fleet.parse_source, spec, SRC).startswith("%s: %s" % (SRC, message))


def test_https_label_hides_user_info_query_and_headers():
    src = _fleet.parse_source({"https": {"url": "https://u:pw@cmdb.example.com:8443/export/fleet.json?token=T0K#frag",
                                         "headers": {"Authorization": "Bearer ABC123"}}}, SRC)
    assert src.label == "https://cmdb.example.com:8443/export/fleet.json"
    assert src.scrub("x Bearer ABC123 token=T0K u:pw") == "x *** *** ***"
    assert _fleet.safe_url("https://[::1]:8/p?q") == "https://[::1]:8/p"


def test_render_templates_string_options_only():
    calls = []

    def render(value):
        calls.append(value)
        return "rendered"

    src = _fleet.parse_source({"https": {"url": "https://h/x", "headers": {"Authorization": "{{ token }}", "X": "plain"}}}, SRC,
                              render=render)
    assert src.options["headers"] == {"Authorization": "rendered", "X": "plain"} and calls == ["{{ token }}"]
    assert src.scrub("rendered") == "***"


def test_read_file_source(tmp_path):
    good = tmp_path / "f.json"
    good.write_bytes(b'\xef\xbb\xbf{"projects": {}}')
    assert _fleet.read_source(_fleet.parse_source({"file": str(good)}, SRC)) == '{"projects": {}}'
    missing = str(tmp_path / "missing.json")
    assert error_of(_fleet.read_source, _fleet.parse_source({"file": missing}, SRC)) == "%s: cannot read the source: no such file" % missing
    assert error_of(_fleet.read_source, _fleet.parse_source({"file": str(tmp_path)}, SRC)) == \
        "%s: cannot read the source: it is a directory" % tmp_path
    bad = tmp_path / "latin1.yml"
    bad.write_bytes(b"projects: {caf\xe9: {}}")
    assert error_of(_fleet.read_source, _fleet.parse_source({"file": str(bad)}, SRC)) == "%s: not UTF-8 text (byte 14)" % bad


def test_read_file_source_too_large(tmp_path, monkeypatch):
    monkeypatch.setattr(_fleet, "MAX_SOURCE_BYTES", 10)
    big = tmp_path / "big.yml"
    big.write_text("projects: {}\n" * 3)
    assert error_of(_fleet.read_source, _fleet.parse_source({"file": str(big)}, SRC)) == "%s: larger than 10 bytes; refused" % big


class FakeStore:
    def __init__(self, result):
        self.result = result
        self.calls = []

    def get_bytes(self, bucket, key, max_size, version_id=None):
        self.calls.append((bucket, key, max_size, version_id))
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def s3_source(**extra):
    return _fleet.parse_source({"s3": dict(bucket="cmdb", key="fleet.yml", endpoint_url="http://127.0.0.1:9", retries=0,
                                           secret_key="SECRET-KEY-1", **extra)}, SRC)


def test_read_s3_source():
    store = FakeStore(b"projects: {}")
    assert _fleet.read_source(s3_source(version_id="v1"), lambda opts: store) == "projects: {}"
    assert store.calls == [("cmdb", "fleet.yml", _fleet.MAX_SOURCE_BYTES, "v1")]
    assert error_of(_fleet.read_source, s3_source(), lambda opts: FakeStore(None)) == \
        "s3://cmdb/fleet.yml: cannot read the source: no such object (NoSuchKey)"
    failure = S3Error("s3://cmdb/fleet.yml: S3 answered 500 InternalError: key SECRET-KEY-1 broke", True)
    assert error_of(_fleet.read_source, s3_source(), lambda opts: FakeStore(failure)) == \
        "s3://cmdb/fleet.yml: cannot read the source: S3 answered 500 InternalError: key *** broke"


@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_read_s3_source_through_the_collection_client(no_aws):
    src = s3_source(access_key="AKIAFLEET", region="us-east-1")
    store = S3Store(src.options)
    with Stubber(store.client) as stub:
        stub.add_client_error("get_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403)
        stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
        assert error_of(_fleet.read_source, src, lambda opts: store) == \
            "s3://cmdb/fleet.yml: cannot read the source: S3 answered 403 AccessDenied: Access Denied"
        assert error_of(_fleet.read_source, src, lambda opts: store) == \
            "s3://cmdb/fleet.yml: cannot read the source: no such object (NoSuchKey)"
    # a closed loopback port: unreachable, named with the endpoint, no credentials
    message = error_of(_fleet.read_source, src)
    assert message == "s3://cmdb/fleet.yml: cannot read the source: cannot reach the S3 endpoint http://127.0.0.1:9 (after 0 retries)"


# -- HTTPS --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def https_server(self_signed):
    """A loopback HTTPS server: /ok, /slow, /404, /moved, /headers (echoes the Authorization header)."""
    seen: list = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            pass

        def do_GET(self):  # pylint: disable=invalid-name
            path = self.path.split("?")[0]
            seen.append((path, self.headers.get("Authorization"), self.headers.get("User-Agent")))
            if path == "/slow":
                time.sleep(10)  # far past the 1 s timeout the test sets
            code, body, extra = {"/ok": (200, b"projects: {p: {}}", {}), "/slow": (200, b"late", {}),
                                 "/moved": (301, b"", {"Location": "/ok"})}.get(path, (404, b"nope", {}))
            self.send_response(code)
            for hname, hval in extra.items():
                self.send_header(hname, hval)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    self_signed.wrap(server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield "https://127.0.0.1:%d" % server.server_address[1], self_signed.cert, seen
    server.shutdown()


def https_source(url, ca_path, **extra):
    spec = dict(dict(url=url, ca_path=ca_path, headers={"Authorization": "Bearer TOKEN-XYZ"}, timeout=30), **extra)
    return _fleet.parse_source({"https": spec}, SRC)


def test_read_https_source(https_server):
    base, ca_path, seen = https_server
    assert _fleet.read_source(https_source(base + "/ok?sig=QSECRET", ca_path)) == "projects: {p: {}}"
    assert seen[-1] == ("/ok", "Bearer TOKEN-XYZ", _fleet.HTTP_AGENT)


@pytest.mark.parametrize("path, extra, problem", [
    ("/404", {}, "the server answered 404 Not Found"),
    ("/moved", {}, "the server answered 301 Moved Permanently (redirects are not followed: use the final URL)"),
    ("/slow", {"timeout": 1}, "no answer within 1 s (timeout)"),
    ("/ok", {"ca_path": None},
     "TLS certificate verification failed (self-signed certificate); set ca_path to the CA that signed the server's certificate"),
])
def test_read_https_errors(https_server, path, extra, problem):
    base, ca_path, _seen = https_server
    message = error_of(_fleet.read_source, https_source(base + path + "?sig=QSECRET", **dict(dict(ca_path=ca_path), **extra)))
    assert message == "%s%s: cannot read the source: %s" % (base, path, problem)
    assert "QSECRET" not in message and "TOKEN-XYZ" not in message


def test_read_https_without_verification(https_server):
    base, _ca_path, _seen = https_server
    assert _fleet.read_source(https_source(base + "/ok", None, validate_certs=False)) == "projects: {p: {}}"


def test_read_https_connection_refused():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    message = error_of(_fleet.read_source, https_source("https://127.0.0.1:%d/x?sig=QSECRET" % port, None))
    assert message == "https://127.0.0.1:%d/x: cannot read the source: connection refused" % port
