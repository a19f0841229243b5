# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for parsing, validating and resolving repo-info documents."""

from __future__ import annotations

import dataclasses
import re
import textwrap

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.module_utils._errors import RepoInfoError
from ansible_collections.fleetops.release.plugins.module_utils._repo.repoinfo import (
    MAX_BYTES,
    DistInfo,
    RelInfo,
    Resolution,
    Step,
    parse,
    parse_dist,
    parse_rel,
    resolve,
)

SRC = "s3://projectx/ProjectX.dist/2.0.0/repo-info"


def doc(text):
    return textwrap.dedent(text).lstrip("\n")


def rel_error(text, source=SRC):
    with pytest.raises(RepoInfoError) as exc:
        parse_rel(doc(text), source)
    return exc.value


def dist_error(text, source=SRC):
    with pytest.raises(RepoInfoError) as exc:
        parse_dist(doc(text), source)
    return exc.value


# ---------------------------------------------------------------------------
# Literal forms
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("written, expected", [
    ("developer", "developer"),
    ("[developer]", "developer"),
    ("[ developer ]", "developer"),
    ("'developer'", "developer"),
    ("1.2.0", "1.2.0"),
    ("[1.2.0]", "1.2.0"),
    ("v1.2.0", "v1.2.0"),
    ("1.10", "1.10"),
    ("[1.10]", "1.10"),
    ("2", "2"),
    ("1.0", "1.0"),
    ("1.2.0-rc1", "1.2.0-rc1"),
])
def test_channel_literal_forms(written, expected):
    info = parse_rel("rel_branch: %s\nsrc_branch: %s\n" % (written, written), SRC)
    assert info.rel_branch == expected
    assert info.src_branch == expected
    assert info.depend_list == ()


@pytest.mark.parametrize("written", ["none", "None", "NONE", "[none]", "[None]", "~", "[~]", "null", "", "[]"])
def test_none_forms_mean_no_entries(written):
    rel = parse_rel("rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: %s\n" % written, SRC)
    assert rel.depend_list == ()
    dist = parse_dist("rel_branch: 1.0.0\nsub_repo: %s\nupgrade_list: %s\n" % (written, written), SRC)
    assert dist.sub_repo == ()
    assert dist.upgrade_list == ()


def test_optional_keys_default_to_none():
    assert parse_rel("rel_branch: developer\nsrc_branch: developer\n", SRC).depend_list == ()
    assert parse_dist("rel_branch: developer\nsub_repo: none\n", SRC).upgrade_list == ()


def test_plain_yaml_would_break_versions():
    # Why the loader keeps scalars as text: a YAML float turns the tag 1.10 into 1.1.
    assert yaml.safe_load("v: 1.10")["v"] == 1.1


def test_numbers_stay_strings():
    rel = parse_rel(doc("""
        rel_branch: 1.10
        src_branch: 2
        depend_list:
          LibA: 1.10
          LibB: 2
          LibC: 1.0
          LibD: 010
          LibE: 1e3
          LibF: 0x1F
          LibG: 2024-01-15
          LibH: [1.20]
          2048: 1.0.0
        """), SRC)
    assert rel.rel_branch == "1.10"
    assert rel.src_branch == "2"
    assert rel.depend_list == (
        ("LibA", "1.10"), ("LibB", "2"), ("LibC", "1.0"), ("LibD", "010"), ("LibE", "1e3"),
        ("LibF", "0x1F"), ("LibG", "2024-01-15"), ("LibH", "1.20"), ("2048", "1.0.0"),
    )
    assert all(isinstance(version, str) for dummy, version in rel.depend_list)


def test_words_that_yaml_1_1_reads_as_booleans_stay_strings():
    rel = parse_rel("rel_branch: yes\nsrc_branch: off\ndepend_list: {true: on, No: y}\n", SRC)
    assert (rel.rel_branch, rel.src_branch) == ("yes", "off")
    assert rel.depend_list == (("true", "on"), ("No", "y"))


def test_sub_repo_order_is_preserved():
    names = ["Zeta", "alpha", "Mid", "beta", "A1", "z0"]
    text = "rel_branch: 3.0.0\nsub_repo:\n" + "".join("  %s: 1.%d.0\n" % (name, i) for i, name in enumerate(names))
    text += "upgrade_list:\n  z0: 2.0.0\n  Zeta: 2.0.0\n"
    dist = parse_dist(text, SRC)
    assert [module for module, dummy in dist.sub_repo] == names
    assert dist.upgrade_list == (("z0", "2.0.0"), ("Zeta", "2.0.0"))
    as_dict = dist.to_dict()
    assert list(as_dict["sub_repo"]) == names
    assert as_dict == {
        "source": SRC,
        "rel_branch": "3.0.0",
        "sub_repo": {"%s" % name: "1.%d.0" % i for i, name in enumerate(names)},
        "upgrade_list": {"z0": "2.0.0", "Zeta": "2.0.0"},
    }


