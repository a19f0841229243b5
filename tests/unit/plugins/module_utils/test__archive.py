# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_fetch/archive.py; every archive is built at test time."""

from __future__ import annotations

import errno
import gzip
import hashlib
import io
import os
import re
import shutil
import stat
import subprocess
import tarfile

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import ArchiveError
from ansible_collections.fleetops.release.plugins.module_utils._fetch import archive as _archive
from ansible_collections.fleetops.release.plugins.module_utils._fetch.archive import Limits, extract, pack, read_member, scan

MIB = 1024 * 1024
MTIME = 1700000000


# ---------------------------------------------------------------- helpers


def reg(name, data=b"", mode=0o644):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = MTIME
    return info, data


def dir_(name, mode=0o755):
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = MTIME
    return info, None


def sym(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    return info, None


def special(name, kind, **attrs):
    info = tarfile.TarInfo(name)
    info.type = kind
    for key, value in attrs.items():
        setattr(info, key, value)
    return info, None


# A few harmless members put in front of hostile ones, so that a refusal
# happens after something was already written to the temporary directory.
GOOD = [dir_("ok"), reg("ok/file.txt", b"fine\n"), sym("ok/link", "file.txt")]


def write_tgz(path, members, fmt=tarfile.PAX_FORMAT):
    with tarfile.open(str(path), "w:gz", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return path


def tar_bytes(members, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def snapshot(root):
    found = []
    for dirpath, dirnames, filenames in os.walk(str(root)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            found.append((os.path.relpath(path, str(root)), st.st_mode, st.st_size))
    return sorted(found)


def assert_refused(tmp_path, archive, member, fragment, limits=None):
    """scan() and extract() both refuse, naming archive and member; nothing is left behind."""
    limits = limits or Limits()
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError) as scanned:
        scan(str(archive), limits)
    with pytest.raises(ArchiveError) as extracted:
        extract(str(archive), str(work / "dest"), limits)
    for exc in (scanned.value, extracted.value):
        message = str(exc)
        assert message.startswith(str(archive) + ": "), message
        if member is not None:
            assert exc.member == member, message
            assert "member %r" % member in message
        assert fragment in message, message
    assert snapshot(tmp_path) == before
    assert os.listdir(str(work)) == []
    return extracted.value


# ---------------------------------------------------------------- hostile member tables

HOSTILE = [
    ("dotdot", [reg("../escape", b"x")], "../escape", "'..' components"),
    ("dotdot-inner", [reg("a/../../x", b"x")], "a/../../x", "'..' components"),
    ("dotdot-dir", [dir_("sub/../..")], "sub/../..", "'..' components"),
    ("symlink-absolute", [sym("abs", "/etc")], "abs", "is absolute"),
    ("symlink-dotdot", [sym("up", "../outside")], "up", "points outside"),
    ("symlink-deep-dotdot", [dir_("a"), dir_("a/b"), sym("a/b/sib", "../../../sibling/x")], "a/b/sib", "points outside"),
    ("symlink-dotdot-after", [dir_("a"), sym("a/l", "../a/../../x")], "a/l", "'..' after other components"),
    ("symlink-empty-target", [sym("l", "")], "l", "empty target"),
    ("hardlink-outside", [special("passwd", tarfile.LNKTYPE, linkname="/etc/passwd")], "passwd", "hard links are not allowed"),
    ("hardlink-inside", [reg("a", b"data"), special("b", tarfile.LNKTYPE, linkname="a")], "b", "hard links are not allowed"),
    ("through-symlink", [dir_("sub"), sym("d", "sub"), reg("d/x", b"x")], "d/x", "through symbolic link 'd'"),
    ("through-symlink-deep", [dir_("sub"), sym("d", "sub"), dir_("d/e"), reg("d/e/x", b"x")], "d/e", "through symbolic link 'd'"),
    ("through-outside-symlink", [sym("out", "../../x"), reg("out/evil", b"x")], "out", "points outside"),
    ("symlink-then-dir", [dir_("sub"), sym("d", "sub"), dir_("d")], "d", "duplicate name"),
    ("chardev", [special("null", tarfile.CHRTYPE, devmajor=1, devminor=3)], "null", "character devices"),
    ("blockdev", [special("sda", tarfile.BLKTYPE, devmajor=8, devminor=0)], "sda", "block devices"),
    ("fifo", [special("pipe", tarfile.FIFOTYPE)], "pipe", "FIFOs are not allowed"),
    ("contiguous-unknown", [special("weird", b"V")], "weird", "not allowed"),
    ("setuid", [reg("su", b"#!/bin/sh\n", mode=0o4755)], "su", "setuid, setgid and sticky"),
    ("setgid-dir", [dir_("shared", mode=0o2775)], "shared", "setuid, setgid and sticky"),
    ("sticky-dir", [dir_("tmp", mode=0o1777)], "tmp", "setuid, setgid and sticky"),
    ("setgid-top", [dir_(".", mode=0o2755)], ".", "setuid, setgid and sticky"),
    ("duplicate-file", [reg("x", b"1"), reg("x", b"2")], "x", "duplicate name"),
    ("file-then-dir", [reg("x", b"1"), dir_("x")], "x", "duplicate name"),
    ("dir-then-file", [dir_("x"), reg("x", b"1")], "x", "duplicate name"),
    ("dot-slash-duplicate", [reg("./x", b"1"), reg("x", b"2")], "x", "duplicate name"),
    ("double-slash-duplicate", [reg("a/b", b"1"), reg("a//b", b"2")], "a//b", "duplicate name"),
    ("duplicate-top", [dir_("."), dir_("./")], ".", "duplicate entry for the top"),
    ("file-as-top", [reg(".", b"x")], ".", "names the top of the tree"),
    ("file-then-implied-dir", [reg("a", b"1"), reg("a/b", b"2")], "a/b", "parent 'a' is a regular file"),
    ("implied-dir-then-file", [reg("a/b", b"1"), reg("a", b"2")], "a", "already in the archive as an implied directory"),
    ("trailing-slash-file", [reg("notdir/", b"1")], "notdir/", "ends with '/'"),
    ("empty-name", [reg("", b"x")], "", "empty names"),
    ("long-name", [reg("n" * 1100, b"x")], "n" * 1100, "longer than 1024"),
    ("long-link-target", [sym("l", "t" * 1100)], "l", "longer than 1024"),
]


@pytest.mark.parametrize("members, member, fragment", [case[1:] for case in HOSTILE], ids=[case[0] for case in HOSTILE])
def test_hostile_member_refused(tmp_path, members, member, fragment):
    archive = write_tgz(tmp_path / "hostile.tar.gz", GOOD + members)
    assert_refused(tmp_path, archive, member, fragment)


def test_absolute_name_refused(tmp_path):
    # Point the absolute name into tmp_path so that a bug could only write where the snapshot sees it.
    target = str(tmp_path / "absolute-escape")
    archive = write_tgz(tmp_path / "abs.tar.gz", GOOD + [reg(target, b"pwned")])
    assert_refused(tmp_path, archive, target, "absolute names are not allowed")
    assert not os.path.lexists(target)


def test_absolute_dir_name_refused(tmp_path):
    target = str(tmp_path / "absdir") + "/"
    archive = write_tgz(tmp_path / "abs.tar.gz", [dir_(target)])
    assert_refused(tmp_path, archive, target.rstrip("/"), "absolute names")


def test_nul_in_name_refused(tmp_path):
    info, data = reg("innocent", b"x")
    info.pax_headers = {"path": "evil\x00name"}
    archive = write_tgz(tmp_path / "nul.tar.gz", GOOD + [(info, data)])
    assert_refused(tmp_path, archive, "evil\x00name", "NUL bytes")


def test_nul_in_link_target_refused(tmp_path):
    info, data = sym("l", "x")
    info.pax_headers = {"linkpath": "ok\x00../../x"}
    archive = write_tgz(tmp_path / "nul.tar.gz", GOOD + [(info, data)])
    assert_refused(tmp_path, archive, "l", "NUL byte")


def test_depth_over_limit_refused(tmp_path):
    archive = write_tgz(tmp_path / "deep.tar.gz", GOOD + [reg("a/b/c/d/e", b"x")])
    assert_refused(tmp_path, archive, "a/b/c/d/e", "deeper than 4", Limits(max_depth=4))


def test_default_depth_limit(tmp_path):
    name = "/".join(["d"] * 65)
    archive = write_tgz(tmp_path / "deep.tar.gz", [reg(name, b"x")])
    assert_refused(tmp_path, archive, name, "deeper than 64")


def test_name_length_limit_is_configurable(tmp_path):
    archive = write_tgz(tmp_path / "long.tar.gz", GOOD + [reg("abcdefghijklm", b"x")])
    assert_refused(tmp_path, archive, "abcdefghijklm", "longer than 12", Limits(max_name_length=12))


def test_member_count_over_limit(tmp_path):
    archive = write_tgz(tmp_path / "many.tar.gz", [reg("f%d" % i, b"x") for i in range(6)])
    assert_refused(tmp_path, archive, "f5", "more than 5 members", Limits(max_members=5))


def test_implied_directories_count_as_members(tmp_path):
    archive = write_tgz(tmp_path / "implied.tar.gz", [reg("a/b/c/file", b"x")])
    assert_refused(tmp_path, archive, "a/b/c/file", "more than 3 members", Limits(max_members=3))
    assert scan(str(archive), Limits(max_members=4)).members == 4


def test_total_size_over_limit(tmp_path):
    archive = write_tgz(tmp_path / "big.tar.gz", [reg("one", b"a" * 60), reg("two", b"b" * 60)])
    assert_refused(tmp_path, archive, "two", "total size of regular files exceeds the limit of 100", Limits(max_total_size=100))


def test_member_size_over_limit(tmp_path):
    archive = write_tgz(tmp_path / "big.tar.gz", GOOD + [reg("blob", b"z" * 2000)])
    assert_refused(tmp_path, archive, "blob", "larger than the limit of 1000", Limits(max_member_size=1000))


class _Zeros:
    """File-like source of ``size`` zero bytes, produced in chunks."""

    def __init__(self, size):
        self.left = size

    def read(self, size=-1):
        size = self.left if size < 0 else min(size, self.left)
        self.left -= size
        return b"\0" * size


def test_gzip_bomb_refused_by_declared_size(tmp_path):
    path = tmp_path / "bomb.tar.gz"
    with open(str(path), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1) as gz:
            with tarfile.open(fileobj=gz, mode="w|", format=tarfile.USTAR_FORMAT) as tar:
                for info, data in GOOD:
                    tar.addfile(info, io.BytesIO(data) if data else None)
                info = tarfile.TarInfo("zeros.bin")
                info.size = 50 * MIB
                tar.addfile(info, _Zeros(info.size))
    assert path.stat().st_size < MIB
    limits = Limits(max_member_size=10 * MIB, max_total_size=20 * MIB)
    assert_refused(tmp_path, path, "zeros.bin", "larger than the limit of %d" % (10 * MIB), limits)


def test_header_lying_about_size(tmp_path):
    info, _data = reg("liar.bin", b"")
    info.size = 100000
    # The good part without its end-of-archive blocks, then the lying header and only 100 bytes.
    raw = _strip_end_blocks(tar_bytes(GOOD)) + info.tobuf(tarfile.USTAR_FORMAT) + b"L" * 100
    path = tmp_path / "liar.tar.gz"
    path.write_bytes(gzip.compress(raw))
    assert_refused(tmp_path, path, "liar.bin", "truncated or corrupt")


def _strip_end_blocks(data):
    """Remove trailing all-zero 512-byte blocks (end-of-archive marker and padding)."""
    while data and data[-512:] == b"\0" * 512:
        data = data[:-512]
    return data


def test_corrupt_header_after_first_member(tmp_path):
    raw = bytearray(tar_bytes([reg("first.txt", b"0123456789"), reg("second.txt", b"abc")]))
    raw[1024 + 148:1024 + 156] = b"0000000\0"  # wrong checksum of the second header
    path = tmp_path / "badsum.tar.gz"
    path.write_bytes(gzip.compress(bytes(raw)))
    assert_refused(tmp_path, path, "first.txt", "truncated or corrupt after this member: invalid tar header")


def test_missing_end_of_archive_marker(tmp_path):
    path = tmp_path / "noend.tar.gz"
    path.write_bytes(gzip.compress(_strip_end_blocks(tar_bytes(GOOD))))
    assert_refused(tmp_path, path, "ok/link", "without an end-of-archive marker")


def test_truncated_gzip(tmp_path):
    src = write_tgz(tmp_path / "full.tar.gz", GOOD + [reg("blob.bin", os.urandom(128 * 1024))])
    data = src.read_bytes()
    path = tmp_path / "half.tar.gz"
    path.write_bytes(data[:len(data) // 2])
    src.unlink()
    assert_refused(tmp_path, path, "blob.bin", "truncated or corrupt")


def test_gzip_missing_trailer(tmp_path):
    src = write_tgz(tmp_path / "full.tar.gz", GOOD)
    path = tmp_path / "notrailer.tar.gz"
    path.write_bytes(src.read_bytes()[:-8])
    src.unlink()
    assert_refused(tmp_path, path, None, "truncated or corrupt")


def test_gzip_bad_crc(tmp_path):
    data = bytearray(gzip.compress(tar_bytes(GOOD)))
    data[-8] ^= 0xFF
    path = tmp_path / "crc.tar.gz"
    path.write_bytes(bytes(data))
    assert_refused(tmp_path, path, None, "truncated or corrupt")


def test_garbage_after_gzip(tmp_path):
    path = tmp_path / "garbage.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes(GOOD)) + b"trailing garbage")
    assert_refused(tmp_path, path, None, "truncated or corrupt")


def test_not_gzip(tmp_path):
    path = tmp_path / "random.tar.gz"
    path.write_bytes(b"PK" + os.urandom(4096))
    exc = assert_refused(tmp_path, path, None, "not a gzip-compressed tar archive")
    assert exc.member is None


def test_empty_file(tmp_path):
    path = tmp_path / "empty.tar.gz"
    path.write_bytes(b"")
    assert_refused(tmp_path, path, None, "not a gzip-compressed tar archive")


@pytest.mark.parametrize("text", [b"just some text\n", b"a longer plain text file\n" * 100], ids=["short", "long"])
def test_gzip_of_plain_text(tmp_path, text):
    path = tmp_path / "text.tar.gz"
    path.write_bytes(gzip.compress(text))
    assert_refused(tmp_path, path, None, "not a gzip-compressed tar archive")


def test_missing_archive(tmp_path):
    with pytest.raises(ArchiveError, match="cannot read archive"):
        scan(str(tmp_path / "nope.tar.gz"))


def test_gnu_sparse_refused(tmp_path):
    info = special("holes.img", tarfile.GNUTYPE_SPARSE)[0]
    archive = write_tgz(tmp_path / "sparse.tar.gz", GOOD + [(info, None)], fmt=tarfile.GNU_FORMAT)
    assert_refused(tmp_path, archive, "holes.img", "sparse files are not allowed")


@pytest.mark.parametrize("headers", [
    {"GNU.sparse.map": "0,3", "GNU.sparse.size": "3", "GNU.sparse.name": "holes.img"},
    {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.name": "holes.img", "GNU.sparse.realsize": "3"},
    {"GNU.sparse.offset": "0", "GNU.sparse.numbytes": "3"},
], ids=["pax-0.1", "pax-1.0", "pax-0.0"])
def test_pax_sparse_refused(tmp_path, headers):
    info, data = reg("holes.img", b"abc")
    info.pax_headers = headers
    archive = write_tgz(tmp_path / "sparse.tar.gz", GOOD + [(info, data)])
    assert_refused(tmp_path, archive, "holes.img", "sparse files are not allowed")


def test_huge_extended_header_refused(tmp_path):
    info, data = reg("meta", b"x")
    info.pax_headers = {"comment": "c" * (70 * 1024)}
    archive = write_tgz(tmp_path / "pax.tar.gz", GOOD + [(info, data)])
    assert_refused(tmp_path, archive, "././@PaxHeader", "extended header")


def test_symlink_with_data_refused(tmp_path):
    info = sym("l", "ok")[0]
    info.size = 512
    archive = tmp_path / "symdata.tar.gz"
    with tarfile.open(str(archive), "w:gz", format=tarfile.USTAR_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(b"\0" * 512))
    assert_refused(tmp_path, archive, "l", "declares 512 bytes of data")


# ---------------------------------------------------------------- extraction mechanics


def test_existing_dest_refused(tmp_path):
    archive = write_tgz(tmp_path / "ok.tar.gz", GOOD)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep").write_text("mine")
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match="already exists"):
        extract(str(archive), str(dest))
    (tmp_path / "dangling").symlink_to("nowhere")
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match="already exists"):
        extract(str(archive), str(tmp_path / "dangling"))
    assert snapshot(tmp_path) == before


def test_missing_parent_refused(tmp_path):
    archive = write_tgz(tmp_path / "ok.tar.gz", GOOD)
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError, match=r"parent directory of destination .* does not exist"):
        extract(str(archive), str(tmp_path / "missing" / "dest"))
    assert snapshot(tmp_path) == before


def _partial_archive(tmp_path):
    archive = write_tgz(tmp_path / "full.tar.gz", [reg("first.txt", b"first\n"), reg("second.bin", os.urandom(256 * 1024))])
    data = archive.read_bytes()
    archive.unlink()
    path = tmp_path / "partial.tar.gz"
    path.write_bytes(data[:int(len(data) * 0.6)])
    return path


def test_truncation_after_first_member_leaves_nothing(tmp_path, monkeypatch):
    path = _partial_archive(tmp_path)
    written = []
    real = _archive._Writer.write_file

    def spy(self, name, info, reader):
        real(self, name, info, reader)
        written.append(name)

    monkeypatch.setattr(_archive._Writer, "write_file", spy)
    exc = assert_refused(tmp_path, path, "second.bin", "truncated or corrupt")
    assert "first.txt" not in str(exc)
    assert written == ["first.txt"]  # the first member really was written before the failure


def test_trailing_zero_padding_accepted(tmp_path):
    path = tmp_path / "padded.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes(GOOD) + b"\0" * 100000))
    assert scan(str(path)).files == ["ok/file.txt"]


def test_too_much_trailing_data_refused(tmp_path):
    path = tmp_path / "padded.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes(GOOD) + b"\0" * (17 * MIB), compresslevel=1))
    assert_refused(tmp_path, path, None, "after the end of the archive")


def test_oserror_mid_extraction_is_wrapped_and_cleaned(tmp_path, monkeypatch):
    archive = write_tgz(tmp_path / "ok.tar.gz", GOOD + [reg("later.txt", b"later")])
    real = _archive._Writer.write_file

    def failing(self, name, info, reader):
        if name == "later.txt":
            real(self, name, info, reader)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, name, info, reader)

    monkeypatch.setattr(_archive._Writer, "write_file", failing)
    work = tmp_path / "work"
    work.mkdir()
    before = snapshot(tmp_path)
    with pytest.raises(ArchiveError) as caught:
        extract(str(archive), str(work / "dest"))
    assert caught.value.member == "later.txt"
    assert os.strerror(errno.ENOSPC) in str(caught.value)
    assert snapshot(tmp_path) == before
    assert os.listdir(str(work)) == []


def test_keyboard_interrupt_mid_extraction_is_cleaned(tmp_path, monkeypatch):
    archive = write_tgz(tmp_path / "ok.tar.gz", [dir_("ro", mode=0o500), reg("ro/f", b"x")] + GOOD)

    def interrupted(self, name, target):
        raise KeyboardInterrupt

    monkeypatch.setattr(_archive._Writer, "symlink", interrupted)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(KeyboardInterrupt):
        extract(str(archive), str(work / "dest"))
    assert os.listdir(str(work)) == []


def test_failure_after_read_only_dirs_applied_is_cleaned(tmp_path, monkeypatch):
    archive = write_tgz(tmp_path / "ok.tar.gz", [dir_("ro", mode=0o500), dir_("ro/inner", mode=0o500), reg("ro/inner/f", b"x")])

    def failing_rename(src, dst):
        raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))

    monkeypatch.setattr(_archive.os, "rename", failing_rename)
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(ArchiveError, match="cannot finish extraction"):
        extract(str(archive), str(work / "dest"))
    monkeypatch.undo()
    assert os.listdir(str(work)) == []


