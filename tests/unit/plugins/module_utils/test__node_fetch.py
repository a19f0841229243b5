# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_fetch/node_fetch.py: plan to artifacts, and safe extraction beside a marker."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.node_fetch import (
    extract_state,
    extract_to,
    plan_artifacts,
    url_id,
    wanted,
)

SHA_REL = "1" * 64
SHA_SRC = "2" * 64
SHA_REL2 = "3" * 64
ENTRY_KEYS = {"key", "bucket", "version_id", "sha256", "size", "url", "name"}


def artifact(key, sha256, **extra):
    return dict(dict(bucket="bkt", key=key, sha256=sha256, size=10, last_modified="2026-01-01T00:00:00+00:00"), **extra)


def small_plan():
    rel = artifact("M/1.0.0/M.tar.gz", SHA_REL, version_id="v1")
    src = artifact("M/developer/m-client.tar.gz", SHA_SRC)
    return {
        "format": 1,
        "install": [{"module": "M", "version": "1.0.0", "action": "install", "rel": rel, "src": [src]}],
        "upgrade": [
            # the same REL (same bucket, key and version) again: fetched once
            {"module": "M", "version": "1.0.0", "action": "upgrade", "rel": dict(rel), "src": [dict(src)]},
            {"module": "N", "version": "2.0.0", "action": "upgrade", "rel": artifact("N/2.0.0/N.tar.gz", SHA_REL2), "src": None},
        ],
    }


# ---------------------------------------------------------------- url_id


def test_url_id():
    assert url_id("bkt", "M/1.0.0/M.tar.gz") == "bkt/M/1.0.0/M.tar.gz"
    assert url_id("bkt", "M/1.0.0/M.tar.gz", None) == "bkt/M/1.0.0/M.tar.gz"
    assert url_id("bkt", "M/1.0.0/M.tar.gz", "") == "bkt/M/1.0.0/M.tar.gz"
    assert url_id("bkt", "M/1.0.0/M.tar.gz", "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY") == \
        "bkt/M/1.0.0/M.tar.gz?versionId=3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert url_id(None, "k") == "/k"


def test_url_id_tells_versions_apart():
    assert url_id("b", "k", "v1") != url_id("b", "k", "v2") != url_id("b", "k")


# ---------------------------------------------------------------- plan_artifacts


def test_plan_artifacts_dedups_and_places(tmp_path):
    root = str(tmp_path / "opt")
    out = plan_artifacts(small_plan(), root)
    assert [a["key"] for a in out] == ["M/1.0.0/M.tar.gz", "M/developer/m-client.tar.gz", "N/2.0.0/N.tar.gz"]
    assert out[0] == dict(key="M/1.0.0/M.tar.gz", bucket="bkt", version_id="v1", sha256=SHA_REL, size=10, url=None, name=None,
                          dest=os.path.join(root, "M", "1.0.0", "M"))
    # SRC packages land under the step's version, named after the package
    assert out[1]["dest"] == os.path.join(root, "M", "1.0.0", "m-client")
    assert out[1]["version_id"] is None
    assert out[2]["dest"] == os.path.join(root, "N", "2.0.0", "N")
    assert all("last_modified" not in a for a in out)


def test_plan_artifacts_without_extract_root_has_no_dest():
    out = plan_artifacts(small_plan(), None)
    assert len(out) == 3
    assert all(set(a) == ENTRY_KEYS for a in out)


def test_plan_artifacts_other_version_of_the_same_key_is_kept(tmp_path):
    plan = small_plan()
    plan["upgrade"][0]["rel"]["version_id"] = "v2"
    out = plan_artifacts(plan, str(tmp_path))
    assert [(a["key"], a["version_id"]) for a in out] == [
        ("M/1.0.0/M.tar.gz", "v1"), ("M/developer/m-client.tar.gz", None), ("M/1.0.0/M.tar.gz", "v2"), ("N/2.0.0/N.tar.gz", None)]


