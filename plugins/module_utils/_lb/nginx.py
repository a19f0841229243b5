# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The nginx backend of lb_member: open source nginx has no runtime API, so a member is taken out by
adding ``down`` to its ``server`` line in a managed upstream file, checking the configuration with
``nginx -t`` and reloading the master (SIGHUP).

How the member view is read (standard library only, Linux ``/proc``):

* the master comes from ``nginx_pid_file``, else the ``pid`` directive of ``nginx_conf``, else the
  ``--pid-path`` nginx was built with; no live ``nginx: master process`` there is an error;
* the current generation is the master's children titled ``nginx: worker process``; the old ones,
  still finishing their requests after a reload, are titled ``nginx: worker process is shutting down``
  and are the member's ``sessions``;
* the file is loaded by the running nginx when every current worker started after the file was last
  modified (process start times from ``/proc/<pid>/stat``, 10 ms resolution, compared on the same
  clock as the file's mtime). A reload that nginx refused starts no new workers, so it never counts;
  a restore after a failure puts the original mtime back together with the original bytes;
* ``state``: ``enabled`` without ``down``; ``drained`` with ``down`` once loaded (nginx has one way of
  taking a server out, so a disabled member shows ``drained`` too: ``OUT_VIEW``); ``enabled`` (not
  healthy) with ``down`` not loaded yet, because the running nginx may still send it traffic;
* ``healthy``: the server line exists, has no ``down`` and the running nginx has loaded the file. A file
  changed but not reloaded (an edit by hand, an interrupted run) leaves every member unhealthy until a
  reload, so ``state=enabled`` reloads instead of reporting success on a configuration nginx does not
  run. Open source nginx has no active health checks and keeps its passive ``max_fails`` marks per
  worker, out of sight: they are not used;
* ``sessions``: old workers still shutting down (they finish the requests they had; nginx does not say
  which upstream those requests went to, so every old worker counts).
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import tempfile
import time
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError

#: Seconds between the edit and the reload, so that the 10 ms process start times cannot tie with the mtime.
EDIT_RELOAD_GAP = 0.03
WORKER = "nginx: worker process"
SHUTTING_DOWN = "nginx: worker process is shutting down"
MASTER = "nginx: master process"
_STAMP = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (\[\w+\]) \d+#\d+: ")


# ---------------------------------------------------------------------------------------------------
# The upstream file: tokens with their offsets, so that an edit touches nothing but the one word.

class Token(t.NamedTuple):
    kind: str  # word, ;, {, }
    value: str
    start: int
    end: int
    line: int


class ServerLine(t.NamedTuple):
    address: str
    line: int
    words: list  # the directive's word tokens after "server" (address first)
    semicolon: Token

    @property
    def down(self) -> bool:
        return any(w.value == "down" for w in self.words[1:])

    @property
    def parameters(self) -> list[str]:
        return [w.value for w in self.words[1:]]


class Upstream(t.NamedTuple):
    name: str
    line: int
    servers: list


def tokenize(text: str, source: str) -> list[Token]:
    """nginx's configuration syntax: words (bare or quoted), ``;``, ``{``, ``}``; ``#`` comments to the end of the line."""
    tokens: list[Token] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            line += 1
            i += 1
        elif char.isspace():
            i += 1
        elif char == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif char in ";{}":
            tokens.append(Token(char, char, i, i + 1, line))
            i += 1
        elif char in "\"'":
            start, start_line, i = i, line, i + 1
            value = []
            while i < n and text[i] != char:
                if text[i] == "\\" and i + 1 < n:
                    i += 1
                if text[i] == "\n":
                    line += 1
                value.append(text[i])
                i += 1
            if i >= n:
                raise LbError("%s: line %d: unterminated quoted string" % (source, start_line))
            i += 1
            tokens.append(Token("word", "".join(value), start, i, start_line))
        else:
            start = i
            while i < n and not text[i].isspace() and text[i] not in ";{}":
                i += 1
            tokens.append(Token("word", text[start:i], start, i, line))
    return tokens


def parse_upstreams(text: str, source: str) -> list[Upstream]:
    """Every ``upstream`` block in the text (at any depth) with its ``server`` lines."""
    tokens = tokenize(text, source)
    upstreams: list[Upstream] = []
    stack: list[Upstream | None] = []
    words: list[Token] = []
    for token in tokens:
        if token.kind == "word":
            words.append(token)
            continue
        if token.kind == "{":
            block = None
            if words and words[0].value == "upstream":
                if len(words) != 2:
                    raise LbError("%s: line %d: an upstream block takes exactly one name" % (source, words[0].line))
                block = Upstream(words[1].value, words[0].line, [])
                upstreams.append(block)
            stack.append(block)
        elif token.kind == "}":
            if words:
                raise LbError("%s: line %d: directive %r is missing its ';'" % (source, words[0].line, words[0].value))
            if not stack:
                raise LbError("%s: line %d: unexpected '}'" % (source, token.line))
            stack.pop()
        else:  # ;
            if not words:
                raise LbError("%s: line %d: unexpected ';'" % (source, token.line))
            current = stack[-1] if stack else None
            if current is not None and words[0].value == "server":
                if len(words) < 2:
                    raise LbError("%s: line %d: a server line needs an address" % (source, words[0].line))
                current.servers.append(ServerLine(words[1].value, words[0].line, words[1:], token))
        words = []
    if words:
        raise LbError("%s: line %d: directive %r is missing its ';'" % (source, words[0].line, words[0].value))
    if stack:
        raise LbError("%s: a block is not closed (missing '}')" % source)
    return upstreams


def find_upstream(upstreams: list[Upstream], name: str, source: str) -> Upstream:
    found = [u for u in upstreams if u.name == name]
    if not found:
        names = ", ".join(u.name for u in upstreams) or "none"
        raise LbError("nginx upstream %s is not in %s (upstreams there: %s)" % (name, source, names))
    if len(found) > 1:
        raise LbError("nginx upstream %s is defined %d times in %s (lines %s)"
                      % (name, len(found), source, ", ".join(str(u.line) for u in found)))
    return found[0]


def find_server(upstream: Upstream, address: str, source: str) -> ServerLine:
    found = [s for s in upstream.servers if s.address == address]
    if not found:
        listed = ", ".join(s.address for s in upstream.servers) or "none"
        raise LbError("server %s is not in nginx upstream %s in %s (its servers: %s)" % (address, upstream.name, source, listed))
    if len(found) > 1:
        raise LbError("server %s appears %d times in nginx upstream %s in %s (lines %s); edit it by hand"
                      % (address, len(found), upstream.name, source, ", ".join(str(s.line) for s in found)))
    return found[0]


def set_down(text: str, server: ServerLine, down: bool) -> str:
    """The text with ``down`` added after the server line's last parameter, or every ``down`` word removed.

    Nothing else changes: other parameters, comments, spacing and line ends stay as they were.
    """
    if down:
        if server.down:
            return text
        at = server.words[-1].end
        return text[:at] + " down" + text[at:]
    for word in reversed([w for w in server.words[1:] if w.value == "down"]):
        start, end = word.start, word.end
        before = start
        while before > 0 and text[before - 1] in " \t":
            before -= 1
        if before > 0 and text[before - 1] in "\r\n":
            # down on a line of its own: keep the line break (a comment may end there), drop the word and its blanks.
            while end < len(text) and text[end] in " \t":
                end += 1
        else:
            start = before
        text = text[:start] + text[end:]
    return text


# ---------------------------------------------------------------------------------------------------
# Processes, from /proc.

def _cmdline(pid: int) -> str:
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent PID, start time in clock ticks since boot), or None when the process is gone."""
    try:
        with open("/proc/%d/stat" % pid, encoding="utf-8", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[1]), int(fields[19])


def boot_offset(samples: int = 5) -> float:
    """Wall-clock time minus the time since boot, read so that a preemption between the two clocks cannot skew it.

    Read naively (wall clock, then boot clock), a process descheduled between the two reads on a busy machine shifts
    every start time earlier by however long it waited, and a worker started just after a configuration write would
    read as older than the file (a reload pending forever). Each sample brackets the wall-clock read between two boot
    clock reads; the tightest bracket wins.
    """
    best_gap, best = None, 0.0
    for _sample in range(samples):
        before = time.clock_gettime(time.CLOCK_BOOTTIME)
        wall = time.time()
        after = time.clock_gettime(time.CLOCK_BOOTTIME)
        if best_gap is None or after - before < best_gap:
            best_gap, best = after - before, wall - (before + after) / 2
    return best


def _start_time(ticks: int, offset: float) -> float:
    """A process start time (ticks since boot) as a wall-clock time, comparable with a file's mtime."""
    return offset + ticks / os.sysconf("SC_CLK_TCK")


