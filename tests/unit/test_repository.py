# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The repository keeps its own house: docs/development.md names everything, and the licence is stated once.

docs/development.md has one line for every file under plugins/, every playbook, every file of a role, every
integration target and every make target. A new file that is not there, or a line naming a file that is gone,
fails here with the names to add or remove.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEV_DOC = os.path.join(ROOT, "docs", "development.md")
SPDX = "SPDX-License-Identifier: GPL-3.0-or-later"


def _files(top: str) -> list[str]:
    found = []
    for folder, dirs, names in os.walk(os.path.join(ROOT, top)):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in names:
            path = os.path.join(folder, name)
            if name == "__init__.py" and os.path.getsize(path) == 0:
                continue  # a package marker: the package is named by its section in docs/development.md
            if not name.endswith((".pyc", ".pyo")):
                found.append(os.path.relpath(path, ROOT))
    return sorted(found)


def _doc() -> str:
    with open(DEV_DOC, encoding="utf-8") as handle:
        return handle.read()


def _row_names(text: str) -> set[str]:
    """What the first cell of each table row names in backticks (a cell may name several)."""
    names = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([^`]+)`", line.split("|")[1]))
    return names


def _make_targets() -> list[str]:
    with open(os.path.join(ROOT, "Makefile"), encoding="utf-8") as handle:
        phony = re.search(r"^\.PHONY:(.*)$", handle.read(), re.MULTILINE)
    assert phony, "Makefile has no .PHONY line"
    return sorted(phony.group(1).split())


def test_private_code_is_grouped_in_packages_with_empty_markers():
    """module_utils and plugin_utils hold packages by concept; each __init__.py is empty (ansible-test's empty-init)."""
    for top in ("plugins/module_utils", "plugins/plugin_utils"):
        packages = [d for d in sorted(os.listdir(os.path.join(ROOT, top))) if os.path.isdir(os.path.join(ROOT, top, d)) and d != "__pycache__"]
        assert packages, top
        for package in packages:
            marker = os.path.join(ROOT, top, package, "__init__.py")
            assert os.path.isfile(marker) and os.path.getsize(marker) == 0, marker
            assert "`%s/`" % package in _doc(), "docs/development.md has no section for %s/%s" % (top, package)


def test_development_doc_names_every_plugin_playbook_and_role_file():
    named = _row_names(_doc())
    expected = _files("plugins") + _files("playbooks") + _files("roles")
    missing = [path for path in expected if path not in named]
    assert not missing, "docs/development.md has no line for: %s" % ", ".join(missing)


def test_development_doc_names_no_file_that_is_gone():
    gone = sorted(name for name in _row_names(_doc())
                  if name.startswith(("plugins/", "playbooks/", "roles/")) and not os.path.exists(os.path.join(ROOT, name)))
    assert not gone, "docs/development.md names files that do not exist: %s" % ", ".join(gone)


def test_development_doc_names_every_integration_target():
    named = _row_names(_doc())
    targets = sorted(os.listdir(os.path.join(ROOT, "tests", "integration", "targets")))
    missing = [name for name in targets if name not in named]
    assert not missing, "docs/development.md has no line for the integration targets: %s" % ", ".join(missing)


def test_development_doc_names_every_make_target():
    named = _row_names(_doc())
    missing = [name for name in _make_targets() if "make %s" % name not in named]
    assert not missing, "docs/development.md has no line for: %s" % ", ".join("make " + m for m in missing)


def test_every_role_entry_point_has_an_argument_spec_and_a_line():
    roles = os.path.join(ROOT, "roles")
    named = _row_names(_doc())
    for role in sorted(os.listdir(roles)):
        with open(os.path.join(roles, role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        tasks = sorted(n[:-4] for n in os.listdir(os.path.join(roles, role, "tasks")) if n.endswith(".yml"))
        for entry in specs:
            assert entry in tasks, "roles/%s/meta/argument_specs.yml: entry point %r has no tasks/%s.yml" % (role, entry, entry)
            assert "roles/%s/tasks/%s.yml" % (role, entry) in named


def test_the_licence_is_gpl3_or_later_everywhere():
    with open(os.path.join(ROOT, "COPYING"), encoding="utf-8") as handle:
        licence = handle.read()
    assert "GNU GENERAL PUBLIC LICENSE" in licence and "Version 3, 29 June 2007" in licence
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        assert yaml.safe_load(handle)["license"] == ["GPL-3.0-or-later"]
    sources = [p for p in _files("plugins") + _files("tests") + _files("benchmarks") + _files("examples") if p.endswith(".py")]
    assert sources
    unlabelled = []
    for path in sources:
        with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
            if SPDX not in handle.read(2000):
                unlabelled.append(path)
    assert not unlabelled, "no '%s' line near the top of: %s" % (SPDX, ", ".join(unlabelled))


@pytest.mark.parametrize("path", sorted(p for p in os.listdir(os.path.join(ROOT, "changelogs", "fragments")) if p.endswith(".yml")))
def test_changelog_fragments_are_one_line_per_change(path):
    """antsibull-changelog's convention: each entry is one sentence-sized line, not an essay."""
    with open(os.path.join(ROOT, "changelogs", "fragments", path), encoding="utf-8") as handle:
        fragment = yaml.safe_load(handle)
    assert isinstance(fragment, dict) and fragment, path
    for section, entries in fragment.items():
        for entry in entries if isinstance(entries, list) else [entries]:
            assert isinstance(entry, str), (path, section, entry)
            assert "\n" not in entry.strip(), "%s (%s): an entry spans several lines: %r" % (path, section, entry[:80])
            assert len(entry) <= 200, "%s (%s): %d characters; one line per change, please: %r" % (path, section, len(entry), entry[:80])
