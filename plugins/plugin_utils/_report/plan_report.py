# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Controller-side tables of the versions and plan playbooks.

``versions_report`` turns ``artifact_info`` results into a readable table and an
AWX survey spec; ``plan_report`` turns every host's check-mode ``dist_deploy``
result into what a release would install, upgrade and leave alone, per host and
in total.
"""

from __future__ import annotations

import typing as t

SURVEY_VARIABLE = "fleetops_version"


def _size(value: t.Any) -> str:
    try:
        size = float(value)
    except (TypeError, ValueError):
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return ("%d %s" % (size, unit)) if unit == "B" else ("%.1f %s" % (size, unit))
        size /= 1024
    return "-"  # pragma: no cover


def _date(value: t.Any) -> str:
    if not value:
        return "-"
    text = str(value)
    # 2026-11-22T15:29:38+00:00 -> 2026-11-22 15:29:38Z; anything else as given.
    if len(text) >= 19 and text[10] == "T" and text[19:] in ("", "Z", "+00:00"):
        return "%s %sZ" % (text[:10], text[11:19])
    return text


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]


def versions_report(modules: t.Any, dist: str, latest: int = 10) -> dict:
    """Table and survey of one DIST (first) and its modules, from ``artifact_info``'s ``modules``.

    Returns ``lines`` (the table, newest tag first per name, the developer build last),
    ``tags`` (the DIST's shown tags, newest first), ``latest_tag`` and ``survey`` (an AWX
    survey spec with one multiple choice question on ``fleetops_version``).
    """
    entries = [m for m in (modules or []) if isinstance(m, t.Mapping)]
    by_name = {m.get("module"): m for m in entries}
    if dist not in by_name:
        raise ValueError("versions_report: no artifact_info entry for %r" % dist)
    ordered = [by_name[dist]] + [m for m in entries if m.get("module") != dist]
    rows = [["name", "channel", "date", "size", "note"]]
    for entry in ordered:
        name = str(entry.get("module"))
        if not entry.get("exists"):
            rows.append([name, "-", "-", "-", "not in the bucket"])
            continue
        tags = list(entry.get("tags") or [])
        for index, tag in enumerate(tags):
            note = "latest" if index == 0 else ""
            if not tag.get("has_repo_info", True):
                note = (note + ", " if note else "") + "no repo-info"
            rows.append([name, str(tag.get("channel")), _date(tag.get("last_modified")), _size(tag.get("size")), note])
        more = int(entry.get("tag_count") or 0) - len(tags)
        if more > 0:
            rows.append([name, "...", "", "", "%d older tag(s) not shown" % more])
        developer = entry.get("developer")
        if developer:
            rows.append([name, "developer", _date(developer.get("last_modified")), _size(developer.get("size")), "test build"])
        if not tags and not developer:
            rows.append([name, "-", "-", "-", "no release tag and no developer build"])
    dist_tags = [str(tag.get("channel")) for tag in (by_name[dist].get("tags") or [])]
    if int(latest) > 0:
        dist_tags = dist_tags[:int(latest)]
    survey = dict(
        name="%s release" % dist,
        description="Release a version of %s; the choices are its %d newest release tags, newest first." % (dist, len(dist_tags)),
        spec=[dict(
            question_name="%s version" % dist,
            question_description="Release tag of %s to release" % dist,
            variable=SURVEY_VARIABLE,
            type="multiplechoice",
            choices=dist_tags,
            default=dist_tags[0] if dist_tags else "",
            required=True,
        )],
    )
    return dict(lines=_table(rows), tags=dist_tags, latest_tag=dist_tags[0] if dist_tags else None, survey=survey)


def _modules_of(result: t.Mapping) -> dict:
    diff = result.get("diff")
    if isinstance(diff, t.Mapping) and isinstance(diff.get("before"), t.Mapping):
        modules = diff["before"].get("modules")
        if isinstance(modules, t.Mapping):
            return dict(modules)
    return {}


def _text(value: t.Any, limit: int = 400) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def plan_host(result: t.Any, plan_modules: t.Mapping | None = None) -> dict:
    """One host's would-be release from its registered check-mode ``dist_deploy`` result."""
    row: dict = dict(action="skip", reason=None, message=None, from_version=None, to_version=None, direction=None,
                     install=[], upgrade=[], unchanged=[], left=[])
    if not isinstance(result, t.Mapping) or not result:
        row.update(reason="no result", message="dist_deploy did not run on this host")
        return row
    if result.get("unreachable"):
        row.update(reason="unreachable", message=_text(result.get("msg") or "unreachable"))
        return row
    if result.get("failed"):
        row.update(reason="error", message=_text(result.get("msg") or "dist_deploy failed"))
        return row
    if result.get("skipped"):
        row.update(reason="not run", message=_text(result.get("skip_reason") or "skipped"))
        return row
    row.update(action=result.get("action") or "skip", reason=result.get("reason"), message=_text(result.get("message") or ""),
               from_version=result.get("previous_version"), to_version=result.get("dist_version"),
               direction=result.get("direction"))
    if row["action"] == "skip":
        return row
    touched = set()
    for step in result.get("plan_diff") or []:
        entry = dict(module=step.get("module"), version=step.get("version"), from_version=step.get("from_version"))
        touched.add(entry["module"])
        if step.get("action") == "unchanged":
            row["unchanged"].append(entry)
        elif step.get("action") == "upgrade":
            row["upgrade"].append(entry)
        else:
            row["install"].append(entry)
    # Modules the node has that this release's steps do not touch: kept as they are.
    wanted = dict(plan_modules or {})
    for module, version in sorted(_modules_of(result).items()):
        if module in touched:
            continue
        entry = dict(module=module, version=version, from_version=version)
        if module in wanted and wanted[module] != version:
            entry["dist_version"] = wanted[module]
            row["left"].append(entry)
        else:
            row["unchanged"].append(entry)
    return row