# ---------------------------------------------------------------- good archives


def _make_tree(root):
    (root / "bin").mkdir(parents=True)
    (root / "etc" / "app").mkdir(parents=True)
    (root / "lib").mkdir()
    script = root / "bin" / "deploy.sh"
    script.write_text("#!/bin/sh\necho ${BUCKET_NAME} ${REPO_NAME}\n")
    script.chmod(0o755)
    conf = root / "etc" / "app" / "conf"
    conf.write_text("bucket=${BUCKET_NAME}\n")
    conf.chmod(0o640)
    (root / "lib" / "tool.py").write_text("print('hi')\n")
    (root / "bin" / "tool").symlink_to("../lib/tool.py")
    (root / "etc" / "app" / "top").symlink_to("../..")
    (root / "repo-info").write_text("name: demo\n")
    return root


def _check_tree(dest):
    assert stat.S_IMODE(os.stat(str(dest / "bin" / "deploy.sh")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(str(dest / "etc" / "app" / "conf")).st_mode) == 0o640
    assert os.readlink(str(dest / "bin" / "tool")) == "../lib/tool.py"
    assert (dest / "bin" / "tool").read_text() == "print('hi')\n"
    assert os.readlink(str(dest / "etc" / "app" / "top")) == "../.."
    assert os.path.samefile(str(dest / "etc" / "app" / "top"), str(dest))
    assert (dest / "repo-info").read_text() == "name: demo\n"


def test_tar_czf_style_dot_prefix(tmp_path):
    src = _make_tree(tmp_path / "src")
    archive = tmp_path / "dot.tar.gz"
    with tarfile.open(str(archive), "w:gz") as tar:
        tar.add(str(src), arcname=".")
    with tarfile.open(str(archive)) as tar:
        names = tar.getnames()
    assert names[0] == "." and "./bin/deploy.sh" in names
    dest = tmp_path / "dest"
    result = extract(str(archive), str(dest))
    _check_tree(dest)
    assert sorted(result.files) == ["bin/deploy.sh", "etc/app/conf", "lib/tool.py", "repo-info"]
    assert result.members == 10
    sources = (src / "bin" / "deploy.sh", src / "etc" / "app" / "conf", src / "lib" / "tool.py", src / "repo-info")
    assert result.total_size == sum(len(p.read_bytes()) for p in sources)
    assert scan(str(archive)) == result
    assert stat.S_IMODE(os.stat(str(dest)).st_mode) == 0o755
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith(".")] == []


