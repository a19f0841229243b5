# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Stand-in for the get-pip bootstrap script ansible-test downloads.

ansible-test fetches get-pip from a host this build machine cannot reach, but it
reads ``~/.ansible/test/cache/get_pip_<version>.py`` first. ``make sanity``
copies this file there. It runs the pip wheel bundled with CPython's ensurepip
and installs the requested packages (the pinned pip among them) from the
package index the machine is configured for.
"""

from __future__ import annotations

import glob
import os
import sys


def main() -> int:
    bundled = os.path.join(os.path.dirname(os.__file__), "ensurepip", "_bundled")
    wheels = sorted(glob.glob(os.path.join(bundled, "pip-*.whl")))
    if not wheels:
        sys.stderr.write("no bundled pip wheel under %s\n" % bundled)
        return 1
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    return pip_main(["install", "--upgrade", "--force-reinstall"] + args)


if __name__ == "__main__":
    sys.exit(main())