def children(master: int) -> list[tuple[int, str, float]]:
    """(PID, title, start time) of every child of the master."""
    found = []
    offset = boot_offset()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        if stat is None or stat[0] != master:
            continue
        found.append((int(entry), _cmdline(int(entry)), _start_time(stat[1], offset)))
    return found


def main_directives(conf: str) -> dict[str, str]:
    """First arguments of the main-context directives of a configuration file (``pid``, ``error_log``)."""
    with open(conf, encoding="utf-8", errors="surrogateescape") as handle:
        tokens = tokenize(handle.read(), conf)
    found: dict[str, str] = {}
    depth, words = 0, []
    for token in tokens:
        if token.kind == "word":
            words.append(token.value)
        elif token.kind == "{":
            depth, words = depth + 1, []
        elif token.kind == "}":
            depth, words = depth - 1, []
        else:
            if depth == 0 and len(words) >= 2:
                found.setdefault(words[0], words[1])
            words = []
    return found


# ---------------------------------------------------------------------------------------------------

class NginxBackend:
    """One server of one upstream in a managed file, behind a running nginx master."""

    DRAIN_IS_DISABLE = True
    #: How a member out of rotation shows (what check mode predicts for drained and disabled alike).
    OUT_VIEW: t.ClassVar[dict] = {"state": "drained", "healthy": False}

    def __init__(self, params: dict) -> None:
        self.path: str = params["nginx_upstream_file"]
        self.upstream: str = params["nginx_upstream"]
        self.server: str = params["nginx_server"]
        self.binary: str = params.get("nginx_binary") or "nginx"
        self.conf: str | None = params.get("nginx_conf")
        self.pid_file: str | None = params.get("nginx_pid_file")
        self.reload_timeout = float(params.get("wait_timeout") or 60.0)
        self.label = "server %s of nginx upstream %s" % (self.server, self.upstream)
        self._build: dict[str, str] | None = None

    # -- reading ------------------------------------------------------------------------------------

    def _read(self) -> tuple[bytes, str, list[Upstream]]:
        try:
            with open(self.path, "rb") as handle:
                raw = handle.read()
        except FileNotFoundError:
            raise LbError("nginx upstream file %s does not exist (%s)" % (self.path, self.label)) from None
        except OSError as exc:
            raise LbError("cannot read nginx upstream file %s: %s" % (self.path, exc.strerror)) from None
        text = raw.decode("utf-8", "surrogateescape")
        return raw, text, parse_upstreams(text, self.path)

    def _nginx_v(self) -> dict[str, str]:
        if self._build is None:
            self._build = {}
            try:
                proc = subprocess.run([self.binary, "-V"], capture_output=True, text=True, check=False)
            except OSError as exc:
                raise LbError("cannot run %s: %s" % (self.binary, exc.strerror)) from None
            for match in re.finditer(r"--([a-z-]+)=(\S+)", proc.stderr):
                self._build[match.group(1)] = match.group(2)
        return self._build

    def _pid_path(self) -> str:
        if self.pid_file:
            return self.pid_file
        conf = self.conf or self._nginx_v().get("conf-path")
        pid = None
        if conf:
            try:
                pid = main_directives(conf).get("pid")
            except OSError:
                pid = None
        pid = pid or self._nginx_v().get("pid-path") or "/run/nginx.pid"
        if not os.path.isabs(pid):
            pid = os.path.join(self._nginx_v().get("prefix", "/usr/share/nginx"), pid)
        return pid

    def _master(self) -> int:
        path = self._pid_path()
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read().strip()
        except OSError as exc:
            raise LbError("nginx is not running for %s: no master PID (cannot read pid file %s: %s)"
                          % (self.path, path, exc.strerror)) from None
        if not text.isdigit():
            raise LbError("nginx is not running for %s: pid file %s holds %r, not a PID" % (self.path, path, text[:40]))
        pid = int(text)
        if not _cmdline(pid).startswith(MASTER):
            raise LbError("nginx is not running for %s: no nginx master process with PID %d (from pid file %s)"
                          % (self.path, pid, path))
        return pid

    def _workers(self, master: int) -> tuple[list[tuple[int, float]], int]:
        """(PID, start time) of the current workers, and how many old ones are still shutting down."""
        current, old = [], 0
        for pid, title, started in children(master):
            if title.startswith(SHUTTING_DOWN):
                old += 1
            elif title.startswith(WORKER):
                current.append((pid, started))
        return current, old

    def _views(self) -> tuple[list[dict], Upstream]:
        _raw, _text, upstreams = self._read()
        upstream = find_upstream(upstreams, self.upstream, self.path)
        master = self._master()
        current, old = self._workers(master)
        mtime = os.stat(self.path).st_mtime
        loaded = bool(current) and all(started >= mtime for _pid, started in current)
        views = []
        for server in upstream.servers:
            if server.down and loaded:
                state = "drained"
                detail = "down, loaded by nginx master %d" % master
                if old:
                    detail += "; %d old worker(s) still shutting down" % old
            elif loaded:
                state, detail = "enabled", "in rotation (nginx master %d)" % master
            else:
                state = "enabled"
                detail = ("%s in %s, not loaded yet by nginx master %d (reload pending)"
                          % ("down" if server.down else "not down", self.path, master))
            views.append(dict(name=server.address, state=state, healthy=loaded and not server.down, sessions=old, detail=detail,
                              parameters=server.parameters))
        return views, upstream

    def members(self) -> list[dict]:
        return self._views()[0]

    def member(self) -> dict:
        views, upstream = self._views()
        find_server(upstream, self.server, self.path)
        return next(v for v in views if v["name"] == self.server)

    # -- changing -----------------------------------------------------------------------------------

    def enable(self) -> None:
        self._change(down=False)

    def drain(self) -> None:
        self._change(down=True)

    def disable(self) -> None:
        self._change(down=True)

    def after_change(self) -> None:
        """Nothing to save: the file is the state nginx reads on every start and reload."""

    def _change(self, down: bool) -> None:
        what = "marking %s down" % self.label if down else "removing down from %s" % self.label
        target = os.path.realpath(self.path)  # a symlinked file (sites-enabled -> sites-available) stays a symlink
        try:
            lock = os.open(os.path.dirname(target), os.O_RDONLY)
        except OSError as exc:
            raise LbError("cannot open the directory of nginx upstream file %s: %s" % (self.path, exc.strerror)) from None
        try:
            # One change at a time per directory: parallel lb_member runs on one balancer must not lose each other's edits.
            fcntl.flock(lock, fcntl.LOCK_EX)
            raw, text, upstreams = self._read()
            server = find_server(find_upstream(upstreams, self.upstream, self.path), self.server, self.path)
            master = self._master()
            original = os.stat(target)
            new = set_down(text, server, down).encode("utf-8", "surrogateescape")
            if new != raw:
                _atomic_write(target, new, original)
            try:
                self._test(what)
                time.sleep(max(0.0, os.stat(target).st_mtime + EDIT_RELOAD_GAP - time.time()))
                self._reload(master, what)
            except LbError:
                if new != raw:
                    _atomic_write(target, raw, original)
                    os.utime(target, ns=(original.st_atime_ns, original.st_mtime_ns))
                raise
        finally:
            os.close(lock)

    def _test(self, what: str) -> None:
        command = [self.binary, "-t", "-q"] + (["-c", self.conf] if self.conf else [])
        try:
            proc = subprocess.run(command, capture_output=True, text=True, check=False, timeout=max(10.0, self.reload_timeout))
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise LbError("cannot run %s -t for %s: %s; %s is restored"
                          % (self.binary, self.label, getattr(exc, "strerror", None) or exc, self.path)) from None
        if proc.returncode != 0:
            said = " ".join(_STAMP.sub(r"\1 ", line) for line in (proc.stderr + proc.stdout).split("\n") if line.strip())
            said = said or "exit code %d" % proc.returncode
            raise LbError("nginx -t failed after %s in %s, so nginx was not reloaded and %s is restored: %s"
                          % (what, self.path, self.path, said))

    def _reload(self, master: int, what: str) -> None:
        before = {pid for pid, _started in self._workers(master)[0]}
        log, offset = self._error_log()
        try:
            os.kill(master, signal.SIGHUP)
        except OSError as exc:
            raise LbError("cannot reload nginx master %d after %s in %s: %s; %s is restored"
                          % (master, what, self.path, exc.strerror, self.path)) from None
        deadline = time.monotonic() + self.reload_timeout
        while time.monotonic() < deadline:
            if not _cmdline(master).startswith(MASTER):
                raise LbError("nginx master %d exited while reloading after %s in %s; %s is restored"
                              % (master, what, self.path, self.path))
            # Loaded once every current worker is a new one (the old ones exit or say they are shutting down): with the
            # first new worker alone, an old one may still be serving, and the member reads as a reload pending.
            current = self._workers(master)[0]
            if current and all(pid not in before for pid, _started in current):
                return
            time.sleep(0.05)
        said = _tail(log, offset)
        raise LbError("nginx master %d did not load the new configuration within %.0f s after %s in %s (no new workers); "
                      "%s is restored%s" % (master, self.reload_timeout, what, self.path, self.path,
                                            ": " + said if said else ""))

    def _error_log(self) -> tuple[str | None, int]:
        """The main error log and its size now, to quote what nginx says about a refused reload."""
        log = None
        try:
            conf = self.conf or self._nginx_v().get("conf-path")
            log = main_directives(conf).get("error_log") if conf else None
        except (OSError, LbError):
            log = None
        log = log or self._nginx_v().get("error-log-path")
        if not log or log == "stderr" or log.startswith("syslog:"):
            return None, 0
        try:
            return log, os.stat(log).st_size
        except OSError:
            return None, 0


def _tail(log: str | None, offset: int) -> str:
    if not log:
        return ""
    try:
        with open(log, "rb") as handle:
            handle.seek(offset)
            lines = handle.read(65536).decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    serious = [line for line in lines if re.search(r"\[(emerg|alert|crit|error)\]", line)]
    return " | ".join(serious[-3:])


def _atomic_write(path: str, data: bytes, like: os.stat_result) -> None:
    """Replace ``path`` by ``data``: temp file in the same directory, same mode and owner, fsync, rename, fsync dir.

    The temporary name does not end in ``.conf``, so an ``include *.conf`` never picks it up.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fchmod(handle.fileno(), like.st_mode & 0o7777)
            if (like.st_uid, like.st_gid) != (os.getuid(), os.getgid()):
                os.fchown(handle.fileno(), like.st_uid, like.st_gid)
            os.fsync(handle.fileno())
        os.rename(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise LbError("cannot write nginx upstream file %s: %s" % (path, exc.strerror)) from None
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
