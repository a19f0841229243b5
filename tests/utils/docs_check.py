# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every module renders with ansible-doc and is covered by the guide in docs/.

ansible-test sanity already validates module documentation against the code;
this checks what a user sees: `ansible-doc fleetops.release.<module>` prints,
and docs/README.md links the module's name.
"""

from __future__ import annotations

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main() -> int:
    problems = []
    modules = sorted(name[:-3] for name in os.listdir(os.path.join(ROOT, "plugins", "modules"))
                     if name.endswith(".py") and not name.startswith("_"))
    with open(os.path.join(ROOT, "docs", "README.md"), encoding="utf-8") as handle:
        guide = handle.read()
    ansible_doc = os.path.join(os.path.dirname(sys.executable), "ansible-doc")
    for name in modules:
        fqcn = "fleetops.release." + name
        proc = subprocess.run([ansible_doc, fqcn], capture_output=True, text=True, check=False)
        if proc.returncode != 0 or "OPTIONS" not in proc.stdout or "EXAMPLES" not in proc.stdout:
            problems.append("%s: ansible-doc failed: %s" % (fqcn, (proc.stderr or proc.stdout)[-500:]))
        if name not in guide:
            problems.append("%s: not mentioned in docs/README.md" % fqcn)
    # Other plugin types a user enables by name: callbacks and inventory plugins.
    others = []
    for kind in ("callback", "inventory"):
        folder = os.path.join(ROOT, "plugins", kind)
        if not os.path.isdir(folder):
            continue
        for name in sorted(n[:-3] for n in os.listdir(folder) if n.endswith(".py") and not n.startswith("_")):
            others.append(name)
            fqcn = "fleetops.release." + name
            proc = subprocess.run([ansible_doc, "-t", kind, fqcn], capture_output=True, text=True, check=False)
            if proc.returncode != 0 or "OPTIONS" not in proc.stdout:
                problems.append("%s (%s): ansible-doc failed: %s" % (fqcn, kind, (proc.stderr or proc.stdout)[-500:]))
            if name not in guide:
                problems.append("%s (%s): not mentioned in docs/README.md" % (fqcn, kind))
    for problem in problems:
        print(problem, file=sys.stderr)
    print("docs-check: %d modules and %d other plugins render with ansible-doc%s" % (
        len(modules), len(others), "" if not problems else "; %d problems" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
