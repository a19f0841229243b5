# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import os
import re

from ansible_collections.fleetops.release.plugins.lookup.run_id import LookupModule
from ansible_collections.fleetops.release.plugins.plugin_utils import _callback


def test_the_run_id_lookup_gives_the_callbacks_id_to_a_worker_and_one_shape_otherwise():
    saved = dict(_callback._RUN_IDS)
    try:
        _callback._RUN_IDS.clear()
        fresh = LookupModule().run([])
        assert len(fresh) == 1 and re.fullmatch(r"\d{8}T\d{6}Z-\d{5}", fresh[0])
        _callback._RUN_IDS[os.getppid()] = "20261122T160637Z-02814"  # what ansible-playbook's callbacks chose before the fork
        assert LookupModule().run([]) == ["20261122T160637Z-02814"]
    finally:
        _callback._RUN_IDS.clear()
        _callback._RUN_IDS.update(saved)