def test_flow_mapping_and_developer_in_sub_repo():
    dist = parse_dist("rel_branch: developer\nsub_repo: {ModuleA: developer, ModuleB: [1.0.0]}\nupgrade_list: {ModuleA: developer}\n", SRC)
    assert dist.sub_repo == (("ModuleA", "developer"), ("ModuleB", "1.0.0"))
    assert dist.upgrade_list == (("ModuleA", "developer"),)


def test_rel_to_dict():
    rel = parse_rel("rel_branch: 1.2.0\nsrc_branch: 1.2.1\ndepend_list:\n  LibB: 2.0.0\n  LibA: 1.0.0\n", "ModuleX/1.2.0/repo-info")
    assert rel == RelInfo("ModuleX/1.2.0/repo-info", "1.2.0", "1.2.1", (("LibB", "2.0.0"), ("LibA", "1.0.0")))
    assert rel.to_dict() == {
        "source": "ModuleX/1.2.0/repo-info",
        "rel_branch": "1.2.0",
        "src_branch": "1.2.1",
        "depend_list": {"LibB": "2.0.0", "LibA": "1.0.0"},
    }
    assert list(rel.to_dict()["depend_list"]) == ["LibB", "LibA"]


def test_bytes_input_and_bom():
    rel = parse_rel(b"\xef\xbb\xbfrel_branch: 1.0.0\nsrc_branch: developer\n", SRC)
    assert (rel.rel_branch, rel.src_branch) == ("1.0.0", "developer")


def test_comments_and_document_marker():
    dist = parse_dist("# ProjectX 2.0\n---\nrel_branch: 2.0.0   # the tag\nsub_repo:\n  ModuleA: 1.0.0  # first\n...\n", SRC)
    assert dist.sub_repo == (("ModuleA", "1.0.0"),)