def test_system_tar_archive_extracts(tmp_path):
    tar_cli = shutil.which("tar")
    if tar_cli is None:
        pytest.skip("no tar command")
    src = _make_tree(tmp_path / "src")
    src.chmod(0o755)
    archive = tmp_path / "cli.tar.gz"
    subprocess.run([tar_cli, "czf", str(archive), "-C", str(src), "."], check=True)
    dest = tmp_path / "dest"
    extract(str(archive), str(dest))
    _check_tree(dest)
    subprocess.run([tar_cli, "czf", str(tmp_path / "etc.tar.gz"), "-C", str(src), "./etc", "bin"], check=True)
    result = extract(str(tmp_path / "etc.tar.gz"), str(tmp_path / "dest2"))
    assert sorted(result.files) == ["bin/deploy.sh", "etc/app/conf"]


def test_modes_mtimes_and_symlinks(tmp_path):
    members = [
        dir_("app", mode=0o750),
        reg("app/run.sh", b"#!/bin/sh\n", mode=0o755),
        reg("app/world", b"w", mode=0o666),
        reg("app/secret", b"s", mode=0o400),
        dir_("app/ro", mode=0o555),
        reg("app/ro/inside", b"i", mode=0o644),
        sym("app/current", "ro/inside"),
        sym("app/here", "."),
        sym("app/ro/back", "../run.sh"),
    ]
    archive = write_tgz(tmp_path / "modes.tar.gz", members)
    dest = tmp_path / "dest"
    extract(str(archive), str(dest))

    def mode(path):
        return stat.S_IMODE(os.lstat(str(dest / path)).st_mode)

    assert mode("app") == 0o750
    assert mode("app/run.sh") == 0o755
    assert mode("app/world") == 0o666
    assert mode("app/secret") == 0o400
    assert mode("app/ro") == 0o555
    assert os.stat(str(dest / "app" / "run.sh")).st_mtime == MTIME
    assert os.stat(str(dest / "app" / "ro")).st_mtime == MTIME
    assert (dest / "app" / "current").read_bytes() == b"i"
    assert (dest / "app" / "ro" / "back").read_bytes() == b"#!/bin/sh\n"
    assert os.path.samefile(str(dest / "app" / "here"), str(dest / "app"))


