# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print every shell script of the repository, one per line, for ``make lint``'s shellcheck.

A shell script is a file git tracks (or would track) whose name ends in ``.sh`` or whose first
line is a ``#!`` naming ``sh`` or ``bash``. Fails when it finds none, so that a broken listing
cannot make shellcheck pass by checking nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

SHEBANG = re.compile(rb"^#!\s*\S*(?:/|\s)(?:ba)?sh(?:\s|$)|^#!\s*/bin/(?:ba)?sh(?:\s|$)")


def is_shell_script(path: str) -> bool:
    if path.endswith(".sh"):
        return True
    try:
        with open(path, "rb") as handle:
            first = handle.readline(200)
    except OSError:
        return False
    return bool(SHEBANG.match(first))


def main() -> int:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode().split("\0")
    scripts = sorted(p for p in listed if p and os.path.isfile(p) and is_shell_script(p))
    if not scripts:
        print("shell_scripts.py: no shell script found", file=sys.stderr)
        return 1
    print("\n".join(scripts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
