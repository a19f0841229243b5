# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_lb/elbv2.py: what moto does not emulate.

A scripted ELBv2 (``FakeElbv2``) plays target health over a fake clock: a deregistered target stays
``draining`` for a while, a registered one is ``initial`` before ``healthy``, calls can be throttled. The
generic logic runs through ``_lb.run`` with a ``Waiter`` on the same fake clock, so nothing sleeps.
botocore's Stubber checks the exact requests a real client would send; no request leaves the process.
"""

from __future__ import annotations

import botocore.exceptions
import pytest
from botocore.stub import Stubber

from ansible_collections.fleetops.release.plugins.module_utils._lb import core as _lb
from ansible_collections.fleetops.release.plugins.module_utils._lb import elbv2 as _lb_elbv2
from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError, Waiter
from ansible_collections.fleetops.release.plugins.module_utils._lb.elbv2 import Elbv2Backend, health_detail, member_view

ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef"
GROUP = "target group web (%s)" % ARN
A, B = "i-0aaaaaaaaaaaaaaaa", "i-0bbbbbbbbbbbbbbbb"
HEALTHY = {"State": "healthy"}
INITIAL = {"State": "initial", "Reason": "Elb.RegistrationInProgress", "Description": "Target registration is in progress"}
DRAINING = {"State": "draining", "Reason": "Target.DeregistrationInProgress", "Description": "Target deregistration is in progress"}
NOT_REGISTERED = {"State": "unused", "Reason": "Target.NotRegistered", "Description": "Target is not registered to the target group"}
FOREVER = float("inf")


class Clock:
    """A fake monotonic clock; sleeping advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client_error(code: str, operation: str, status: int = 400, message: str = "") -> botocore.exceptions.ClientError:
    return botocore.exceptions.ClientError(
        {"Error": {"Code": code, "Message": message or code}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


class FakeElbv2:
    """One target group. Each target follows a timeline of (seconds, TargetHealth or None for gone) from its last
    register/deregister; the last step lasts forever."""

    def __init__(self, clock: Clock, delay: str | None = "300", exists: bool = True) -> None:
        self.clock = clock
        self.delay = delay
        self.exists = exists
        self.targets: dict[tuple, dict] = {}
        self.calls: list[tuple[str, dict]] = []
        self.errors: dict[str, list[Exception]] = {}
        self.on_register: list[tuple[float, dict | None]] = [(FOREVER, HEALTHY)]
        self.on_deregister: list[tuple[float, dict | None]] = [(0.0, None)]

    def add(self, target_id: str, port: int | None = 80, timeline: list | None = None) -> None:
        target = {"Id": target_id} if port is None else {"Id": target_id, "Port": port}
        self.targets[(target_id, port)] = dict(Target=target, since=self.clock.now, timeline=timeline or [(FOREVER, HEALTHY)])

    def _enter(self, method: str, kwargs: dict) -> None:
        self.calls.append((method, kwargs))
        queue = self.errors.get(method)
        if queue:
            raise queue.pop(0)
        if not self.exists:
            raise client_error("TargetGroupNotFound", method, message="One or more target groups not found")

    def _health(self, entry: dict) -> dict | None:
        elapsed = self.clock.now - entry["since"]
        for seconds, health in entry["timeline"]:
            if elapsed < seconds:
                return health
            elapsed -= seconds
        return entry["timeline"][-1][1]

    def describe_target_health(self, **kwargs):
        self._enter("describe_target_health", kwargs)
        live = [(e["Target"], self._health(e)) for e in self.targets.values()]
        live = [(tgt, h) for tgt, h in live if h is not None]
        if "Targets" in kwargs:
            want = kwargs["Targets"][0]
            found = [(tgt, h) for tgt, h in live if tgt["Id"] == want["Id"] and want.get("Port") in (None, tgt.get("Port"))]
            if found:
                live = found
            else:
                live = [(dict(want, Port=want.get("Port", 80)), NOT_REGISTERED)]
        return {"TargetHealthDescriptions": [{"Target": tgt, "TargetHealth": h} for tgt, h in live]}

    def describe_target_group_attributes(self, **kwargs):
        self._enter("describe_target_group_attributes", kwargs)
        attrs = [{"Key": "stickiness.enabled", "Value": "false"}]
        if self.delay is not None:
            attrs.append({"Key": "deregistration_delay.timeout_seconds", "Value": self.delay})
        return {"Attributes": attrs}

    def register_targets(self, **kwargs):
        self._enter("register_targets", kwargs)
        for target in kwargs["Targets"]:
            self.add(target["Id"], target.get("Port", 80), list(self.on_register))
        return {}

    def deregister_targets(self, **kwargs):
        self._enter("deregister_targets", kwargs)
        for target in kwargs["Targets"]:
            entry = self.targets.get((target["Id"], target.get("Port")))
            if entry is not None:  # like AWS: an unknown target is no error, and nothing happens
                entry.update(since=self.clock.now, timeline=list(self.on_deregister))
        return {}

    def sent(self, method: str) -> list[dict]:
        return [kwargs for name, kwargs in self.calls if name == method]


def params(**overrides) -> dict:
    base = dict(type="elbv2", state="drained", target_group_arn=ARN, target_id=A, target_port=None, region=None,
                endpoint_url=None, profile=None, access_key=None, secret_key=None, session_token=None,
                wait_timeout=60.0, drain_timeout=300.0, on_drain_timeout="fail", min_healthy=0, poll_interval=5.0)
    base.update(overrides)
    return base


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def elb(clock):
    return FakeElbv2(clock)


def run(elb: FakeElbv2, clock: Clock, check_mode: bool = False, **overrides) -> dict:
    p = params(**overrides)
    backend = Elbv2Backend(p, client=elb, sleep=clock.sleep)
    return _lb.run(backend, p, check_mode, Waiter(backend, p["poll_interval"], clock=clock, sleep=clock.sleep))


def error_of(elb: FakeElbv2, clock: Clock, **overrides) -> str:
    """The error of a call: raised before any command, or a failed result (still changed) after one."""
    try:
        result = run(elb, clock, **overrides)
    except LbError as exc:
        return str(exc)
    assert result["failed"] is True and result["changed"] is True, result
    return result["msg"]


@pytest.fixture(autouse=True)
def isolated(no_aws_env):  # pylint: disable=unused-argument
    """Every test here runs without the machine's AWS settings (conftest.py)."""


# -- mapping -------------------------------------------------------------------------------------

@pytest.mark.parametrize("health, state, healthy, sessions", [
    ({"State": "healthy"}, "enabled", True, None),
    ({"State": "unhealthy", "Reason": "Target.FailedHealthChecks"}, "enabled", False, None),
    (INITIAL, "enabled", False, None),
    ({"State": "unknown"}, "enabled", False, None),
    ({"State": "unavailable", "Reason": "Target.HealthCheckDisabled"}, "enabled", False, None),
    (DRAINING, "draining", False, 1),
    (NOT_REGISTERED, "drained", False, 0),
    ({"State": "unused", "Reason": "Target.InvalidState", "Description": "Target is in the stopped state"}, "drained", False, 0),
])
def test_member_view_maps_every_target_health_state(health, state, healthy, sessions):
    view = member_view({"Target": {"Id": A, "Port": 80}, "TargetHealth": health})
    assert view == dict(name=A + ":80", state=state, healthy=healthy, sessions=sessions, detail=health_detail(health))


def test_detail_is_state_reason_and_description():
    assert health_detail(HEALTHY) == "healthy"
    assert health_detail(DRAINING) == "draining (Target.DeregistrationInProgress: Target deregistration is in progress)"
    assert health_detail({"State": "unhealthy", "Reason": "Target.Timeout"}) == "unhealthy (Target.Timeout)"
    assert member_view({"Target": {"Id": "arn:aws:lambda:eu-west-1:1:function:f"}, "TargetHealth": HEALTHY})["name"] == (
        "arn:aws:lambda:eu-west-1:1:function:f")


def test_label_names_target_port_and_group_from_the_arn():
    assert Elbv2Backend(params(target_port=8080)).label == "target %s:8080 of %s" % (A, GROUP)
    assert Elbv2Backend(params()).label == "target %s of %s" % (A, GROUP)
    assert Elbv2Backend(params()).region == "eu-west-1"
    assert Elbv2Backend(params(region="us-east-2")).region == "us-east-2"
    assert Elbv2Backend(params(target_group_arn="web-tg")).label == "target %s of target group web-tg" % A


def test_members_and_member_read_describe_target_health(elb, clock):
    elb.add(A, 80)
    elb.add(B, 80, [(FOREVER, INITIAL)])
    backend = Elbv2Backend(params(), client=elb)
    assert [(m["name"], m["state"], m["healthy"]) for m in backend.members()] == [(A + ":80", "enabled", True), (B + ":80", "enabled", False)]
    assert backend.member()["name"] == A + ":80"
    assert backend.label == "target %s:80 of %s" % (A, GROUP)
    assert elb.sent("describe_target_health")[0] == {"TargetGroupArn": ARN}


# -- draining ------------------------------------------------------------------------------------

def test_drain_deregisters_with_the_registered_port_and_waits_through_draining(elb, clock):
    elb.add(A, 80)
    elb.add(B, 80)
    elb.on_deregister = [(42.0, DRAINING), (0.0, None)]
    result = run(elb, clock)
    assert elb.sent("deregister_targets") == [{"TargetGroupArn": ARN, "Targets": [{"Id": A, "Port": 80}]}]
    assert result["changed"] is True
    assert result["member"]["state"] == "drained"
    assert result["diff"] == {"before": {"state": "enabled", "healthy": True, "sessions": None},
                              "after": {"state": "drained", "healthy": False, "sessions": 0}}
    assert result["waited"] == 45.0  # polled every 5 s until the draining ended at 42 s
    assert (result["healthy_members"], result["total_members"]) == (1, 1)
    # a second run changes nothing and sends nothing
    again = run(elb, clock)
    assert again["changed"] is False and again["member"]["state"] == "drained"
    assert len(elb.sent("deregister_targets")) == 1


def test_drain_in_check_mode_predicts_and_sends_nothing(elb, clock):
    elb.add(A, 80)
    result = run(elb, clock, check_mode=True)
    assert result["changed"] is True
    assert result["member"]["state"] == "drained" and result["member"]["healthy"] is False
    assert elb.sent("deregister_targets") == [] and elb.sent("register_targets") == []


def test_disabled_deregisters_and_waits_too(elb, clock):
    elb.add(A, 80)
    elb.on_deregister = [(12.0, DRAINING), (3.0, NOT_REGISTERED), (0.0, None)]
    result = run(elb, clock, state="disabled", wait_timeout=5.0)  # shorter than the draining: extended by the delay
    assert result["changed"] is True and result["member"]["state"] == "drained"
    assert result["waited"] == 15.0
    assert len(elb.sent("deregister_targets")) == 1


def test_deregistration_delay_longer_than_drain_timeout_extends_the_wait(elb, clock):
    elb.delay = "600"
    elb.add(A, 80)
    elb.on_deregister = [(500.0, DRAINING), (0.0, None)]
    backend = Elbv2Backend(params(), client=elb)
    assert backend.out_timeout(60.0) == 630.0
    assert backend.out_timeout(900.0) == 900.0
    result = run(elb, clock, drain_timeout=60.0)
    assert result["member"]["state"] == "drained" and result["waited"] == 500.0


def test_draining_past_the_extended_wait_fails_naming_the_target(elb, clock):
    elb.delay = "120"
    elb.add(A, 80)
    elb.on_deregister = [(FOREVER, DRAINING)]
    assert error_of(elb, clock, drain_timeout=60.0) == (
        "target %s:80 of %s still has 1 session(s) in flight after 150 s of draining; it stays draining (no new work). "
        "Raise drain_timeout or set on_drain_timeout=disable to cut them "
        "(draining (Target.DeregistrationInProgress: Target deregistration is in progress))" % (A, GROUP))
    assert clock.now == 150.0


def test_a_group_without_deregistration_delay_waits_the_margin(elb):
    elb.delay = None
    assert Elbv2Backend(params(), client=elb).out_timeout(5.0) == _lb_elbv2.DEREGISTRATION_MARGIN


def test_draining_an_unregistered_target_is_refused_listing_the_registered_ones(elb):
    elb.add(B, 80)
    elb.add("i-0ccccccccccccccccc", 8080, [(FOREVER, INITIAL)])
    backend = Elbv2Backend(params(), client=elb)
    with pytest.raises(LbError) as exc:
        backend.drain()
    assert str(exc.value) == (
        "refusing to deregister target %s of %s: it is not registered (AWS would answer success and do nothing); "
        "registered targets: i-0bbbbbbbbbbbbbbbb:80 (healthy), i-0ccccccccccccccccc:8080 (initial)" % (A, GROUP))
    assert elb.sent("deregister_targets") == []


def test_draining_on_a_port_the_target_is_not_registered_on_is_refused(elb, clock):
    elb.add(A, 80)
    elb.add(B, 80)
    assert error_of(elb, clock, target_port=8080) == (
        "target %s:8080 of %s is not registered (%s is registered on port 80 only); "
        "registered targets: %s:80 (healthy), %s:80 (healthy)" % (A, GROUP, A, A, B))
    assert elb.sent("deregister_targets") == []


def test_a_target_on_several_ports_needs_target_port(elb, clock):
    elb.add(A, 80)
    elb.add(A, 8080)
    assert error_of(elb, clock) == "target %s is registered on several ports of %s (80, 8080): set target_port to choose one" % (A, GROUP)
    result = run(elb, clock, target_port=8080)
    assert elb.sent("deregister_targets") == [{"TargetGroupArn": ARN, "Targets": [{"Id": A, "Port": 8080}]}]
    assert result["member"]["name"] == A + ":8080"


def test_a_target_that_is_not_registered_is_already_drained(elb, clock):
    elb.add(B, 80)
    result = run(elb, clock)
    assert result["changed"] is False
    assert result["member"] == dict(name=A + ":80", state="drained", healthy=False, sessions=0, detail=health_detail(NOT_REGISTERED))
    assert elb.sent("describe_target_health")[1] == {"TargetGroupArn": ARN, "Targets": [{"Id": A}]}


def test_a_target_aws_does_not_know_is_an_error_listing_the_registered_ones(elb, clock):
    elb.add(B, 80)
    original = elb.describe_target_health

    def describe(**kwargs):
        if "Targets" in kwargs:
            raise client_error("InvalidTarget", "DescribeTargetHealth",
                               message="The following targets are not in a running state and cannot be registered: '%s'" % A)
        return original(**kwargs)

    elb.describe_target_health = describe
    assert error_of(elb, clock) == (
        "AWS refuses target %s of %s (InvalidTarget: The following targets are not in a running state and cannot be "
        "registered: '%s'); registered targets: %s:80 (healthy)" % (A, GROUP, A, B))


def test_capacity_guard_counts_healthy_targets(elb, clock):
    elb.add(A, 80)
    elb.add(B, 80, [(FOREVER, {"State": "unhealthy", "Reason": "Target.FailedHealthChecks"})])
    assert error_of(elb, clock, min_healthy=1) == (
        "refusing to take target %s:80 of %s out: 0 of 2 members would stay healthy in rotation (none), below min_healthy 1" % (A, GROUP))
    assert elb.sent("deregister_targets") == []


# -- enabling ------------------------------------------------------------------------------------

def test_enable_registers_and_waits_from_initial_to_healthy(elb, clock):
    elb.on_register = [(20.0, INITIAL), (FOREVER, HEALTHY)]
    result = run(elb, clock, state="enabled", target_port=8080)
    assert elb.sent("register_targets") == [{"TargetGroupArn": ARN, "Targets": [{"Id": A, "Port": 8080}]}]
    assert result["changed"] is True
    assert result["member"] == dict(name=A + ":8080", state="enabled", healthy=True, sessions=None, detail="healthy")
    assert result["waited"] == 20.0
    again = run(elb, clock, state="enabled", target_port=8080)
    assert again["changed"] is False and len(elb.sent("register_targets")) == 1


def test_enable_without_port_lets_the_group_choose(elb, clock):
    run(elb, clock, state="enabled")
    assert elb.sent("register_targets") == [{"TargetGroupArn": ARN, "Targets": [{"Id": A}]}]


def test_enable_re_registers_a_draining_target_on_its_port(elb, clock):
    elb.add(A, 8443, [(FOREVER, DRAINING)])
    result = run(elb, clock, state="enabled")
    assert result["before"] == {"state": "draining", "healthy": False, "sessions": 1}
    assert elb.sent("register_targets") == [{"TargetGroupArn": ARN, "Targets": [{"Id": A, "Port": 8443}]}]
    assert result["member"]["state"] == "enabled" and result["member"]["healthy"] is True


@pytest.mark.parametrize("health", [INITIAL, {"State": "unhealthy", "Reason": "Target.Timeout"}, {"State": "unknown"},
                                    {"State": "unavailable", "Reason": "Target.HealthCheckDisabled"}])
def test_enable_fails_when_the_target_never_becomes_healthy(elb, clock, health):
    elb.on_register = [(FOREVER, health)]
    assert error_of(elb, clock, state="enabled") == (
        "target %s:80 of %s did not become healthy in rotation within 60 s: the balancer shows state enabled, "
        "healthy False (%s)" % (A, GROUP, health_detail(health)))
    assert clock.now == 60.0


# -- AWS errors ----------------------------------------------------------------------------------

def test_throttling_is_retried_with_backoff_then_succeeds(elb, clock):
    elb.add(A, 80)
    elb.errors["describe_target_health"] = [client_error("Throttling", "DescribeTargetHealth", message="Rate exceeded"),
                                            client_error("TooManyRequests", "DescribeTargetHealth", status=429)]
    backend = Elbv2Backend(params(), client=elb, sleep=clock.sleep)
    assert backend.member()["state"] == "enabled"
    assert clock.sleeps == [2.0, 4.0]
    assert len(elb.sent("describe_target_health")) == 3


def test_throttling_that_does_not_stop_is_an_error(elb, clock):
    elb.errors["describe_target_health"] = [client_error("Throttling", "DescribeTargetHealth")] * 3
    backend = Elbv2Backend(params(), client=elb, sleep=clock.sleep)
    with pytest.raises(LbError) as exc:
        backend.members()
    assert str(exc.value) == ("ELBv2 kept throttling DescribeTargetHealth for %s (Throttling) after 3 rounds of 4 attempts; "
                              "try again later" % GROUP)


def test_unknown_target_group(elb, clock):
    elb.exists = False
    assert error_of(elb, clock) == "%s not found (TargetGroupNotFound) in region eu-west-1" % GROUP
    assert error_of(elb, clock, endpoint_url="http://127.0.0.1:9", region="us-east-1") == (
        "%s not found (TargetGroupNotFound) in region us-east-1 at http://127.0.0.1:9" % GROUP)


def test_other_aws_answers_name_the_target_and_never_a_secret(elb, clock):
    elb.add(A, 80)
    elb.errors["deregister_targets"] = [client_error("AccessDenied", "DeregisterTargets", status=403,
                                                     message="not authorized; signed with SECRETSECRET and AKIDEXAMPLE")]
    assert error_of(elb, clock, secret_key="SECRETSECRET", access_key="AKIDEXAMPLE") == (
        "ELBv2 DeregisterTargets for target %s:80 of %s failed: AWS answered 403 AccessDenied: "
        "not authorized; signed with ******** and ********" % (A, GROUP))


def test_missing_boto3_is_an_error_saying_so(monkeypatch):
    monkeypatch.setattr(_lb_elbv2, "HAS_BOTO3", False)
    with pytest.raises(LbError) as exc:
        Elbv2Backend(params()).members()
    assert str(exc.value) == ("boto3 is required for type=elbv2 (%s): install it where the module runs, usually the "
                              "controller with delegate_to: localhost" % GROUP)


def test_missing_credentials_name_the_group():
    backend = Elbv2Backend(params(endpoint_url="http://127.0.0.1:9"))  # fails while signing, before any connection
    with pytest.raises(LbError) as exc:
        backend.member()
    assert str(exc.value) == ("no AWS credentials for %s: set access_key and secret_key, a profile, the AWS_* environment "
                              "or an instance role" % GROUP)


def test_unknown_profile_names_the_group():
    with pytest.raises(LbError) as exc:
        Elbv2Backend(params(profile="nope")).members()
    assert str(exc.value) == "AWS profile 'nope' not found, needed for %s" % GROUP


def test_requests_a_real_client_sends():
    """The exact API requests, checked against botocore's model by its Stubber."""
    p = params(access_key="a", secret_key="b", endpoint_url="http://127.0.0.1:9")
    backend = Elbv2Backend(p)
    registered = {"TargetHealthDescriptions": [{"Target": {"Id": A, "Port": 80}, "TargetHealth": HEALTHY}]}
    with Stubber(backend.client) as stubber:
        stubber.add_response("describe_target_health", registered, {"TargetGroupArn": ARN})
        stubber.add_response("deregister_targets", {}, {"TargetGroupArn": ARN, "Targets": [{"Id": A, "Port": 80}]})
        stubber.add_response("describe_target_group_attributes",
                             {"Attributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "45"}]},
                             {"TargetGroupArn": ARN})
        stubber.add_response("register_targets", {}, {"TargetGroupArn": ARN, "Targets": [{"Id": A, "Port": 80}]})
        stubber.add_client_error("describe_target_health", "TargetGroupNotFound", "One or more target groups not found",
                                 expected_params={"TargetGroupArn": ARN})
        backend.drain()
        assert backend.out_timeout(10) == 75.0
        backend.enable()
        with pytest.raises(LbError) as exc:
            backend.members()
        stubber.assert_no_pending_responses()
    assert str(exc.value) == "%s not found (TargetGroupNotFound) in region eu-west-1 at http://127.0.0.1:9" % GROUP
