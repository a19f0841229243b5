# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The monitoring sweep's report: each host's health from its registered node_state result."""

from __future__ import annotations

import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._node.node_state import HEALTHS, HEALTHY, NODE_PROBLEMS

PROBLEMS = NODE_PROBLEMS + ("unreachable", "error", "unknown")
"""Problem kinds, in the order the report and the failure message name them.

The first four come from node_state's ``health``; ``unreachable`` (the host could not
be contacted), ``error`` (node_state itself failed, e.g. the file was unreadable) and
``unknown`` (no result, or a health this version does not know) from the sweep."""

ORDER = HEALTHY + PROBLEMS
KNOWN_HEALTHS = HEALTHS


def _text(value: t.Any, limit: int = 300) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def classify(result: t.Any) -> dict:
    """One host: ``{health, status, version, updated_at, last_error}`` from a registered node_state result.

    ``last_error`` holds the node's last error, or for a host without a usable state why
    (the file's problem, the connection error, the module's error).
    """
    row: dict = dict(health="unknown", status=None, version=None, updated_at=None, last_error=None)
    if not isinstance(result, t.Mapping) or not result:
        row["last_error"] = "no node_state result (the host was not swept)"
        return row
    if result.get("unreachable"):
        row.update(health="unreachable", last_error=_text(result.get("msg")) or "unreachable")
        return row
    health = result.get("health")
    row.update(status=result.get("status"), version=result.get("version"), updated_at=result.get("updated_at"),
               last_error=_text(result.get("last_error")))
    if result.get("failed") and health not in KNOWN_HEALTHS:
        row.update(health="error", last_error=_text(result.get("msg")) or "node_state failed without a message")
        return row
    if health not in KNOWN_HEALTHS:
        row["last_error"] = "node_state returned no known health (%s)" % _text(health)
        return row
    row["health"] = health
    if health == "corrupt":
        row["last_error"] = _text(result.get("problem"))
    elif health in ("stale", "in_progress") and not row["last_error"]:
        row["last_error"] = "%s since %s" % (row["status"], result.get("started_at") or result.get("updated_at") or "an unknown time")
    return row


def report(hosts: t.Iterable[str], hostvars: t.Mapping, var: str = "fleetops_status_node") -> dict:
    """Every host: rows, counts per health, printable lines, ``ok``, problems per kind and a message."""
    rows = []
    for host in hosts:
        try:
            result = hostvars[host].get(var)
        except (KeyError, AttributeError, TypeError):
            result = None
        row = classify(result)
        row["host"] = host
        rows.append(row)
    counts = {health: sum(1 for row in rows if row["health"] == health) for health in ORDER}
    counts = {health: count for health, count in counts.items() if count}
    problems = {kind: [row["host"] for row in rows if row["health"] == kind] for kind in PROBLEMS}
    problems = {kind: names for kind, names in problems.items() if names}
    header = ("host", "health", "status", "version", "updated_at", "last_error")
    table = [header] + [(row["host"], row["health"], row["status"] or "-", row["version"] or "-", row["updated_at"] or "-",
                         row["last_error"] or "-") for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header) - 1)]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line[:-1], widths, strict=True)) + "  " + line[-1] for line in table]
    lines.append("counts: " + (", ".join("%s=%d" % item for item in counts.items()) or "no hosts"))
    message = "; ".join("%s: %s" % (kind, ", ".join(names)) for kind, names in problems.items())
    return dict(hosts=rows, counts=counts, lines=lines, ok=not problems, problems=problems,
                problem_hosts=[row["host"] for row in rows if row["health"] not in HEALTHY],
                in_progress=[row["host"] for row in rows if row["health"] == "in_progress"],
                message=("node problems: " + message) if message else "every node is ok")
