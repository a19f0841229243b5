# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Printable tables of an audit_info result (the fleetops.release.report playbook)."""

from __future__ import annotations

import typing as t


def _cell(value: t.Any) -> str:
    return "-" if value is None or value == "" else str(value)


def _percent(rate: t.Any) -> str:
    return "-" if rate is None else "%.1f%%" % (float(rate) * 100)


def _table(header: tuple, rows: list[tuple]) -> list[str]:
    table = [header] + rows
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=True)) + "  " + row[-1] for row in table]


def lines(result: t.Mapping) -> dict:
    """``environments``: one line per project and environment, then a totals line; ``recent``: one line per recent run."""
    envs = []
    for env in result.get("environments") or []:
        last = env.get("last_release") or {}
        last_text = "-"
        if last:
            last_text = "%s %s %s by %s (%s)" % (_cell(last.get("version_to")), last.get("result"), _cell(last.get("ended_at")),
                                                 _cell(last.get("user")), last.get("run_id"))
        envs.append((_cell(env.get("project")), _cell(env.get("environment")), str(env.get("releases", 0)), str(env.get("success", 0)),
                     str(env.get("failed", 0)), str(env.get("partial", 0)), str(env.get("aborted", 0)), _percent(env.get("success_rate")),
                     _cell(env.get("last_good_version")), last_text))
    skipped = result.get("skipped_records") or {}
    total = "%d record(s)" % (result.get("records") or 0)
    if skipped.get("count"):
        total += "; %d skipped, the first at %s: %s" % (skipped["count"], skipped.get("first"), skipped.get("first_reason"))
    recent = [(_cell(r.get("ended_at")), _cell(r.get("project")), _cell(r.get("environment")), _cell(r.get("kind")), _cell(r.get("result")),
               "%s -> %s" % (_cell(r.get("version_from")), _cell(r.get("version_to"))), _cell(r.get("user")),
               _cell(r.get("run_id")) + (" (check mode)" if r.get("check_mode") else ""))
              for r in result.get("recent") or []]
    return dict(
        environments=_table(("project", "environment", "releases", "success", "failed", "partial", "aborted", "success%", "last good",
                             "last release"), envs) + [total],
        recent=_table(("ended_at", "project", "environment", "kind", "result", "versions", "user", "run"), recent) if recent else ["no matching runs"],
    )