def test_plan_artifacts_keeps_a_url_and_name():
    rel = artifact("M/1.0.0/M.tar.gz", SHA_REL, url="https://signed", name="rel")
    plan = {"install": [{"module": "M", "version": "1.0.0", "rel": rel, "src": []}]}
    assert plan_artifacts(plan, None) == [dict(key="M/1.0.0/M.tar.gz", bucket="bkt", version_id=None, sha256=SHA_REL, size=10,
                                               url="https://signed", name="rel")]


def test_plan_artifacts_non_archive_key_keeps_its_file_name(tmp_path):
    plan = {"install": [{"module": "M", "version": "1.0.0", "rel": artifact("M/1.0.0/odd.zip", SHA_REL)}], "upgrade": None}
    assert plan_artifacts(plan, str(tmp_path))[0]["dest"] == os.path.join(str(tmp_path), "M", "1.0.0", "odd.zip")


# ---------------------------------------------------------------- wanted


def test_wanted_plan_and_artifacts(tmp_path):
    root = str(tmp_path / "opt")
    extra = [dict(key="X/developer/tool.tar.gz", bucket="bkt", sha256=SHA_SRC),
             dict(key="X/developer/cfg.tar.gz", bucket="bkt", dest="/srv/cfg")]
    items = wanted(dict(plan=small_plan(), artifacts=extra, extract_root=root))
    assert [i["key"] for i in items] == ["M/1.0.0/M.tar.gz", "M/developer/m-client.tar.gz", "N/2.0.0/N.tar.gz",
                                         "X/developer/tool.tar.gz", "X/developer/cfg.tar.gz"]
    assert items[3] == dict(key="X/developer/tool.tar.gz", bucket="bkt", sha256=SHA_SRC, dest=os.path.join(root, "tool"))
    assert items[4]["dest"] == "/srv/cfg"  # an explicit dest wins
    assert "dest" not in extra[0]  # the caller's dicts are not modified


def test_wanted_artifacts_only_without_extract_root():
    items = wanted(dict(artifacts=[dict(key="k.tar.gz", url="https://u")]))
    assert items == [dict(key="k.tar.gz", url="https://u")]


def test_wanted_plan_only():
    assert len(wanted(dict(plan=small_plan(), artifacts=None))) == 3


@pytest.mark.parametrize("params", [{}, dict(plan=None, artifacts=None), dict(plan={}, artifacts=[]), dict(extract_root="/opt")])
def test_wanted_nothing(params):
    with pytest.raises(FleetopsError) as exc:
        wanted(params)
    assert str(exc.value) == "nothing to fetch: give plan or artifacts"


@pytest.mark.parametrize("plan", [{"format": 1}, {"install": None}, {"install": {"M": "1.0.0"}}, {"upgrade": []}, {"rel": "x"}])
def test_wanted_refuses_a_non_plan_dict(plan):
    with pytest.raises(FleetopsError) as exc:
        wanted(dict(plan=plan, artifacts=[dict(key="k", bucket="b")]))
    assert str(exc.value) == "plan: not a plan from fleetops.release.repo_info (no 'install' list)"


def test_wanted_accepts_an_empty_plan_with_artifacts():
    items = wanted(dict(plan={"install": [], "upgrade": []}, artifacts=[dict(key="k", bucket="b")]))
    assert items == [dict(key="k", bucket="b")]


# ---------------------------------------------------------------- extract_state / extract_to


