# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for the stdlib-only YAML subset reader and writer, cross-checked against PyYAML."""

from __future__ import annotations

import random

import pytest
import yaml

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._yamlite import YamlLiteError, dumps, loads

NULL_TAG = "tag:yaml.org,2002:null"


class StringsLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """PyYAML reading every plain scalar as a string except null: the same model as loads()."""


StringsLoader.yaml_implicit_resolvers = {
    first: [resolver for resolver in resolvers if resolver[0] == NULL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def pyyaml_strings(text):
    return yaml.load(text, Loader=StringsLoader)


SEED_BLOCK = "image:\n  version: 2.1.0\nstatus: active\n"
SEED_FLOW = "image: {version: 2.1.0}\nstatus: active\n"

# ------------------------------------------------------------------ reading


@pytest.mark.parametrize("text", [SEED_BLOCK, SEED_FLOW, "---\n" + SEED_BLOCK + "...\n", "# state\n\n" + SEED_FLOW + "\n# end\n"])
def test_seed_formats(text):
    assert loads(text, "images.yaml") == {"image": {"version": "2.1.0"}, "status": "active"}


DOCUMENTS = [
    ("a: b # comment\n", {"a": "b"}),
    ("# c\n  # c2\n\na: b\n\n", {"a": "b"}),
    ("- a\n- b: c\n  d: e\n- - x\n  - y\n-\n", ["a", {"b": "c", "d": "e"}, ["x", "y"], None]),
    ("a:\n- x\n- y\nb: z\n", {"a": ["x", "y"], "b": "z"}),
    ("a:\n    - x\n    - y\n", {"a": ["x", "y"]}),
    ("- a:\n  - x\n  b: y\n", [{"a": ["x"], "b": "y"}]),
    ("-\n  a: b\n", [{"a": "b"}]),
    ("a:\n  b:\n    c: d\n  e: f\ng: h\n", {"a": {"b": {"c": "d"}, "e": "f"}, "g": "h"}),
    ("a: {b: {c: d}, e: [f, {g: h}], i: }\n", {"a": {"b": {"c": "d"}, "e": ["f", {"g": "h"}], "i": None}}),
    ("a: {x: 1,\n  y: [2,\n  3], # comment\n  z: }\n", {"a": {"x": "1", "y": ["2", "3"], "z": None}}),
    ("[a, b,]\n", ["a", "b"]),
    ("a: [x,#c\n y]#d\nb: \"x\"#e\n", {"a": ["x", "y"], "b": "x"}),
    ("{a, b: c}\n", {"a": None, "b": "c"}),
    ("a: []\nb: {}\n", {"a": [], "b": {}}),
    ("a: 'it''s # not a comment'\n", {"a": "it's # not a comment"}),
    ('a: "x\\ty\\u00e9\\x41\\/\\"\\\\ \\U0001F600"\n', {"a": "x\ty\u00e9A/\"\\ \U0001F600"}),
    ("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: nULL\ng: ''\nh: \"null\"\n",
     {"a": None, "b": None, "c": None, "d": None, "e": None, "f": "nULL", "g": "", "h": "null"}),
    ("a: 1\nb: true\nc: 2026-11-22T06:00:00Z\nd: 1.5\ne: -1\nf: 0x1F\n",
     {"a": "1", "b": "true", "c": "2026-11-22T06:00:00Z", "d": "1.5", "e": "-1", "f": "0x1F"}),
    ("url: http://x:80/y\nhash: b#c\nwords: a b  c   # x\ncolon: a :b\n",
     {"url": "http://x:80/y", "hash": "b#c", "words": "a b  c", "colon": "a :b"}),
    ("'a' : b\n\"c d\": e\nf g: h\n", {"a": "b", "c d": "e", "f g": "h"}),
    ("a: -1\nb: :x\nc: ?y\n", {"a": "-1", "b": ":x", "c": "?y"}),
    ("x: [\"a,b\", 'c]']\n", {"x": ["a,b", "c]"]}),
    ("  a: b\n  c: d\n", {"a": "b", "c": "d"}),
    ("k: v\r\nk2: v2\r\n", {"k": "v", "k2": "v2"}),
    ("\ufeffa: b\n", {"a": "b"}),
    ("plain words\n", "plain words"),
    ("\"quoted\"\n", "quoted"),
    ("", None),
    ("# only a comment\n", None),
    ("---\n", None),
]


@pytest.mark.parametrize("text, expected", DOCUMENTS)
def test_loads_agrees_with_pyyaml(text, expected):
    assert loads(text, "doc.yaml") == expected
    assert pyyaml_strings(text) == expected


# ------------------------------------------------------------------ refusals

REFUSALS = [
    ("a: &x b\n", 1, "anchors ('&') are not supported"),
    ("a: b\nc: *x\n", 2, "aliases ('*') are not supported"),
    ("&x a: b\n", 1, "anchors ('&') are not supported"),
    ("a: [b, *x]\n", 1, "aliases ('*') are not supported"),
    ("a: !!str b\n", 1, "tags ('!') are not supported"),
    ("a: {b: !x c}\n", 1, "tags ('!') are not supported"),
    ("a: |\n  x\n", 1, "block scalars ('|' and '>') are not supported"),
    ("a:\n  b: >-\n    x\n", 2, "block scalars ('|' and '>') are not supported"),
    ("a: b\n---\nc: d\n", 2, "multiple documents are not supported"),
    ("---\na: b\n---\n", 3, "multiple documents are not supported"),
    ("a: b\n...\nc: d\n", 3, "content after the document end marker '...' (multiple documents are not supported)"),
    ("--- a: b\n", 1, "content on the '---' line is not supported"),
    ("%YAML 1.1\n---\na: b\n", 1, "directives ('%') are not supported"),
    ("a:\n\tb: c\n", 2, "tab character in indentation; indent with spaces"),
    ("a:\n  \tb: c\n", 2, "tab character in indentation; indent with spaces"),
    ("-\tx\n", 1, "tab character in indentation; indent with spaces"),
    ("a: b\nc: d\na: e\n", 3, "duplicate key 'a' (first on line 1)"),
    ("x:\n  a: b\n  'a': c\n", 3, "duplicate key 'a' (first on line 2)"),
    ("x: {a: b,\n  a: c}\n", 2, "duplicate key 'a' (first on line 1)"),
    ("a: b\n  c\n", 2, "unexpected indentation (multi-line scalars are not supported)"),
    ("- x\n  y\n", 2, "unexpected indentation (multi-line scalars are not supported)"),
    ("a:\n    b: c\n  d: e\n", 3, "unexpected indentation"),
    ("a: 'x\n  y'\n", 1, "unterminated single-quoted scalar (quoted scalars must end on the line they start)"),
    ("a: b\nc: \"x\n", 2, "unterminated double-quoted scalar (quoted scalars must end on the line they start)"),
    ("a: \"x\\\n  y\"\n", 1, "escaped line breaks (multi-line quoted scalars) are not supported"),
    ("a: \"x\\q\"\n", 1, "unknown escape sequence '\\q'"),
    ("a: \"\\u12\"\n", 1, "escape '\\u' needs 4 hexadecimal digits"),
    ("a: \"\\UFFFFFFFF\"\n", 1, "escape '\\UFFFFFFFF' is beyond the last Unicode code point"),
    ("a: b: c\n", 1, "unexpected ':'; a nested mapping must start on its own line"),
    ("a: - b\n", 1, "a block sequence cannot start on the line of its key"),
    ("- a\nb: c\n", 2, "expected a '- ' sequence entry at this indentation"),
    ("a:\n  - x\n  b: y\n", 3, "expected a '- ' sequence entry at this indentation"),
    ("a: b\n- c\n", 2, "a sequence entry cannot follow a mapping at the same indentation"),
    ("a: b\nplain\n", 2, "expected 'key: value' at this indentation"),
    ("a: [b\n\n", 1, "unterminated flow sequence: missing ']'"),
    ("a: b\nc: {d: e,\n  f: g\n", 2, "unterminated flow mapping: missing '}'"),
    ("a: [b: c]\n", 1, "a 'key: value' pair inside '[...]' is not supported; write {key: value}"),
    ("a: {b: [c, d}\n", 1, "expected ',' or ']' in the flow sequence, found '}'"),
    ("a: {b: c d: e}\n", 1, "expected ',' or '}' in the flow mapping, found ':'"),
    ("a: [,]\n", 1, "unexpected ',' (empty entry in a flow sequence)"),
    ("a: {, b}\n", 1, "unexpected ',' (empty entry in a flow mapping)"),
    ("a: {[b]: c}\n", 1, "mapping keys must be scalars"),
    ("<<: {a: b}\n", 1, "merge keys ('<<') are not supported"),
    ("a:\n  null: x\n", 2, "a mapping key cannot be null ('null'); quote it"),
    ("{~: x}\n", 1, "a mapping key cannot be null ('~'); quote it"),
    ("? a\n: b\n", 1, "complex mapping keys ('?') are not supported"),
    ("a:\n  : b\n", 2, "a mapping key is missing before ':'"),
    ("a: @x\n", 1, "'@' is reserved and cannot start a plain scalar; quote the value"),
    ("a: `x\n", 1, "'`' is reserved and cannot start a plain scalar; quote the value"),
    ("a: %x\n", 1, "'%' cannot start a plain scalar; quote the value"),
    ("a: ,x\n", 1, "unexpected ','"),
    ("a: ]\n", 1, "unexpected ']'"),
    ("[a] x\n", 1, "unexpected 'x' after the value"),
    ("a: \"b\" c\n", 1, "unexpected 'c' after the value"),
    ("a: b\n\nc: d\x07\n", 3, "character U+0007 is not allowed here; write it as an escape in a double-quoted string"),
    ("a: \u2028\n", 1, "character U+2028 is not allowed here; write it as an escape in a double-quoted string"),
    ("a: b\nc\n", 2, "expected 'key: value' at this indentation"),
    ("one\ntwo\n", 2, "unexpected content after the end of the document's top-level value"),
]


@pytest.mark.parametrize("text, line, message", REFUSALS)
def test_refusals_name_the_line(text, line, message):
    with pytest.raises(YamlLiteError) as exc:
        loads(text, "/var/lib/fleetops/images.yaml")
    assert exc.value.line == line
    assert exc.value.message == message
    assert exc.value.source == "/var/lib/fleetops/images.yaml"
    assert str(exc.value) == "/var/lib/fleetops/images.yaml: line %d: %s" % (line, message)
    assert isinstance(exc.value, FleetopsError)


# ------------------------------------------------------------------ writing

STATE_LIKE = {
    "image": {"version": "2.1.0"},
    "status": "active",
    "project": "projectx",
    "modules": {"ModuleX": "1.0.0", "ModuleY": "3.2.0"},
    "updated_at": "2026-11-22T06:00:00Z",
    "last_error": None,
    "history": [{"at": "2026-11-22T06:00:00Z", "run_id": "run-1", "from": None, "to": "building", "version": "2.1.0", "reason": None}],
    "empty_map": {},
    "empty_list": [],
}


def test_dumps_layout():
    assert dumps(STATE_LIKE) == (
        'image:\n'
        '  version: "2.1.0"\n'
        'status: active\n'
        'project: projectx\n'
        'modules:\n'
        '  ModuleX: "1.0.0"\n'
        '  ModuleY: "3.2.0"\n'
        'updated_at: "2026-11-22T06:00:00Z"\n'
        'last_error: null\n'
        'history:\n'
        '  - at: "2026-11-22T06:00:00Z"\n'
        '    run_id: run-1\n'
        '    from: null\n'
        '    to: building\n'
        '    version: "2.1.0"\n'
        '    reason: null\n'
        'empty_map: {}\n'
        'empty_list: []\n'
    )


def test_dumps_nested_sequences_and_top_level_scalars():
    assert dumps(["a", ["b", ["c"]], {"d": {"e": "f"}}, [], None]) == (
        "- a\n- - b\n  - - c\n- d:\n    e: f\n- []\n- null\n")
    assert dumps("word") == "word\n"
    assert dumps("2.1.0") == '"2.1.0"\n'
    assert dumps(None) == "null\n"
    assert dumps({}) == "{}\n"
    assert dumps([]) == "[]\n"


def test_dumps_keeps_insertion_order():
    data = {"z": "1", "a": "2", "m": "3"}
    assert [line.split(":")[0] for line in dumps(data).splitlines()] == ["z", "a", "m"]
    assert list(loads(dumps(data), "x")) == ["z", "a", "m"]


@pytest.mark.parametrize("word", ["active", "ModuleX", "modulex-client", "/var/lib/fleetops", "_private", "a/b.c-d", "run_42", "Y2", "nope"])
def test_safe_plain_words_are_not_quoted(word):
    assert dumps({word: word}) == "%s: %s\n" % (word, word)


@pytest.mark.parametrize("word", [
    "yes", "No", "ON", "off", "y", "N", "true", "False", "null", "NULL", "~", "", " ", "2.1.0", "1", "0x1F", "1e3", ".inf", "1:20",
    "2026-11-22", "2026-11-22T06:00:00Z", "<<", "=", "-x", ".hidden", "a b", "a: b", "#x", "x#", "[a]", "{a}", "a,b", "it's", "x\ny", "é",
])
def test_risky_strings_are_double_quoted_and_survive(word):
    text = dumps({word: word})
    assert text.startswith('"')
    assert loads(text, "x") == {word: word}
    assert yaml.safe_load(text) == {word: word}


def test_escapes_survive_both_readers():
    nasty = "\"\\\n\t\r\x00\x07\x1b\x7f\x85\x9f\xa0\u2028\u2029\ufeff\ud800\ufffe\uffff\U0001F600 é"
    text = dumps({"k": nasty})
    assert "\U0001F600 é" in text  # printable non-ASCII stays as is
    assert "\n" not in text.rstrip("\n")
    assert loads(text, "x") == {"k": nasty}
    assert yaml.safe_load(text) == {"k": nasty}


@pytest.mark.parametrize("bad", [1, 1.5, True, ("a",), {"a": 1}, ["a", False], {1: "a"}, {None: "a"}, {"a": {"b": set()}}])
def test_dumps_refuses_other_types(bad):
    with pytest.raises(TypeError):
        dumps(bad)


WORDS = [
    "2.1.0", "1.0", "1e3", "0x1F", "0o17", "012", "1_000", "+1", "-1", ".5", ".inf", ".nan", "~", "null", "Null", "", " ", "yes", "No", "y",
    "true", "2026-11-22", "2026-11-22T06:00:00Z", "1:20", "<<", "=", "a: b", "a #b", "#x", "- x", "? x", ": x", "&a", "*a", "!t", "|", ">",
    "%", "@", "`", "'", '"', "\\", "\n", "\t", "\x00", "\x85", "\u2028", "\ud800", "\U0001F600", "é", "ModuleX", "modulex-client", "/var",
    "[a]", "{a}", ",", "...", "---", " lead", "trail ", "x\ny", "0",
]


def random_data(rng, depth=0):
    roll = rng.random()
    if depth > 3 or roll < 0.5:
        return rng.choice(WORDS + [None])
    if roll < 0.75:
        return {rng.choice(WORDS): random_data(rng, depth + 1) for index in range(rng.randint(0, 4))}
    return [random_data(rng, depth + 1) for index in range(rng.randint(0, 4))]


def test_random_round_trips_through_loads_and_pyyaml():
    rng = random.Random(20261122)
    for attempt in range(1500):
        data = random_data(rng)
        text = dumps(data)
        assert loads(text, "attempt %d" % attempt) == data, text
        assert yaml.safe_load(text) == data, text


def test_round_trip_of_state_like_data():
    text = dumps(STATE_LIKE)
    assert loads(text, "x") == STATE_LIKE
    assert yaml.safe_load(text) == STATE_LIKE
    assert dumps(loads(text, "x")) == text
