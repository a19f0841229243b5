# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: fleet
short_description: Projects, environments and hosts of a fleet as an inventory
version_added: 0.1.0
description:
  - Reads a fleet document, projects with their environments and hosts (with variables and tags), from the inventory
    file itself (O(projects)) or from a local file, an S3 object or an HTTPS URL such as a CMDB export (O(source)).
  - "Groups: each project; C(<project>_<environment>) (a child of the project group); C(env_<env>) and
    C(service_<service>) read from the environment name written either way round (C(sdk_beta): service C(sdk), env
    C(beta); C(beta_console): env C(beta), service C(console); C(online): env C(online); C(crontab): service C(crontab));
    C(tag_<tag>_<value>) for every tag, C(tag_<tag>) for a tag that is V(true)."
  - Group names keep ASCII letters, digits and C(_); any other character becomes C(_), and a name starting with a digit
    gets a leading C(_). Two different projects or environments that would share a group name are an error.
  - "Variables: project O(projects) C(vars) become variables of the project group, environment C(vars) variables of
    the C(<project>_<environment>) group, host C(vars) host variables. The plugin also sets C(fleet_project) (project
    group), C(fleet_environment), C(fleet_env), C(fleet_service) (environment group) and C(fleet_tags) (each host)."
  - A host may be listed in several environments with identical vars and tags (it joins every group); listed again
    with different vars or tags is an error naming both places.
  - With O(cache) the raw source document (not the built inventory) is cached; C(--flush-cache) reads the source again.
  - The file name must end in C(.fleet.yml) or C(.fleet.yaml) (or be C(fleet.yml)/C(fleet.yaml)).
  - The guide, with the full schema, naming rules, temporary hosts and every error, is C(docs/inventory.md) in the collection.
author:
  - fleetops developers (@fleetops)
