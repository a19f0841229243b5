# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for the fleet inventory plugin: files, options, constructed features, the source cache.

Documents are local files (the source cases read a local file through source.file; S3 and
HTTPS reading is covered by tests/unit/plugins/plugin_utils/test__fleet.py and the
inventory_fleet integration target).
"""

from __future__ import annotations

import json
import os
import textwrap
import time

import pytest
from ansible.errors import AnsibleError, AnsibleParserError
from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import inventory_loader

from ansible_collections.fleetops.release.plugins.plugin_utils import _fleet

try:
    from ansible.template import is_trusted_as_template
except ImportError:  # ansible-core < 2.19: everything is trusted
    def is_trusted_as_template(value):
        return True

HEAD = "plugin: fleetops.release.fleet\n"
FLEET = {
    "projectx": {
        "vars": {"bucket": "px", "greeting": "{{ fleet_project }}!"},
        "environments": {
            "sdk_beta": {"hosts": {"h1": {"vars": {"ansible_host": "10.0.0.1"}, "tags": {"dc": "bj1", "canary": True}},
                                   "h2": {"tags": {"dc": "sh-2"}}}},
            "online": {"vars": {"tier": "front"}, "hosts": ["w1"]},
            "crontab": {"hosts": ["c1"]},
        },
    },
}


def write(tmp_path, text, name="inv.fleet.yml"):
    path = tmp_path / name
    path.write_text(HEAD + textwrap.dedent(text))
    return str(path)


def inline(tmp_path, extra="", projects=None, name="inv.fleet.yml"):
    return write(tmp_path, "projects: %s\n%s" % (json.dumps(projects or FLEET), textwrap.dedent(extra)), name)


def parse(path, cache=True):
    plugin = inventory_loader.get("fleetops.release.fleet")
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), path, cache=cache)
    try:
        plugin.update_cache_if_changed()  # what InventoryManager does after parse
    except AttributeError:
        pass
    return inventory


def members(inventory, group):
    return sorted(h.name for h in inventory.groups[group].get_hosts())


def parse_error(path, kind=AnsibleParserError):
    with pytest.raises(kind) as info:
        parse(path)
    return str(info.value)


@pytest.mark.parametrize("name, expected", [
    ("inv.fleet.yml", True), ("inv.fleet.yaml", True), ("fleet.yml", True), ("fleet.yaml", True),
    ("inv.yml", False), ("invfleet.yml", False), ("inv.fleet.json", False), ("fleet.yml.bak", False),
])
def test_verify_file(tmp_path, name, expected):
    (tmp_path / name).write_text(HEAD)
    assert inventory_loader.get("fleetops.release.fleet").verify_file(str(tmp_path / name)) is expected


def test_verify_file_needs_the_file(tmp_path):
    assert inventory_loader.get("fleetops.release.fleet").verify_file(str(tmp_path / "missing.fleet.yml")) is False


def test_inline_groups_and_variables(tmp_path):
    inv = parse(inline(tmp_path))
    assert members(inv, "projectx") == ["c1", "h1", "h2", "w1"]
    assert members(inv, "env_beta") == ["h1", "h2"] and members(inv, "service_sdk") == ["h1", "h2"]
    assert members(inv, "env_online") == ["w1"] and members(inv, "service_crontab") == ["c1"]
    assert members(inv, "tag_canary") == ["h1"] and members(inv, "tag_dc_sh_2") == ["h2"]
    assert inv.groups["projectx_online"].get_vars()["tier"] == "front"
    assert inv.get_host("h1").vars["fleet_tags"] == {"dc": "bj1", "canary": True}
    greeting = inv.groups["projectx"].get_vars()["greeting"]
    assert greeting == "{{ fleet_project }}!" and is_trusted_as_template(greeting)   # the file's own templates work


def test_source_documents_are_not_trusted(tmp_path):
    (tmp_path / "cmdb.json").write_text(json.dumps({"projects": FLEET}))
    inv = parse(write(tmp_path, "source: {file: cmdb.json}\n"))
    assert members(inv, "env_beta") == ["h1", "h2"]
    greeting = inv.groups["projectx"].get_vars()["greeting"]
    assert greeting == "{{ fleet_project }}!"
    if hasattr(__import__("ansible.template", fromlist=["x"]), "trust_as_template"):
        assert not is_trusted_as_template(greeting)


def test_vault_and_unsafe_tags_fall_back_to_ansible_loader(tmp_path):
    path = write(tmp_path, """\
        projects:
          px:
            vars:
              raw: !unsafe '{{ not a template }}'
            environments:
              online: {hosts: [w1]}
        """)
    inv = parse(path)
    assert members(inv, "env_online") == ["w1"]
    assert inv.groups["px"].get_vars()["raw"] == "{{ not a template }}"
    assert not is_trusted_as_template(inv.groups["px"].get_vars()["raw"])


@pytest.mark.parametrize("text, message", [
    ("projects: {}\nprojcts: {}\n", "inv.fleet.yml: unknown key 'projcts' (did you mean 'projects'?); known keys: "),
    ("projects: {}\nsource: {file: x}\n",
     "inv.fleet.yml: needs exactly one of projects (the fleet inline) and source (where to read it)"),
    ("environment_names: [dev]\n", "inv.fleet.yml: needs exactly one of projects (the fleet inline) and source (where to read it)"),
    ("projects: {px: {enviroments: {}}}\n",
     "inv.fleet.yml: projects.px: unknown key 'enviroments' (did you mean 'environments'?); known keys: vars, environments"),
    ("source: {file: nowhere.json}\n", "nowhere.json: cannot read the source: no such file"),
    ("projects: {}\nenvironment_names: ['']\n",
     "inv.fleet.yml: environment_names[0]: an environment word must be a non-empty string (got a string: '')"),
])
def test_errors_name_the_file(tmp_path, text, message):
    assert message in parse_error(write(tmp_path, text))


def test_not_our_file(tmp_path):
    path = tmp_path / "inv.fleet.yml"
    path.write_text("plugin: other.collection.thing\nprojects: {}\n")
    assert parse_error(str(path)) == "%s: plugin: not a fleet inventory file: plugin must be fleetops.release.fleet (got a string: " \
        "'other.collection.thing')" % path
    path.write_text("- a\n")
    assert parse_error(str(path)) == "%s: expected a mapping of options (got a list: ['a'])" % path


def test_environment_options_from_the_file_and_the_environment(tmp_path, monkeypatch):
    projects = {"p": {"environments": {"sdk.uat": {"hosts": ["a"]}, "beta_console": {"hosts": ["b"]}}}}
    inv = parse(inline(tmp_path, "environment_names: [uat, prod]\nenvironment_separators: ['.']\n", projects))
    assert members(inv, "env_uat") == ["a"] and members(inv, "service_sdk") == ["a"]
    assert "env_beta" not in inv.groups and members(inv, "service_beta_console") == ["b"]
    monkeypatch.setenv("FLEETOPS_FLEET_ENVIRONMENT_NAMES", "uat,beta")
    inv = parse(inline(tmp_path, "", projects))
    assert members(inv, "env_beta") == ["b"] and members(inv, "service_console") == ["b"]
    assert "env_uat" not in inv.groups   # '.' is not a default separator
    assert members(inv, "service_sdk_uat") == ["a"]


def test_constructed_order_and_naming(tmp_path):
    inv = parse(inline(tmp_path, """\
        compose:
          site: "fleet_tags.dc | default('nowhere')"
          label: "fleet_project ~ '/' ~ fleet_environment"
        groups:
          in_bj1: site == 'bj1'
          front: tier is defined
        keyed_groups:
          - key: site
            prefix: site
          - key: fleet_service
            prefix: svc
            default_value: none
        """))
    assert inv.get_host("h1").vars["site"] == "bj1" and inv.get_host("c1").vars["site"] == "nowhere"
    assert inv.get_host("w1").vars["label"] == "projectx/online"
    assert members(inv, "in_bj1") == ["h1"]              # groups see composed variables
    assert members(inv, "front") == ["w1"]               # and environment group variables
    assert members(inv, "site_sh_2") == ["h2"]           # keyed groups see composed variables, named by our rule
    assert members(inv, "site_nowhere") == ["c1", "w1"]
    assert members(inv, "svc_sdk") == ["h1", "h2"] and members(inv, "svc_none") == ["w1"]


def test_constructed_strict(tmp_path):
    lenient = inline(tmp_path, "compose: {x: undefined_thing.attr}\ngroups: {g: undefined_thing}\n")
    inv = parse(lenient)
    assert "x" not in inv.get_host("h1").vars and "g" not in inv.groups
    strict = inline(tmp_path, "compose: {x: undefined_thing.attr}\nstrict: true\n")
    assert "Could not set x for host" in parse_error(strict, AnsibleError)
    strict_keyed = inline(tmp_path, "keyed_groups: [{key: undefined_thing}]\nstrict: true\n")
    assert "Could not generate group for host" in parse_error(strict_keyed, AnsibleError)


# -- the source cache -----------------------------------------------------------------------------
@pytest.fixture
def counted_reads(monkeypatch):
    reads = []
    real = _fleet.read_source

    def counting(source, *args, **kwargs):
        reads.append(source.label)
        return real(source, *args, **kwargs)

    monkeypatch.setattr(_fleet, "read_source", counting)
    return reads


def cached_source(tmp_path, cache=True):
    (tmp_path / "cmdb.json").write_text(json.dumps({"projects": {"p": {"environments": {"online": {"hosts": ["a"]}}}}}))
    return write(tmp_path, """\
        source: {file: cmdb.json}
        cache: %s
        cache_plugin: ansible.builtin.jsonfile
        cache_connection: %s
        """ % ("true" if cache else "false", tmp_path / "cache"))


def mutate(tmp_path):
    (tmp_path / "cmdb.json").write_text(json.dumps({"projects": {"p": {"environments": {"online": {"hosts": ["a", "b"]}}}}}))


def cache_files(tmp_path):
    folder = tmp_path / "cache"
    return sorted(folder.iterdir()) if folder.exists() else []


def test_cache_miss_hit_refresh(tmp_path, counted_reads):
    path = cached_source(tmp_path)
    assert members(parse(path), "env_online") == ["a"] and len(counted_reads) == 1      # miss: read and cached
    (entry,) = cache_files(tmp_path)
    stored = json.loads(entry.read_text())
    if isinstance(stored, dict) and "__payload__" in stored:  # the jsonfile envelope of ansible-core 2.19
        stored = json.loads(stored["__payload__"])
    assert json.loads(stored) == {"projects": {"p": {"environments": {"online": {"hosts": ["a"]}}}}}   # the raw document
    stamp = int(time.time()) - 60  # older, yet well within cache_timeout (jsonfile expires entries by mtime)
    os.utime(entry, (stamp, stamp))
    mutate(tmp_path)
    assert members(parse(path), "env_online") == ["a"] and len(counted_reads) == 1      # hit: nothing read
    assert entry.stat().st_mtime == stamp                                         # and the cache is not rewritten
    assert members(parse(path, cache=False), "env_online") == ["a", "b"]               # --flush-cache: read again
    assert len(counted_reads) == 2 and entry.stat().st_mtime != stamp
    assert members(parse(path), "env_online") == ["a", "b"] and len(counted_reads) == 2  # fresh, cached again


def test_cache_key_follows_the_source(tmp_path, counted_reads):
    path = cached_source(tmp_path)
    parse(path)
    (tmp_path / "other.json").write_text(json.dumps({"projects": {"q": {"environments": {"online": {"hosts": ["z"]}}}}}))
    with open(path, encoding="utf-8") as handle:
        text = handle.read().replace("cmdb.json", "other.json")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    assert members(parse(path), "env_online") == ["z"] and len(counted_reads) == 2
    assert len(cache_files(tmp_path)) == 2


def test_cache_off_reads_every_time(tmp_path, counted_reads):
    path = cached_source(tmp_path, cache=False)
    parse(path)
    mutate(tmp_path)
    assert members(parse(path), "env_online") == ["a", "b"] and len(counted_reads) == 2
    assert not cache_files(tmp_path)


def test_inline_documents_are_never_cached(tmp_path, counted_reads):
    path = inline(tmp_path, "cache: true\ncache_plugin: ansible.builtin.jsonfile\ncache_connection: %s\n" % (tmp_path / "cache"))
    parse(path)
    assert not counted_reads and not cache_files(tmp_path)
