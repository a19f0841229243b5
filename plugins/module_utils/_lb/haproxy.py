# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The HAProxy backend of ``lb_member``: one server of one backend, through HAProxy's runtime API.

The runtime API is a stats socket (a unix socket path, or ``tcp:HOST:PORT``) that answers one
command per connection. It reports errors as text on a successful exchange (``No such server.``,
``Permission denied``, ``Unknown command``...), so every answer is read and judged here.

The member view combines two answers: ``show servers state <backend>`` for the administrative
state (bit flags: maintenance, drain) and ``show stat`` for the status text (what the health check
says) and ``scur`` (current sessions). Mapping:

* state: ``disabled`` when any maintenance flag is set (status ``MAINT...``); ``draining`` when a drain
  flag is set or the status is ``DRAIN``/``NOLB``; otherwise ``enabled``. HAProxy has no ``drained``:
  a drained server ends in maintenance, ``disabled``.
* healthy: the status is exactly ``UP``, ``DRAIN``, ``NOLB``, ``DRAIN (agent)`` or ``no check``; a
  transition (``UP 1/3``: checks are failing, or HAProxy's assumption right after maintenance before
  any check ran), ``DOWN`` and ``MAINT`` (checks are off) are not healthy.
* sessions: ``scur``; detail: the status text.

Standard library only: this runs on the balancer host.
"""

from __future__ import annotations

import os
import socket
import tempfile
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._lb.core import LbError

#: Seconds for one exchange with the runtime API (connect, send, read to the end).
EXCHANGE_TIMEOUT = 10.0

# srv_admin_state bits of ``show servers state`` (HAProxy's enum srv_admin).
ADMIN_MAINT = 0x01 | 0x02 | 0x04 | 0x20  # forced, inherited, configured, resolution
ADMIN_DRAIN = 0x08 | 0x10  # forced, inherited

HEALTHY_STATUSES = ("UP", "DRAIN", "NOLB", "DRAIN (agent)", "no check")


def parse_address(address: str) -> tuple[int, t.Any]:
    """``tcp:HOST:PORT`` or a unix socket path into (address family, socket address)."""
    if address.startswith("tcp:"):
        host, sep, port = address[4:].rpartition(":")
        host = host.strip("[]")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise LbError("haproxy_socket %r: expected a unix socket path or tcp:HOST:PORT" % address)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return family, (host, int(port))
    if not address:
        raise LbError("haproxy_socket is empty: expected a unix socket path or tcp:HOST:PORT")
    return socket.AF_UNIX, address


def parse_stat(text: str) -> list[dict]:
    """``show stat`` CSV into dicts keyed by its header (``pxname``, ``svname``, ``scur``, ``status``...)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("# "):
        raise ValueError("not a show stat answer")
    header = lines[0][2:].split(",")
    return [dict(zip(header, line.split(","))) for line in lines[1:]]


def parse_servers_state(text: str) -> list[dict]:
    """``show servers state`` (version line, ``# be_id be_name ...`` header, one line per server) into dicts."""
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].strip().isdigit() or not lines[1].startswith("# "):
        raise ValueError("not a show servers state answer")
    header = lines[1][2:].split()
    return [dict(zip(header, line.split())) for line in lines[2:] if not line.startswith("#")]


def member_view(stat: dict, admin: int | None) -> dict:
    """One server's ``show stat`` row and admin flags as an lb member view."""
    status = stat.get("status", "")
    if (admin is not None and admin & ADMIN_MAINT) or status.startswith("MAINT"):
        state = "disabled"
    elif (admin is not None and admin & ADMIN_DRAIN) or status.startswith(("DRAIN", "NOLB")):
        state = "draining"
    else:
        state = "enabled"
    scur = stat.get("scur", "")
    return dict(name=stat.get("svname"), state=state, healthy=status in HEALTHY_STATUSES,
                sessions=int(scur) if scur.isdigit() else None, detail=status)