def make_tgz(path, members):
    with tarfile.open(str(path), "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
            else:
                info.size = len(data)
                info.mode = 0o644
            info.mtime = 1700000000
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def test_extract_state_absent(tmp_path):
    assert extract_state(str(tmp_path / "M" / "1.0.0" / "M"), SHA_REL) == "create"


def test_extract_state_unchanged_with_matching_marker(tmp_path):
    dest = tmp_path / "M"
    dest.mkdir()
    (tmp_path / ".M.sha256").write_text(SHA_REL + "\n")
    assert extract_state(str(dest), SHA_REL) == "unchanged"
    assert extract_state(str(dest) + "/", SHA_REL) == "unchanged"  # a trailing slash names the same marker


@pytest.mark.parametrize("marker", [None, SHA_SRC + "\n", ""], ids=["no-marker", "other-sha256", "empty-marker"])
def test_extract_state_occupied(tmp_path, marker):
    dest = tmp_path / "M"
    dest.mkdir()
    if marker is not None:
        (tmp_path / ".M.sha256").write_text(marker)
    with pytest.raises(FleetopsError) as exc:
        extract_state(str(dest), SHA_REL)
    assert str(exc.value) == ("%s exists and does not hold this artifact (sha256 %s); extraction needs a fresh directory"
                              % (dest, SHA_REL))


def test_extract_state_without_sha256_never_claims_unchanged(tmp_path):
    dest = tmp_path / "M"
    dest.mkdir()
    (tmp_path / ".M.sha256").write_text("None\n")
    with pytest.raises(FleetopsError, match="exists and does not hold this artifact"):
        extract_state(str(dest), None)


def test_extract_state_a_dangling_symlink_counts_as_present(tmp_path):
    dest = tmp_path / "M"
    dest.symlink_to(tmp_path / "nowhere")
    with pytest.raises(FleetopsError, match="exists and does not hold this artifact"):
        extract_state(str(dest), SHA_REL)


def test_extract_to_creates_dest_and_marker(tmp_path):
    archive = make_tgz(tmp_path / "a.tar.gz", [("bin", None), ("bin/tool", b"#!/bin/sh\necho hi\n"), ("README", b"read me\n")])
    dest = tmp_path / "opt" / "M" / "1.0.0" / "M"
    extract_to(archive, str(dest), SHA_REL, "s3://bkt/M/1.0.0/M.tar.gz")
    assert (dest / "bin" / "tool").read_bytes() == b"#!/bin/sh\necho hi\n"
    assert (dest / "README").read_bytes() == b"read me\n"
    marker = tmp_path / "opt" / "M" / "1.0.0" / ".M.sha256"
    assert marker.read_text() == SHA_REL + "\n"
    assert sorted(os.listdir(str(dest.parent))) == [".M.sha256", "M"]
    # and the next run sees it as done
    assert extract_state(str(dest), SHA_REL) == "unchanged"


def test_extract_to_refuses_a_hostile_archive(tmp_path):
    archive = make_tgz(tmp_path / "evil.tar.gz", [("ok", b"fine"), ("../x", b"escaped")])
    parent = tmp_path / "opt" / "M" / "1.0.0"
    dest = parent / "M"
    with pytest.raises(FleetopsError) as exc:
        extract_to(archive, str(dest), SHA_REL, "s3://bkt/M/1.0.0/M.tar.gz")
    message = str(exc.value)
    assert message.startswith("s3://bkt/M/1.0.0/M.tar.gz: refused to extract, nothing was written to %s: %s: member '../x': " % (
        dest, archive))
    assert "'..' components are not allowed" in message
    assert exc.value.__cause__ is None
    assert not dest.exists()
    assert os.listdir(str(parent)) == []  # no marker, no partial directory
    assert not (parent / "x").exists() and not (tmp_path / "opt" / "M" / "x").exists()


def test_extract_to_unreadable_archive_leaves_no_marker(tmp_path):
    archive = tmp_path / "broken.tar.gz"
    archive.write_bytes(b"this is not gzip")
    dest = tmp_path / "out" / "M"
    with pytest.raises(FleetopsError) as exc:
        extract_to(str(archive), str(dest), SHA_REL, "k")
    assert str(exc.value).startswith("k: refused to extract, nothing was written to %s: %s: " % (dest, archive))
    assert os.listdir(str(tmp_path / "out")) == []
