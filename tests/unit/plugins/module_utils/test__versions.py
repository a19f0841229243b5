# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for module names, channels and release-tag ordering."""

from __future__ import annotations

import random

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import LayoutError
from ansible_collections.fleetops.release.plugins.module_utils._repo.versions import (
    DEVELOPER,
    channel_problem,
    is_tag,
    module_name_problem,
    sort_tags,
    validate_channel,
    validate_module_name,
    version_key,
)


@pytest.mark.parametrize("name", ["ModuleX", "modulex-client", "a", "A.b_c-d", "1lib", "x" * 128])
def test_valid_module_names(name):
    assert validate_module_name(name, "option 'module'") == name
    assert module_name_problem(name) is None


@pytest.mark.parametrize("name", ["", ".", "..", "-x", "_x", ".hidden", "a/b", "a b", "a\n", "x" * 129, "Modül", "a:b", "a+b"])
def test_invalid_module_names(name):
    with pytest.raises(LayoutError) as exc:
        validate_module_name(name, "option 'module'")
    assert str(exc.value) == "option 'module': not a valid module name: expected 1 to 128 letters, digits, '.', '_' or '-', " \
        "starting with a letter or digit (value %r)" % name


def test_module_name_must_be_text():
    with pytest.raises(LayoutError, match=r"^sub_repo: a module name must be text, not int \(value 5\)$"):
        validate_module_name(5, "sub_repo")


@pytest.mark.parametrize("channel", ["developer", "1.2.0", "v1.2.0", "1.2.0-rc1", "1.2.0+build.7", "2024.01.15", "latest", "1"])
def test_valid_channels(channel):
    assert validate_channel(channel, "x") == channel
    assert channel_problem(channel) is None


@pytest.mark.parametrize("channel, problem", [
    ("", "not a valid channel"),
    ("1.2/3", "not a valid channel"),
    ("-1", "not a valid channel"),
    ("1.2.0\n", "not a valid channel"),
    ("a" * 129, "not a valid channel"),
    ("Developer", "channel names are case-sensitive: write 'developer'"),
    ("DEVELOPER", "channel names are case-sensitive: write 'developer'"),
    ("none", "'none' is not a channel"),
    ("None", "'none' is not a channel"),
])
def test_invalid_channels(channel, problem):
    with pytest.raises(LayoutError) as exc:
        validate_channel(channel, "s3://bucket/ModuleX")
    message = str(exc.value)
    assert message.startswith("s3://bucket/ModuleX: " + problem)
    assert message.endswith("(value %r)" % channel)


def test_channel_must_be_text():
    # Numbers are refused here: the YAML layer keeps scalars as text.
    with pytest.raises(LayoutError, match=r"a channel must be text, not float \(value 1\.1\)"):
        validate_channel(1.10, "rel_branch")


def test_is_tag():
    assert is_tag("1.2.0")
    assert is_tag("latest")
    assert not is_tag(DEVELOPER)


def test_version_key_refuses_developer():
    with pytest.raises(ValueError, match="'developer' is a channel, not a release tag"):
        version_key("developer")


def test_version_key_refuses_non_text():
    with pytest.raises(TypeError):
        version_key(1.2)


@pytest.mark.parametrize("older, newer", [
    ("1.9.0", "1.10.0"),
    ("1.9.0-rc1", "1.9.0"),
    ("1.9.0-rc2", "1.9.0-rc10"),
    ("1.9.0-alpha", "1.9.0-beta"),
    ("1.9.0-beta.2", "1.9.0-beta.10"),
    ("1.9.0-1", "1.9.0-alpha"),
    ("1.9.0-rc1", "1.9.0-rc1.1"),
    ("1.9.9", "1.10.0-rc1"),
    ("v1.9.0", "1.10.0"),
    ("1.10.0", "V1.11.0"),
    ("2", "10"),
    ("1.2.3", "1.2.3.1"),
    ("latest", "0.0.1"),
    ("alpha", "beta"),
    ("Alpha", "beta"),
    ("1.2.x", "0.1"),
    ("2024.01.15", "2024.02.01"),
])
def test_version_order(older, newer):
    assert version_key(older) < version_key(newer)


@pytest.mark.parametrize("tags", [("1.2", "1.2.0"), ("1.2.0", "v1.2.0"), ("1.2.0", "1.2.0+build5")])
def test_equal_versions_have_a_deterministic_tie_break(tags):
    first, second = tags
    assert version_key(first) != version_key(second)
    assert version_key(first)[:3] == version_key(second)[:3]  # same rank: release numbers and release flag
    assert sort_tags([second, first]) == sort_tags([first, second])


def test_v_prefix_is_only_stripped_before_a_digit():
    # "vanilla" is a word, not v + "anilla".
    assert version_key("vanilla") == (0, "vanilla", "vanilla")
    assert version_key("v2")[1] == (2,)


def test_sort_tags_newest_first_and_oldest_first():
    tags = ["1.9.0", "latest", "1.10.0", "1.9.0-rc1", "v1.8.2", "1.10.0-beta.2", "1.10.0-beta.10", "alpha"]
    expected = ["1.10.0", "1.10.0-beta.10", "1.10.0-beta.2", "1.9.0", "1.9.0-rc1", "v1.8.2", "latest", "alpha"]
    assert sort_tags(tags) == expected
    assert sort_tags(tags, newest_first=False) == list(reversed(expected))


def test_sort_tags_is_a_total_order_independent_of_input_order():
    tags = ["1.0", "1.0.0", "v1.0.0", "1.0.0+b", "1.0.0-rc1", "1.0.0-RC1", "1.0.0-rc.1", "0.9", "x", "X", "y", "10", "9.99.999"]
    expected = sort_tags(tags)
    rng = random.Random(7)
    for _round in range(50):
        shuffled = list(tags)
        rng.shuffle(shuffled)
        assert sort_tags(shuffled) == expected


def test_sort_tags_refuses_developer():
    with pytest.raises(ValueError):
        sort_tags(["1.0.0", "developer"])
