# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

from ansible_collections.fleetops.release.plugins.module_utils._errors import ArchiveError, RepoInfoError


def test_repo_info_error_names_file_key_and_value():
    err = RepoInfoError("Dist/1.0.0/repo-info", "must be a release tag", key="depend_list", value="developer")
    assert str(err) == "Dist/1.0.0/repo-info: key 'depend_list': must be a release tag (value 'developer')"


def test_archive_error_names_member():
    assert str(ArchiveError("x.tar.gz", "absolute path", member="/etc/passwd")) == (
        "x.tar.gz: member '/etc/passwd': absolute path")
