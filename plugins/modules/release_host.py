#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_host
short_description: One host's whole release in one task, rotating it through its load balancers
version_added: 0.2.0
description:
  - The step the C(fleetops.release.deploy) role runs once per host. In order, and on the controller except the release itself,
    it
  - refuses to start when the rollout was stopped by an earlier batch, aborted (docs/abort.md) or lost its release lock;
  - renews the release lock (O(lock)) once per serial batch, in the batch's first step;
  - checks O(deploy) against the argument spec of M(fleetops.release.dist_deploy) and each membership of O(lb) against that
    of M(fleetops.release.lb_member), and fails the host naming the bad option before anything is touched (the deploy
    playbook relies on this in place of the role's argument_specs task, which would cost a second task per host);
  - takes the host out of each load balancer membership in O(lb) in turn, with the capacity guard of
    M(fleetops.release.lb_member) (the drains of one batch run one host at a time, so each guard counts the drains before
    it); the first refusal or failure stops the drains;
  - notes in the release lock's record what it took out (O(lock)), so that whoever takes the lock after a crash puts it back;
  - applies the plan with one M(fleetops.release.dist_deploy) call on the node, through the task's connection;
  - health-checks the host (O(health)) if it is in a load balancer;
  - puts back exactly the memberships it took out, unless the release or the health check failed (the host then stays out
    for a person to look at); memberships that were already out before the run stay out;
  - counts the host's outcome for the stop policy, at a constant cost per host; once more than O(max_fail_percentage) of a
    batch came out bad, hosts of later batches do not start.
  - The steps of one run share a small run-state file in the playbook's own temporary directory (it goes when the run
    ends); read it with the P(fleetops.release.run_state#lookup) lookup.
  - Load balancer memberships without an C(lb_host) (or with the controller's) run in the action's own process on the
    controller, with no module call. A membership with another C(lb_host) runs M(fleetops.release.lb_member) on that
    inventory host, as C(delegate_to) would (its socket or files are there).
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._attributes
attributes:
  check_mode:
    support: full
    details:
      - Drains, the release and the put-back are predicted (each in check mode); the health check and the lock note are not made.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - A node already on the release is unchanged (dist_deploy skips it); its memberships are still drained and put back.
options:
  run_id:
    description:
      - The run's id (the deploy playbook's C(fleetops_run_id)); names the run-state file.
      - Without it, the C(ansible-playbook) process names the run.
    type: str
  deploy:
    description:
      - The options of M(fleetops.release.dist_deploy) for this host (V(plan), V(upgradable), V(restart), node paths, S3 options).
      - Required unless O(recover) or O(role_vars) is given.
    type: dict
  lb:
    description:
      - The host's load balancer memberships (C(fleetops_lb)), each a dict of M(fleetops.release.lb_member) options.
    type: list
    elements: dict
    default: []
  lb_defaults:
    description: Defaults for each membership's V(min_healthy), V(drain_timeout) and V(wait_timeout).
    type: dict
    default: {}
  health:
    description:
      - The health check (C(fleetops_health)), V(url) (fetched from the controller, or from the inventory host V(from);
        V(status), V(contains), V(timeout), V(validate_certs)) or V(command) (run on the host; healthy when it exits 0); V(retries) and V(delay).
    type: dict
    default: {}
  health_retries:
    description: Tries of the health check when O(health) does not say.
    type: int
    default: 10
  health_delay:
    description: Seconds between tries when O(health) does not say.
    type: float
    default: 2
  max_fail_percentage:
    description: Stop the rollout after a batch in which more than this percentage of hosts came out bad.
    type: int
    default: 0
  lock:
    description:
      - The run's release lock, to renew it per batch and note what is out of rotation; V(project), V(environment), V(lease), V(bucket) or V(path),
        V(prefix), V(ttl), V(run_id), V(carry) (what a dead run left out and is still out), V(s3) (S3 options).
      - Without it nothing is noted.
    type: dict
  recover:
    description:
      - Instead of a release, put back what a release that died left this host out of, as the deploy playbook does before
        its own release when it takes over the lock of a dead run (docs/abort.md). The value is the list of indexes into O(lb)
        that the dead run's lock record names.
      - The node must be C(active) (read with M(fleetops.release.node_state), through the task's connection; the node
        paths come from O(deploy) when given) and pass the health check (O(health), the same check a release makes) if the
        host has one; each named membership is then enabled. An nginx membership without a health check stays out.
      - What is not put back is returned in RV(recovery.still_out) and stays in the lock's note for the next run.
    type: list
    elements: int
  role_vars:
    description:
      - Take every option the task does not give from the variables of the C(fleetops.release.deploy) role's C(main) entry
        point (C(deploy_plan), C(deploy_upgradable), C(deploy_lb), C(deploy_health), C(deploy_node_paths), C(deploy_s3), ...,
        see C(ansible-doc -t role fleetops.release.deploy)) and the release lock from the facts its C(lock) entry point set
        on C(localhost). The role's task is this option alone.
      - The variables are read in the action, each templated once; a task that spelled out every option in Jinja would
        compile each of those templates again on every host.
    type: bool
    default: false
notes:
  - The role C(fleetops.release.deploy) runs this with O(role_vars=true), from the C(fleetops_*) variables of the deploy
    playbook; call this directly only to build a different rollout.
"""

EXAMPLES = r"""
- name: Release this host, rotating it through its load balancers
  fleetops.release.release_host:
    run_id: "{{ hostvars['localhost']['fleetops_run_id'] }}"
    deploy:
      plan: "{{ hostvars['localhost']['fleetops_release_plan'] }}"
      upgradable: [1.0.0]
    lb:
      - {type: haproxy, haproxy_socket: "tcp:10.0.0.5:9999", haproxy_backend: web, haproxy_server: "{{ inventory_hostname }}"}
    health:
      url: "http://{{ ansible_host }}:8080/health"
  register: released
"""

RETURN = r"""
recovery:
  description: With O(recover), what was put back and what stays out.
  returned: with O(recover)
  type: dict
  contains:
    put_back:
      description: The memberships enabled again, by their labels (V(haproxy web)).
      type: list
      elements: str
    still_out:
      description: The indexes into O(lb) that stay out (node not active, health check failed, nginx without a check, a put-back that failed).
      type: list
      elements: int
    node_status:
      description: The node's status (C(active), C(maintain), ...), or null when it could not be read.
      type: str
    health:
      description: The health check's V(ok), V(attempts) and V(msg); null when the host has none or it did not run.
      type: dict
    msgs:
      description: One line per membership or host that stays out, saying why.
      type: list
      elements: str
release:
  description: How the step went.
  returned: without O(recover)
  type: dict
  contains:
    stage:
      description:
        - Where the step ended, V(done) or the stage that failed or stopped it; V(not started), V(load balancer), V(lock),
          V(release), V(health check), V(put back); V(orphaned) when the playbook died under the step (an AWX cancel, a
          SIGKILL), in which case the step stopped at the next stage and left what it took out in the lock's note for the next run.
      type: str
    taken_out:
      description: The memberships (type and backend) this step took out of rotation.
      type: list
      elements: str
    out_of_rotation:
      description: Of those, the ones it left out (failed release or health check, or a put-back that failed).
      type: list
      elements: str
    already_out:
      description: A membership was already out of rotation before the run (left as it was).
      type: bool
    problem:
      description: The load balancer or health check problem, V(stage), V(msg), V(kept_out); null when none.
      type: dict
    lock_problem:
      description: Why the release lock could not be noted (the rollout then stops); null when none.
      type: str
    halted_rollout:
      description: This host's outcome stopped the rollout (its batch went over O(max_fail_percentage)).
      type: bool
    health:
      description: The health check's V(ok), V(attempts) and V(msg); null when none ran.
      type: dict
    deploy_ran:
      description: M(fleetops.release.dist_deploy) ran on the node.
      type: bool
    deploy_failed:
      description: It failed, or the node could not be reached.
      type: bool
    lb:
      description: Per membership, V(membership), V(before) (its state before the drain), V(changed), V(failed), V(msg).
      type: list
      elements: dict
    timings:
      description: Seconds spent in V(drain), V(release), V(health), V(put_back) and V(total).
      type: dict
action:
  description: The M(fleetops.release.dist_deploy) result's keys (V(action), V(dist_version), V(steps) and the rest) are returned as they are.
  returned: when the release ran
  type: str
"""
