#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: artifact_publish
short_description: Pack, checksum and upload a release artifact to one or many S3 buckets
version_added: 0.1.0
description:
  - Runs in a CI step (Bitbucket Pipelines, GitLab CI, Jenkins) after a build. Packs the given paths into
    C(<name>.tar.gz) (or C(<bin_name>.tar.gz) for a SRC package), or takes an existing tarball, and uploads it to
    C(<name>/<channel>/) with its C(.sha256) sidecar in the C(sha256sum) format and, for REL and DIST packages,
    the C(repo-info) sidecar the controller plans from.
  - A release tag is written once. The archive is uploaded with a conditional create, so two pipelines racing for the
    same tag cannot both win. Publishing the same bytes again is a no-op; different bytes fail unless O(force).
    The V(developer) channel is overwritten.
  - Several O(targets) in one call, each with its own bucket and credentials. C(${BUCKET_NAME}) and C(${REPO_NAME})
    in the packed C(deploy.sh) and C(upgrade.sh) are replaced per target, so one source serves many stores.
  - Packing is deterministic (sorted members, owner root, no timestamps in the gzip header), so a rebuild of
    unchanged files gives the same sha256 and publishing it again changes nothing.
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.S3_GROUP
attributes:
  check_mode:
    support: full
    details:
      - Packs into a temporary directory to learn the sha256 and reports per target what a real run would do.
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  name:
    description:
      - The module (or DIST) name, the first part of the S3 key. For REL and DIST packages also the archive name.
    type: str
    required: true
  channel:
    description:
      - V(developer) for test builds (overwritten) or a release tag such as V(1.2.0) (written once).
    type: str
    required: true
  kind:
    description:
      - V(rel) and V(dist) packages carry a repo-info, which is validated and uploaded as a sidecar; its
        C(rel_branch) must equal O(channel).
      - V(src) packages are the built binaries, C(<bin_name>.tar.gz).
    type: str
    choices: [rel, src, dist]
    default: rel
  bin_name:
    description:
      - Name of a SRC package without C(.tar.gz). Required with O(kind=src).
    type: str
  paths:
    description:
      - Files and directories to pack, relative to O(chdir). Directories are packed recursively.
      - Mutually exclusive with O(archive).
    type: list
    elements: path
  chdir:
    description:
      - Directory O(paths) are relative to; member names in the archive are relative to it too.
    type: path
  archive:
    description:
      - An existing C(.tar.gz) to upload as it is (no substitution). Mutually exclusive with O(paths).
    type: path
  repo_info:
    description:
      - Path of the repo-info file for REL and DIST packages. Defaults to the archive's own C(repo-info) member.
    type: path
  substitute:
    description:
      - Replace C(${BUCKET_NAME}) and C(${REPO_NAME}) (and the keys of a target's O(targets[].substitutions))
        in packed C(deploy.sh) and C(upgrade.sh).
    type: bool
    default: true
  bucket:
    description:
      - Bucket to publish to when O(targets) is not given.
    type: str
  targets:
    description:
      - Publish to each of these, in order. Each target may carry its own connection options; unset ones fall
        back to the module's.
      - Publishing stops at the first failing target; the result lists the targets already done.
    type: list
    elements: dict
    suboptions:
      bucket:
        description: Bucket name; replaces C(${BUCKET_NAME}).
        type: str
        required: true
      repo_name:
        description: Replaces C(${REPO_NAME}); defaults to O(name).
        type: str
      substitutions:
        description: Extra C(${KEY}) replacements for this target.
        type: dict
      endpoint_url:
        description: As the module option.
        type: str
      region:
        description: As the module option.
        type: str
      profile:
        description: As the module option.
        type: str
      access_key:
        description: As the module option.
        type: str
      secret_key:
        description: As the module option.
        type: str
      session_token:
        description: As the module option.
        type: str
  force:
    description:
      - Overwrite a release tag that already holds different content. Use only to repair a broken release.
    type: bool
    default: false
seealso:
  - module: fleetops.release.repo_info
  - module: fleetops.release.artifact_info
"""

EXAMPLES = r"""
- name: Publish a REL package built from the repository checkout
  fleetops.release.artifact_publish:
    name: ModuleX
    channel: "{{ lookup('ansible.builtin.env', 'BITBUCKET_TAG') | default('developer', true) }}"
    kind: rel
    chdir: "{{ lookup('ansible.builtin.env', 'BITBUCKET_CLONE_DIR') }}"
    paths: [etc, repo-info, deploy.sh, upgrade.sh]
    bucket: projecta-releases

- name: One source, many stores, each with its own credentials
  fleetops.release.artifact_publish:
    name: ModuleX
    channel: 1.2.0
    paths: [etc, repo-info, deploy.sh, upgrade.sh]
    targets:
      - bucket: "{{ lookup('ansible.builtin.env', 'PROJECTA_BUCKET_NAME') }}"
        access_key: "{{ lookup('ansible.builtin.env', 'BUCKETA_S3KEY') }}"
        secret_key: "{{ lookup('ansible.builtin.env', 'BUCKETA_S3SECRET') }}"
      - bucket: "{{ lookup('ansible.builtin.env', 'PROJECTB_BUCKET_NAME') }}"
        access_key: "{{ lookup('ansible.builtin.env', 'BUCKETB_S3KEY') }}"
        secret_key: "{{ lookup('ansible.builtin.env', 'BUCKETB_S3SECRET') }}"

- name: Publish a SRC package made by the build
  fleetops.release.artifact_publish:
    name: ModuleX
    channel: developer
    kind: src
    bin_name: modulex-client
    archive: build/modulex-client.tar.gz
    bucket: projecta-releases
"""

RETURN = r"""
key:
  description: Object key of the archive.
  returned: always
  type: str
  sample: ModuleX/1.2.0/ModuleX.tar.gz
sha256:
  description: sha256 of the archive uploaded to the first target.
  returned: success
  type: str
  sample: 0c6b1a0f3f1c5a3d1ba4cd0d5c1e5b8a0f3c2d1e9b8a7f6e5d4c3b2a1f0e9d8c
targets:
  description: What happened per target, in order.
  returned: always
  type: list
  elements: dict
  contains:
    bucket:
      description: Bucket name.
      type: str
      sample: projecta-releases
    action:
      description:
        - V(create), V(overwrite), V(complete) (an interrupted earlier publish is finished), or V(unchanged).
      type: str
      sample: create
    changed:
      description: Whether this target changed (or would change in check mode).
      type: bool
    sha256:
      description: sha256 of the archive for this target (targets differ when substitution applies).
      type: str
    size:
      description: Archive size in bytes.
      type: int
    url:
      description: The C(s3://) location (not a presigned URL).
      type: str
      sample: s3://projecta-releases/ModuleX/1.2.0/ModuleX.tar.gz
    sha256_key:
      description: Key of the checksum sidecar.
      type: str
    repo_info_key:
      description: Key of the repo-info sidecar; null for SRC packages.
      type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._module import finish
from ansible_collections.fleetops.release.plugins.module_utils._repo.publish import PublishError, Source, publish
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3_ARGSPEC, S3_OPTION_NAMES, S3Store, open_store

TARGET_OPTIONS = ("endpoint_url", "region", "profile", "access_key", "secret_key", "session_token")


def main() -> None:
    target_spec = dict(bucket=dict(type="str", required=True), repo_name=dict(type="str"), substitutions=dict(type="dict"))
    for name in TARGET_OPTIONS:
        target_spec[name] = dict(type="str", no_log=S3_ARGSPEC[name].get("no_log", False))
    argument_spec = dict(
        name=dict(type="str", required=True),
        channel=dict(type="str", required=True),
        kind=dict(type="str", choices=["rel", "src", "dist"], default="rel"),
        bin_name=dict(type="str"),
        paths=dict(type="list", elements="path"),
        chdir=dict(type="path"),
        archive=dict(type="path"),
        repo_info=dict(type="path"),
        substitute=dict(type="bool", default=True),
        bucket=dict(type="str"),
        targets=dict(type="list", elements="dict", options=target_spec),
        force=dict(type="bool", default=False),
    )
    argument_spec.update(S3_ARGSPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("paths", "archive"), ("bucket", "targets")],
        required_one_of=[("paths", "archive"), ("bucket", "targets")],
        required_if=[("kind", "src", ["bin_name"])],
    )
    params = module.params
    targets = params["targets"] or [dict(bucket=params["bucket"])]

    def options_for(target: dict) -> dict:
        options = {name: params[name] for name in S3_OPTION_NAMES}
        options.update({name: target[name] for name in TARGET_OPTIONS if target.get(name)})
        return options

    def store_for(target: dict) -> S3Store:
        return open_store(options_for(target))

    def call() -> dict:
        try:
            source = Source(params["kind"], params["name"], params["channel"], bin_name=params["bin_name"], paths=params["paths"],
                            chdir=params["chdir"], archive=params["archive"], repo_info=params["repo_info"],
                            substitute=params["substitute"])
            results = publish(source, targets, store_for, force=params["force"], check_mode=module.check_mode)
        except PublishError as exc:
            return dict(failed=True, msg=str(exc), targets=exc.results, changed=any(r["changed"] for r in exc.results))
        except (FleetopsError, OSError) as exc:
            return dict(failed=True, msg=str(exc), targets=[], changed=False)
        return dict(changed=any(r["changed"] for r in results), key=results[0]["key"], sha256=results[0]["sha256"], targets=results)

    finish(module, call, s3=[options_for(target) for target in targets])


if __name__ == "__main__":
    main()