def test_dataclasses_are_frozen():
    rel = parse_rel("rel_branch: 1.0.0\nsrc_branch: 1.0.0\n", SRC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rel.rel_branch = "2.0.0"


# ---------------------------------------------------------------------------
# Kind detection
# ---------------------------------------------------------------------------

def test_parse_detects_the_kind():
    assert isinstance(parse("rel_branch: 1.0.0\nsrc_branch: 1.0.0\n", SRC), RelInfo)
    assert isinstance(parse("rel_branch: 1.0.0\ndepend_list: none\nsrc_branch: 1.0.0\n", SRC), RelInfo)
    assert isinstance(parse("rel_branch: 1.0.0\nsub_repo: none\n", SRC), DistInfo)
    assert isinstance(parse("rel_branch: 1.0.0\nupgrade_list: none\nsub_repo: none\n", SRC), DistInfo)


def test_parse_with_explicit_kind():
    assert isinstance(parse("rel_branch: 1.0.0\nsub_repo: none\n", SRC, kind="dist"), DistInfo)
    with pytest.raises(RepoInfoError) as exc:
        parse("rel_branch: 1.0.0\nsub_repo: none\n", SRC, kind="rel")
    assert str(exc.value) == (
        SRC + ": key 'sub_repo': unknown key in a REL repo-info; expected rel_branch, src_branch, depend_list "
        "(sub_repo belongs in a DIST repo-info)")
    with pytest.raises(ValueError):
        parse("rel_branch: 1.0.0\n", SRC, kind="REL")


def test_parse_refuses_a_mixed_document():
    with pytest.raises(RepoInfoError) as exc:
        parse("rel_branch: 1.0.0\nsrc_branch: 1.0.0\nsub_repo: none\n", SRC)
    assert str(exc.value) == (
        SRC + ": key 'sub_repo': mixes REL keys (src_branch) with DIST keys (sub_repo); a repo-info is one or the other")


def test_parse_refuses_an_undecidable_document():
    with pytest.raises(RepoInfoError) as exc:
        parse("rel_branch: 1.0.0\n", SRC)
    assert str(exc.value) == (
        SRC + ": cannot tell a REL repo-info (src_branch, depend_list) from a DIST one (sub_repo, upgrade_list); keys found: 'rel_branch'")


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------

def test_yaml_syntax_error_names_line_and_column():
    # The seed's template writes "[none]" and then the entries: not valid YAML.
    err = dist_error("""
        rel_branch: developer
        sub_repo:  [none]
          repo_name1: 1.2.3
        """)
    assert str(err).startswith(SRC + ": invalid YAML at line 3, column 3: ")
    assert "expected <block end>" in str(err)
    assert err.source == SRC


def test_yaml_syntax_error_in_flow_list():
    err = rel_error("rel_branch: [developer\nsrc_branch: 1.0.0\n")
    assert re.match(re.escape(SRC) + r": invalid YAML at line \d+, column \d+: ", str(err))


def test_two_documents_are_refused():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\n---\nrel_branch: 2.0.0\n")
    assert str(err) == SRC + (": invalid YAML at line 3, column 1: expected a single document in the stream (line 1), "
                              "but found another document")


def test_control_character_is_refused_with_position():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1\x07\n")
    assert str(err) == SRC + ": invalid YAML at line 2, column 14: character #x0007 is not allowed"


@pytest.mark.parametrize("text, tag", [
    ("rel_branch: !!int 5\nsrc_branch: 1.0.0\n", "int"),
    ("rel_branch: !!float 1.10\nsrc_branch: 1.0.0\n", "float"),
    ("rel_branch: !!python/object:os.system x\nsrc_branch: 1.0.0\n", "python/object:os.system"),
    ("rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: !!set {A: ~}\n", "set"),
])
def test_explicit_tags_are_refused(text, tag):
    err = rel_error(text)
    assert "the tag tag:yaml.org,2002:%s is not allowed in repo-info" % tag in str(err)
    assert str(err).startswith(SRC + ": invalid YAML at line ")


def test_recursive_alias_is_refused():
    err = dist_error("rel_branch: 1.0.0\nsub_repo: &a [*a]\n")
    assert "invalid YAML at line 2" in str(err)


def test_deep_nesting_is_refused():
    err = dist_error("rel_branch: 1.0.0\nsub_repo: " + "[" * 20000 + "\n")
    assert str(err) == SRC + ": invalid YAML: nested too deeply"


def test_unknown_key():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\nowner: ops\n")
    assert str(err) == SRC + ": key 'owner': unknown key in a REL repo-info; expected rel_branch, src_branch, depend_list"
    assert err.key == "owner"


def test_unknown_key_suggests_the_close_one():
    err = dist_error("rel_branch: 1.0.0\nsub_repos: none\n")
    assert str(err) == SRC + ": key 'sub_repos': unknown key in a DIST repo-info; expected rel_branch, sub_repo, upgrade_list (did you mean sub_repo?)"
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepends: {A: 1.0.0}\n")
    assert str(err).endswith("key 'depends': unknown key in a REL repo-info; expected rel_branch, src_branch, depend_list (did you mean depend_list?)")
    err = rel_error("Rel_Branch: 1.0.0\nsrc_branch: 1.0.0\n")
    assert "key 'Rel_Branch': unknown key" in str(err) and "(did you mean rel_branch?)" in str(err)


def test_null_key_is_unknown():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\n~: x\n")
    assert str(err) == SRC + ": unknown key in a REL repo-info; expected rel_branch, src_branch, depend_list (line 3)"


def test_missing_required_keys():
    err = rel_error("rel_branch: 1.0.0\n")
    assert str(err) == SRC + ": key 'src_branch': missing required key in a REL repo-info"
    err = dist_error("rel_branch: 1.0.0\nupgrade_list: none\n")
    assert str(err) == SRC + ": key 'sub_repo': missing required key in a DIST repo-info"


@pytest.mark.parametrize("written", ["none", "[none]", "~", ""])
def test_rel_branch_cannot_be_none(written):
    err = rel_error("rel_branch: %s\nsrc_branch: 1.0.0\n" % written)
    assert str(err) == SRC + ": key 'rel_branch': none is not allowed here: expected one channel (developer or a release tag)"


def test_template_text_with_pipe():
    err = rel_error("rel_branch: [developer|rel_tag_info]\nsrc_branch: [developer|src_tag_info]\ndepend_list: [none]\n")
    assert str(err) == SRC + (": key 'rel_branch': holds the template's list of choices; choose one value: "
                              "expected one channel (developer or a release tag) (value 'developer|rel_tag_info')")
    assert err.key == "rel_branch"
    assert err.value == "developer|rel_tag_info"


def test_template_text_with_pipe_as_version():
    err = dist_error("rel_branch: 1.0.0\nsub_repo:\n  ModuleA: 1.0.0|1.1.0\n")
    assert str(err) == SRC + (": key 'sub_repo.ModuleA': holds the template's list of choices; choose one value: "
                              "expected one version (developer or a release tag) (value '1.0.0|1.1.0')")


def test_multi_element_list_for_a_channel():
    err = rel_error("rel_branch: [developer, 1.2.0]\nsrc_branch: 1.0.0\n")
    assert str(err) == SRC + (": key 'rel_branch': choose one value: expected one channel (developer or a release tag), "
                              "not a list of 2 entries (value ['developer', '1.2.0'])")


def test_multi_element_list_for_a_version():
    err = dist_error("rel_branch: 1.0.0\nsub_repo:\n  ModuleA: [1.0.0, 1.1.0]\n")
    assert "key 'sub_repo.ModuleA': choose one value" in str(err)
    assert "(value ['1.0.0', '1.1.0'])" in str(err)


def test_sub_repo_as_a_list_of_two_is_wrong_type():
    err = dist_error("""
        rel_branch: 1.0.0
        sub_repo:
          - ModuleA: 1.0.0
          - ModuleB: 2.0.0
        """)
    assert str(err) == SRC + (": key 'sub_repo': expected none or a mapping of module: version, not a list of 2 entries "
                              "(value [{'ModuleA': '1.0.0'}, {'ModuleB': '2.0.0'}])")


@pytest.mark.parametrize("text, key, problem, value", [
    ("rel_branch: 1.0.0\nsub_repo: 5\n", "sub_repo", "expected none or a mapping of module: version, not a string", "'5'"),
    ("rel_branch: 1.0.0\nsub_repo: ModuleA\n", "sub_repo", "expected none or a mapping of module: version, not a string", "'ModuleA'"),
    ("rel_branch: 1.0.0\nsub_repo: [{ModuleA: 1.0.0}]\n", "sub_repo",
     "expected none or a mapping of module: version, not a list holding a mapping", "[{'ModuleA': '1.0.0'}]"),
    ("rel_branch: {a: 1}\nsub_repo: none\n", "rel_branch", "expected one channel (developer or a release tag), not a mapping", "{'a': '1'}"),
    ("rel_branch: 1.0.0\nsub_repo:\n  ModuleA: {version: 1.0.0}\n", "sub_repo.ModuleA",
     "expected one version (developer or a release tag), not a mapping", "{'version': '1.0.0'}"),
    ("rel_branch: 1.0.0\nsub_repo:\n  ModuleA: [[1.0.0]]\n", "sub_repo.ModuleA",
     "expected one version (developer or a release tag), not a list holding a list of 1 entries", "[['1.0.0']]"),
])
def test_wrong_types_name_key_and_value(text, key, problem, value):
    err = dist_error(text)
    assert str(err) == "%s: key %r: %s (value %s)" % (SRC, key, problem, value)
    assert err.key == key


def test_missing_version_in_a_mapping():
    err = dist_error("rel_branch: 1.0.0\nsub_repo:\n  ModuleA:\n")
    assert str(err) == SRC + ": key 'sub_repo.ModuleA': missing version: expected one version (developer or a release tag)"


def test_invalid_module_name_and_version():
    err = dist_error("rel_branch: 1.0.0\nsub_repo:\n  ../etc: 1.0.0\n")
    assert str(err) == SRC + (": key 'sub_repo': not a valid module name: expected 1 to 128 letters, digits, '.', '_' or '-', "
                              "starting with a letter or digit (value '../etc')")
    err = dist_error("rel_branch: 1.0.0\nsub_repo:\n  ModuleA: 1.0/2\n")
    assert str(err).startswith(SRC + ": key 'sub_repo.ModuleA': not a valid channel: expected 'developer' or a release tag of ")
    assert str(err).endswith("(value '1.0/2')")
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: Developer\n")
    assert str(err) == SRC + ": key 'src_branch': channel names are case-sensitive: write 'developer' (value 'Developer')"


def test_module_name_must_be_text():
    err = dist_error("rel_branch: 1.0.0\nsub_repo:\n  ~: 1.0.0\n")
    assert str(err) == SRC + ": key 'sub_repo': a module name must be text, not NoneType"


def test_developer_in_depend_list():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list:\n  LibA: 1.0.0\n  LibB: developer\n")
    assert str(err) == SRC + ": key 'depend_list.LibB': dependencies must be release tags, never the developer channel (value 'developer')"
    assert (err.key, err.value) == ("depend_list.LibB", "developer")
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: {LibB: [developer]}\n")
    assert err.key == "depend_list.LibB"


def test_duplicate_module_in_sub_repo():
    err = dist_error("""
        rel_branch: 2.0.0
        sub_repo:
          ModuleA: 1.0.0
          ModuleB: 1.0.0
          ModuleA: 1.1.0
        """)
    assert str(err) == SRC + ": key 'sub_repo': ModuleA listed twice (lines 3 and 5)"


def test_duplicate_module_in_depend_list_even_with_the_same_version():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: {LibA: 1.0.0, LibA: 1.0.0}\n")
    assert str(err) == SRC + ": key 'depend_list': LibA listed twice (lines 3 and 3)"


def test_duplicate_top_level_key():
    err = rel_error("rel_branch: 1.0.0\nsrc_branch: 1.0.0\nrel_branch: 2.0.0\n")
    assert str(err) == SRC + ": key 'rel_branch': rel_branch given twice (lines 1 and 3)"


@pytest.mark.parametrize("text, what", [
    ("- rel_branch: 1.0.0\n", "a list of 1 entries (value [{'rel_branch': '1.0.0'}])"),
    ("developer\n", "a string (value 'developer')"),
])
def test_top_level_must_be_a_mapping(text, what):
    err = rel_error(text)
    assert str(err) == SRC + ": the top level must be a mapping of repo-info keys, not " + what


@pytest.mark.parametrize("text", ["", "   \n", "# only a comment\n", "---\n", "~\n", b""])
def test_empty_document(text):
    with pytest.raises(RepoInfoError) as exc:
        parse_rel(text, SRC)
    assert str(exc.value) == SRC + ": document is empty: expected a mapping with rel_branch and the other repo-info keys"


def test_oversize_document():
    text = "rel_branch: 1.0.0\nsrc_branch: 1.0.0\n" + "# padding\n" * 7000
    assert len(text) > MAX_BYTES
    err = rel_error(text)
    assert str(err) == SRC + ": document is larger than 65536 bytes (%d bytes)" % len(text)
    with pytest.raises(RepoInfoError, match="document is larger than 65536 bytes"):
        parse_rel(text.encode(), SRC)
    # Exactly at the limit is fine; multi-byte characters count as bytes.
    exact = "rel_branch: 1.0.0\nsrc_branch: 1.0.0\n"
    exact += "#" * (MAX_BYTES - len(exact))
    assert parse_rel(exact, SRC).rel_branch == "1.0.0"
    with pytest.raises(RepoInfoError, match="larger than"):
        parse_rel(exact[:-1] + "é", SRC)  # one byte over


def test_non_utf8_bytes():
    with pytest.raises(RepoInfoError) as exc:
        parse_rel(b"rel_branch: 1.0.0\nsrc_branch: caf\xe9\n", SRC)
    assert str(exc.value) == SRC + ": document is not valid UTF-8 text (bad byte at offset 33)"


def test_non_text_input_is_a_programming_error():
    with pytest.raises(TypeError):
        parse_rel(None, SRC)


# ---------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------

class Store:
    """A fake S3: REL repo-info texts by (module, version), counting loads."""

    def __init__(self, rels):
        self.rels = rels
        self.calls = []

    def __call__(self, module, version):
        self.calls.append((module, version))
        source = "s3://projectx/%s/%s/repo-info" % (module, version)
        if (module, version) not in self.rels:
            raise RepoInfoError(source, "no such module or version in the bucket")
        return parse_rel(self.rels[(module, version)], source)


def rel_text(version, deps=(), src=None):
    text = "rel_branch: %s\nsrc_branch: %s\n" % (version, src or version)
    if deps:
        text += "depend_list:\n" + "".join("  %s: %s\n" % dep for dep in deps)
    else:
        text += "depend_list: [none]\n"
    return text


def make_dist(sub_repo, upgrade_list=()):
    return DistInfo(SRC, "2.0.0", tuple(sub_repo), tuple(upgrade_list))


def plan(steps):
    return [(step.module, step.version, step.action) for step in steps]


def test_dependencies_come_before_dependants_in_sub_repo_order():
    store = Store({
        ("ModuleA", "2.0.0"): rel_text("2.0.0", [("LibX", "1.0.0"), ("LibY", "3.0.0")], src="2.0.1"),
        ("LibX", "1.0.0"): rel_text("1.0.0", [("LibZ", "0.1.0")]),
        ("LibY", "3.0.0"): rel_text("3.0.0"),
        ("LibZ", "0.1.0"): rel_text("0.1.0"),
        ("ModuleB", "developer"): rel_text("developer", [("LibY", "3.0.0")]),
    })
    result = resolve(make_dist([("ModuleB", "developer"), ("ModuleA", "2.0.0")]), store)
    assert plan(result.install) == [
        ("LibY", "3.0.0", "deploy"),
        ("ModuleB", "developer", "deploy"),
        ("LibZ", "0.1.0", "deploy"),
        ("LibX", "1.0.0", "deploy"),
        ("ModuleA", "2.0.0", "deploy"),
    ]
    assert result.upgrade == ()
    steps = {step.module: step for step in result.install}
    assert steps["ModuleA"] == Step("ModuleA", "2.0.0", "2.0.1", "deploy", ("dist",))
    assert steps["LibY"].required_by == ("ModuleB@developer", "ModuleA@2.0.0")
    assert steps["LibZ"].required_by == ("LibX@1.0.0",)
    assert result.tree == [
        {"module": "ModuleB", "version": "developer", "depends": [{"module": "LibY", "version": "3.0.0", "depends": []}]},
        {"module": "ModuleA", "version": "2.0.0", "depends": [
            {"module": "LibX", "version": "1.0.0", "depends": [{"module": "LibZ", "version": "0.1.0", "depends": []}]},
            {"module": "LibY", "version": "3.0.0", "depends": []},
        ]},
    ]


def test_diamond_dependency_is_placed_once_and_loaded_once():
    store = Store({
        ("App", "1.0.0"): rel_text("1.0.0", [("Left", "1.0.0"), ("Right", "1.0.0")]),
        ("Left", "1.0.0"): rel_text("1.0.0", [("Base", "1.0.0")]),
        ("Right", "1.0.0"): rel_text("1.0.0", [("Base", "1.0.0")]),
        ("Base", "1.0.0"): rel_text("1.0.0"),
    })
    result = resolve(make_dist([("App", "1.0.0"), ("Base", "1.0.0")]), store)
    assert plan(result.install) == [
        ("Base", "1.0.0", "deploy"), ("Left", "1.0.0", "deploy"), ("Right", "1.0.0", "deploy"), ("App", "1.0.0", "deploy"),
    ]
    assert result.install[0].required_by == ("Left@1.0.0", "Right@1.0.0", "dist")
    assert sorted(store.calls) == sorted(set(store.calls))
    assert len(store.calls) == 4
    # The tree shows the shared dependency under both branches.
    app = result.tree[0]
    assert [child["depends"][0]["module"] for child in app["depends"]] == ["Base", "Base"]


def test_load_rel_is_memoised_across_install_upgrade_and_tree():
    store = Store({
        ("ModuleA", "1.0.0"): rel_text("1.0.0", [("Lib", "1.0.0")]),
        ("ModuleB", "1.0.0"): rel_text("1.0.0", [("Lib", "1.0.0")]),
        ("Lib", "1.0.0"): rel_text("1.0.0"),
    })
    resolve(make_dist([("ModuleA", "1.0.0"), ("ModuleB", "1.0.0")], [("ModuleB", "1.0.0"), ("ModuleA", "1.0.0")]), store)
    assert sorted(store.calls) == [("Lib", "1.0.0"), ("ModuleA", "1.0.0"), ("ModuleB", "1.0.0")]


def test_empty_dist():
    store = Store({})
    result = resolve(make_dist([]), store)
    assert result == Resolution((), (), [])
    assert result.to_dict() == {"install": [], "upgrade": [], "tree": []}
    assert store.calls == []


def test_resolution_to_dict():
    store = Store({("ModuleA", "1.0.0"): rel_text("1.0.0", [("Lib", "2.0.0")], src="developer"), ("Lib", "2.0.0"): rel_text("2.0.0")})
    result = resolve(make_dist([("ModuleA", "1.0.0")], [("ModuleA", "1.0.0")]), store)
    data = result.to_dict()
    assert data == {
        "install": [
            {"module": "Lib", "version": "2.0.0", "src_branch": "2.0.0", "action": "deploy", "required_by": ["ModuleA@1.0.0"]},
            {"module": "ModuleA", "version": "1.0.0", "src_branch": "developer", "action": "deploy", "required_by": ["dist"]},
        ],
        "upgrade": [
            {"module": "Lib", "version": "2.0.0", "src_branch": "2.0.0", "action": "deploy", "required_by": ["ModuleA@1.0.0"]},
            {"module": "ModuleA", "version": "1.0.0", "src_branch": "developer", "action": "upgrade", "required_by": ["dist"]},
        ],
        "tree": [{"module": "ModuleA", "version": "1.0.0", "depends": [{"module": "Lib", "version": "2.0.0", "depends": []}]}],
    }
    data["tree"][0]["depends"].clear()
    assert result.tree[0]["depends"]  # to_dict() hands out a copy


def test_upgrade_steps_with_dependencies():
    store = Store({
        ("Core", "1.0.0"): rel_text("1.0.0", [("Lib", "1.0.0")]),
        ("Lib", "1.0.0"): rel_text("1.0.0"),
        ("Web", "1.1.0"): rel_text("1.1.0"),
        ("Web", "1.2.0"): rel_text("1.2.0", [("Cache", "0.5.0"), ("Lib", "1.0.0")]),
        ("Cache", "0.5.0"): rel_text("0.5.0", [("Lib", "1.0.0")]),
        ("Api", "3.0.0"): rel_text("3.0.0", [("Cache", "0.5.0")]),
    })
    # Web in sub_repo at 1.1.0 and upgrade_list at 1.2.0: the upgrade target, not a conflict.
    result = resolve(make_dist([("Core", "1.0.0"), ("Web", "1.1.0")], [("Web", "1.2.0"), ("Api", "3.0.0")]), store)
    assert plan(result.install) == [("Lib", "1.0.0", "deploy"), ("Core", "1.0.0", "deploy"), ("Web", "1.1.0", "deploy")]
    assert plan(result.upgrade) == [
        ("Lib", "1.0.0", "deploy"),
        ("Cache", "0.5.0", "deploy"),
        ("Web", "1.2.0", "upgrade"),
        ("Api", "3.0.0", "upgrade"),
    ]
    upgrade = {step.module: step for step in result.upgrade}
    assert upgrade["Cache"].required_by == ("Web@1.2.0", "Api@3.0.0")
    assert upgrade["Lib"].required_by == ("Cache@0.5.0", "Web@1.2.0")  # discovery order: Cache is walked first
    assert upgrade["Web"].required_by == ("dist",)


def test_upgrade_entry_needed_by_an_earlier_entry_is_placed_first_as_upgrade():
    store = Store({
        ("App", "2.0.0"): rel_text("2.0.0", [("Lib", "1.1.0")]),
        ("Lib", "1.1.0"): rel_text("1.1.0"),
    })
    result = resolve(make_dist([], [("App", "2.0.0"), ("Lib", "1.1.0")]), store)
    assert plan(result.upgrade) == [("Lib", "1.1.0", "upgrade"), ("App", "2.0.0", "upgrade")]
    assert result.upgrade[0].required_by == ("App@2.0.0", "dist")


def test_two_depend_lists_disagree():
    store = Store({
        ("ModuleA", "2.0.0"): rel_text("2.0.0", [("ModuleC", "1.0.0")]),
        ("ModuleB", "1.0.0"): rel_text("1.0.0", [("ModuleC", "1.1.0")]),
        ("ModuleC", "1.0.0"): rel_text("1.0.0"),
        ("ModuleC", "1.1.0"): rel_text("1.1.0"),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "2.0.0"), ("ModuleB", "1.0.0")]), store)
    assert str(exc.value) == SRC + ": key 'sub_repo': ModuleC required at 1.0.0 by ModuleA@2.0.0 and at 1.1.0 by ModuleB@1.0.0"
    assert ("ModuleC", "1.1.0") not in store.calls