def test_implicit_parent_directories(tmp_path):
    archive = write_tgz(tmp_path / "implied.tar.gz", [reg("a/b/c.txt", b"c"), reg("a/d.txt", b"d"), dir_("a/b", mode=0o700)])
    dest = tmp_path / "dest"
    result = extract(str(archive), str(dest))
    assert (dest / "a" / "b" / "c.txt").read_bytes() == b"c"
    assert stat.S_IMODE(os.stat(str(dest / "a")).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(str(dest / "a" / "b")).st_mode) == 0o700
    assert result.members == 4
    assert result.files == ["a/b/c.txt", "a/d.txt"]


def test_empty_archive(tmp_path):
    archive = write_tgz(tmp_path / "empty.tar.gz", [])
    result = extract(str(archive), str(tmp_path / "dest"))
    assert result.members == 0 and os.listdir(str(tmp_path / "dest")) == []


def test_gnu_long_names_accepted(tmp_path):
    deep = "/".join(["n" * 60] * 5)
    archive = write_tgz(tmp_path / "gnu.tar.gz", [reg("long/" + deep, b"x"), sym("long/l", deep)], fmt=tarfile.GNU_FORMAT)
    dest = tmp_path / "dest"
    extract(str(archive), str(dest))
    assert (dest / "long" / "l").read_bytes() == b"x"


