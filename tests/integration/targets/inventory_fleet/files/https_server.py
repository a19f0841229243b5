#!/usr/bin/env python
# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A loopback HTTPS server for the fleet inventory tests (a stand-in CMDB).

Generates a self-signed certificate for 127.0.0.1 with the cryptography package, writes it
to CERT_DIR/cert.pem (the CA the tests trust) and the port to PORT_FILE, then serves files of
ROOT by path:

  /public/<file>    the file
  /private/<file>   the file, only with the header "Authorization: Bearer TOKEN" (else 401)
  /slow/<file>      the file after SLOW seconds (timeouts)
  /moved/<file>     302 to /public/<file>

Every request's method and path (never the query string, never headers) goes to LOG.
Listens on 127.0.0.1 only and runs until killed.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_cert(cert_dir: str) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleetops test CMDB")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path = os.path.join(cert_dir, "cert.pem")
    key_path = os.path.join(cert_dir, "key.pem")
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def main() -> None:
    root, cert_dir, port_file, token, log_path, slow = sys.argv[1:7]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format, *args):  # pylint: disable=redefined-builtin
            pass  # the request line holds the query string

        def _answer(self, code: int, body: bytes = b"", location: str | None = None) -> None:
            self.send_response(code)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # pylint: disable=invalid-name
            path = urlsplit(self.path).path
            with lock, open(log_path, "a", encoding="utf-8") as log:
                log.write("GET %s\n" % path)
            kind, _sep, name = path.lstrip("/").partition("/")
            file_path = os.path.join(root, os.path.basename(name))
            if kind == "moved":
                return self._answer(302, location="/public/" + name)
            if kind == "private" and self.headers.get("Authorization") != "Bearer " + token:
                return self._answer(401, b"no token")
            if kind == "slow":
                time.sleep(float(slow))
            if kind not in ("public", "private", "slow") or not os.path.isfile(file_path):
                return self._answer(404, b"not found")
            with open(file_path, "rb") as handle:
                return self._answer(200, handle.read())

    cert_path, key_path = make_cert(cert_dir)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(port_file + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
