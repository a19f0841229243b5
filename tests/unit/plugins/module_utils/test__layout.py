# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_repo/layout.py: object keys and ``sha256sum`` sidecars."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import LayoutError
from ansible_collections.fleetops.release.plugins.module_utils._repo import layout as _layout

DIGEST = "0123456789abcdef" * 4
OTHER = "fedcba9876543210" * 4
THIRD = "a" * 64
SRC = "s3://bkt/M/1.0.0/x.tar.gz.sha256"
MODULE_RULE = "expected 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit"
BIN_RULE = "is not valid (letters, digits, '.', '_', '+', '-'; no .tar.gz suffix)"


# ---------------------------------------------------------------- keys


def test_prefix():
    assert _layout.prefix("ModuleX", "developer") == "ModuleX/developer/"
    assert _layout.prefix("ModuleX", "1.2.0-rc1+b7") == "ModuleX/1.2.0-rc1+b7/"


def test_artifact_key():
    assert _layout.artifact_key("ModuleX", "1.2.0", "modulex-client") == "ModuleX/1.2.0/modulex-client.tar.gz"
    assert _layout.artifact_key("ModuleX", "developer", "a.b_c+d-e") == "ModuleX/developer/a.b_c+d-e.tar.gz"


def test_rel_key_uses_the_module_name():
    assert _layout.rel_key("ModuleX", "1.2.0") == "ModuleX/1.2.0/ModuleX.tar.gz"
    assert _layout.rel_key("Dist", "developer") == "Dist/developer/Dist.tar.gz"


def test_sha256_key():
    assert _layout.sha256_key("ModuleX/1.2.0/ModuleX.tar.gz") == "ModuleX/1.2.0/ModuleX.tar.gz.sha256"


def test_repo_info_key():
    assert _layout.repo_info_key("ModuleX", "1.2.0") == "ModuleX/1.2.0/repo-info"
    assert _layout.repo_info_key("Dist", "developer") == "Dist/developer/repo-info"


@pytest.mark.parametrize("module", ["", "..", "a/b", "-x", "a b", "x" * 129])
@pytest.mark.parametrize("build", [
    lambda m: _layout.prefix(m, "developer"),
    lambda m: _layout.artifact_key(m, "developer", "bin"),
    lambda m: _layout.rel_key(m, "developer"),
    lambda m: _layout.repo_info_key(m, "developer"),
], ids=["prefix", "artifact_key", "rel_key", "repo_info_key"])
def test_bad_module_name_is_refused(module, build):
    with pytest.raises(LayoutError) as exc:
        build(module)
    assert str(exc.value) == "module: not a valid module name: %s (value %r)" % (MODULE_RULE, module)


@pytest.mark.parametrize("channel, problem", [
    ("Developer", "channel names are case-sensitive: write 'developer'"),
    ("None", "'none' is not a channel: use 'developer' or a release tag"),
    ("1.0/x", "not a valid channel: expected 'developer' or a release tag of 1 to 128 letters, digits, '.', '_', '+' or '-', "
              "starting with a letter or digit"),
    ("", "not a valid channel: expected 'developer' or a release tag of 1 to 128 letters, digits, '.', '_', '+' or '-', "
         "starting with a letter or digit"),
    ("..", "not a valid channel: expected 'developer' or a release tag of 1 to 128 letters, digits, '.', '_', '+' or '-', "
           "starting with a letter or digit"),
])
def test_bad_channel_is_refused(channel, problem):
    for build in (_layout.prefix, _layout.rel_key, _layout.repo_info_key):
        with pytest.raises(LayoutError) as exc:
            build("ModuleX", channel)
        assert str(exc.value) == "channel: %s (value %r)" % (problem, channel)
    with pytest.raises(LayoutError) as exc:
        _layout.artifact_key("ModuleX", channel, "bin")
    assert str(exc.value) == "channel: %s (value %r)" % (problem, channel)


@pytest.mark.parametrize("bin_name", ["", None, "-x", ".hidden", "a/b", "a b", "x.tar.gz", "Modül", "x" * 129, "a:b"])
def test_bad_bin_name_is_refused(bin_name):
    with pytest.raises(LayoutError) as exc:
        _layout.artifact_key("ModuleX", "developer", bin_name)
    assert str(exc.value) == "artifact name %r %s" % (bin_name, BIN_RULE)


def test_longest_bin_name_is_accepted():
    assert _layout.artifact_key("M", "developer", "x" * 128) == "M/developer/" + "x" * 128 + ".tar.gz"


def test_bin_name_with_trailing_newline_is_refused():
    with pytest.raises(LayoutError) as exc:
        _layout.artifact_key("M", "developer", "x\n")
    assert str(exc.value) == "artifact name 'x\\n' %s" % BIN_RULE