def test_sub_repo_and_depend_list_disagree():
    store = Store({
        ("ModuleC", "1.0.0"): rel_text("1.0.0"),
        ("ModuleC", "1.1.0"): rel_text("1.1.0"),
        ("ModuleA", "2.0.0"): rel_text("2.0.0", [("ModuleC", "1.1.0")]),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleC", "1.0.0"), ("ModuleA", "2.0.0")]), store)
    assert str(exc.value) == SRC + ": key 'sub_repo': ModuleC required at 1.0.0 by sub_repo and at 1.1.0 by ModuleA@2.0.0"
    # The other way round: the dependency is met first.
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "2.0.0"), ("ModuleC", "1.0.0")]), Store(store.rels))
    assert str(exc.value) == SRC + ": key 'sub_repo': ModuleC required at 1.1.0 by ModuleA@2.0.0 and at 1.0.0 by sub_repo"


def test_upgrade_target_pinned_differently_by_an_installed_dependency():
    store = Store({
        ("ModuleA", "2.0.0"): rel_text("2.0.0", [("ModuleC", "1.0.0")]),
        ("ModuleC", "1.0.0"): rel_text("1.0.0"),
        ("ModuleC", "1.1.0"): rel_text("1.1.0"),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "2.0.0"), ("ModuleC", "1.0.0")], [("ModuleC", "1.1.0")]), store)
    assert str(exc.value) == SRC + ": key 'upgrade_list': ModuleC required at 1.0.0 by ModuleA@2.0.0 and at 1.1.0 by upgrade_list"