requirements:
  - boto3 >= 1.36 on the controller for an O(source.s3) source
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
options:
  plugin:
    description: Marks the file as this plugin's.
    type: str
    required: true
    choices: [fleetops.release.fleet]
  projects:
    description:
      - "The fleet, inline: C({<project>: {vars: {...}, environments: {<environment>: {vars: {...}, env: ..., service: ...,
        hosts: {<host>: {vars: {...}, tags: {...}}}}}}})."
      - Host names may use ranges such as C(web[01:20].example.com); C(hosts) may also be a plain list of names.
      - C(env) and C(service) in an environment override what is read from its name (null means none).
      - Strings in inline C(vars) may hold Jinja templates, as in an C(ansible.builtin.yaml) inventory.
      - Exactly one of O(projects) and O(source) is required.
    type: dict
  source:
    description:
      - Read the fleet document (a YAML or JSON mapping whose only key is C(projects)) from elsewhere. Exactly one of
        O(source.file), O(source.s3), O(source.https).
      - Strings of a document read from a source are data, never templates.
      - String options here may be templates, for example
        C("{{ lookup('ansible.builtin.env', 'CMDB_TOKEN') }}"), so that no secret needs to be in the file.
      - Errors name the source as C(s3://bucket/key) or the URL without user info, query string or fragment; credentials
        and header values are never printed.
    type: dict
    suboptions:
      file:
        description: A local file; a relative path is relative to the directory of the inventory file.
        type: str
      s3:
        description:
          - An S3 object, read with the collection's S3 client; the keys are O(source.s3.bucket), O(source.s3.key),
            O(source.s3.version_id) and the collection's S3 connection options with their aliases (C(endpoint_url),
            C(region), C(profile), C(access_key), C(secret_key), C(session_token), C(validate_certs), C(retries),
            C(connect_timeout), C(read_timeout); see M(fleetops.release.artifact_info)).
          - Credentials default to the standard AWS chain (environment, profile, instance role).
        type: dict
        suboptions:
          bucket:
            description: The bucket.
            type: str
            required: true
          key:
            description: The object key.
            type: str
            required: true
          version_id:
            description: A version of the object in a versioned bucket.
            type: str
      https:
        description: An HTTPS URL (a CMDB export). Redirects are not followed.
        type: dict
        suboptions:
          url:
            description: The URL; only C(https://) is accepted.
            type: str
            required: true
          headers:
            description: Request headers, for example C(Authorization). Never printed.
            type: dict
          validate_certs:
            description: Verify the server's TLS certificate.
            type: bool
            default: true
          ca_path:
            description: A PEM file of CA certificates to verify the server with (a private CA).
            type: path
          timeout:
            description: Seconds to wait for the server.
            type: float
            default: 30
  environment_names:
    description:
      - The environment words that environment names are read against (case-insensitive).
    type: list
    elements: str
    default: [dev, test, beta, gray, staging, online, prod]
    env:
      - name: FLEETOPS_FLEET_ENVIRONMENT_NAMES
    ini:
      - section: fleetops_fleet_inventory
        key: environment_names
  environment_separators:
    description:
      - What separates the environment word from the service in an environment name.
    type: list
    elements: str
    default: ['_', '-']
    env:
      - name: FLEETOPS_FLEET_ENVIRONMENT_SEPARATORS
    ini:
      - section: fleetops_fleet_inventory
        key: environment_separators
"""

EXAMPLES = r"""
---
# inventory.fleet.yml: the fleet inline
plugin: fleetops.release.fleet
projects:
  projectx:
    vars:
      fleetops_bucket: projectx-releases
    environments:
      sdk_beta:          # groups projectx, projectx_sdk_beta, env_beta, service_sdk
        hosts:
          sdk-beta-01.example.com:
            vars: {ansible_host: 10.1.0.11}
            tags: {dc: bj1, canary: true}     # groups tag_dc_bj1, tag_canary
          sdk-beta-02.example.com:
            vars: {ansible_host: 10.1.0.12}
            tags: {dc: sh2}
      online:            # groups projectx_online, env_online
        vars: {ansible_user: deploy}
        hosts:
          web[01:04].example.com:
            tags: {dc: bj1}
      crontab:           # groups projectx_crontab, service_crontab
        hosts: [cron01.example.com]

---
# cmdb.fleet.yml: the document from a CMDB export over HTTPS, cached for an hour
plugin: fleetops.release.fleet
source:
  https:
    url: https://cmdb.example.com/export/fleet.json
    headers:
      Authorization: "Bearer {{ lookup('ansible.builtin.env', 'CMDB_TOKEN') }}"
    ca_path: /etc/pki/cmdb-ca.pem
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: ~/.cache/fleetops-inventory
cache_timeout: 3600

---
# s3.fleet.yml: from an S3 object, with more environment words and constructed groups
plugin: fleetops.release.fleet
source:
  s3:
    bucket: fleetops-cmdb
    key: fleet/projectx.yml
    region: eu-west-1
environment_names: [dev, test, beta, gray, staging, online, prod, uat]
compose:
  ansible_host: fleet_tags.ip | default(inventory_hostname)
groups:
  canaries: fleet_tags.canary | default(false)
keyed_groups:
  - key: fleet_tags.rack | default('none')
    prefix: rack
strict: true
"""

import os
import typing as t

from ansible.errors import AnsibleParserError
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable

from ansible_collections.fleetops.release.plugins.plugin_utils import _fleet

try:
    from ansible.template import trust_as_template as _trust_str
except ImportError:  # ansible-core < 2.19 has no template trust: everything is trusted
    def _trust_str(value):
        return value


_SUFFIXES = (".fleet.yml", ".fleet.yaml")


def _trust(value: t.Any, everything: bool = False) -> t.Any:
    """Mark the inventory file's own strings as trusted templates, as ansible.builtin.yaml does.

    Variable values: only strings that hold a template (the others need no trust, and leaving
    them alone keeps a large fleet fast). Options (compose, groups, keyed_groups): every string,
    since those are bare Jinja expressions.
    """
    if isinstance(value, str):
        return _trust_str(value) if everything or "{{" in value or "{%" in value or "{#" in value else value
    if isinstance(value, dict):
        return {key: _trust(val, everything) for key, val in value.items()}
    if isinstance(value, list):
        return [_trust(val, everything) for val in value]
    return value


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "fleetops.release.fleet"
    # Constructed groups follow the same naming rule as the plugin's own groups.
    _sanitize_group_name = staticmethod(_fleet.group_name)

    def verify_file(self, path: str) -> bool:
        name = os.path.basename(path)
        return (name.endswith(_SUFFIXES) or name in ("fleet.yml", "fleet.yaml")) and super().verify_file(path)

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache=cache)
        try:
            fleet = self._read(path, cache)
            _fleet.populate(self.inventory, fleet)
        except _fleet.FleetError as exc:
            raise AnsibleParserError(str(exc)) from None
        self._construct(fleet)

    def _config(self, path: str) -> tuple[dict, bool]:
        """The inventory file, and whether Ansible's loader read it (then it already applied trust).

        YAML is parsed fast and safely; a file with vault or !unsafe values goes to Ansible's loader.
        """
        text = self.loader.get_text_file_contents(path)
        by_ansible = False
        try:
            config = _fleet.load_document(str(text), path)  # the C parser wants a plain str
        except _fleet.FleetError as exc:
            if not exc.unsupported_tag:
                raise
            config = self.loader.load(_trust_str(text), file_name=path)
            by_ansible = True
        if not isinstance(config, dict):
            raise _fleet.FleetError(path, "expected a mapping of options", (), config)
        names = getattr(self, "_redirected_names", None) or [self.NAME]
        if config.get("plugin") not in names:
            raise _fleet.FleetError(path, "not a fleet inventory file: plugin must be %s" % self.NAME, ("plugin",), config.get("plugin"))
        options = {key: val if by_ansible else _trust(val, everything=True) for key, val in config.items() if key not in ("projects", "source")}
        self.set_options(direct=options, var_options=self._vars)
        _fleet.check_keys(config, tuple(self._options), path, ())
        return config, by_ansible

    def _read(self, path: str, cache: bool) -> _fleet.Fleet:
        config, by_ansible = self._config(path)
        names = _fleet.EnvironmentNames(self.get_option("environment_names"), self.get_option("environment_separators"), path)
        if ("projects" in config) == ("source" in config):
            raise _fleet.FleetError(path, "needs exactly one of projects (the fleet inline) and source (where to read it)")
        if "projects" in config:
            return _fleet.build(config["projects"], path, names, trust=None if by_ansible else _trust)
        source = _fleet.parse_source(config["source"], path, render=self._render)
        text = self._source_text(path, source, cache)
        return _fleet.build(_fleet.projects_of(_fleet.load_document(text, source.label), source.label), source.label, names)

    def _render(self, value: str) -> t.Any:
        self.templar.available_variables = self._vars or {}
        return self.templar.template(_trust_str(value))

    def _source_text(self, path: str, source: _fleet.Source, cache: bool) -> str:
        """The raw document: from the cache when it may be used and holds it, else from the source."""
        use_cache = bool(self.get_option("cache"))
        if use_cache:
            self.load_cache_plugin()
        key = "%s_%s" % (self.get_cache_key(path), source.identity())
        if use_cache and cache:
            try:
                cached = self._cache[key]
            except KeyError:
                cached = None
            if isinstance(cached, str):
                self.display.vvv("fleet inventory: %s from the inventory cache" % source.label)
                return cached
        text = _fleet.read_source(source)
        if use_cache:
            self._cache[key] = text
        return text

    def _construct(self, fleet: _fleet.Fleet) -> None:
        """compose, then groups, then keyed_groups, as ansible.builtin.constructed does."""
        compose = self.get_option("compose")
        groups = self.get_option("groups")
        keyed = self.get_option("keyed_groups")
        if not (compose or groups or keyed):
            return
        strict = self.get_option("strict")
        for host in fleet.hosts.values():
            variables = fleet.host_variables(host)
            self._set_composite_vars(compose, variables, host.name, strict=strict)
            self._add_host_to_composed_groups(groups, variables, host.name, strict=strict)
            self._add_host_to_keyed_groups(keyed, variables, host.name, strict=strict)
