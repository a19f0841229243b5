# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Safe reading, extraction and deterministic creation of ``.tar.gz`` archives.

Every member of an archive is checked against an allow-list before anything is
written: regular files, directories, and symbolic links whose target stays
inside the extracted tree.  Anything else (hard links, devices, FIFOs, sparse
files, unknown types, setuid/setgid/sticky bits, absolute names, ``..``
components, duplicates, writes through a symbolic link, oversized members) is
refused with an :class:`ArchiveError` that names the archive and the member.

Name rules (POSIX semantics, no backslash handling):

* leading ``./`` prefixes, empty components (``a//b``) and ``.`` components are
  dropped, so ``./etc/conf``, ``etc/./conf`` and ``etc/conf`` are the same name
  (and therefore duplicates of each other);
* a member naming the tree's top (``.`` or ``./``) must be a directory; it is
  accepted once and otherwise ignored (the top directory always gets mode 0755);
* directories implied by a member name but absent from the archive are created
  with mode 0755 and count against ``max_members``.

Symbolic link rules: the target must be relative, non-empty, and every ``..``
component must come before all other components (``../../lib/x`` is fine,
``lib/../x`` is refused) so that lexical resolution matches what the kernel
does even when an intermediate component is itself a link.  Resolved against
the link's own directory the target must stay inside the tree; pointing at the
tree's top directory itself (``sub/top -> ..``) is allowed, because following
it still cannot leave the tree.

Extraction never calls ``TarFile.extract``/``extractall``: it validates and
writes each member in one streaming pass into a private temporary directory
beside the destination, then renames that directory into place.  On any error
the temporary directory is removed and nothing else has been touched.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import re
import shutil
import stat
import struct
import tarfile
import tempfile
import zlib

from ansible_collections.fleetops.release.plugins.module_utils._errors import ArchiveError

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

_CHUNK = 1 * MIB
# Largest accepted pax extended header or GNU long name/link block.
_MAX_META = 64 * KIB
# Largest amount of (decompressed) data accepted after the end-of-archive block.
_MAX_TRAILING = 16 * MIB
_GZIP_MAGIC = b"\x1f\x8b"
_REGULAR_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)
_META_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE)
_READ_ERRORS = (tarfile.TarError, EOFError, OSError, ValueError, zlib.error, struct.error, RecursionError)
_NOT_TAR = "not a gzip-compressed tar archive"
_TOP_MODE = 0o755
_IMPLIED_DIR_MODE = 0o755

_FILE = "regular file"
_DIR = "directory"
_IMPLIED = "implied directory"
_SYMLINK = "symbolic link"


@dataclasses.dataclass(frozen=True)
class Limits:
    """Upper bounds applied while reading an archive."""

    max_members: int = 20000
    max_total_size: int = 8 * GIB
    max_member_size: int = 4 * GIB
    max_name_length: int = 1024
    max_depth: int = 64


@dataclasses.dataclass
class ScanResult:
    """What a validated archive holds.

    ``members`` counts the entries of the resulting tree (regular files,
    directories including implied ones, symbolic links; not the top directory),
    ``total_size`` is the sum of regular file sizes and ``files`` lists the
    normalised names of regular files in archive order.
    """

    members: int = 0
    total_size: int = 0
    files: list[str] = dataclasses.field(default_factory=list)