def test_upgrade_dependency_conflicts_with_sub_repo():
    store = Store({
        ("Web", "1.2.0"): rel_text("1.2.0", [("Lib", "2.0.0")]),
        ("Lib", "1.0.0"): rel_text("1.0.0"),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("Lib", "1.0.0")], [("Web", "1.2.0")]), store)
    assert str(exc.value) == SRC + ": key 'upgrade_list': Lib required at 1.0.0 by sub_repo and at 2.0.0 by Web@1.2.0"


def test_upgrade_dependency_conflicts_with_a_later_upgrade_entry():
    store = Store({
        ("Web", "1.2.0"): rel_text("1.2.0", [("Lib", "2.0.0")]),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([], [("Web", "1.2.0"), ("Lib", "2.1.0")]), store)
    assert str(exc.value) == SRC + ": key 'upgrade_list': Lib required at 2.1.0 by upgrade_list and at 2.0.0 by Web@1.2.0"


def test_upgrade_dependencies_disagree_within_the_upgrade_set():
    store = Store({
        ("Web", "1.2.0"): rel_text("1.2.0", [("Lib", "2.0.0")]),
        ("Api", "1.0.0"): rel_text("1.0.0", [("Lib", "2.1.0")]),
        ("Lib", "2.0.0"): rel_text("2.0.0"),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([], [("Web", "1.2.0"), ("Api", "1.0.0")]), store)
    assert str(exc.value) == SRC + ": key 'upgrade_list': Lib required at 2.0.0 by Web@1.2.0 and at 2.1.0 by Api@1.0.0"


def test_two_long_cycle():
    store = Store({
        ("ModuleA", "1.0.0"): rel_text("1.0.0", [("ModuleB", "1.0.0")]),
        ("ModuleB", "1.0.0"): rel_text("1.0.0", [("ModuleA", "1.0.0")]),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "1.0.0")]), store)
    assert str(exc.value) == SRC + ": key 'sub_repo': dependency cycle: ModuleA@1.0.0 -> ModuleB@1.0.0 -> ModuleA@1.0.0"


