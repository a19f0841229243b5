# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The pull agent as one file: a zip application of the node code it imports, run by any Python 3.8+.

The files are found by following the collection's own imports from the agent's command line
(``_pull/cli.py``), lazy ones inside functions included, so the bundle holds exactly the node
code ``dist_deploy`` runs and nothing of the controller. A top-level ``ansible.*`` import on that
path would need ansible on the node: it is refused here, when the bundle is built, not on a node
at 3 a.m. Imports of ansible inside functions (``AnsibleModule`` for a module's ``main``, the URL
helpers for presigned URLs, which a desired state never carries) are left out and listed. The
zip is deterministic (sorted names, fixed timestamps), so its sha256 says which agent a node runs.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import zipfile

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError

PACKAGE = "ansible_collections.fleetops.release.plugins.module_utils"
ENTRY = "_pull.cli"
MAIN = ("import sys\n"
        "from %s.%s import main\n"
        "sys.exit(main())\n" % (PACKAGE, ENTRY))
_FROM = re.compile(r"^([ \t]*)from[ \t]+([\w.]+)[ \t]+import[ \t]+(\([^)]*\)|[^\n#]*)", re.M)
_IMPORT = re.compile(r"^([ \t]*)import[ \t]+([\w.]+)", re.M)
_RELATIVE = re.compile(r"^[ \t]*from[ \t]+\.", re.M)
_STAMP = (2026, 1, 1, 0, 0, 0)


def _module_utils_root() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "module_utils")


def _path_of(root: str, dotted: str) -> str | None:
    """The file of ``<module_utils>.<dotted>``: a module, or a package's ``__init__.py``."""
    base = os.path.join(root, *dotted.split("."))
    if os.path.isfile(base + ".py"):
        return base + ".py"
    if os.path.isfile(os.path.join(base, "__init__.py")):
        return os.path.join(base, "__init__.py")
    return None


def agent_files(root: str | None = None, lazy: list[str] | None = None) -> list[str]:
    """Every module_utils file (relative to module_utils) the agent's command line can import.

    ``lazy``, when given, receives ``<file>: <module>`` for each ansible import inside a function.
    """
    root = root or _module_utils_root()
    todo, seen = [ENTRY], set()
    files: set[str] = set()
    lazy = lazy if lazy is not None else []
    while todo:
        dotted = todo.pop()
        if dotted in seen:
            continue
        seen.add(dotted)
        path = _path_of(root, dotted)
        if path is None:
            raise FleetopsError("pull agent bundle: %s.%s is imported but not in %s" % (PACKAGE, dotted, root))
        files.add(os.path.relpath(path, root))
        with open(path, encoding="utf-8") as handle:
            source = handle.read()
        here = os.path.relpath(path, root)
        if _RELATIVE.search(source):
            raise FleetopsError("pull agent bundle: %s uses a relative import; the bundle follows absolute ones only" % here)
        for match in _FROM.finditer(source):
            indent, module, names = match.group(1), match.group(2), match.group(3)
            subs = _ours(here, module, indent, lazy)
            if subs is None:
                continue
            todo.extend(subs)
            for name in re.split(r"[\s,()]+", names):
                name = name.split(" as ")[0].strip()
                dotted = "%s.%s" % (subs[0], name) if subs else name
                if name and _path_of(root, dotted):
                    todo.append(dotted)
        for match in _IMPORT.finditer(source):
            subs = _ours(here, match.group(2), match.group(1), lazy)
            if subs:
                todo.extend(subs)
    # Every package on the way down needs its __init__.py in a zip.
    for name in list(files):
        parts = name.split(os.sep)[:-1]
        for depth in range(1, len(parts) + 1):
            files.add(os.path.join(*parts[:depth], "__init__.py"))
    return sorted(files)


def _ours(here: str, module: str, indent: str, lazy: list[str]) -> list[str] | None:
    """What an import statement adds to the bundle: module_utils names (``[]`` for the package itself), or None for
    the standard library and for a lazy ansible import (listed in ``lazy``). Anything else stops the build."""
    top = module.split(".")[0]
    if top == "ansible":
        if not indent:
            raise FleetopsError("pull agent bundle: %s imports %s at the top, which a node without ansible does not have" % (here, module))
        lazy.append("%s: %s" % (here, module))
        return None
    if top != "ansible_collections":
        return None
    if module == PACKAGE:
        return []
    if not module.startswith(PACKAGE + "."):
        raise FleetopsError("pull agent bundle: %s imports %s, which is not node code (module_utils)" % (here, module))
    return [module[len(PACKAGE) + 1:]]


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, _STAMP)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)


def build(dest: str, root: str | None = None) -> dict:
    """Write the agent zip application to ``dest`` atomically; returns its path, sha256, size and files."""
    root = root or _module_utils_root()
    lazy: list[str] = []
    files = agent_files(root, lazy)
    directory = os.path.dirname(os.path.abspath(dest))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".fleetops-agent.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as raw:
            raw.write(b"#!/usr/bin/env python3\n")
            with zipfile.ZipFile(raw, "w") as archive:
                _add(archive, "__main__.py", MAIN.encode("utf-8"))
                prefix = PACKAGE.replace(".", "/")
                parts = prefix.split("/")
                for depth in range(1, len(parts) + 1):
                    _add(archive, "/".join(parts[:depth]) + "/__init__.py", b"")
                for name in files:
                    path = os.path.join(root, name)
                    with open(path, "rb") as handle:
                        data = handle.read() if os.path.basename(name) != "__init__.py" or os.path.getsize(path) else b""
                    _add(archive, "%s/%s" % (prefix, name.replace(os.sep, "/")), data)
        os.chmod(tmp, 0o755)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    with open(dest, "rb") as handle:
        digest = hashlib.sha256(handle.read()).hexdigest()
    return dict(path=dest, sha256=digest, size=os.path.getsize(dest), files=files, lazy_ansible_imports=sorted(set(lazy)))
