# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A real HTTP server on loopback that stands in for Slack's incoming webhook (and any JSON webhook).

    webhook.py serve PORT DIR      answer POSTs, record every request in DIR/requests.jsonl
    webhook.py script DIR JSON     queue answers: a JSON list of {"status", "body", "retry_after", "hang"}
    webhook.py requests DIR        print the recorded requests (one JSON object per line)

Answers are taken from the queue in order ("{path}" in a body is replaced by the request path); with the queue empty the server answers 200 "ok", as
Slack does. "hang" sleeps that many seconds before answering (a slow or stuck receiver). Every
request is recorded with the answer it got, so tests can count attempts and read bodies.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import socketserver
import sys
import threading
import time

LOCK = threading.Lock()


def _next_answer(root: str) -> dict:
    path = os.path.join(root, "script.json")
    with LOCK:
        try:
            with open(path, encoding="utf-8") as handle:
                queue = json.load(handle)
        except FileNotFoundError:
            queue = []
        if not queue:
            return dict(status=200, body="ok")
        answer = queue.pop(0)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(queue, handle)
        os.replace(path + ".tmp", path)
        return answer


class Handler(http.server.BaseHTTPRequestHandler):
    root = "."

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        return

    def do_GET(self):  # pylint: disable=invalid-name
        self.send_response(200 if self.path == "/_health" else 404)
        self.end_headers()

    def do_POST(self):  # pylint: disable=invalid-name
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        answer = _next_answer(self.root)
        record = dict(time=time.time(), path=self.path, content_type=self.headers.get("Content-Type"), body=body,
                      status=answer.get("status", 200), hang=answer.get("hang"))
        with LOCK, open(os.path.join(self.root, "requests.jsonl"), "a", encoding="utf-8") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            handle.write(json.dumps(record) + "\n")
        if answer.get("hang"):
            time.sleep(float(answer["hang"]))
        # "{path}" in a scripted body echoes the request path back, as many web servers' error pages do.
        text = str(answer.get("body", "ok")).replace("{path}", self.path).encode()
        try:
            self.send_response(int(answer.get("status", 200)))
            if answer.get("retry_after") is not None:
                self.send_header("Retry-After", str(answer["retry_after"]))
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else ""
    if command == "serve":
        port, root = int(argv[2]), argv[3]
        os.makedirs(root, exist_ok=True)
        Handler.root = root
        Server(("127.0.0.1", port), Handler).serve_forever()
    elif command == "script":
        root = argv[2]
        queue = json.loads(argv[3])
        with open(os.path.join(root, "script.json"), "w", encoding="utf-8") as handle:
            json.dump(queue, handle)
    elif command == "requests":
        try:
            with open(os.path.join(argv[2], "requests.jsonl"), encoding="utf-8") as handle:
                sys.stdout.write(handle.read())
        except FileNotFoundError:
            pass
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
