# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Unit tests for the generic lb_member logic (_lb.run) with a scripted fake backend and a fake clock:
idempotency, check mode, the capacity guard, drain and enable timeouts."""

from __future__ import annotations

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError, Waiter, capacity_check, run


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeBackend:
    """Members a, b, c (this one is ``b``). Commands change ``b`` after ``lag`` seconds of the fake clock;
    ``sessions`` drop to zero ``drain_for`` seconds after a drain."""

    label = "member b of fake pool p"

    def __init__(self, clock: Clock, state: str = "enabled", healthy: bool = True, sessions: int = 0, others: tuple = (True, True),
                 drain_for: float = 0.0, heals: bool = True, out_view: dict | None = None) -> None:
        self.clock = clock
        self.b = dict(name="b", state=state, healthy=healthy, sessions=sessions, detail="fake %s" % state)
        self.others = [dict(name=n, state="enabled", healthy=h, sessions=0, detail="") for n, h in zip("ac", others, strict=False)]
        self.drain_for = drain_for
        self.heals = heals
        self.calls: list[str] = []
        self.drained_at: float | None = None
        if out_view is not None:
            self.OUT_VIEW = out_view  # pylint: disable=invalid-name

    def members(self) -> list[dict]:
        return [self.others[0], self.member(), self.others[1]]

    def member(self) -> dict:
        if self.drained_at is not None and self.clock.now - self.drained_at >= self.drain_for:
            self.b["sessions"] = 0
        return dict(self.b)

    def enable(self) -> None:
        self.calls.append("enable")
        self.b.update(state="enabled", healthy=self.heals, detail="fake UP" if self.heals else "fake DOWN")

    def drain(self) -> None:
        self.calls.append("drain")
        self.b.update(state="draining", detail="fake DRAIN")
        self.drained_at = self.clock.now

    def disable(self) -> None:
        self.calls.append("disable")
        self.b.update(state="disabled", detail="fake MAINT")
        self.b.update(getattr(self, "OUT_VIEW", {}))

    def after_change(self) -> None:
        self.calls.append("after_change")


def params(**kw) -> dict:
    base = dict(state="drained", wait_timeout=10.0, drain_timeout=30.0, on_drain_timeout="fail", min_healthy=0, poll_interval=1.0)
    base.update(kw)
    return base


def go(backend: FakeBackend, check_mode: bool = False, **kw) -> dict:
    clock = backend.clock
    return run(backend, params(**kw), check_mode, Waiter(backend, 1.0, clock=clock, sleep=clock.sleep))


def view(state, healthy, sessions) -> dict:
    return dict(state=state, healthy=healthy, sessions=sessions)


def test_drain_four_times_check_mode_predicts():
    clock = Clock()
    backend = FakeBackend(clock, sessions=2, drain_for=3.0, out_view={"state": "disabled", "healthy": False})
    predicted = go(backend, check_mode=True)
    assert backend.calls == []
    real = go(backend)
    assert backend.calls == ["drain", "disable", "after_change"]
    assert predicted["changed"] is real["changed"] is True
    assert predicted["diff"] == real["diff"] == dict(before=view("enabled", True, 2), after=view("disabled", False, 0))
    assert real["waited"] == 3.0 and real["forced"] is False
    assert (real["healthy_members"], real["total_members"]) == (2, 3)
    for check_mode in (True, False):
        again = go(backend, check_mode=check_mode)
        assert again["changed"] is False and "diff" not in again and again["waited"] == 0.0
    assert backend.calls == ["drain", "disable", "after_change"]


def test_drain_without_out_view_predicts_drained_state():
    backend = FakeBackend(Clock())
    assert go(backend, check_mode=True)["diff"]["after"] == view("drained", True, 0)


def test_enable_four_times():
    clock = Clock()
    backend = FakeBackend(clock, state="disabled", healthy=False)
    predicted = go(backend, check_mode=True, state="enabled")
    real = go(backend, state="enabled")
    assert predicted["diff"] == real["diff"] == dict(before=view("disabled", False, 0), after=view("enabled", True, 0))
    assert backend.calls == ["enable", "after_change"]
    assert go(backend, check_mode=True, state="enabled")["changed"] is False
    assert go(backend, state="enabled")["changed"] is False


def test_disable_four_times():
    backend = FakeBackend(Clock(), out_view={"state": "disabled", "healthy": False})
    predicted = go(backend, check_mode=True, state="disabled")
    real = go(backend, state="disabled")
    assert predicted["diff"] == real["diff"] == dict(before=view("enabled", True, 0), after=view("disabled", False, 0))
    assert backend.calls == ["disable", "after_change"]
    assert go(backend, state="disabled")["changed"] is False
    assert go(backend, state="drained")["changed"] is False


def test_enable_timeout():
    clock = Clock()
    backend = FakeBackend(clock, state="disabled", healthy=False, heals=False)
    result = go(backend, state="enabled", wait_timeout=5.0)
    # Failed after a command reached the balancer: still changed, so the caller knows the member moved.
    assert result["failed"] is True and result["changed"] is True
    assert result["msg"] == ("member b of fake pool p did not become healthy in rotation within 5 s: the balancer shows state "
                             "enabled, healthy False (fake DOWN)")
    assert clock.now == 5.0
    assert "after_change" not in backend.calls


def test_drain_timeout_fails_and_stays_draining():
    clock = Clock()
    backend = FakeBackend(clock, sessions=4, drain_for=100.0)
    result = go(backend, drain_timeout=7.0)
    assert result["failed"] is True and result["changed"] is True and result["before"]["state"] == "enabled"
    assert result["msg"] == ("member b of fake pool p still has 4 session(s) in flight after 7 s of draining; it stays draining "
                             "(no new work). Raise drain_timeout or set on_drain_timeout=disable to cut them (fake DRAIN)")
    assert backend.calls == ["drain"]
    assert backend.member()["state"] == "draining"


def test_drain_timeout_disable_forces():
    clock = Clock()
    backend = FakeBackend(clock, sessions=4, drain_for=100.0)
    result = go(backend, drain_timeout=7.0, on_drain_timeout="disable")
    assert result["forced"] is True and result["sessions_cut"] == 4
    assert backend.calls == ["drain", "disable", "after_change"]
    assert result["member"]["state"] == "disabled"


def test_capacity_guard_refuses_in_check_mode_and_real():
    for check_mode in (True, False):
        backend = FakeBackend(Clock(), others=(True, False))
        with pytest.raises(LbError) as info:
            go(backend, check_mode=check_mode, min_healthy=2)
        assert str(info.value) == ("refusing to take member b of fake pool p out: 1 of 3 members would stay healthy in rotation (a), "
                                   "below min_healthy 2")
        assert backend.calls == []


def test_capacity_guard_none_left():
    backend = FakeBackend(Clock(), others=(False, False))
    with pytest.raises(LbError, match=r"0 of 3 members would stay healthy in rotation \(none\), below min_healthy 1$"):
        go(backend, state="disabled", min_healthy=1)


def test_capacity_guard_passes_and_ignores_members_already_out():
    backend = FakeBackend(Clock(), others=(True, True))
    assert capacity_check(backend, backend.member(), 2) == (3, 3)
    out = FakeBackend(Clock(), state="draining", others=(False, False))
    assert capacity_check(out, out.member(), 5) == (0, 3)  # not in rotation: taking it out costs nothing