def test_three_long_cycle_below_the_top():
    store = Store({
        ("Top", "1.0.0"): rel_text("1.0.0", [("ModuleA", "1.0.0")]),
        ("ModuleA", "1.0.0"): rel_text("1.0.0", [("ModuleB", "2.0.0")]),
        ("ModuleB", "2.0.0"): rel_text("2.0.0", [("ModuleC", "3.0.0")]),
        ("ModuleC", "3.0.0"): rel_text("3.0.0", [("ModuleA", "1.0.0")]),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("Top", "1.0.0")]), store)
    assert str(exc.value) == SRC + ": key 'sub_repo': dependency cycle: ModuleA@1.0.0 -> ModuleB@2.0.0 -> ModuleC@3.0.0 -> ModuleA@1.0.0"


def test_cycle_in_the_upgrade_set():
    store = Store({
        ("ModuleA", "1.0.0"): rel_text("1.0.0", [("ModuleB", "1.0.0")]),
        ("ModuleB", "1.0.0"): rel_text("1.0.0", [("ModuleA", "1.0.0")]),
    })
    with pytest.raises(RepoInfoError, match=r"key 'upgrade_list': dependency cycle: ModuleB@1\.0\.0 -> ModuleA@1\.0\.0 -> ModuleB@1\.0\.0$"):
        resolve(make_dist([], [("ModuleB", "1.0.0")]), store)