# ---------------------------------------------------------------- read_member


def test_read_member(tmp_path):
    archive = write_tgz(tmp_path / "r.tar.gz", [dir_("."), reg("./repo-info", b"name: x\n"), dir_("./d"), reg("./big", b"b" * 100)])
    assert read_member(str(archive), "repo-info") == b"name: x\n"
    assert read_member(str(archive), "./repo-info") == b"name: x\n"
    assert read_member(str(archive), "absent") is None
    with pytest.raises(ArchiveError, match=re.escape("'./big': size 100 is larger than the limit of 10")):
        read_member(str(archive), "big", max_size=10)
    with pytest.raises(ArchiveError, match=re.escape("'./d': is a directory, not a regular file")):
        read_member(str(archive), "d")
    with pytest.raises(ArchiveError, match=re.escape("'../x'")):
        read_member(str(archive), "../x")


def test_read_member_refuses_hostile_members_before_it(tmp_path):
    archive = write_tgz(tmp_path / "r.tar.gz", [reg("../evil", b"x"), reg("repo-info", b"n")])
    with pytest.raises(ArchiveError, match=re.escape("'../evil'")):
        read_member(str(archive), "repo-info")


# ---------------------------------------------------------------- pack


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_pack_is_deterministic(tmp_path):
    src = _make_tree(tmp_path / "src")
    out1, out2 = tmp_path / "one.tar.gz", tmp_path / "two.tar.gz"
    pack([(str(src), ".")], str(out1))
    for path in (src / "bin" / "deploy.sh", src / "lib" / "tool.py", src / "etc"):
        os.utime(str(path), (1234567, 1234567))
    pack([(str(src), ".")], str(out2))
    assert _sha(out1) == _sha(out2)
    data = out1.read_bytes()
    assert data[:3] == b"\x1f\x8b\x08" and data[3] & 0x08 == 0 and data[4:8] == b"\0\0\0\0"
    with tarfile.open(str(out1)) as tar:
        infos = tar.getmembers()
    names = [i.name for i in infos]
    assert names == sorted(names, key=lambda n: n.split("/"))
    assert names[0] == "bin"
    assert all(i.uid == 0 and i.gid == 0 and i.uname == "" and i.gname == "" and i.mtime == 0 for i in infos)
    dest = tmp_path / "dest"
    extract(str(out1), str(dest))
    _check_tree(dest)
    assert [n for n in os.listdir(str(tmp_path)) if n.startswith(".")] == []