class _HeaderProblem(Exception):
    """Raised from inside tarfile's header parsing; converted to ArchiveError."""

    def __init__(self, problem: str, member: str | None = None, corrupt: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.member = member
        self.corrupt = corrupt


class _GuardedTarInfo(tarfile.TarInfo):
    """TarInfo that refuses dangerous headers before tarfile acts on them.

    ``_proc_member`` is the extension point tarfile's own source names for
    subclasses.  Header errors are raised as :class:`_HeaderProblem`, which
    tarfile does not swallow (it treats a bad or short header after the first
    one as a silent end of archive).
    """

    @classmethod
    def frombuf(cls, buf, encoding, errors):
        try:
            return super().frombuf(buf, encoding, errors)
        except tarfile.EOFHeaderError:
            raise
        except tarfile.EmptyHeaderError:
            raise _HeaderProblem("archive ends without an end-of-archive marker", corrupt=True) from None
        except tarfile.TruncatedHeaderError:
            raise _HeaderProblem("truncated tar header", corrupt=True) from None
        except tarfile.HeaderError as exc:
            raise _HeaderProblem("invalid tar header (%s)" % exc, corrupt=True) from None

    def _proc_member(self, tarfile_):  # pylint: disable=arguments-renamed
        if self.size < 0:
            raise _HeaderProblem("invalid tar header (negative size)", corrupt=True)
        if self.type in _META_TYPES and self.size > _MAX_META:
            raise _HeaderProblem("extended header of %d bytes is larger than %d bytes" % (self.size, _MAX_META), member=self.name)
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise _HeaderProblem("sparse files are not allowed", member=self.name)
        return super()._proc_member(tarfile_)

    def _proc_sparse(self, *args):
        raise _HeaderProblem("sparse files are not allowed", member=self.name)

    def _refuse_pax_sparse(self, next_member, *args):
        raise _HeaderProblem("sparse files are not allowed", member=getattr(next_member, "name", None))

    _proc_gnusparse_00 = _refuse_pax_sparse
    _proc_gnusparse_01 = _refuse_pax_sparse
    _proc_gnusparse_10 = _refuse_pax_sparse


def _a(kind: str) -> str:
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _split_name(raw: str, limits: Limits) -> tuple[list[str] | None, str | None]:
    """Return (components, None) or (None, problem) for a member name."""
    if "\x00" in raw:
        return None, "NUL bytes are not allowed in names"
    if raw == "":
        return None, "empty names are not allowed"
    if len(raw) > limits.max_name_length:
        return None, "name is longer than %d characters" % limits.max_name_length
    if raw.startswith("/"):
        return None, "absolute names are not allowed"
    parts = [part for part in raw.split("/") if part not in ("", ".")]
    if ".." in parts:
        return None, "'..' components are not allowed in names"
    if len(parts) > limits.max_depth:
        return None, "name is deeper than %d components" % limits.max_depth
    return parts, None


def _link_problem(parts: list[str], target: str, limits: Limits) -> str | None:
    """Return why a symbolic link at ``parts`` may not point at ``target``."""
    if target == "":
        return "symbolic link has an empty target"
    if "\x00" in target:
        return "symbolic link target contains a NUL byte"
    if len(target) > limits.max_name_length:
        return "symbolic link target is longer than %d characters" % limits.max_name_length
    if target.startswith("/"):
        return "symbolic link target %r is absolute" % target
    components = [part for part in target.split("/") if part not in ("", ".")]
    ups = 0
    while ups < len(components) and components[ups] == "..":
        ups += 1
    if ".." in components[ups:]:
        return "symbolic link target %r has '..' after other components" % target
    if ups > len(parts) - 1:
        return "symbolic link target %r points outside the archive tree" % target
    return None


class _Validator:
    """Applies the allow-list to members one by one and tracks the tree."""

    def __init__(self, archive: str, limits: Limits) -> None:
        self.archive = archive
        self.limits = limits
        self.kinds: dict[str, str] = {}
        self.top_seen = False
        self.result = ScanResult()

    def refuse(self, member: str, problem: str) -> ArchiveError:
        return ArchiveError(self.archive, problem, member=member)

    def check(self, info: tarfile.TarInfo) -> tuple[str, str, list[str]] | None:
        """Validate one member.

        Returns None for the top-directory entry, else (name, kind, implied
        parent directories to create first).  Raises ArchiveError.
        """
        raw = info.name
        limits = self.limits
        parts, problem = _split_name(raw, limits)
        if problem is not None:
            raise self.refuse(raw, problem)
        kind = self._kind(info)
        if info.mode & 0o7000:
            raise self.refuse(raw, "setuid, setgid and sticky bits are not allowed (mode %s)" % oct(info.mode & 0o7777))
        if kind != _DIR and raw.endswith("/"):
            raise self.refuse(raw, "name ends with '/' but the member is %s" % _a(kind))
        if kind == _FILE:
            if info.size > limits.max_member_size:
                raise self.refuse(raw, "size %d is larger than the limit of %d bytes" % (info.size, limits.max_member_size))
            if self.result.total_size + info.size > limits.max_total_size:
                raise self.refuse(raw, "total size of regular files exceeds the limit of %d bytes" % limits.max_total_size)
        elif info.size != 0:
            raise self.refuse(raw, "%s declares %d bytes of data" % (kind, info.size))
        if kind == _SYMLINK:
            problem = _link_problem(parts, info.linkname, limits)
            if problem is not None:
                raise self.refuse(raw, problem)
        if not parts:
            if kind != _DIR:
                raise self.refuse(raw, "names the top of the tree but is %s" % _a(kind))
            if self.top_seen:
                raise self.refuse(raw, "duplicate entry for the top of the tree")
            self.top_seen = True
            return None
        name = "/".join(parts)
        implied = []
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            existing = self.kinds.get(prefix)
            if existing == _SYMLINK:
                raise self.refuse(raw, "would be written through symbolic link %r of this archive" % prefix)
            if existing == _FILE:
                raise self.refuse(raw, "parent %r is a regular file in this archive" % prefix)
            if existing is None:
                implied.append(prefix)
        existing = self.kinds.get(name)
        upgrade = existing == _IMPLIED and kind == _DIR
        if existing is not None and not upgrade:
            raise self.refuse(raw, "duplicate name: %r is already in the archive as %s" % (name, _a(existing)))
        added = len(implied) + (0 if upgrade else 1)
        if self.result.members + added > limits.max_members:
            raise self.refuse(raw, "archive has more than %d members" % limits.max_members)
        for prefix in implied:
            self.kinds[prefix] = _IMPLIED
        self.kinds[name] = kind
        self.result.members += added
        if kind == _FILE:
            self.result.total_size += info.size
            self.result.files.append(name)
        return name, kind, implied

    def _kind(self, info: tarfile.TarInfo) -> str:
        raw = info.name
        if info.issparse() or any(key.startswith("GNU.sparse.") for key in info.pax_headers):
            raise self.refuse(raw, "sparse files are not allowed")
        if info.type in _REGULAR_TYPES:
            return _FILE
        if info.type == tarfile.DIRTYPE:
            return _DIR
        if info.type == tarfile.SYMTYPE:
            return _SYMLINK
        if info.type == tarfile.LNKTYPE:
            raise self.refuse(raw, "hard links are not allowed (link to %r)" % info.linkname)
        if info.type == tarfile.CHRTYPE:
            raise self.refuse(raw, "character devices are not allowed")
        if info.type == tarfile.BLKTYPE:
            raise self.refuse(raw, "block devices are not allowed")
        if info.type == tarfile.FIFOTYPE:
            raise self.refuse(raw, "FIFOs are not allowed")
        kind = info.type.decode("ascii", "backslashreplace")
        raise self.refuse(raw, "member type %r is not allowed (only regular files, directories and symbolic links)" % kind)


class _Reader:
    """One streaming pass over a .tar.gz with all read errors made ArchiveError."""

    def __init__(self, archive: str) -> None:
        self.archive = archive
        self.last: str | None = None
        self._raw = None
        self._gz = None
        self._tar = None

    def __enter__(self) -> _Reader:
        try:
            self._raw = open(self.archive, "rb")
            magic = self._raw.read(2)
            self._raw.seek(0)
        except OSError as exc:
            self.close()
            raise ArchiveError(self.archive, "cannot read archive: %s" % (exc.strerror or exc)) from exc
        if magic != _GZIP_MAGIC:
            self.close()
            raise ArchiveError(self.archive, _NOT_TAR)
        self._gz = gzip.GzipFile(filename="", mode="rb", fileobj=self._raw)
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        for obj in (self._tar, self._gz, self._raw):
            if obj is not None:
                try:
                    obj.close()
                except Exception:  # pylint: disable=broad-except
                    pass
        self._tar = self._gz = self._raw = None

    def _corrupt(self, detail: object, member: str | None = None) -> ArchiveError:
        if member is not None:
            return ArchiveError(self.archive, "archive is truncated or corrupt: %s" % detail, member=member)
        if self.last is not None:
            return ArchiveError(self.archive, "archive is truncated or corrupt after this member: %s" % detail, member=self.last)
        return ArchiveError(self.archive, "archive is truncated or corrupt: %s" % detail)

    def _header_error(self, exc: _HeaderProblem) -> ArchiveError:
        if not exc.corrupt:
            return ArchiveError(self.archive, exc.problem, member=exc.member)
        if self.last is None:
            return ArchiveError(self.archive, "%s: %s" % (_NOT_TAR, exc.problem))
        return self._corrupt(exc.problem)

    def members(self):
        """Yield each member's TarInfo; tarfile skips data left unread."""
        try:
            if self._tar is None:
                self._tar = tarfile.open(fileobj=self._gz, mode="r|", tarinfo=_GuardedTarInfo, encoding="utf-8", errors="surrogateescape")
            for info in self._tar:
                self.last = info.name
                yield info
        except _HeaderProblem as exc:
            raise self._header_error(exc) from None
        except _READ_ERRORS as exc:
            raise self._corrupt(exc) from exc

    def copy_data(self, info: tarfile.TarInfo, write=None) -> int:
        """Read the current member's data, passing chunks to ``write``."""
        member = info.name
        remaining = info.size
        copied = 0
        if remaining == 0:
            return 0
        try:
            source = self._tar.extractfile(info)
        except _READ_ERRORS as exc:
            raise self._corrupt(exc, member) from exc
        while remaining > 0:
            try:
                chunk = source.read(min(_CHUNK, remaining))
            except _READ_ERRORS as exc:
                raise self._corrupt(exc, member) from exc
            if not chunk:
                break
            copied += len(chunk)
            remaining -= len(chunk)
            if write is not None:
                try:
                    write(chunk)
                except OSError as exc:
                    raise ArchiveError(self.archive, "cannot write: %s" % (exc.strerror or exc), member=member) from exc
        if copied != info.size:
            raise self._corrupt("member data ends after %d of %d bytes" % (copied, info.size), member)
        return copied

    def finish(self) -> None:
        """Read to the end of the gzip stream so truncation and CRC errors show."""
        trailing = 0
        try:
            while True:
                chunk = self._gz.read(_CHUNK)
                if not chunk:
                    break
                trailing += len(chunk)
                if trailing > _MAX_TRAILING:
                    raise ArchiveError(self.archive, "more than %d bytes of data after the end of the archive" % _MAX_TRAILING)
        except _READ_ERRORS as exc:
            raise self._corrupt(exc) from exc


def _run(archive: str, limits: Limits, writer: _Writer | None) -> ScanResult:
    validator = _Validator(archive, limits)
    with _Reader(archive) as reader:
        for info in reader.members():
            checked = validator.check(info)
            if checked is None:
                continue
            name, kind, implied = checked
            if writer is None:
                if kind == _FILE:
                    reader.copy_data(info)
                continue
            try:
                for parent in implied:
                    writer.mkdir(parent, _IMPLIED_DIR_MODE, None)
                if kind == _DIR:
                    writer.mkdir(name, info.mode & 0o777, info.mtime)
                elif kind == _SYMLINK:
                    writer.symlink(name, info.linkname)
                else:
                    writer.write_file(name, info, reader)
            except OSError as exc:
                raise ArchiveError(archive, "cannot create %s: %s" % (kind, exc.strerror or exc), member=info.name) from exc
        reader.finish()
    return validator.result


class _Writer:
    """Creates entries below a private root directory; never follows links."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.dirs: dict[str, tuple[int, object]] = {}

    def path(self, name: str) -> str:
        return os.path.join(self.root, *name.split("/"))

    def mkdir(self, name: str, mode: int, mtime: object) -> None:
        if name not in self.dirs:
            os.mkdir(self.path(name), 0o700)
        self.dirs[name] = (mode, mtime)

    def symlink(self, name: str, target: str) -> None:
        os.symlink(target, self.path(name))

    def write_file(self, name: str, info: tarfile.TarInfo, reader: _Reader) -> None:
        path = self.path(name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as out:
            reader.copy_data(info, out.write)
            out.flush()
            os.fchmod(out.fileno(), info.mode & 0o777)
        _set_mtime(path, info.mtime)

    def finish(self) -> None:
        """Apply directory modes and mtimes, deepest first."""
        for name in sorted(self.dirs, key=lambda item: item.count("/"), reverse=True):
            mode, mtime = self.dirs[name]
            path = self.path(name)
            os.chmod(path, mode)
            if mtime is not None:
                _set_mtime(path, mtime)
        os.chmod(self.root, _TOP_MODE)


def _set_mtime(path: str, mtime: object) -> None:
    try:
        os.utime(path, (mtime, mtime))
    except (OSError, OverflowError, TypeError, ValueError):
        pass


def _remove_tree(path: str) -> None:
    """Best-effort removal of a partial tree, even with read-only directories."""
    try:
        os.chmod(path, 0o700)
        for dirpath, dirnames, _filenames in os.walk(path):
            for dirname in dirnames:
                child = os.path.join(dirpath, dirname)
                if not os.path.islink(child):
                    os.chmod(child, 0o700)
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def scan(archive_path: str, limits: Limits = Limits()) -> ScanResult:
    """Validate every member of ``archive_path`` without writing anything."""
    return _run(archive_path, limits, None)


def extract(archive_path: str, dest: str, limits: Limits = Limits()) -> ScanResult:
    """Extract ``archive_path`` into the new directory ``dest``.

    ``dest`` must not exist and its parent must.  Members are validated and
    written in a single pass into ``.<basename>.partial-<random>`` beside
    ``dest``, which is renamed to ``dest`` once complete; on any error it is
    removed and the error re-raised (OSError wrapped in ArchiveError).
    """
    dest = dest.rstrip("/") or dest
    parent, base = os.path.split(dest)
    parent = parent or "."
    if base in ("", ".", ".."):
        raise ArchiveError(archive_path, "invalid destination %r" % dest)
    if os.path.lexists(dest):
        raise ArchiveError(archive_path, "destination %s already exists" % dest)
    if not os.path.isdir(parent):
        raise ArchiveError(archive_path, "parent directory of destination %s does not exist" % dest)
    try:
        tmp = tempfile.mkdtemp(prefix=".%s.partial-" % base, dir=parent)
    except OSError as exc:
        raise ArchiveError(archive_path, "cannot create a temporary directory in %s: %s" % (parent, exc.strerror or exc)) from exc
    try:
        writer = _Writer(tmp)
        result = _run(archive_path, limits, writer)
        try:
            writer.finish()
            if os.path.lexists(dest):
                raise ArchiveError(archive_path, "destination %s appeared during extraction" % dest)
            os.rename(tmp, dest)
        except OSError as exc:
            raise ArchiveError(archive_path, "cannot finish extraction into %s: %s" % (dest, exc.strerror or exc)) from exc
    except BaseException:
        _remove_tree(tmp)
        raise
    return result


def read_member(archive_path: str, name: str, max_size: int = 1 * MIB) -> bytes | None:
    """Return the data of regular member ``name`` (``./name`` matches too).

    Members before it are validated like :func:`scan` does; reading stops at
    the first match, so the rest of the archive is not checked.  Returns None
    when no member has that name.
    """
    limits = Limits()
    parts, problem = _split_name(name, limits)
    if problem is not None or not parts:
        raise ArchiveError(archive_path, problem or "names the top of the tree", member=name)
    wanted = "/".join(parts)
    validator = _Validator(archive_path, limits)
    with _Reader(archive_path) as reader:
        for info in reader.members():
            checked = validator.check(info)
            if checked is None or checked[0] != wanted:
                if checked is not None and checked[1] == _FILE:
                    reader.copy_data(info)
                continue
            if checked[1] != _FILE:
                raise ArchiveError(archive_path, "is %s, not a regular file" % _a(checked[1]), member=info.name)
            if info.size > max_size:
                raise ArchiveError(archive_path, "size %d is larger than the limit of %d bytes" % (info.size, max_size), member=info.name)
            buf = io.BytesIO()
            reader.copy_data(info, buf.write)
            return buf.getvalue()
        reader.finish()
    return None


def _substitute(data: bytes, substitutions: dict[str, str]) -> bytes:
    """Replace every ``${KEY}`` in one pass (values are not re-expanded)."""
    if not substitutions:
        return data
    table = {("${%s}" % key).encode("utf-8"): value.encode("utf-8") for key, value in substitutions.items()}
    pattern = re.compile(b"|".join(re.escape(key) for key in sorted(table, key=len, reverse=True)))
    return pattern.sub(lambda match: table[match.group(0)], data)


def _collect(entries: list[tuple[str, str]], out_path: str) -> list[tuple[tuple[str, ...], str, str]]:
    """Expand entries into sorted (components, arcname, source) triples."""
    limits = Limits()
    found: dict[tuple[str, ...], tuple[str, str]] = {}

    def add(parts: list[str], arcname: str, source: str) -> None:
        key = tuple(parts)
        if key in found:
            raise ArchiveError(out_path, "duplicate name (from %s and %s)" % (found[key][1], source), member=arcname)
        found[key] = (arcname, source)

    def walk(source: str, parts: list[str], arcname: str) -> None:
        try:
            st = os.lstat(source)
        except OSError as exc:
            raise ArchiveError(out_path, "cannot read %s: %s" % (source, exc.strerror or exc), member=arcname) from exc
        if stat.S_ISDIR(st.st_mode):
            if parts:
                add(parts, arcname, source)
            try:
                children = sorted(os.listdir(source))
            except OSError as exc:
                raise ArchiveError(out_path, "cannot list %s: %s" % (source, exc.strerror or exc), member=arcname) from exc
            for child in children:
                child_parts = parts + [child]
                walk(os.path.join(source, child), child_parts, "/".join(child_parts))
        elif stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode):
            if not parts:
                raise ArchiveError(out_path, "only a directory can be packed as the top of the tree (source %s)" % source, member=arcname)
            add(parts, arcname, source)
        else:
            raise ArchiveError(out_path, "%s is not a regular file, directory or symbolic link" % source, member=arcname)

    for source, arcname in entries:
        parts, problem = _split_name(arcname, limits)
        if problem is not None:
            raise ArchiveError(out_path, problem, member=arcname)
        walk(source, parts, arcname)
    return [(key, "/".join(key), value[1]) for key, value in sorted(found.items())]


def _add_member(tar: tarfile.TarFile, validator: _Validator, name: str, source: str, substitute: bool,
                substitutions: dict[str, str] | None) -> None:
    info = tarfile.TarInfo(name)
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    st = os.lstat(source)
    if stat.S_ISLNK(st.st_mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(source)
        info.mode = 0o777
        validator.check(info)
        tar.addfile(info)
        return
    if stat.S_ISDIR(st.st_mode):
        info.type = tarfile.DIRTYPE
        info.mode = stat.S_IMODE(st.st_mode) & 0o777
        validator.check(info)
        tar.addfile(info)
        return
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    with os.fdopen(os.open(source, flags), "rb") as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise ArchiveError(validator.archive, "%s is not a regular file, directory or symbolic link" % source, member=name)
        info.type = tarfile.REGTYPE
        info.mode = stat.S_IMODE(st.st_mode) & 0o777
        if substitute and substitutions:
            data = _substitute(handle.read(), substitutions)
            info.size = len(data)
            validator.check(info)
            tar.addfile(info, io.BytesIO(data))
        else:
            info.size = st.st_size
            validator.check(info)
            tar.addfile(info, handle)


def pack(entries: list[tuple[str, str]], out_path: str, substitutions: dict[str, str] | None = None,
         substitute_in: tuple[str, ...] = ("deploy.sh", "upgrade.sh")) -> None:
    """Write a deterministic .tar.gz of ``entries`` to ``out_path``.

    ``entries`` are (path on disk, name in archive) pairs; a directory is added
    with its whole content, an archive name of ``.`` puts a directory's content
    at the top.  Members are sorted, owned by uid/gid 0 with empty owner
    names, have mtime 0 and mode ``& 0o777`` (setuid/setgid/sticky bits are
    dropped); the gzip header has mtime 0 and no file name.  Symbolic links
    are stored as links; the result must pass :func:`scan` with default
    limits.  With ``substitutions``, regular files whose archive basename is in
    ``substitute_in`` get each ``${KEY}`` replaced by its value.
    """
    members = _collect(entries, out_path)
    parent, base = os.path.split(out_path)
    parent = parent or "."
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s.partial-" % base, dir=parent)
    except OSError as exc:
        raise ArchiveError(out_path, "cannot create a temporary file in %s: %s" % (parent, exc.strerror or exc)) from exc
    validator = _Validator(out_path, Limits())
    try:
        current = None
        try:
            with os.fdopen(fd, "wb") as raw:
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=6, mtime=0) as gz:
                    with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
                        for parts, name, source in members:
                            current = name
                            _add_member(tar, validator, name, source, parts[-1] in substitute_in, substitutions)
                        current = None
                raw.flush()
                os.fsync(raw.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, out_path)
        except OSError as exc:
            raise ArchiveError(out_path, "cannot pack: %s" % exc, member=current) from exc
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
