#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_member
short_description: Drain, disable or enable one member of a load balancer pool (HAProxy, nginx, AWS ELBv2), waiting on the balancer's own view
version_added: 0.1.0
description:
  - One interface over three balancers. O(state=enabled) puts the member in rotation and waits until the balancer reports
    it healthy. O(state=drained) stops new work, waits until in-flight work is done, then takes it out. O(state=disabled) takes it
    out at once.
  - Every wait is on what the balancer reports, never on "command accepted". A command the balancer refuses, an unknown
    pool or member and an unreachable balancer are errors naming them.
  - "HAProxy (O(type=haproxy)), through its runtime API on a unix socket or TCP: C(set server <b>/<s> state drain), a wait until
    the server's current sessions reach zero (bounded by O(drain_timeout)), then C(state maint); enabling sets C(ready) and waits
    until the check reports it UP. The runtime API answers errors as text on a successful exchange (C(No such server.),
    C(No such backend.)): those are failures. With O(haproxy_state_file) the server states are saved after a change, so that a
    reload using C(load-server-state-from-file) does not bring a drained server back."
  - "nginx (O(type=nginx); open source nginx has no runtime API): the member's C(server) line in a managed upstream file gets or
    loses C(down), C(nginx -t) checks the configuration before any reload, the file is restored if the test or the reload fails,
    and the member counts as drained once the reload succeeded and the old worker processes, which finish the requests they had,
    are gone (bounded by O(drain_timeout))."
  - "AWS ELBv2 target groups (O(type=elbv2)): the target must be registered before a drain (AWS answers success for unknown
    targets); deregistration waits until the target is unused or absent, for at least the group's deregistration delay;
    registration waits until the target is C(healthy) (C(initial) and C(unknown) are not)."
  - The capacity guard O(min_healthy) refuses to take a member out when fewer healthy members than that would stay in rotation,
    counted live from the balancer.
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._attributes
attributes:
  check_mode:
    support: full
    details:
      - Check mode reads the balancer, applies the capacity guard and reports what would change.
  diff_mode:
    support: full
    details:
      - The diff shows the member's state, health and sessions before and after.
  idempotent:
    support: full
options:
  type:
    description: The balancer.
    type: str
    required: true
    choices: [haproxy, nginx, elbv2]
  state:
    description:
      - V(enabled) in rotation and healthy; V(drained) out of rotation after its in-flight work finished; V(disabled) out of
        rotation at once.
    type: str
    required: true
    choices: [enabled, drained, disabled]
  wait_timeout:
    description: Seconds to wait for the balancer to show the member enabled and healthy, or out of rotation.
    type: float
    default: 60
  drain_timeout:
    description:
      - Seconds to wait for in-flight work to finish when draining. For ELBv2 the wait is never shorter than the target group's
        deregistration delay.
    type: float
    default: 300
  on_drain_timeout:
    description: When in-flight work outlasts O(drain_timeout), V(fail) (the member stays draining) or V(disable) (take it out anyway, RV(forced)).
    type: str
    choices: [fail, disable]
    default: fail
  min_healthy:
    description: Refuse to drain or disable a member in rotation when fewer than this many other members would stay healthy in rotation.
    type: int
    default: 0
  poll_interval:
    description: Seconds between two looks at the balancer while waiting.
    type: float
    default: 1
  haproxy_socket:
    description: The HAProxy runtime API, a unix socket path or V(tcp:HOST:PORT).
    type: str
  haproxy_backend:
    description: HAProxy backend name.
    type: str
  haproxy_server:
    description: HAProxy server name in O(haproxy_backend).
    type: str
  haproxy_state_file:
    description: After a change, save C(show servers state) to this file (what C(server-state-file) reads on reload).
    type: path
  nginx_upstream_file:
    description: The managed file holding the C(upstream) block, included by the nginx configuration.
    type: path
  nginx_upstream:
    description: The upstream's name.
    type: str
  nginx_server:
    description: The member's address as written in its C(server) line, for example V(10.0.0.12:8080).
    type: str
  nginx_binary:
    description: The nginx executable, for C(nginx -t) and C(nginx -V); the reload itself is a SIGHUP to the master process.
    type: path
    default: nginx
  nginx_conf:
    description: The main configuration file (C(nginx -c)), when not the default.
    type: path
  nginx_pid_file:
    description: The master's PID file, when not the one the configuration names; used to find old workers after a reload.
    type: path
  target_group_arn:
    description: The ELBv2 target group.
    type: str
  target_id:
    description: The target (an instance ID or an IP address).
    type: str
  target_port:
    description: The target's port, when the group routes to several ports of one target.
    type: int
  region:
    description: AWS region.
    type: str
    aliases: [aws_region]
  endpoint_url:
    description: An ELBv2-compatible endpoint instead of AWS's.
    type: str
    aliases: [aws_endpoint_url]
  profile:
    description: AWS profile.
    type: str
    aliases: [aws_profile]
  access_key:
    description: AWS access key ID; defaults to the usual AWS environment, profile or role.
    type: str
    aliases: [aws_access_key_id, aws_access_key]
  secret_key:
    description: AWS secret access key.
    type: str
    aliases: [aws_secret_access_key, aws_secret_key]
  session_token:
    description: AWS session token for temporary credentials.
    type: str
    aliases: [aws_session_token]
