# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

from ansible_collections.fleetops.release.plugins.plugin_utils._report.summary import still_out
from ansible_collections.fleetops.release.plugins.plugin_utils._rollout.recover import Recovery

HAPROXY = {"type": "haproxy", "haproxy_socket": "/run/haproxy.sock", "haproxy_backend": "web", "haproxy_server": "h1"}
NGINX = {"type": "nginx", "nginx_upstream_file": "/etc/nginx/up.conf", "nginx_upstream": "web", "nginx_server": "h1:80"}
HEALTH = {"url": "http://10.0.0.1:8080/health"}


class FakeOps:
    def __init__(self, node=None, health=None, lb=None):
        self.calls = []
        self.node = node if node is not None else {"status": "active", "exists": True}
        self.health_result = health or {"ok": True, "attempts": 1, "msg": "health check over HTTP passed: status 200"}
        self.lb_results = list(lb or [])

    def node_status(self):
        self.calls.append(("node",))
        return self.node

    def health(self):
        self.calls.append(("health",))
        return self.health_result

    def lb(self, membership, state):
        self.calls.append(("lb", membership["type"], state))
        return self.lb_results.pop(0) if self.lb_results else {"changed": True}


def test_an_active_healthy_host_is_put_back_into_what_the_record_names():
    ops = FakeOps()
    result = Recovery("h1", [HAPROXY, NGINX], [0, 1], HEALTH, ops).run()
    assert ops.calls == [("node",), ("health",), ("lb", "haproxy", "enabled"), ("lb", "nginx", "enabled")]
    assert result["changed"] and result["recovery"]["still_out"] == [] and result["recovery"]["put_back"] == ["haproxy web", "nginx web"]
    assert still_out({"h1": [0, 1]}, {"h1": {"deploy_recovered": result}}) == {}


def test_a_node_the_dead_run_left_in_maintain_stays_out_untouched():
    ops = FakeOps(node={"status": "maintain"})
    result = Recovery("web02", [HAPROXY], [0], HEALTH, ops).run()
    assert ops.calls == [("node",)] and not result["changed"] and result["recovery"]["still_out"] == [0]
    assert "web02 was left out of its load balancers by a release that died, and is not active (node status maintain)" in result["msg"]
    assert still_out({"web02": [0]}, {"web02": {"deploy_recovered": result}}) == {"web02": [0]}


def test_an_unreachable_node_or_a_failed_health_check_keeps_everything_out():
    unreachable = Recovery("h1", [HAPROXY], [0], HEALTH, FakeOps(node={"unreachable": True, "msg": "no route"})).run()
    assert unreachable["recovery"]["still_out"] == [0] and "node status unknown" in unreachable["msg"]
    ops = FakeOps(health={"ok": False, "attempts": 3, "msg": "health check over HTTP failed after 3 tries: status 503, not 200"})
    unhealthy = Recovery("h1", [HAPROXY], [0], HEALTH, ops).run()
    assert ("lb", "haproxy", "enabled") not in ops.calls and unhealthy["recovery"]["still_out"] == [0]
    assert "is not healthy now (health check over HTTP failed after 3 tries: status 503, not 200)" in unhealthy["msg"]


def test_nginx_without_a_health_check_stays_out_and_a_failed_put_back_is_said():
    ops = FakeOps(lb=[{"failed": True, "msg": "cannot reach the HAProxy socket /run/haproxy.sock"}])
    result = Recovery("h1", [HAPROXY, NGINX], [0, 1], {}, ops).run()
    assert ops.calls == [("node",), ("lb", "haproxy", "enabled")]
    assert result["recovery"]["still_out"] == [0, 1] and not result["changed"]
    assert "could not put it back into haproxy web" in result["msg"] and "has no health check" in result["msg"]
    assert still_out({"h1": [0, 1]}, {"h1": {"deploy_recovered": result}}) == {"h1": [0, 1]}


def test_indexes_the_host_no_longer_has_are_skipped_and_a_host_that_never_ran_stays_in_the_note():
    ops = FakeOps()
    result = Recovery("h1", [HAPROXY], [0, 3, "x"], {}, ops).run()
    assert ops.calls == [("node",), ("lb", "haproxy", "enabled")] and result["recovery"]["still_out"] == []
    assert still_out({"h1": [0], "h2": [1]}, {"h1": {"deploy_recovered": result}, "h2": {}}) == {"h2": [1]}