def _steps(entries: list[dict], arrow: bool) -> str:
    if not entries:
        return "-"
    out = []
    for entry in entries:
        if arrow and entry.get("from_version"):
            out.append("%s %s -> %s" % (entry["module"], entry["from_version"], entry["version"]))
        elif entry.get("from_version") and entry["from_version"] != entry["version"]:
            out.append("%s %s (deploy.sh over %s)" % (entry["module"], entry["version"], entry["from_version"]))
        else:
            out.append("%s %s" % (entry["module"], entry["version"]))
    return ", ".join(out)


def plan_report(hosts: t.Iterable[str], hostvars: t.Mapping, var: str = "fleetops_plan_result", plan: t.Any = None) -> dict:
    """Every host's would-be release, a printable table and totals."""
    plan_modules = plan.get("modules") if isinstance(plan, t.Mapping) else None
    rows = []
    for host in hosts:
        try:
            result = hostvars[host].get(var)
        except (KeyError, AttributeError):
            result = None
        row = plan_host(result, plan_modules)
        row["host"] = host
        rows.append(row)
    width = max([len(r["host"]) for r in rows] + [4])
    lines = []
    for row in rows:
        if row["action"] == "skip":
            lines.append("%s  skip     %s: %s" % (row["host"].ljust(width), row["reason"], row["message"]))
            continue
        head = "%s  %-7s  %s -> %s" % (row["host"].ljust(width), row["action"], row["from_version"] or "new", row["to_version"])
        if row["direction"] == "back":
            head += " (back)"
        lines.append(head)
        lines.append("%s    install:   %s" % (" " * width, _steps(row["install"], False)))
        lines.append("%s    upgrade:   %s" % (" " * width, _steps(row["upgrade"], True)))
        lines.append("%s    unchanged: %s" % (" " * width, _steps(row["unchanged"], False)))
        if row["left"]:
            lines.append("%s    left as is (not in this release's steps): %s" % (
                " " * width, ", ".join("%s %s (the DIST says %s)" % (e["module"], e["version"], e["dist_version"]) for e in row["left"])))
    counts: dict[str, int] = {}
    for row in rows:
        key = row["action"] if row["action"] != "skip" else "skip"
        counts[key] = counts.get(key, 0) + 1
    modules = dict(install=sum(len(r["install"]) for r in rows), upgrade=sum(len(r["upgrade"]) for r in rows),
                   unchanged=sum(len(r["unchanged"]) for r in rows), left=sum(len(r["left"]) for r in rows))
    skipped = [r for r in rows if r["action"] == "skip"]
    by_reason: dict[str, list[str]] = {}
    for row in skipped:
        by_reason.setdefault(str(row["reason"]), []).append(row["host"])
    lines.append("totals: %d host(s): %d install, %d upgrade, %d skipped; modules: %d to install, %d to upgrade, %d unchanged%s" % (
        len(rows), counts.get("install", 0), counts.get("upgrade", 0), len(skipped), modules["install"], modules["upgrade"],
        modules["unchanged"], (", %d left as is" % modules["left"]) if modules["left"] else ""))
    if by_reason:
        lines.append("skipped: " + "; ".join("%s: %s" % (reason, ", ".join(names)) for reason, names in sorted(by_reason.items())))
    problems = [r["host"] for r in rows if r["reason"] in ("unreachable", "error", "no result")]
    return dict(hosts=rows, lines=lines, counts=counts, modules=modules, skipped=by_reason, problem_hosts=problems,
                ok=not problems)
