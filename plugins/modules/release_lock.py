#!/usr/bin/python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: release_lock
short_description: Acquire, renew, release or query the release lock of a project and environment
version_added: 0.1.0
description:
  - A lease per project and environment, so that two releases of the same project never run against the same
    environment at once. The lease is a small JSON record (schema version 1) in S3, at
    C(<prefix><project>/<environment>.json) of O(bucket), or in a local file, C(<path>/<project>/<environment>.json).
  - In S3 every change is a conditional write. Acquiring creates the object only if it is absent (header C(If-None-Match) set to C(*));
    renewing, releasing, and taking over an expired or released lease or breaking one with O(force) write only over the
    ETag that was just read (C(If-Match)). Of several controllers racing for the same lock exactly one wins.
  - The record is never deleted; releasing marks it V(released). Each new holder gets the fencing generation of the
    previous one plus one (RV(generation)), so the number grows with every holder and never starts again.
  - A held lease is expired when the store's clock has passed its last write plus its ttl. For S3 both come from the
    server (the C(Date) header of the read and the object's C(LastModified)), so controllers with skewed clocks agree.
  - Runs where it is called; delegate it to the controller (C(localhost)), once per play (C(run_once)).
author:
  - fleetops developers (@fleetops)
extends_documentation_fragment:
  - fleetops.release._s3
  - fleetops.release._attributes
  - fleetops.release._attributes.S3_GROUP
  - fleetops.release._attributes.CONTROLLER_ACTION
attributes:
  check_mode:
    support: full
    details:
      - Reads the lock and reports what acquiring or releasing would do (V(changed), RV(acquired), RV(generation),
        RV(previous)); writes nothing. A lock held by somebody else fails the task in check mode as it would otherwise.
      - A lease returned in check mode is marked C(check_mode) and only accepted in check mode.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details:
      - Releasing an already released lease changes nothing. Acquiring writes every time (a new lease or a renewal).
options:
  project:
    description: The project (product) the lock is for. 1 to 128 letters, digits, C(.), C(_) or C(-), starting with a
      letter or digit.
    type: str
    required: true
  environment:
    description: The environment the lock is for, for example V(online) or V(beta_console). Same characters as O(project).
    type: str
    required: true
  state:
    description:
      - V(acquired) takes the lock when it is free, released, or expired; with O(lease) of the current holder it renews
        the lease (new expiry, same generation).
      - V(released) marks the lease of O(lease) released; the next acquirer takes it over at once. Releasing a lease that
        is already released changes nothing.
      - V(query) reads the lock and reports its holder; it changes nothing.
    type: str
    choices: [acquired, released, query]
    default: acquired
  lease:
    description:
      - The RV(lease) a previous acquire returned (register that task). Needed to renew (O(state=acquired)) and to
        release (O(state=released)).
      - When the lease is no longer the holder's (it expired and somebody took it over, or somebody broke it with
        O(force)), renewing and releasing fail with C(lost the lock) and leave the new holder's lease alone.
    type: dict
  run_id:
    description: The run that holds the lock, recorded in the lock and shown to anyone who finds it held.
    type: str
  reason:
    description: Why the lock is held, for example V(deploy ProjectX.dist 1.2.0), shown to anyone who finds it held.
    type: str
  user:
    description: The person or account that holds the lock. Defaults to the login name of the user running the module.
    type: str
  owner:
    description: Where the lock is held from. Defaults to C(<user>@<hostname> pid <parent process id>).
    type: str
  ttl:
    description:
      - Seconds the lease lasts from its last write (acquire or renew). When a holder dies without releasing, its
        lock can be taken over this long after its last write.
      - Renew well within it (at half the ttl, for example) in long releases.
    type: int
    default: 3600
  wait:
    description:
      - Seconds to wait for a lock held by somebody else to be released or to expire, reading it every
        O(poll_interval) seconds. V(0) fails at once.
    type: int
    default: 0
  poll_interval:
    description: Seconds between two reads of the lock while waiting (O(wait)).
    type: float
    default: 2
  force:
    description:
      - With O(state=acquired), break a lock somebody else holds and take it over (generation plus one); RV(forced) is
        V(true), RV(previous) is the broken holder, the task warns naming it, and the new record keeps it under
        C(forced_from).
      - With O(state=released) and no O(lease), release whoever holds the lock.
      - The audit callback records the run's lock id as for any acquire; the warning is in the run's output.
    type: bool
    default: false
  out_of_rotation:
    description:
      - With O(state=acquired), what the holder's run has taken out of load balancer rotation and not yet put back, as
        a mapping of inventory hostname to the indexes of its C(fleetops_lb) memberships. It replaces what the record
        had; leave it unset to keep that.
      - The record keeps it, so that when the run dies (SIGKILL, an AWX cancel) whoever takes the lock over finds it
        under C(out_of_rotation) of RV(previous) and can put those memberships back. The deploy playbook does both.
    type: dict
  backend:
    description:
      - Where the lock lives. Defaults to V(s3) when O(bucket) is set, else V(file).
      - V(file) protects one control node only; controllers on several machines need V(s3).
    type: str
    choices: [s3, file]
  bucket:
    description: The bucket that holds the lock records. Needs boto3 and the S3 options.
    type: str
  prefix:
    description:
      - Key prefix of the lock records in O(bucket). Names that start with C(.) are not module names, so
        M(fleetops.release.artifact_info) does not list the default one.
    type: str
    default: .fleetops/locks/
  path:
    description: Directory of the lock files of the V(file) backend.
    type: path
    default: ~/.ansible/fleetops/locks
