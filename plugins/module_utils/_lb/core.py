# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""What lb_member does, the same for every balancer: compare, guard capacity, act, and wait on the
balancer's own view until it shows the wanted state.

A backend (``_lb_haproxy``, ``_lb_nginx``, ``_lb_elbv2``) only knows how to read its members and issue
three commands. Everything about waiting, idempotency, check mode, the capacity guard and the result
lives here, so the three behave alike.

Member views are dicts: ``name``, ``state`` (one of MEMBER_STATES), ``healthy`` (bool: the balancer's
health check passes and it would send traffic if enabled), ``sessions`` (in-flight work: current
sessions for HAProxy, old nginx workers still finishing, 1 while an ELBv2 target is draining; None when
unknown) and ``detail`` (the balancer's own words, for messages).
"""

from __future__ import annotations

import time
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError

MEMBER_STATES = ("enabled", "draining", "drained", "disabled")
OUT = ("drained", "disabled")


class LbError(FleetopsError):
    """A balancer problem: unknown backend or server, unreachable balancer, a refused command, a wait that timed out."""


class Backend(t.Protocol):
    """What a balancer backend provides; see the module docstring for member views."""

    #: How messages name the member, e.g. "server web02 of HAProxy backend web".
    label: str

    def members(self) -> list[dict]:
        """Every member of the pool (for the capacity guard); raises LbError when the pool does not exist."""

    def member(self) -> dict:
        """This member; raises LbError naming the pool and the members it has when it is not one of them."""

    def enable(self) -> None:
        """Put the member in rotation (HAProxy: ready; nginx: remove down, test, reload; ELBv2: register)."""

    def drain(self) -> None:
        """Stop new work for the member, let in-flight work finish (HAProxy: drain; nginx: down, test, reload;
        ELBv2: deregister)."""

    def disable(self) -> None:
        """Take the member out at once (HAProxy: maint; nginx and ELBv2: as drain, without waiting)."""

    def after_change(self) -> None:
        """Called once after a change was made and waited for (HAProxy: save server state)."""


LB_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    type=dict(type="str", required=True, choices=["haproxy", "nginx", "elbv2"]),
    state=dict(type="str", required=True, choices=["enabled", "drained", "disabled"]),
    wait_timeout=dict(type="float", default=60.0),
    drain_timeout=dict(type="float", default=300.0),
    on_drain_timeout=dict(type="str", choices=["fail", "disable"], default="fail"),
    min_healthy=dict(type="int", default=0),
    poll_interval=dict(type="float", default=1.0),
    # HAProxy runtime API
    haproxy_socket=dict(type="str"),
    haproxy_backend=dict(type="str"),
    haproxy_server=dict(type="str"),
    haproxy_state_file=dict(type="path"),
    # nginx managed upstream file
    nginx_upstream_file=dict(type="path"),
    nginx_upstream=dict(type="str"),
    nginx_server=dict(type="str"),
    nginx_binary=dict(type="path", default="nginx"),
    nginx_conf=dict(type="path"),
    nginx_pid_file=dict(type="path"),
    # AWS ELBv2 target groups
    target_group_arn=dict(type="str"),
    target_id=dict(type="str"),
    target_port=dict(type="int"),
    region=dict(type="str", aliases=["aws_region"]),
    endpoint_url=dict(type="str", aliases=["aws_endpoint_url"]),
    profile=dict(type="str", aliases=["aws_profile"]),
    access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=True),
    secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
)

LB_REQUIRED_IF = [
    ("type", "haproxy", ["haproxy_socket", "haproxy_backend", "haproxy_server"]),
    ("type", "nginx", ["nginx_upstream_file", "nginx_upstream", "nginx_server"]),
    ("type", "elbv2", ["target_group_arn", "target_id"]),
]


def backend_for(params: dict) -> Backend:
    """The backend for ``params['type']`` (imported lazily: boto3 only for ELBv2)."""
    # pylint: disable=import-outside-toplevel
    if params["type"] == "haproxy":
        from ansible_collections.fleetops.release.plugins.module_utils._lb.haproxy import HaproxyBackend
        return HaproxyBackend(params)
    if params["type"] == "nginx":
        from ansible_collections.fleetops.release.plugins.module_utils._lb.nginx import NginxBackend
        return NginxBackend(params)
    from ansible_collections.fleetops.release.plugins.module_utils._lb.elbv2 import Elbv2Backend
    return Elbv2Backend(params)


def _view(member: dict) -> dict:
    return {k: member.get(k) for k in ("state", "healthy", "sessions")}


def _in_rotation(member: dict) -> bool:
    return member.get("state") == "enabled" and bool(member.get("healthy"))


def capacity_check(backend: Backend, member: dict, min_healthy: int) -> tuple[int, int]:
    """Refuse to take a member out when fewer than ``min_healthy`` healthy members would stay in rotation.

    Returns (healthy in rotation now, total members).
    """
    members = backend.members()
    live = [m for m in members if _in_rotation(m)]
    staying = [m for m in live if m.get("name") != member.get("name")]
    if min_healthy > 0 and _in_rotation(member) and len(staying) < min_healthy:
        names = ", ".join(sorted(m["name"] for m in staying)) or "none"
        raise LbError("refusing to take %s out: %d of %d members would stay healthy in rotation (%s), below min_healthy %d"
                      % (backend.label, len(staying), len(members), names, min_healthy))
    return len(live), len(members)


class Waiter:
    """Polls the member until a condition holds or a timeout passes; injectable clock for tests."""

    def __init__(self, backend: Backend, interval: float, clock: t.Callable[[], float] = time.monotonic,
                 sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.backend = backend
        self.interval = max(0.05, interval)
        self.clock = clock
        self.sleep = sleep
        self.waited = 0.0

    def until(self, condition: t.Callable[[dict], bool], timeout: float) -> tuple[bool, dict]:
        started = self.clock()
        while True:
            member = self.backend.member()
            if condition(member):
                self.waited += self.clock() - started
                return True, member
            if self.clock() - started >= timeout:
                self.waited += self.clock() - started
                return False, member
            self.sleep(self.interval)


def run(backend: Backend, params: dict, check_mode: bool, waiter: Waiter | None = None) -> dict:
    """Bring the member to ``params['state']``; the module's whole result."""
    want = params["state"]
    waiter = waiter or Waiter(backend, params["poll_interval"])
    before = backend.member()
    result: dict[str, t.Any] = dict(changed=False, member=before, before=_view(before), waited=0.0, forced=False)

    if want == "enabled":
        done = _in_rotation(before)
    elif want == "drained":
        # Out is out: sessions still finishing in a member already out of rotation need no command.
        done = before.get("state") in OUT
    else:
        done = before.get("state") == "disabled" or (before.get("state") in OUT and backend_disables_by_draining(backend))
    if done:
        healthy, total = _counts(backend)
        result.update(healthy_members=healthy, total_members=total)
        return result

    if want != "enabled":
        healthy, total = capacity_check(backend, before, params["min_healthy"])
    result["changed"] = True
    if want == "enabled":
        after_guess = dict(before, state="enabled", healthy=True)  # a successful enable ends healthy
    else:
        # How the backend shows a member out of rotation, e.g. HAProxy: OUT_VIEW = {"state": "disabled", "healthy": False}
        after_guess = dict(before, state=want, sessions=0)
        after_guess.update(getattr(backend, "OUT_VIEW", {}))
    result["diff"] = dict(before=_view(before), after=_view(after_guess))
    if check_mode:
        result["member"] = after_guess
        healthy, total = _counts(backend)
        result.update(healthy_members=healthy, total_members=total)
        return result

    # From here on a command reaches the balancer: a failure still reports changed, so that a caller (the
    # deploy role) knows this member may be out of rotation and can put it back.
    try:
        if want == "enabled":
            backend.enable()
            ok, member = waiter.until(_in_rotation, params["wait_timeout"])
            if not ok:
                raise LbError("%s did not become healthy in rotation within %.0f s: the balancer shows state %s, healthy %s%s"
                              % (backend.label, params["wait_timeout"], member.get("state"), member.get("healthy"), _detail(member)))
        elif want == "drained":
            if before.get("state") not in OUT:
                backend.drain()
            timeout = out_timeout(backend, params["drain_timeout"])
            ok, member = waiter.until(lambda m: m.get("state") in ("draining",) + OUT and not m.get("sessions"), timeout)
            if not ok:
                if params["on_drain_timeout"] == "fail":
                    raise LbError("%s still has %s session(s) in flight after %.0f s of draining; it stays draining (no new work). "
                                  "Raise drain_timeout or set on_drain_timeout=disable to cut them%s"
                                  % (backend.label, member.get("sessions"), timeout, _detail(member)))
                result["forced"] = True
                result["sessions_cut"] = member.get("sessions")
            if member.get("state") != "disabled" and not backend_disables_by_draining(backend):
                backend.disable()
            ok, member = waiter.until(lambda m: m.get("state") in OUT, params["wait_timeout"])
            if not ok:
                raise LbError("%s was not out of rotation within %.0f s: the balancer shows state %s%s"
                              % (backend.label, params["wait_timeout"], member.get("state"), _detail(member)))
        else:
            backend.disable()
            timeout = out_timeout(backend, params["wait_timeout"])
            ok, member = waiter.until(lambda m: m.get("state") in OUT, timeout)
            if not ok:
                raise LbError("%s was not out of rotation within %.0f s: the balancer shows state %s%s"
                              % (backend.label, timeout, member.get("state"), _detail(member)))
    except LbError as exc:
        try:
            member = backend.member()
        except LbError:
            member = None
        result.update(failed=True, msg=str(exc), member=member, waited=round(waiter.waited, 2))
        return result
    backend.after_change()
    result["member"] = member
    result["waited"] = round(waiter.waited, 2)
    result["diff"]["after"] = _view(member)
    healthy, total = _counts(backend)
    result.update(healthy_members=healthy, total_members=total)
    return result


def backend_disables_by_draining(backend: Backend) -> bool:
    """nginx and ELBv2 have no separate maintenance: a drained member is as out as it gets."""
    return bool(getattr(backend, "DRAIN_IS_DISABLE", False))


def out_timeout(backend: Backend, timeout: float) -> float:
    """The wait for a member leaving rotation: ``timeout``, or what the backend's optional ``out_timeout(timeout)``
    makes of it (ELBv2: never shorter than the target group's deregistration delay)."""
    hook = getattr(backend, "out_timeout", None)
    return hook(timeout) if hook else timeout


def _counts(backend: Backend) -> tuple[int, int]:
    members = backend.members()
    return sum(1 for m in members if _in_rotation(m)), len(members)


def _detail(member: dict) -> str:
    detail = member.get("detail")
    return " (%s)" % detail if detail else ""
