# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The messages recap_alert sends: one Slack Block Kit message per run, and a generic JSON document.

Slack's limits are kept here, not hoped for: at most 50 blocks, 3,000 characters in a section's
text, 150 in a header, 10 fields of 2,000 characters. Hosts that do not fit become "+N more".
Text that came from hosts or tasks is escaped so that it cannot mention, link or break our code spans
(``<!channel>``, ``@here``, ``<https://...|label>``, backticks); ``*bold*`` and ``_italic_`` still render.
"""

from __future__ import annotations

import re
import typing as t

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_FIELD = 2000
MAX_FIELDS = 10
HOST_LINE = 600
MAX_JSON_HOSTS = 1000

_MENTION = re.compile(r"@(?=(channel|here|everyone)\b)", re.IGNORECASE)
ICONS = dict(success=":white_check_mark:", partial=":warning:", failed=":x:", aborted=":octagonal_sign:")


def escape(text: t.Any) -> str:
    """Make untrusted text inert in Slack mrkdwn and plain_text."""
    text = "" if text is None else str(text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A zero-width joiner keeps "@channel" readable but stops it from notifying anyone.
    text = _MENTION.sub("@\u2060", text)
    # A backtick would end our code span; a modifier letter grave accent looks the same.
    return text.replace("`", "\u02cb")


def clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:max(0, limit - 1)] + "\u2026"


def _one_line(text: t.Any) -> str:
    return " ".join(str(text or "").split())


def title(summary: dict) -> str:
    what = " ".join(str(p) for p in (summary.get("project"), summary.get("environment")) if p) or (summary.get("playbook") or "ansible run")
    version = summary.get("version_to")
    if summary.get("version_from") and version and summary.get("version_from") != version:
        version = "%s \u2192 %s" % (summary["version_from"], version)
    result = summary.get("result")
    if result == "aborted":
        result = "interrupted (%s)" % (summary.get("interrupted_by") or "unknown")
    text = "%s%s: %s" % (what, (" " + version) if version else "", result)
    if summary.get("check_mode"):
        text += " (check mode)"
    return text


def lock_text(summary: dict) -> str:
    """The release lock as a person needs it: which, and whether it is still held (until when) or was broken."""
    lock = summary.get("lock") if isinstance(summary.get("lock"), dict) else {}
    text = str(summary.get("lock_id"))
    if lock.get("held"):
        text += " (still held until %s)" % (lock.get("expires") or "it expires")
    elif lock.get("released"):
        text += " (released)"
    if lock.get("forced"):
        broke = lock.get("broke") or {}
        text += " (forced: broke the lock of %s, run %s)" % (broke.get("user") or "unknown", broke.get("run_id") or "unknown")
    return text


def host_line(row: dict) -> str:
    """The seed's fields for one host: time, host, Ansible status, node status, then why."""
    node = row.get("node_status") or "-"
    fields = (escape(row["host"]), escape(row.get("time") or "-"), escape(row["ansible_status"]), escape(node))
    line = "`%s`  %s  Ansible: *%s*  node: *%s*" % fields
    if row.get("detail"):
        line += "\n>" + escape(_one_line(row["detail"]))
    return clip(line, HOST_LINE)


def counts_text(summary: dict) -> str:
    hosts = summary.get("hosts") or {}
    parts = ["%s %d" % (k.replace("_", " "), v) for k, v in hosts.items() if v]
    nodes = summary.get("node_health") or {}
    text = ", ".join(parts) or "no hosts"
    if nodes:
        text += "; node states: " + ", ".join("%s %d" % (k, v) for k, v in sorted(nodes.items()))
    return text


def slack_message(summary: dict, job_url: str | None = None, delayed: str | None = None) -> dict:
    """One Block Kit message for one run."""
    head = title(summary)
    icon = ICONS.get(summary.get("result") or "", ":grey_question:")
    blocks: list[dict] = [dict(type="header", text=dict(type="plain_text", text=clip(escape(head), MAX_HEADER), emoji=True))]
    fields = [
        ("Result", "%s %s" % (icon, summary.get("result"))),
        ("Hosts", counts_text(summary)),
        ("Project", summary.get("project") or "-"),
        ("Environment", summary.get("environment") or "-"),
        ("Version", " \u2192 ".join(v for v in (summary.get("version_from"), summary.get("version_to")) if v) or "-"),
        ("Run by", summary.get("user") or "-"),
        ("Started", summary.get("started_at") or "-"),
        ("Run", "%s (%ss)" % (summary.get("run_id"), summary.get("duration_s"))),
    ]
    if summary.get("lock_id"):
        fields.append(("Lock", lock_text(summary)))
    rendered = []
    for name, value in fields[:MAX_FIELDS]:
        text = "*%s*\n%s" % (name, escape(value))
        if name == "Run" and job_url:
            # Our own link: only its label is escaped, the URL itself is built from settings, not host output.
            text = "*Run*\n<%s|%s>" % (job_url.replace(">", "%3E").replace("|", "%7C"), escape(summary.get("run_id")))
        rendered.append(dict(type="mrkdwn", text=clip(text, MAX_FIELD)))
    blocks.append(dict(type="section", fields=rendered))
    notes = []
    if delayed:
        notes.append(escape(delayed))
    if summary.get("playbook"):
        notes.append("playbook %s" % escape(summary["playbook"]))
    if notes:
        blocks.append(dict(type="context", elements=[dict(type="mrkdwn", text=clip(" \u00b7 ".join(notes), MAX_SECTION))]))

    problems = summary.get("problems") or []
    if problems:
        blocks.append(dict(type="divider"))
    # Pack host lines into sections of at most MAX_SECTION characters.
    sections: list[list[str]] = []
    size = 0
    for row in problems:
        line = host_line(row)
        if not sections or size + len(line) + 1 > MAX_SECTION:
            sections.append([])
            size = 0
        sections[-1].append(line)
        size += len(line) + 1
    room = MAX_BLOCKS - len(blocks)
    if len(sections) > room:
        sections = sections[:room - 1]  # one block for "+N more"
    shown = sum(len(section) for section in sections)
    blocks += [dict(type="section", text=dict(type="mrkdwn", text="\n".join(section))) for section in sections]
    rest = problems[shown:]
    if rest:
        names = ", ".join(escape(r["host"]) for r in rest)
        blocks.append(dict(type="context", elements=[dict(type="mrkdwn", text=clip("+%d more: %s" % (len(rest), names), MAX_SECTION))]))
    fallback = "%s %s" % (icon, escape(head))
    if problems:
        fallback += " (%d host%s need attention)" % (len(problems), "" if len(problems) == 1 else "s")
    return dict(text=clip(fallback, MAX_SECTION), blocks=blocks[:MAX_BLOCKS])


def json_message(summary: dict, job_url: str | None = None, delayed: str | None = None) -> dict:
    """The generic webhook document: the run summary as data, for SMS or mail gateways, Mattermost, ..."""
    body = {k: v for k, v in summary.items() if k != "problems"}
    problems = summary.get("problems") or []
    body["problems"] = [dict(row, detail=clip(str(row.get("detail") or ""), 500) or None) for row in problems[:MAX_JSON_HOSTS]]
    body["problems_truncated"] = max(0, len(problems) - MAX_JSON_HOSTS)
    body["title"] = title(summary)
    body["text"] = "%s; %s" % (title(summary), counts_text(summary))
    body["job_url"] = job_url
    body["delayed"] = delayed
    body["source"] = "fleetops.release.recap_alert"
    return body