class HaproxyBackend:
    """One server of one HAProxy backend; see the module docstring for the member view."""

    #: A drained HAProxy server ends in maintenance, and checks do not run there.
    OUT_VIEW: t.ClassVar[dict] = {"state": "disabled", "healthy": False}

    def __init__(self, params: dict) -> None:
        self.socket = params["haproxy_socket"]
        self.backend = params["haproxy_backend"]
        self.server = params["haproxy_server"]
        self.state_file = params.get("haproxy_state_file")
        self.label = "server %s of HAProxy backend %s" % (self.server, self.backend)
        self._pid: str | None = None
        self._doing = ""

    # -- the runtime API -------------------------------------------------------------------

    def exchange(self, command: str) -> str:
        """Send one command, read the whole answer; unreachable sockets become LbError naming the socket."""
        family, address = parse_address(self.socket)
        where = "HAProxy runtime API at %s" % self.socket
        try:
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(EXCHANGE_TIMEOUT)
                sock.connect(address)
                sock.sendall(command.encode("utf-8") + b"\n")
                chunks = []
                while True:
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except FileNotFoundError as exc:
            raise LbError("cannot reach the %s: the socket does not exist (%s)" % (where, exc.strerror)) from exc
        except ConnectionRefusedError as exc:
            raise LbError("cannot reach the %s: connection refused (is HAProxy running, and is this its stats socket?)" % where) from exc
        except socket.timeout as exc:
            raise LbError("no answer from the %s to %r within %g s" % (where, command, EXCHANGE_TIMEOUT)) from exc
        except OSError as exc:
            raise LbError("cannot reach the %s: %s" % (where, exc.strerror or exc)) from exc
        return b"".join(chunks).decode("utf-8", "replace")

    def _refusal(self, command: str, answer: str) -> LbError:
        text = " ".join(answer.strip().splitlines()[:1]) or "(empty answer)"
        hint = ""
        if text.startswith("Permission denied"):
            hint = "; the stats socket needs 'level admin' to change servers"
        elif text.startswith("Unknown command"):
            hint = "; this HAProxy does not know the command"
        return LbError("HAProxy at %s refused %r for %s: %s%s" % (self.socket, command, self.label, text, hint))

    def command(self, command: str) -> None:
        """A command that answers nothing on success: any text back is HAProxy's refusal."""
        answer = self.exchange(command)
        if answer.strip():
            if answer.startswith("No such server"):
                raise self._unknown_server(self._stats(), answer.strip())
            if answer.startswith("No such backend"):
                raise self._unknown_backend(self._stats(), answer.strip())
            raise self._refusal(command, answer)

    def _stats(self) -> list[dict]:
        answer = self.exchange("show stat")
        try:
            return parse_stat(answer)
        except ValueError:
            raise self._refusal("show stat", answer) from None

    def _admin_flags(self) -> dict[str, int]:
        command = "show servers state %s" % self.backend
        answer = self.exchange(command)
        if answer.startswith("Can't find backend"):
            raise self._unknown_backend(self._stats(), answer.strip())
        try:
            rows = parse_servers_state(answer)
        except ValueError:
            raise self._refusal(command, answer) from None
        flags = {}
        for row in rows:
            value = row.get("srv_admin_state", "")
            if value.isdigit():
                flags[row.get("srv_name", "")] = int(value)
        return flags

    def _unknown_backend(self, stats: list[dict], said: str = "") -> LbError:
        backends = sorted({row["pxname"] for row in stats if row.get("svname") == "BACKEND"})
        return LbError("HAProxy at %s has no backend %r%s; its backends: %s"
                       % (self.socket, self.backend, " (%s)" % said if said else "", ", ".join(backends) or "none"))

    def _unknown_server(self, stats: list[dict], said: str = "") -> LbError:
        servers = [row["svname"] for row in stats
                   if row.get("pxname") == self.backend and row.get("svname") not in ("BACKEND", "FRONTEND")]
        if not servers and not any(row.get("pxname") == self.backend and row.get("svname") == "BACKEND" for row in stats):
            return self._unknown_backend(stats, said)
        return LbError("HAProxy backend %r at %s has no server %r%s; its servers: %s"
                       % (self.backend, self.socket, self.server, " (%s)" % said if said else "", ", ".join(servers) or "none"))

    def _process(self) -> str | None:
        for line in self.exchange("show info").splitlines():
            if line.startswith("Pid:"):
                return line.split(":", 1)[1].strip()
        return None

    def _check_process(self) -> None:
        """After a command of ours, a reload means the new process has not seen it and the old one's sessions are invisible."""
        if self._pid is None:
            return
        now = self._process()
        if now != self._pid:
            raise LbError("HAProxy at %s was reloaded (process %s, now %s) while %s was %s: the new process does not carry that "
                          "change unless it loaded a saved server state, and the sessions the old process still serves cannot be "
                          "seen through the runtime API, so this cannot be confirmed. Run the task again once the old process has "
                          "finished (HAProxy's hard-stop-after bounds it)" % (self.socket, self._pid, now, self.label, self._doing))

    def _act(self, state: str, doing: str) -> None:
        if self._pid is None:
            self._pid = self._process()
        self._doing = doing
        self.command("set server %s/%s state %s" % (self.backend, self.server, state))

    # -- Backend ---------------------------------------------------------------------------

    def members(self) -> list[dict]:
        flags = self._admin_flags()
        stats = self._stats()
        rows = [row for row in stats if row.get("pxname") == self.backend and row.get("svname") not in ("BACKEND", "FRONTEND")]
        return [member_view(row, flags.get(row["svname"])) for row in rows]

    def member(self) -> dict:
        self._check_process()
        flags = self._admin_flags()
        stats = self._stats()
        for row in stats:
            if row.get("pxname") == self.backend and row.get("svname") == self.server:
                return member_view(row, flags.get(self.server))
        raise self._unknown_server(stats)

    def enable(self) -> None:
        self._act("ready", "being enabled")

    def drain(self) -> None:
        self._act("drain", "draining")

    def disable(self) -> None:
        self._act("maint", "being put in maintenance")

    def after_change(self) -> None:
        """Save every backend's server state where ``server-state-file`` reads it on reload, atomically."""
        if not self.state_file:
            return
        answer = self.exchange("show servers state")
        try:
            parse_servers_state(answer)
        except ValueError:
            raise self._refusal("show servers state", answer) from None
        save_atomically(self.state_file, answer)


def save_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temp file in the same directory, fsync, rename, fsync the directory."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        tmp = None
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise LbError("cannot save HAProxy's server state to haproxy_state_file %s: %s" % (path, exc.strerror or exc)) from exc
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
