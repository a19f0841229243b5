# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The health check a host passes before it takes traffic again (``fleetops_health``).

One spec, two forms: ``url`` (fetched from the controller, or from the inventory host ``from``: an expected ``status``, default 200, and optionally a
string the body ``contains``) or ``command`` (run on the host: exit 0 is healthy). ``retries`` tries at ``delay``
seconds apart; ``timeout`` bounds each HTTP try. The result is ``{ok, msg, attempts}``; ``msg`` names the URL or
command and what the last try saw.
"""

from __future__ import annotations

import time
import typing as t
import urllib.error

from ansible.module_utils.urls import open_url

MAX_BODY = 1024 * 1024


def attempts(spec: dict, retries: int, delay: float) -> tuple[int, float]:
    """(tries, seconds between them) of a spec, with the role's defaults."""
    tries = max(int(spec.get("retries", retries)), 1)
    return tries, float(spec.get("delay", delay))


def http_once(url: str, status: int, contains: str, timeout: float, validate_certs: bool = True) -> tuple[bool, str]:
    """One HTTP try: (healthy, what was seen)."""
    try:
        with open_url(url, timeout=timeout, validate_certs=validate_certs, http_agent="fleetops.release health check",
                      follow_redirects="safe") as response:
            code, body = response.status, response.read(MAX_BODY)
    except urllib.error.HTTPError as exc:
        code, body = exc.code, exc.read(MAX_BODY) if exc.fp else b""
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return False, "cannot reach it (%s)" % (reason,)
    text = body.decode("utf-8", "replace")
    if code != status:
        return False, "status %d, not %d" % (code, status)
    if contains and contains not in text:
        return False, "status %d, but the body does not contain %r" % (code, contains)
    return True, "status %d" % code


def check(spec: dict, retries: int, delay: float, run_command: t.Callable[[str], tuple[int, str]] | None = None,
          sleep: t.Callable[[float], None] = time.sleep, fetch: t.Callable[..., tuple[bool, str]] = http_once) -> dict:
    """Try the spec until it is healthy or the tries run out (``fetch`` makes one HTTP try, by default from here)."""
    tries, pause = attempts(spec, retries, delay)
    seen = ""
    for attempt in range(1, tries + 1):
        if spec.get("url"):
            ok, seen = fetch(str(spec["url"]), int(spec.get("status", 200)), str(spec.get("contains") or ""),
                             float(spec.get("timeout", 5)), bool(spec.get("validate_certs", True)))
            how, what = "over HTTP", "over HTTP (%s)" % spec["url"]
        elif spec.get("command"):
            if run_command is None:
                return dict(ok=False, attempts=0, msg="health check: no way to run %r on the host" % spec["command"])
            rc, seen = run_command(str(spec["command"]))
            ok = rc == 0
            how, what = "with a command", "with a command (%s)" % spec["command"]
        else:
            return dict(ok=True, attempts=0, msg="no health check configured")
        if ok:
            return dict(ok=True, attempts=attempt, msg="health check %s passed: %s" % (how, seen))
        if attempt < tries:
            sleep(pause)
    return dict(ok=False, attempts=tries, msg="health check %s failed after %d tries: %s" % (what, tries, seen))