seealso:
  - module: fleetops.release.repo_info
notes:
  - The record format, the expiry rule and the failure handling are described in the collection's C(docs/locking.md).
  - An S3 answer C(409 ConditionalRequestConflict) (two conditional writes in flight) is waited out and the lock read
    again, a bounded number of times. When a write times out or the connection drops after S3 may have taken it, the
    lock is read again, and if it carries this task's token the lock is held; a C(412) on botocore's retry of the
    module's own write is recognised the same way.
"""

EXAMPLES = r"""
- name: Take the release lock of projectx online (fails at once when somebody holds it)
  fleetops.release.release_lock:
    project: projectx
    environment: online
    bucket: projectx-releases
    run_id: "{{ fleetops_run_id | default(omit) }}"
    reason: "deploy ProjectX.dist 1.2.0"
    ttl: 1800
  delegate_to: localhost
  run_once: true
  register: release_lock

- name: Renew it during a long release
  fleetops.release.release_lock:
    project: projectx
    environment: online
    bucket: projectx-releases
    lease: "{{ release_lock.lease }}"
    ttl: 1800
  delegate_to: localhost
  run_once: true

- name: Release it at the end
  fleetops.release.release_lock:
    project: projectx
    environment: online
    bucket: projectx-releases
    lease: "{{ release_lock.lease }}"
    state: released
  delegate_to: localhost
  run_once: true

- name: Wait up to ten minutes for another release to finish, with a lock file on this control node
  fleetops.release.release_lock:
    project: projectx
    environment: beta_console
    backend: file
    wait: 600
    poll_interval: 10
  delegate_to: localhost
  run_once: true

- name: Who holds the lock?
  fleetops.release.release_lock:
    project: projectx
    environment: online
    bucket: projectx-releases
    state: query
  delegate_to: localhost
  run_once: true
  register: lock

- name: Break a lock left by a release that is known to be dead
  fleetops.release.release_lock:
    project: projectx
    environment: online
    bucket: projectx-releases
    force: true
    reason: "INC-4711: previous release's controller is gone"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
acquired:
  description:
    - Whether this task holds the lock now (acquired or renewed). With O(state=query) and O(lease), whether that lease
      still holds the lock.
  returned: always
  type: bool
  sample: true
renewed:
  description: Whether an existing lease of this holder was renewed rather than a new one taken.
  returned: when O(state=acquired)
  type: bool
  sample: false
released:
  description: Whether the lock is released (by this task, or already before it).
  returned: when O(state=released)
  type: bool
  sample: true
