# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The AWS ELBv2 backend of lb_member: one target of one target group.

Member view of a target, from ``DescribeTargetHealth``:

==========================================================  ==========  ========  ========
target health state                                          state       healthy   sessions
==========================================================  ==========  ========  ========
``healthy``                                                  enabled     true      None
``initial``, ``unhealthy``, ``unknown``, ``unavailable``     enabled     false     None
``draining`` (deregistration in progress)                    draining    false     1
``unused``, or not registered at all                         drained     false     0
==========================================================  ==========  ========  ========

ELBv2 has no maintenance mode: drain() and disable() both deregister, enable() registers
(``DRAIN_IS_DISABLE``). AWS answers success for a deregistration that matches nothing (an unknown
target, or a known one without its port), so the target is looked up among the registered ones
first and deregistered with exactly the port it is registered on. Waiting for a deregistration
lasts at least the group's ``deregistration_delay.timeout_seconds`` plus a margin (out_timeout()).

Retries: botocore's ``standard`` mode (exponential backoff with jitter on throttling, 5xx and
connection errors), and a few more rounds of our own on throttling answers botocore does not
know (``TooManyRequests``) or that outlast its attempts. Messages name the target group and the
target, never a key.
"""

from __future__ import annotations

import re
import time
import typing as t

try:
    import boto3
    import botocore.exceptions
    from botocore.config import Config
    HAS_BOTO3 = True
except ImportError:  # reported when the client is first needed
    HAS_BOTO3 = False

from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError

#: Seconds added to the deregistration delay: AWS finishes a deregistration a little after the delay.
DEREGISTRATION_MARGIN = 30.0
#: AWS's default deregistration delay, used when the group does not say.
DEFAULT_DEREGISTRATION_DELAY = 300.0
#: Attempts botocore makes per call (standard retry mode).
BOTOCORE_ATTEMPTS = 4
#: Our own rounds on throttling, each of BOTOCORE_ATTEMPTS attempts; sleeps 2, 4, ... s between them.
THROTTLE_ROUNDS = 3
THROTTLE_CODES = frozenset(("Throttling", "ThrottlingException", "TooManyRequests", "TooManyRequestsException",
                            "RequestLimitExceeded", "RequestThrottled", "SlowDown"))

IN_ROTATION_STATES = ("healthy", "initial", "unhealthy", "unknown", "unavailable")

_ARN = re.compile(r"^arn:[^:]+:elasticloadbalancing:(?P<region>[^:]*):[^:]*:targetgroup/(?P<name>[^/]+)/")


def target_name(target: dict) -> str:
    """``id:port`` (or the id alone for targets without a port, such as Lambda functions)."""
    port = target.get("Port")
    return "%s:%s" % (target["Id"], port) if port is not None else str(target["Id"])


def health_detail(health: dict) -> str:
    """AWS's words for a target's health: ``state`` or ``state (Reason: Description)``."""
    words = [w for w in (health.get("Reason"), health.get("Description")) if w]
    return "%s (%s)" % (health.get("State", "?"), ": ".join(words)) if words else str(health.get("State", "?"))


def member_view(description: dict) -> dict:
    """The lb_member view of one ``TargetHealthDescriptions`` entry (see the module docstring)."""
    health = description.get("TargetHealth") or {}
    state = health.get("State")
    if state in IN_ROTATION_STATES:
        view_state, sessions = "enabled", None
    elif state == "draining":
        view_state, sessions = "draining", 1
    else:  # unused, or anything AWS may add that does not take traffic
        view_state, sessions = "drained", 0
    return dict(name=target_name(description["Target"]), state=view_state, healthy=state == "healthy",
                sessions=sessions, detail=health_detail(health))


class Elbv2Backend:
    """One target (``target_id``, optional ``target_port``) of one ELBv2 target group (``target_group_arn``)."""

    DRAIN_IS_DISABLE = True
    #: How a target out of the group looks (check mode predicts this for drained and disabled alike).
    OUT_VIEW: t.ClassVar[dict] = {"state": "drained", "healthy": False}

    def __init__(self, params: dict, client: t.Any = None, sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.params = params
        self.arn = params["target_group_arn"]
        self.target_id = params["target_id"]
        self.target_port = params.get("target_port")
        match = _ARN.match(self.arn or "")
        self.group_name = match.group("name") if match else None
        self.region = params.get("region") or (match.group("region") if match else None) or None
        self.group = "target group %s (%s)" % (self.group_name, self.arn) if self.group_name else "target group %s" % self.arn
        self._client = client
        self._sleep = sleep
        self._seen_port: int | None = None
        self._delay: float | None = None
        self._deregistered = False

    # -- the Backend protocol ------------------------------------------------------------------
    @property
    def label(self) -> str:
        port = self.target_port if self.target_port is not None else self._seen_port
        name = target_name(dict(Id=self.target_id, Port=port))
        return "target %s of %s" % (name, self.group)

    def members(self) -> list[dict]:
        return [member_view(d) for d in self._describe()]

    def member(self) -> dict:
        registered = self._describe()
        mine = self._mine(registered)
        if mine is not None:
            return member_view(mine)
        if self.params.get("state") != "enabled" and not self._deregistered:
            # the same target on another port: target_port is wrong, and deregistering it would do nothing
            elsewhere = [d for d in registered if d["Target"]["Id"] == self.target_id]
            if elsewhere:
                raise LbError("%s is not registered (%s is registered on port %s only); registered targets: %s"
                              % (self.label, self.target_id, ", ".join(str(d["Target"].get("Port")) for d in elsewhere),
                                 _listing(registered)))
        # Not registered (never, or the deregistration finished). Ask about this very target: AWS
        # refuses an instance or address it does not know (InvalidTarget), which is worth an error.
        target = self._target(self.target_port)
        health = {}
        answer = self._call("DescribeTargetHealth", "describe_target_health", registered, TargetGroupArn=self.arn, Targets=[target])
        for description in answer.get("TargetHealthDescriptions", []):
            target = description.get("Target") or target  # AWS fills in the group's port
            health = description.get("TargetHealth") or {}
        if health.get("State") not in (None, "unused"):
            # registered after all (a registration landed between the two calls): report what AWS says
            return member_view(dict(Target=target, TargetHealth=health))
        return dict(name=target_name(target), state="drained", healthy=False, sessions=0,
                    detail=health_detail(health) if health else "not registered")

    def enable(self) -> None:
        port = self.target_port if self.target_port is not None else self._seen_port
        self._call("RegisterTargets", "register_targets", None, TargetGroupArn=self.arn, Targets=[self._target(port)])

    def drain(self) -> None:
        registered = self._describe()
        mine = self._mine(registered)
        if mine is None:
            raise LbError("refusing to deregister %s: it is not registered (AWS would answer success and do nothing); "
                          "registered targets: %s" % (self.label, _listing(registered)))
        # exactly as registered: without its port AWS "deregisters" nothing
        self._call("DeregisterTargets", "deregister_targets", registered, TargetGroupArn=self.arn, Targets=[mine["Target"]])
        self._deregistered = True

    def disable(self) -> None:
        self.drain()

    def after_change(self) -> None:
        return None

    # -- waiting ------------------------------------------------------------------------------
    def out_timeout(self, timeout: float) -> float:
        """How long to wait for the target to leave: ``timeout``, but never less than the group's deregistration
        delay plus DEREGISTRATION_MARGIN (AWS keeps a target ``draining`` that long when it has work in flight)."""
        return max(float(timeout), self.deregistration_delay() + DEREGISTRATION_MARGIN)

    def deregistration_delay(self) -> float:
        """The group's ``deregistration_delay.timeout_seconds`` (0 when the group has none, as Lambda groups)."""
        if self._delay is None:
            attrs = self._call("DescribeTargetGroupAttributes", "describe_target_group_attributes", None,
                               TargetGroupArn=self.arn).get("Attributes", [])
            values = {a.get("Key"): a.get("Value") for a in attrs}
            raw = values.get("deregistration_delay.timeout_seconds")
            try:
                self._delay = float(raw) if raw is not None else 0.0
            except ValueError:
                self._delay = DEFAULT_DEREGISTRATION_DELAY
        return self._delay

    # -- AWS -----------------------------------------------------------------------------------
    def _target(self, port: int | None) -> dict:
        target: dict[str, t.Any] = dict(Id=self.target_id)
        if port is not None:
            target["Port"] = int(port)
        return target

    def _describe(self) -> list[dict]:
        """Every registered target of the group (DescribeTargetHealth without Targets lists them all, draining ones too)."""
        return self._call("DescribeTargetHealth", "describe_target_health", None,
                          TargetGroupArn=self.arn).get("TargetHealthDescriptions", [])

    def _mine(self, registered: list[dict]) -> dict | None:
        mine = [d for d in registered if d["Target"]["Id"] == self.target_id
                and (self.target_port is None or d["Target"].get("Port") == self.target_port)]
        if len(mine) > 1:
            raise LbError("target %s is registered on several ports of %s (%s): set target_port to choose one"
                          % (self.target_id, self.group, ", ".join(str(d["Target"].get("Port")) for d in mine)))
        if mine:
            self._seen_port = mine[0]["Target"].get("Port")
            return mine[0]
        return None

    @property
    def client(self) -> t.Any:
        if self._client is None:
            if not HAS_BOTO3:
                raise LbError("boto3 is required for type=elbv2 (%s): install it where the module runs, usually the "
                              "controller with delegate_to: localhost" % self.group)
            params = self.params
            try:
                session = boto3.session.Session(
                    profile_name=params.get("profile") or None,
                    aws_access_key_id=params.get("access_key") or None,
                    aws_secret_access_key=params.get("secret_key") or None,
                    aws_session_token=params.get("session_token") or None,
                    region_name=self.region,
                )
                self._client = session.client(
                    "elbv2", endpoint_url=params.get("endpoint_url") or None,
                    config=Config(retries={"mode": "standard", "total_max_attempts": BOTOCORE_ATTEMPTS},
                                  connect_timeout=10, read_timeout=30))
            except botocore.exceptions.ProfileNotFound:
                raise LbError("AWS profile %r not found, needed for %s" % (params.get("profile"), self.group)) from None
            except botocore.exceptions.NoRegionError:
                raise LbError("no AWS region for %s: set region" % self.group) from None
            except (botocore.exceptions.BotoCoreError, ValueError) as exc:
                raise LbError("cannot set up the ELBv2 client for %s: %s" % (self.group, self._scrub(str(exc)))) from None
        return self._client

    def _call(self, operation: str, method: str, registered: list[dict] | None, **kwargs: t.Any) -> dict:
        """One API call with our throttling rounds on top of botocore's retries; errors become LbError."""
        call = getattr(self.client, method)  # outside the try: without boto3 there is no botocore to catch
        rounds = 0
        while True:
            rounds += 1
            try:
                return call(**kwargs)
            except botocore.exceptions.ClientError as exc:
                if _is_throttling(exc) and rounds < THROTTLE_ROUNDS:
                    self._sleep(2.0 ** rounds)
                    continue
                raise self._client_error(exc, operation, registered, rounds) from None
            except botocore.exceptions.BotoCoreError as exc:
                raise self._botocore_error(exc, operation) from None

    def _client_error(self, exc: t.Any, operation: str, registered: list[dict] | None, rounds: int) -> LbError:
        err = exc.response.get("Error", {})
        code = str(err.get("Code", "?"))
        message = self._scrub(str(err.get("Message") or ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "TargetGroupNotFound":
            return LbError("%s not found (TargetGroupNotFound) in region %s%s" % (
                self.group, self.region or "(AWS default)", self._where()))
        if _is_throttling(exc):
            return LbError("ELBv2 kept throttling %s for %s (%s) after %d rounds of %d attempts; try again later" % (
                operation, self.group, code, rounds, BOTOCORE_ATTEMPTS))
        if code == "InvalidTarget":
            if registered is None:
                try:
                    registered = self._describe()
                except LbError:
                    registered = []
            return LbError("AWS refuses %s (InvalidTarget: %s); registered targets: %s" % (
                self.label, message, _listing(registered)))
        return LbError("ELBv2 %s for %s failed: AWS answered %s %s%s" % (
            operation, self.label, status, code, (": " + message) if message else ""))

    def _botocore_error(self, exc: Exception, operation: str) -> LbError:
        if isinstance(exc, botocore.exceptions.EndpointConnectionError):
            return LbError("cannot reach the ELBv2 endpoint %s for %s (after %d attempts)" % (
                self.params.get("endpoint_url") or "of AWS in region %s" % self.region, self.group, BOTOCORE_ATTEMPTS))
        if isinstance(exc, (botocore.exceptions.ConnectTimeoutError, botocore.exceptions.ReadTimeoutError)):
            return LbError("the ELBv2 endpoint %s did not answer in time for %s (after %d attempts)" % (
                self.params.get("endpoint_url") or "of AWS in region %s" % self.region, self.group, BOTOCORE_ATTEMPTS))
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return LbError("no AWS credentials for %s: set access_key and secret_key, a profile, the AWS_* environment "
                           "or an instance role" % self.group)
        if isinstance(exc, botocore.exceptions.NoRegionError):
            return LbError("no AWS region for %s: set region" % self.group)
        return LbError("ELBv2 %s for %s failed: %s" % (operation, self.label, self._scrub(str(exc))))

    def _where(self) -> str:
        endpoint = self.params.get("endpoint_url")
        return " at %s" % endpoint if endpoint else ""

    def _scrub(self, text: str) -> str:
        for name in ("secret_key", "session_token", "access_key"):
            value = self.params.get(name)
            if value:
                text = text.replace(value, "********")
        return text


def _is_throttling(exc: t.Any) -> bool:
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in THROTTLE_CODES or status == 429


def _listing(registered: list[dict]) -> str:
    if not registered:
        return "none"
    return ", ".join(sorted("%s (%s)" % (target_name(d["Target"]), (d.get("TargetHealth") or {}).get("State", "?"))
                            for d in registered))
