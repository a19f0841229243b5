# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import json

from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.alerts import MAX_BLOCKS, MAX_HEADER, MAX_SECTION, escape, json_message, slack_message


def summary(problems=0, **extra):
    rows = [dict(host="node%03d" % i, ansible_status="failed", node_status="failure", time="2026-11-22T10:00:00Z",
                 detail="deploy.sh failed", problem=True) for i in range(problems)]
    base = dict(run_id="R1", project="px", environment="online", version_from="1.0.0", version_to="1.1.0", result="failed" if problems else "success",
                hosts=dict(ok=0, failed=problems, unreachable=0, rescued=0, not_attempted=0), node_health={}, user="alice",
                started_at="2026-11-22T10:00:00Z", duration_s=3.2, problems=rows, playbook="deploy.yml", check_mode=False)
    base.update(extra)
    return base


def texts(message):
    out = []
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        for field in block.get("fields", []):
            out.append(field["text"])
        for element in block.get("elements", []):
            out.append(element["text"])
    return out


def test_escape_neutralises_mentions_links_and_code():
    text = escape("<!channel> @channel @here & `rm -rf` <https://evil|click>")
    assert "<" not in text and ">" not in text and "`" not in text
    assert "@channel" not in text and "@here" not in text
    assert "&amp;" in text and "&lt;!channel&gt;" in text


def test_500_short_failures_are_all_listed_in_packed_sections():
    message = slack_message(summary(500))
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert sum(t.count("Ansible: *failed*") for t in texts(message)) == 500
    assert not [t for t in texts(message) if t.startswith("+")]


def test_500_failing_hosts_fit_slack_limits_with_more():
    s = summary(500)
    for row in s["problems"]:
        row["detail"] = "deploy.sh exited 1: " + "stderr line " * 40
    message = slack_message(s)
    assert len(message["blocks"]) <= MAX_BLOCKS
    for text in texts(message):
        assert len(text) <= MAX_SECTION
    assert message["blocks"][0]["type"] == "header" and len(message["blocks"][0]["text"]["text"]) <= MAX_HEADER
    shown = sum(t.count("Ansible: *failed*") for t in texts(message))
    more = [t for t in texts(message) if t.startswith("+")]
    assert len(more) == 1
    count = int(more[0][1:].split(" ", 1)[0])
    assert shown + count == 500 and shown > 50


def test_huge_detail_and_hostile_names():
    s = summary(1)
    s["problems"][0]["detail"] = "<b>&`@channel</b>" + "e" * 100_000
    s["problems"][0]["host"] = "web`01<@U123>"
    message = slack_message(s, job_url="https://awx.example.com/#/jobs/playbook/7/output")
    body = json.dumps(message)
    for text in texts(message):
        assert len(text) <= MAX_SECTION
    joined = "\n".join(texts(message))
    assert "@channel" not in joined and "<@U123>" not in joined and "<b>" not in joined
    assert "<https://awx.example.com/#/jobs/playbook/7/output|R1>" in joined
    assert len(body) < 40_000


def test_header_is_clipped_and_fields_present():
    s = summary(0, project="p" * 300)
    message = slack_message(s)
    assert len(message["blocks"][0]["text"]["text"]) == MAX_HEADER
    joined = "\n".join(texts(message))
    assert "*Run by*\nalice" in joined and "1.0.0 \u2192 1.1.0" in joined and "success" in joined


def test_interrupted_title_and_delayed_note():
    message = slack_message(summary(2, result="aborted", interrupted_by="SIGTERM"), delayed="delayed: run R0")
    assert "interrupted (SIGTERM)" in message["blocks"][0]["text"]["text"]
    assert any("delayed: run R0" in t for t in texts(message))


def test_json_message_carries_data():
    body = json_message(summary(3), job_url=None)
    assert body["problems"][0]["host"] == "node000" and body["problems_truncated"] == 0
    assert body["result"] == "failed" and body["source"] == "fleetops.release.recap_alert"
    big = json_message(summary(1500))
    assert len(big["problems"]) == 1000 and big["problems_truncated"] == 500


def test_lock_field_says_held_until_released_or_forced():
    from ansible_collections.fleetops.release.plugins.plugin_utils._alerts.alerts import lock_text
    base = {"lock_id": "s3://b/k#2"}
    assert lock_text(dict(base, lock={"held": True, "expires": "2026-11-22T22:00:00Z"})) == "s3://b/k#2 (still held until 2026-11-22T22:00:00Z)"
    assert lock_text(dict(base, lock={"released": True})) == "s3://b/k#2 (released)"
    assert lock_text(dict(base, lock={"released": True, "forced": True, "broke": {"user": "bob", "run_id": "R-0"}})) == \
        "s3://b/k#2 (released) (forced: broke the lock of bob, run R-0)"
    assert lock_text(base) == "s3://b/k#2"