lock_id:
  description:
    - The lock and generation held or released, C(s3://<bucket>/<key>#<generation>) or C(file://<path>#<generation>).
      The audit callback records it for the run. Null for O(state=query).
  returned: success
  type: str
  sample: "s3://projectx-releases/.fleetops/locks/projectx/online.json#4"
generation:
  description:
    - The fencing generation of the lock (with O(state=query), of the last holder); null when there never was one.
    - Every new holder gets the previous generation plus one; renewing keeps it.
  returned: success
  type: int
  sample: 4
lease:
  description:
    - What to pass as O(lease) to renew or release this lock. Keep it private to the run.
  returned: when O(state=acquired)
  type: dict
  contains:
    backend:
      description: V(s3) or V(file).
      type: str
    bucket:
      description: The bucket (S3).
      type: str
    key:
      description: The object key (S3).
      type: str
    path:
      description: The lock file (file backend).
      type: str
    project:
      description: The project.
      type: str
    environment:
      description: The environment.
      type: str
    etag:
      description: The ETag of the record as this task wrote it (the sha256 of the file for the file backend).
      type: str
    token:
      description: The random token of this acquisition; the record carries it while the lease is this holder's.
      type: str
    generation:
      description: The generation held.
      type: int
    expires:
      description: When the lease expires unless renewed (UTC, ISO 8601).
      type: str
    lock_id:
      description: As RV(lock_id).
      type: str
    check_mode:
      description: Whether the lease comes from a check-mode run (nothing was acquired).
      type: bool
  sample:
    backend: s3
    bucket: projectx-releases
    key: .fleetops/locks/projectx/online.json
    project: projectx
    environment: online
    etag: '"9b2cf535f27731c974343645a3985328"'
    token: 5f0c8e8a9d1c4b7e8f6a2b3c4d5e6f70
    generation: 4
    expires: "2026-11-22T11:00:00Z"
    lock_id: "s3://projectx-releases/.fleetops/locks/projectx/online.json#4"
    check_mode: false
holder:
  description:
    - The lock record as it is now (after this task), without its token; null when there is none.
    - Keys C(schema), C(project), C(environment), C(status) (V(held) or V(released)), C(generation), C(owner), C(user),
      C(run_id), C(reason), C(ttl), C(since), C(renewed), C(expires), and when set C(forced_from), C(released_at) and
      C(released_by).
    - When the task fails because somebody else holds the lock, their record.
  returned: always
  type: dict
  sample:
    schema: 1
    project: projectx
    environment: online
    status: held
    generation: 4
    owner: alice@ctl1 pid 4242
    user: alice
    run_id: r-0042
    reason: deploy ProjectX.dist 1.2.0
    ttl: 3600
    since: "2026-11-22T10:00:00Z"
    renewed: "2026-11-22T10:00:00Z"
    expires: "2026-11-22T11:00:00Z"
previous:
  description:
    - The record this task took over or broke (without its token), with V(expired) (its lease had run out),
      V(released) (its holder had released it) and V(forced) (broken with O(force)); null otherwise.
  returned: when O(state=acquired) or O(state=released)
  type: dict
  sample: {user: bob, owner: bob@ctl2 pid 99, run_id: r-0041, generation: 3, status: held, expired: true, released: false, forced: false}
forced:
  description: Whether O(force) broke a lock somebody else held.
  returned: when O(state=acquired) or O(state=released)
  type: bool
  sample: false
expires:
  description: When the lease expires unless renewed (UTC, ISO 8601), as the store's clock counts; null when not held.
  returned: success
  type: str
  sample: "2026-11-22T11:00:00Z"
held:
  description: Whether somebody holds the lock and the lease has not expired.
  returned: when O(state=query)
  type: bool
  sample: true
expired:
  description: Whether the lock is still marked held but its lease has expired (its holder died or stopped renewing).
  returned: when O(state=query)
  type: bool
  sample: false
location:
  description: Where the lock record is, C(s3://<bucket>/<key>) or the file's path.
  returned: when O(state=query)
  type: str
  sample: s3://projectx-releases/.fleetops/locks/projectx/online.json
"""

from ansible_collections.fleetops.release.plugins.module_utils._lock import RELEASE_LOCK
from ansible_collections.fleetops.release.plugins.module_utils._module import run_module


def main() -> None:
    run_module(RELEASE_LOCK)


if __name__ == "__main__":
    main()