def test_module_name_with_trailing_newline_is_refused():
    # validate_module_name uses fullmatch, so the module segment is safe
    with pytest.raises(LayoutError, match="not a valid module name"):
        _layout.rel_key("M\n", "developer")


# ---------------------------------------------------------------- split_key / bin_name_of


@pytest.mark.parametrize("key, expected", [
    ("ModuleX/developer/ModuleX.tar.gz", ("ModuleX", "developer", "ModuleX.tar.gz")),
    ("ModuleX/1.2.0/modulex-client.tar.gz.sha256", ("ModuleX", "1.2.0", "modulex-client.tar.gz.sha256")),
    ("Dist/1.0.0/repo-info", ("Dist", "1.0.0", "repo-info")),
])
def test_split_key(key, expected):
    assert _layout.split_key(key) == expected


@pytest.mark.parametrize("key", [
    "ModuleX/developer/",  # empty file part
    "ModuleX//x.tar.gz",  # empty channel
    "/developer/x.tar.gz",  # empty module
    "ModuleX/developer",  # too short
    "ModuleX/developer/sub/x.tar.gz",  # too deep
    "ModuleX/Developer/x.tar.gz",  # bad channel
    "ModuleX/none/x.tar.gz",  # bad channel
    "../developer/x.tar.gz",  # bad module
    "-x/developer/x.tar.gz",  # bad module
    "",
])
def test_split_key_outside_the_layout(key):
    assert _layout.split_key(key) is None


@pytest.mark.parametrize("filename, expected", [
    ("modulex-client.tar.gz", "modulex-client"),
    ("ModuleX.tar.gz", "ModuleX"),
    ("a.b_c+d-e.tar.gz", "a.b_c+d-e"),
    (".tar.gz", None),
    ("-x.tar.gz", None),
    ("a b.tar.gz", None),
    ("x.tar.gz.sha256", None),
    ("repo-info", None),
    ("x.tgz", None),
    ("x.TAR.GZ", None),
    ("x" * 129 + ".tar.gz", None),
])
def test_bin_name_of(filename, expected):
    assert _layout.bin_name_of(filename) == expected


def test_bin_name_of_refuses_a_newline():
    assert _layout.bin_name_of("x\n.tar.gz") is None


# ---------------------------------------------------------------- format_sha256


def test_format_sha256_writes_a_text_mode_line():
    assert _layout.format_sha256(DIGEST, "x.tar.gz") == DIGEST + "  x.tar.gz\n"


def test_format_sha256_lowercases():
    assert _layout.format_sha256(DIGEST.upper(), "x.tar.gz") == DIGEST + "  x.tar.gz\n"


@pytest.mark.parametrize("digest", ["", "0" * 63, "0" * 65, "g" * 64, " " + "0" * 63, "0" * 32])
def test_format_sha256_refuses_a_non_digest(digest):
    with pytest.raises(LayoutError) as exc:
        _layout.format_sha256(digest, "x.tar.gz")
    assert str(exc.value) == "not a sha256 hex digest: %r" % (digest,)


def test_format_sha256_round_trips_through_parse_sha256():
    line = _layout.format_sha256(DIGEST, "modulex-client.tar.gz")
    assert _layout.parse_sha256(line.encode("ascii"), SRC, "modulex-client.tar.gz") == DIGEST


def test_format_sha256_refuses_a_digest_with_trailing_newline():
    with pytest.raises(LayoutError) as exc:
        _layout.format_sha256(DIGEST + "\n", "x.tar.gz")
    assert str(exc.value) == "not a sha256 hex digest: %r" % (DIGEST + "\n",)


# ---------------------------------------------------------------- parse_sha256


@pytest.mark.parametrize("text", [
    DIGEST + "  x.tar.gz\n",  # text mode
    DIGEST + " *x.tar.gz\n",  # binary mode
    DIGEST + "  ./x.tar.gz\n",
    DIGEST + "  dist/x.tar.gz\n",
    DIGEST + " */abs/path/x.tar.gz",
    DIGEST + "  x.tar.gz",  # no final newline
    DIGEST + "  x.tar.gz\r\n",  # CRLF
    "   " + DIGEST + "\tx.tar.gz  \n",  # stray whitespace
    "\\" + DIGEST + "  x.tar.gz\n",  # sha256sum's escaped form
], ids=["text", "binary", "dot-slash", "dir", "binary-abs", "no-newline", "crlf", "whitespace", "escaped"])
def test_parse_sha256_forms(text):
    assert _layout.parse_sha256(text, SRC, "x.tar.gz") == DIGEST
    assert _layout.parse_sha256(text.encode("utf-8"), SRC, "x.tar.gz") == DIGEST