def test_pack_substitutes_only_in_deploy_and_upgrade(tmp_path):
    src = _make_tree(tmp_path / "src")
    (src / "etc" / "upgrade.sh").write_text("repo=${REPO_NAME} keep=${OTHER} ${BUCKET_NAME}${BUCKET_NAME}\n")
    out = tmp_path / "subst.tar.gz"
    subs = {"BUCKET_NAME": "my-bucket", "REPO_NAME": "${BUCKET_NAME}"}
    pack([(str(src), "payload"), (str(src / "repo-info"), "repo-info")], str(out), substitutions=subs)
    assert read_member(str(out), "payload/bin/deploy.sh") == b"#!/bin/sh\necho my-bucket ${BUCKET_NAME}\n"
    assert read_member(str(out), "payload/etc/upgrade.sh") == b"repo=${BUCKET_NAME} keep=${OTHER} my-bucketmy-bucket\n"
    assert read_member(str(out), "payload/etc/app/conf") == b"bucket=${BUCKET_NAME}\n"
    assert read_member(str(out), "repo-info") == b"name: demo\n"
    with tarfile.open(str(out)) as tar:
        assert tar.getmember("payload/bin/deploy.sh").mode == 0o755
    assert (src / "bin" / "deploy.sh").read_text() == "#!/bin/sh\necho ${BUCKET_NAME} ${REPO_NAME}\n"
    pack([(str(src), ".")], str(tmp_path / "other.tar.gz"), substitutions=subs, substitute_in=("conf",))
    assert read_member(str(tmp_path / "other.tar.gz"), "etc/app/conf") == b"bucket=my-bucket\n"
    assert b"${REPO_NAME}" in read_member(str(tmp_path / "other.tar.gz"), "bin/deploy.sh")


