# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.

from __future__ import annotations


class ModuleDocFragment:
    # Attributes every module of the collection declares; each module sets the support level.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
  idempotent:
    description:
      - When run twice in a row with the same arguments, the second run reports no change and does nothing.
"""

    # For modules that only read.
    INFO_MODULE = r"""
options: {}
attributes:
  check_mode:
    support: full
    details:
      - This module only reads, so it runs in check mode as it does otherwise.
  diff_mode:
    support: N/A
    details:
      - This module changes nothing.
  idempotent:
    support: full
"""

    # The modules that run on the controller, whose action runs their code in its own process on a local connection.
    CONTROLLER_ACTION = r"""
options: {}
attributes:
  action:
    description:
      - Has an action plugin. On a C(local) connection (C(localhost), or C(delegate_to) it) it runs the module's code in
        the task's own worker process, with the same arguments, checks, result and errors, and no module payload or
        second Python. It runs the module as usual on any other connection, with C(become), a task C(environment),
        C(async), an C(ansible_python_interpreter) other than the controller's Python, or where boto3 is needed and
        only the module's interpreter may have it.
    support: full
"""

    # The action group the S3-backed modules belong to.
    S3_GROUP = r"""
options: {}
attributes:
  action_group:
    description: Use C(group/fleetops.release.s3) in C(module_defaults) to set the S3 options once.
    support: full
    membership:
      - fleetops.release.s3
"""