def test_parse_sha256_picks_the_line_of_the_file():
    text = "%s  a.tar.gz\n%s  dist/x.tar.gz\n%s  x.tar.gz.sig\n" % (OTHER, DIGEST, THIRD)
    assert _layout.parse_sha256(text, SRC, "x.tar.gz") == DIGEST
    assert _layout.parse_sha256(text, SRC, "a.tar.gz") == OTHER
    assert _layout.parse_sha256(text, SRC, "x.tar.gz.sig") == THIRD


def test_parse_sha256_does_not_match_a_suffix_of_another_name():
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256("%s  prefix-x.tar.gz\n" % OTHER, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: no checksum for 'x.tar.gz' (the file lists 'prefix-x.tar.gz')" % SRC


@pytest.mark.parametrize("text", [DIGEST, DIGEST + "\n", "\n  " + DIGEST + "  \n\n", DIGEST.upper() + "\n"])
def test_parse_sha256_bare_digest(text):
    assert _layout.parse_sha256(text, SRC, "x.tar.gz") == DIGEST


@pytest.mark.parametrize("text", [
    "%s\n%s  x.tar.gz\n" % (DIGEST, OTHER),
    "%s  y.tar.gz\n%s\n" % (OTHER, DIGEST),
])
def test_parse_sha256_bare_digest_among_several_lines_is_ambiguous(text):
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(text, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: a bare digest among several lines is ambiguous" % SRC


def test_parse_sha256_wrong_file_names_the_listed_files():
    text = "%s  y.tar.gz\n%s *dist/z.tar.gz\n" % (DIGEST, OTHER)
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(text, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: no checksum for 'x.tar.gz' (the file lists 'y.tar.gz', 'dist/z.tar.gz')" % SRC


def test_parse_sha256_wrong_file_lists_at_most_five_names():
    text = "".join("%s  f%d.tar.gz\n" % (DIGEST, n) for n in range(8))
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(text, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: no checksum for 'x.tar.gz' (the file lists %s)" % (
        SRC, ", ".join("'f%d.tar.gz'" % n for n in range(5)))


@pytest.mark.parametrize("text", ["", b"", "\n\n", "   \n\t\n", "# only a comment\n", b"# a\n  # b\n"])
def test_parse_sha256_empty(text):
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(text, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: checksum file is empty" % SRC


@pytest.mark.parametrize("data", [b"\xff\xfe" + DIGEST.encode() + b"  x.tar.gz\n", DIGEST.encode() + b"  x\xe9.tar.gz\n"])
def test_parse_sha256_not_utf8(data):
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(data, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: checksum file is not UTF-8 text" % SRC
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


@pytest.mark.parametrize("line", [
    "z" * 64 + "  x.tar.gz",
    "0" * 63 + "  x.tar.gz",
    "0" * 65 + "  x.tar.gz",
    "SHA256 (x.tar.gz) = " + DIGEST,  # BSD style is not sha256sum output
    "<html><body>Access Denied</body></html>",
])
def test_parse_sha256_not_hex(line):
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(line + "\n", SRC, "x.tar.gz")
    assert str(exc.value) == "%s: not a sha256sum line: %r" % (SRC, line)


def test_parse_sha256_quotes_at_most_100_characters_of_a_bad_line():
    line = "nothex " + "y" * 300
    with pytest.raises(LayoutError) as exc:
        _layout.parse_sha256(line, SRC, "x.tar.gz")
    assert str(exc.value) == "%s: not a sha256sum line: %r" % (SRC, line[:100])


def test_parse_sha256_normalises_uppercase_hex():
    assert _layout.parse_sha256(DIGEST.upper() + "  x.tar.gz\n", SRC, "x.tar.gz") == DIGEST
    assert _layout.parse_sha256("AbCdEf0123456789" * 4 + " *x.tar.gz", SRC, "x.tar.gz") == "abcdef0123456789" * 4


def test_parse_sha256_skips_comment_lines():
    text = "# produced by CI\n   # indented comment\n%s  x.tar.gz\n# trailer\n" % DIGEST
    assert _layout.parse_sha256(text, SRC, "x.tar.gz") == DIGEST
    # a comment does not make a bare digest ambiguous
    assert _layout.parse_sha256("# sha256 of x.tar.gz\n" + DIGEST + "\n", SRC, "x.tar.gz") == DIGEST


@pytest.mark.parametrize("value,expected", [
    (None, ".fleetops/locks/"), ("", ""), ("/", ""), ("audit", "audit/"), ("/team/audit/", "team/audit/"), ("a//", "a/"),
])
def test_key_prefix_is_normalised_once(value, expected):
    from ansible_collections.fleetops.release.plugins.module_utils._repo.layout import key_prefix

    assert key_prefix(value, ".fleetops/locks/") == expected
