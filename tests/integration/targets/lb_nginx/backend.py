# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A small HTTP backend for the lb_nginx target: ``backend.py PORT NAME LOG``.

Answers every GET with 200 and ``NAME PATH``; ``/hold?f=FILE`` answers once FILE exists (the test
creates it; HOLD_LIMIT bounds the wait). Every request is appended to LOG as ``NAME PATH`` when it
arrives, so the test knows which backend nginx chose.
"""

from __future__ import annotations

import http.server
import os
import sys
import threading
import time
import urllib.parse

PORT, NAME, LOG = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LOCK = threading.Lock()
HOLD_LIMIT = 240


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # pylint: disable=invalid-name
        with LOCK, open(LOG, "a", encoding="utf-8") as handle:
            handle.write("%s %s\n" % (NAME, self.path))
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/hold":
            release = urllib.parse.parse_qs(url.query)["f"][0]
            deadline = time.monotonic() + HOLD_LIMIT
            while not os.path.exists(release) and time.monotonic() < deadline:
                time.sleep(0.02)
        body = ("%s %s\n" % (NAME, self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args) -> None:  # pylint: disable=redefined-builtin
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