def test_pack_masks_special_bits(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "shared").mkdir()
    (src / "shared").chmod(0o2775)
    out = tmp_path / "o.tar.gz"
    pack([(str(src), ".")], str(out))
    with tarfile.open(str(out)) as tar:
        assert tar.getmember("shared").mode == 0o775
    scan(str(out))


@pytest.mark.parametrize("kind", ["fifo", "abs-link", "escaping-link", "duplicate", "bad-name"])
def test_pack_refusals_leave_nothing(tmp_path, kind):
    src = _make_tree(tmp_path / "src")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    entries = [(str(src), ".")]
    member = None
    if kind == "fifo":
        os.mkfifo(str(src / "pipe"))
        member = "pipe"
    elif kind == "abs-link":
        (src / "abs").symlink_to("/etc/passwd")
        member = "abs"
    elif kind == "escaping-link":
        (src / "lib" / "esc").symlink_to("../../outside")
        member = "lib/esc"
    elif kind == "duplicate":
        entries.append((str(src / "repo-info"), "./repo-info"))
        member = "./repo-info"
    else:
        entries = [(str(src / "repo-info"), "../repo-info")]
        member = "../repo-info"
    with pytest.raises(ArchiveError) as caught:
        pack(entries, str(out_dir / "x.tar.gz"))
    assert caught.value.member == member
    assert str(caught.value).startswith(str(out_dir / "x.tar.gz"))
    assert os.listdir(str(out_dir)) == []


def test_pack_single_files_with_implied_parents(tmp_path):
    src = _make_tree(tmp_path / "src")
    out = tmp_path / "files.tar.gz"
    pack([(str(src / "repo-info"), "repo-info"), (str(src / "bin" / "deploy.sh"), "scripts/deploy.sh")], str(out),
         substitutions={"BUCKET_NAME": "b", "REPO_NAME": "r"})
    result = scan(str(out))
    assert result.files == ["repo-info", "scripts/deploy.sh"]
    assert read_member(str(out), "scripts/deploy.sh") == b"#!/bin/sh\necho b r\n"
