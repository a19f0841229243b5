# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The pull agent's command line: ``fleetops-agent --config /etc/fleetops/agent.json``.

One run is one poll (the systemd timer is the loop). It prints one JSON line saying what it did
(no URL, key or credential in it) and exits 0 when the node is fine, 1 when it reported a failed or
rejected release, 2 for a configuration error and 3 when S3 could not be read. Credentials come
from the environment (for example a systemd ``EnvironmentFile``), the shared credentials file or,
with boto3, the instance role; never from the configuration file.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._pull.agent import Agent, ConfigError, load_config
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store, store_problem

DEFAULT_CONFIG = "/etc/fleetops/agent.json"
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_UNREACHABLE = 0, 1, 2, 3


def _store_factory(config: dict) -> t.Callable[[], t.Any]:
    return lambda: open_store(dict(config.get("s3") or {}))


def _line(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def main(argv: list[str] | None = None, out: t.TextIO | None = None) -> int:
    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="fleetops-agent", description="One poll of fleetops.release pull mode.")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help="the agent configuration (JSON); default %(default)s")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        out.write(_line(dict(action="error", error=str(exc))) + "\n")
        return EXIT_CONFIG
    problem = store_problem(dict(config.get("s3") or {}))
    if problem:
        error = ("%s: s3: %s; or give s3.endpoint_url (for AWS https://s3.<region>.amazonaws.com) with read-only keys in the "
                 "environment" % (args.config, problem))
        out.write(_line(dict(action="error", node=config["node"], error=error)) + "\n")
        return EXIT_CONFIG
    agent = Agent(config, _store_factory(config))
    try:
        outcome = agent.poll()
    except FleetopsError as exc:
        out.write(_line(dict(action="error", node=config["node"], error=str(exc), requests=agent.requests)) + "\n")
        return EXIT_UNREACHABLE
    except OSError as exc:
        out.write(_line(dict(action="error", node=config["node"], requests=agent.requests,
                             error="%s: %s" % (getattr(exc, "filename", None) or "the agent's files", exc.strerror or exc))) + "\n")
        return EXIT_UNREACHABLE
    status = outcome.pop("status", None) or {}
    line = dict(outcome, node=config["node"])
    for field in ("result", "version", "node_status", "stage", "error", "reason", "warnings", "seconds", "report_error"):
        if status.get(field) is not None:
            line[field] = status[field]
    out.write(_line(line) + "\n")
    return EXIT_FAILED if status.get("result") in ("failed", "rejected") or status.get("report_error") else EXIT_OK
