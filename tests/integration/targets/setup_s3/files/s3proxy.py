# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A scriptable HTTP proxy in front of the moto S3 server, for fault tests.

moto serves S3 on loopback but never fails, never stalls and never checks a
presigned URL's expiry. This proxy forwards every request to moto and, when
told to through ``POST /__fault__``, answers with an error status, stalls,
cuts the body short or flips one byte of it. It always refuses presigned URLs
whose X-Amz-Date + X-Amz-Expires lies in the past, as S3 does.

``GET /__stats__`` returns how many GETs each path received (paths only: query
strings carry signatures and are never recorded).

Usage: python s3proxy.py LISTEN_PORT UPSTREAM_PORT [LISTEN_ADDRESS]

LISTEN_ADDRESS defaults to 127.0.0.1; the SSH test hosts reach the store through
a proxy on their bridge's address.
"""

from __future__ import annotations

import calendar
import http.client
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
FAULTS: list[dict] = []
STATS: dict[str, int] = {}
UPSTREAM = ("127.0.0.1", 0)
EXPIRED = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
           b'<Message>Request has expired</Message></Error>')


def take_fault(method: str, path: str) -> dict | None:
    with LOCK:
        for fault in FAULTS:
            if fault.get("method", method) == method and fault.get("match", "") in path and fault.get("count", 1) != 0:
                if fault.get("count", 1) > 0:
                    fault["count"] = fault.get("count", 1) - 1
                return dict(fault)
    return None


def expired(query: str) -> bool:
    params = parse_qs(query)
    if "X-Amz-Date" not in params or "X-Amz-Expires" not in params:
        return False
    signed = calendar.timegm(time.strptime(params["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ"))
    return time.time() > signed + int(params["X-Amz-Expires"][0])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the request line holds signed query strings
        pass

    def _send(self, code: int, body: bytes, ctype: str = "application/xml") -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _control(self) -> bool:
        path = urlsplit(self.path).path
        if path == "/__fault__" and self.command == "POST":
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            with LOCK:
                if body.get("reset"):
                    FAULTS.clear()
                else:
                    FAULTS.append(body)
            self._send(200, b"{}", "application/json")
            return True
        if path == "/__stats__":
            if self.command == "DELETE":
                with LOCK:
                    STATS.clear()
            with LOCK:
                data = json.dumps(STATS).encode()
            self._send(200, data, "application/json")
            return True
        return False

    def _proxy(self) -> None:
        if self._control():
            return
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        if self.command == "GET":
            with LOCK:
                STATS[parts.path] = STATS.get(parts.path, 0) + 1
        if expired(parts.query):
            self._send(403, EXPIRED)
            return
        fault = take_fault(self.command, parts.path)
        if fault and fault.get("mode") == "hang":
            time.sleep(float(fault.get("seconds", 30)))
        if fault and fault.get("mode") == "status":
            self._send(int(fault.get("status", 503)), b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>")
            return
        conn = http.client.HTTPConnection(*UPSTREAM, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        self.send_response(resp.status)
        for key, value in resp.getheaders():
            if key.lower() not in ("connection", "transfer-encoding"):
                self.send_header(key, value)
        if resp.getheader("Content-Length") is None:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command == "HEAD":
            conn.close()
            return
        sent = 0
        cut = int(fault["after"]) if fault and fault.get("mode") == "cut" else None
        flip = int(fault["offset"]) if fault and fault.get("mode") == "flip" else None
        while True:
            block = resp.read(256 * 1024)
            if not block:
                break
            if flip is not None and sent <= flip < sent + len(block):
                block = bytearray(block)
                block[flip - sent] ^= 0x01
                block = bytes(block)
            if cut is not None and sent + len(block) >= cut:
                self.wfile.write(block[:cut - sent])
                self.wfile.flush()
                self.close_connection = True
                break
            self.wfile.write(block)
            sent += len(block)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _proxy


def main() -> None:
    global UPSTREAM  # pylint: disable=global-statement
    UPSTREAM = ("127.0.0.1", int(sys.argv[2]))
    address = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    server = ThreadingHTTPServer((address, int(sys.argv[1])), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