def test_self_dependency_is_a_cycle():
    store = Store({("ModuleA", "1.0.0"): rel_text("1.0.0", [("ModuleA", "1.0.0")])})
    with pytest.raises(RepoInfoError, match=r"dependency cycle: ModuleA@1\.0\.0 -> ModuleA@1\.0\.0$"):
        resolve(make_dist([("ModuleA", "1.0.0")]), store)


def test_cycle_back_to_another_version_is_a_conflict():
    store = Store({
        ("ModuleA", "1.0.0"): rel_text("1.0.0", [("ModuleB", "1.0.0")]),
        ("ModuleB", "1.0.0"): rel_text("1.0.0", [("ModuleA", "0.9.0")]),
    })
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "1.0.0")]), store)
    assert str(exc.value) == SRC + ": key 'sub_repo': ModuleA required at 1.0.0 by sub_repo and at 0.9.0 by ModuleB@1.0.0"


def test_rel_branch_mismatch():
    store = Store({("ModuleA", "1.2.0"): rel_text("1.1.0")})
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "1.2.0")]), store)
    assert str(exc.value) == ("s3://projectx/ModuleA/1.2.0/repo-info: key 'rel_branch': this REL repo-info was published as "
                              "ModuleA@1.2.0 but its rel_branch says 1.1.0 (value '1.1.0')")


