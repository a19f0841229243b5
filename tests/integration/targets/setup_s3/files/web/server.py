# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""WebService, the test fixture behind the load balancers: a small real HTTP service.

    python3 server.py VERSION PORT PIDFILE LOGFILE

GET /health answers "ok"; any other path answers "WebService VERSION HOST" (after ?delay=SECONDS when
asked). SIGTERM shuts it down gracefully: it stops accepting, finishes every request in flight, then
exits, as a service behind a drained load balancer member should. Every request is logged, one line.
"""

from __future__ import annotations

import http.server
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse


def main() -> int:
    version, port, pidfile, logfile = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    host = socket.gethostname()
    log_lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"

        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            return

        def do_GET(self):  # pylint: disable=invalid-name
            url = urllib.parse.urlsplit(self.path)
            query = urllib.parse.parse_qs(url.query)
            if "delay" in query:
                time.sleep(float(query["delay"][0]))
            body = b"ok\n" if url.path == "/health" else ("WebService %s %s\n" % (version, host)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with log_lock, open(logfile, "a", encoding="utf-8") as handle:
                handle.write("%.3f %s %s\n" % (time.time(), version, self.path))

    class Server(http.server.ThreadingHTTPServer):
        daemon_threads = False  # server_close() waits for requests in flight
        allow_reuse_address = True

    server = Server(("0.0.0.0", port), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    with open(pidfile + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(os.getpid()))
    os.replace(pidfile + ".tmp", pidfile)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
