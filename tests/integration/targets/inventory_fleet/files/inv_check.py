#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks an `ansible-inventory --list` JSON file against expectations given as arguments.

  members:GROUP=h1,h2     the hosts of GROUP, its child groups included, are exactly these
  children:GROUP=g1,g2    the child groups of GROUP are exactly these
  var:HOST:NAME=JSON      the merged variable NAME of HOST equals JSON (unsafe markers removed)
  novar:HOST:NAME         HOST has no variable NAME
  nogroup:GROUP           there is no group GROUP
  hosts=N                 there are N hosts
"""

from __future__ import annotations

import json
import sys


def plain(value):
    """Values the plugin never templates come out of --list as {"__ansible_unsafe": value}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {key: plain(val) for key, val in value.items()}
    if isinstance(value, list):
        return [plain(val) for val in value]
    return value


def members(data: dict, group: str) -> set:
    entry = data.get(group, {})
    found = set(entry.get("hosts", []))
    for child in entry.get("children", []):
        found |= members(data, child)
    return found


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as handle:
        data = json.load(handle)
    hostvars = data.get("_meta", {}).get("hostvars", {})
    problems = []
    for spec in sys.argv[2:]:
        kind, _sep, rest = spec.partition(":")
        if spec.startswith("hosts="):
            got = len(members(data, "all"))
            if got != int(spec.split("=", 1)[1]):
                problems.append("%s: %d hosts" % (spec, got))
        elif kind in ("members", "children"):
            group, _sep, want = rest.partition("=")
            expected = set(filter(None, want.split(",")))
            got = members(data, group) if kind == "members" else set(data.get(group, {}).get("children", []))
            if group not in data or got != expected:
                problems.append("%s: got %s" % (spec, sorted(got) if group in data else "no such group"))
        elif kind == "var":
            where, _sep, want = rest.partition("=")
            host, _sep, name = where.partition(":")
            got = plain(hostvars.get(host, {}).get(name, "<unset>"))
            if got != json.loads(want):
                problems.append("%s: got %r" % (spec, got))
        elif kind == "novar":
            host, _sep, name = rest.partition(":")
            if name in hostvars.get(host, {}):
                problems.append("%s: set to %r" % (spec, hostvars[host][name]))
        elif kind == "nogroup":
            if rest in data:
                problems.append("%s: exists" % spec)
        else:
            problems.append("unknown check %s" % spec)
    for problem in problems:
        print("inventory check failed: " + problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