def test_missing_module_error_propagates_unchanged():
    store = Store({("ModuleA", "1.0.0"): rel_text("1.0.0", [("Gone", "9.9.9")])})
    with pytest.raises(RepoInfoError) as exc:
        resolve(make_dist([("ModuleA", "1.0.0")]), store)
    assert str(exc.value) == "s3://projectx/Gone/9.9.9/repo-info: no such module or version in the bucket"
    assert exc.value.source == "s3://projectx/Gone/9.9.9/repo-info"


def test_load_rel_must_return_rel_info():
    with pytest.raises(TypeError, match="returned dict, not RelInfo"):
        resolve(make_dist([("ModuleA", "1.0.0")]), lambda module, version: {})


def test_overlong_chain_is_refused():
    rels = {("M%d" % i, "1.0.0"): rel_text("1.0.0", [("M%d" % (i + 1), "1.0.0")]) for i in range(150)}
    rels[("M150", "1.0.0")] = rel_text("1.0.0")
    with pytest.raises(RepoInfoError, match=r"key 'sub_repo': dependency chain deeper than 100 modules at M100@1\.0\.0"):
        resolve(make_dist([("M0", "1.0.0")]), Store(rels))


def test_chain_of_fifty_resolves_in_order():
    rels = {("M%d" % i, "1.0.0"): rel_text("1.0.0", [("M%d" % (i + 1), "1.0.0")]) for i in range(50)}
    rels[("M50", "1.0.0")] = rel_text("1.0.0")
    result = resolve(make_dist([("M0", "1.0.0")]), Store(rels))
    assert [step.module for step in result.install] == ["M%d" % i for i in range(50, -1, -1)]