requirements:
  - For O(type=elbv2), boto3 where the module runs (usually the controller, with C(delegate_to=localhost)).
notes:
  - Run it where the balancer is reachable, usually with C(delegate_to) the balancer host (HAProxy, nginx) or C(localhost) (ELBv2).
  - The C(fleetops.release.deploy) playbook rotates hosts through their balancers with this module; see C(docs/load-balancers.md).
seealso:
  - module: fleetops.release.dist_deploy
"""

EXAMPLES = r"""
- name: Drain web02 from HAProxy before its release
  fleetops.release.lb_member:
    type: haproxy
    state: drained
    haproxy_socket: /run/haproxy/admin.sock
    haproxy_backend: web
    haproxy_server: web02
    min_healthy: 1
  delegate_to: lb1

- name: Put it back and wait until HAProxy reports it UP
  fleetops.release.lb_member:
    type: haproxy
    state: enabled
    haproxy_socket: /run/haproxy/admin.sock
    haproxy_backend: web
    haproxy_server: web02
  delegate_to: lb1

- name: Mark a member down in an nginx upstream
  fleetops.release.lb_member:
    type: nginx
    state: drained
    nginx_upstream_file: /etc/nginx/conf.d/upstream-web.conf
    nginx_upstream: web
    nginx_server: 10.0.0.12:8080
  delegate_to: lb2

- name: Deregister an instance from an ELBv2 target group
  fleetops.release.lb_member:
    type: elbv2
    state: drained
    target_group_arn: arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/web/0123456789abcdef
    target_id: i-0123456789abcdef0
    region: eu-west-1
  delegate_to: localhost
"""

RETURN = r"""
member:
  description: The member as the balancer shows it after the call (in check mode, as it would).
  returned: always
  type: dict
  contains:
    name:
      description: The member's name (HAProxy server, nginx address, ELBv2 target).
      type: str
    state:
      description: V(enabled), V(draining), V(drained) or V(disabled).
      type: str
    healthy:
      description: Whether the balancer's health check passes.
      type: bool
    sessions:
      description: In-flight work (HAProxy current sessions, old nginx workers, 1 while an ELBv2 target drains), or null.
      type: int
    detail:
      description: The balancer's own words (HAProxy status, ELBv2 health reason).
      type: str
  sample: {name: web02, state: disabled, healthy: true, sessions: 0, detail: "MAINT"}
before:
  description: State, health and sessions before the call.
  returned: always
  type: dict
waited:
  description: Seconds spent waiting on the balancer.
  returned: always
  type: float
forced:
  description: Whether in-flight work was cut after O(drain_timeout) (O(on_drain_timeout=disable)).
  returned: always
  type: bool
healthy_members:
  description: Members healthy in rotation after the call.
  returned: always
  type: int
total_members:
  description: Members in the pool.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LB_ARGSPEC, LB_REQUIRED_IF, backend_for, run
from ansible_collections.fleetops.release.plugins.module_utils._module import finish


def main() -> None:
    module = AnsibleModule(argument_spec=LB_ARGSPEC, required_if=LB_REQUIRED_IF, supports_check_mode=True)
    finish(module, lambda: run(backend_for(module.params), module.params, module.check_mode))


if __name__ == "__main__":
    main()
