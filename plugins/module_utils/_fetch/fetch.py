# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Verified fetch of artifacts into a content-addressed cache (runs on nodes).

One pass: the bytes are streamed from the source into a temp file in the cache
directory while sha256 and the byte count are computed; only a file whose
digest and size match the plan is renamed to ``<cache>/sha256/<digest>``. A
reader thread keeps the next chunk coming while the current one is hashed and
written, so network, hashing and disk overlap; memory stays a few MiB whatever
the artifact size.

Two sources: a presigned HTTPS URL fetched with Ansible's own URL helpers (the
node needs neither boto3 nor credentials), or bucket/key through boto3 pinned to
the VersionId the plan saw. Messages name the object key, never the URL.
"""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import tempfile
import threading
import time
import typing as t
from urllib.error import HTTPError, URLError

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError, IntegrityError, S3Error

CHUNK = 1024 * 1024
QUEUE_DEPTH = 4
HEX = "0123456789abcdef"


def open_url(url: str, method: str = "GET", **kwargs: t.Any) -> t.Any:
    """ansible's ``Request.open``, imported on the first download: a rerun with nothing to fetch never loads urls and ssl."""
    from ansible.module_utils.urls import Request  # pylint: disable=import-outside-toplevel

    return Request().open(method, url, **kwargs)


def tls_context(validate_certs: bool) -> t.Any:
    """The TLS context ansible's URL helpers would build, built once by the caller instead of per request.

    Left to itself, ``open_url`` builds a context for every request, plain HTTP included, and
    loading the CA bundle costs about 20 ms of CPU each time: ten artifacts spent a third of a
    node's release CPU there.
    """
    from ansible.module_utils.urls import make_context  # pylint: disable=import-outside-toplevel

    return make_context(validate_certs=validate_certs)


def plain_http_context() -> t.Any:
    """A context for a plain-HTTP request, which never uses it (no redirects are followed): no CA bundle loaded."""
    import ssl  # pylint: disable=import-outside-toplevel

    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class TransientError(FleetopsError):
    """Worth another attempt: connection errors, timeouts, 5xx, 429, a cut stream."""


class SourceReadError(Exception):
    """The source failed while being read (as opposed to the local file being written)."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        super().__init__(str(cause))


class FetchError(FleetopsError):
    """Not worth retrying: 403/404 and other refusals."""


class Artifact:
    """One artifact of a plan, as the node sees it."""

    __slots__ = ("bucket", "key", "name", "sha256", "size", "url", "version_id")

    def __init__(self, key: str, sha256: str | None = None, size: int | None = None, url: str | None = None,
                 bucket: str | None = None, version_id: str | None = None, name: str | None = None) -> None:
        self.key = key
        self.bucket = bucket
        self.version_id = version_id
        self.sha256 = sha256.lower() if sha256 else None
        self.size = int(size) if size is not None else None
        self.url = url
        self.name = name or key.rsplit("/", 1)[-1]

    @classmethod
    def from_dict(cls, data: dict, where: str) -> Artifact:
        key = data.get("key")
        if not key:
            raise FleetopsError("%s: 'key' is required" % where)
        digest = data.get("sha256")
        if digest is not None and (len(digest) != 64 or any(c not in HEX for c in digest.lower())):
            raise FleetopsError("%s (%s): sha256 %r is not a 64-digit hex digest" % (where, key, digest))
        if not data.get("url") and not data.get("bucket"):
            raise FleetopsError("%s (%s): needs either a presigned url or a bucket" % (where, key))
        return cls(key=key, sha256=digest, size=data.get("size"), url=data.get("url"), bucket=data.get("bucket"),
                   version_id=data.get("version_id"), name=data.get("name"))

    @property
    def label(self) -> str:
        return "s3://%s/%s" % (self.bucket, self.key) if self.bucket else self.key


class FetchResult:
    __slots__ = ("attempts", "downloaded", "path", "seconds", "sha256", "size")

    def __init__(self, path: str, sha256: str, size: int, downloaded: bool, attempts: int = 0, seconds: float = 0.0):
        self.path, self.sha256, self.size = path, sha256, size
        self.downloaded, self.attempts, self.seconds = downloaded, attempts, seconds

    def to_dict(self) -> dict:
        return dict(path=self.path, sha256=self.sha256, size=self.size, downloaded=self.downloaded,
                    attempts=self.attempts, seconds=round(self.seconds, 3))


def hash_file(path: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while True:
            block = handle.read(CHUNK)
            if not block:
                return digest.hexdigest(), size
            digest.update(block)
            size += len(block)


def _reader(read: t.Callable[[int], bytes], out: queue.Queue, stop: threading.Event) -> None:
    """Feed chunks into ``out``; ends with b"" or the exception it met."""
    try:
        while not stop.is_set():
            block = read(CHUNK)
            out.put(block)
            if not block:
                return
    except BaseException as exc:  # handed to the consumer, which re-raises it
        out.put(exc)


def copy_verified(read: t.Callable[[int], bytes], handle: t.BinaryIO, expected_size: int | None, label: str) -> tuple[str, int]:
    """Stream ``read`` into ``handle`` hashing as it goes; returns (sha256, size)."""
    chunks: queue.Queue = queue.Queue(maxsize=QUEUE_DEPTH)
    stop = threading.Event()
    thread = threading.Thread(target=_reader, args=(read, chunks, stop), daemon=True)
    thread.start()
    digest = hashlib.sha256()
    size = 0
    try:
        while True:
            block = chunks.get()
            if isinstance(block, BaseException):
                if isinstance(block, (FleetopsError, KeyboardInterrupt, SystemExit)):
                    raise block
                raise SourceReadError(block)
            if not block:
                break
            size += len(block)
            if expected_size is not None and size > expected_size:
                raise IntegrityError("%s: more bytes than the %d the plan expects; refused" % (label, expected_size))
            digest.update(block)
            handle.write(block)
    finally:
        stop.set()
        while thread.is_alive():  # unblock a reader waiting on a full queue
            try:
                chunks.get_nowait()
            except queue.Empty:
                thread.join(0.05)
    return digest.hexdigest(), size


class Fetcher:
    """Fetch and verify artifacts into ``<cache_dir>/sha256/<digest>``."""

    def __init__(self, cache_dir: str, store_factory: t.Callable[[], t.Any] | None = None, attempts: int = 4,
                 timeout: float = 60.0, backoff: float = 1.0, validate_certs: bool = True,
                 allow_unverified: bool = False) -> None:
        self.cache_dir = cache_dir
        self.store_factory = store_factory
        self._store = None
        self.attempts = max(1, attempts)
        self.timeout = timeout
        self.backoff = backoff
        self.validate_certs = validate_certs
        self.allow_unverified = allow_unverified
        self._contexts: dict[str, t.Any] = {}

    def _context_for(self, url: str) -> t.Any:
        """One TLS context per fetcher for HTTPS URLs, and a bare one for plain HTTP, built on first use."""
        kind = "https" if url[:6].lower() == "https:" else "http"
        if kind not in self._contexts:
            self._contexts[kind] = tls_context(self.validate_certs) if kind == "https" else plain_http_context()
        return self._contexts[kind]

    def cached_path(self, sha256: str) -> str:
        return os.path.join(self.cache_dir, "sha256", sha256)

    def _ensure_dirs(self) -> str:
        target = os.path.join(self.cache_dir, "sha256")
        os.makedirs(target, mode=0o700, exist_ok=True)
        return target

    def lookup(self, art: Artifact) -> str | None:
        """The cached copy of ``art`` when one exists and still hashes right."""
        if not art.sha256:
            return None
        path = self.cached_path(art.sha256)
        if not os.path.isfile(path):
            return None
        digest, size = hash_file(path)
        if digest == art.sha256 and (art.size is None or size == art.size):
            return path
        os.unlink(path)  # damaged on disk since it was verified: fetch it again
        return None

    def fetch(self, art: Artifact) -> FetchResult:
        if not art.sha256 and not self.allow_unverified:
            raise IntegrityError("%s: no sha256 in the plan (its .sha256 sidecar is missing); refused unless allow_unverified is set"
                                 % art.label)
        cached = self.lookup(art)
        if cached:
            return FetchResult(cached, art.sha256, os.path.getsize(cached), downloaded=False)
        target_dir = self._ensure_dirs()
        started = time.monotonic()
        last: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                digest, size, temp = self._download(art, target_dir)
            except TransientError as exc:
                last = exc
                if attempt < self.attempts:
                    time.sleep(min(self.backoff * (2 ** (attempt - 1)), 30.0))
                continue
            if art.sha256 and digest != art.sha256:
                os.unlink(temp)
                raise IntegrityError("%s: sha256 mismatch: expected %s, got %s over %d bytes; the download was discarded"
                                     % (art.label, art.sha256, digest, size))
            if art.size is not None and size != art.size:
                os.unlink(temp)
                raise IntegrityError("%s: size mismatch: expected %d bytes, got %d; the download was discarded"
                                     % (art.label, art.size, size))
            final = self.cached_path(digest)
            os.chmod(temp, 0o600)
            os.replace(temp, final)
            return FetchResult(final, digest, size, downloaded=True, attempts=attempt, seconds=time.monotonic() - started)
        reason = str(last)
        if reason.startswith(art.label + ": "):
            reason = reason[len(art.label) + 2:]
        raise FetchError("%s: download failed after %d attempts: %s" % (art.label, self.attempts, reason))

    # -- sources --------------------------------------------------------------------------
    def _download(self, art: Artifact, target_dir: str) -> tuple[str, int, str]:
        fd, temp = tempfile.mkstemp(prefix=".partial-", dir=target_dir)
        try:
            with os.fdopen(fd, "wb") as handle:
                if art.url:
                    digest, size = self._from_url(art, handle)
                else:
                    digest, size = self._from_s3(art, handle)
        except BaseException:
            os.unlink(temp)
            raise
        return digest, size, temp

    def _from_url(self, art: Artifact, handle: t.BinaryIO) -> tuple[str, int]:
        from http.client import HTTPException  # pylint: disable=import-outside-toplevel  # only a download needs it

        try:
            # The context carries validate_certs: ansible reads that option only when it builds a context itself.
            resp = open_url(art.url, method="GET", timeout=self.timeout, follow_redirects="none", use_proxy=True,
                            context=self._context_for(art.url))
        except HTTPError as exc:
            raise self._http_error(art, exc.code, _peek(exc)) from None
        except (URLError, socket.timeout, ConnectionError, HTTPException, OSError) as exc:
            raise TransientError("cannot reach the store (%s)" % _reason(exc)) from None
        try:
            digest, size = copy_verified(resp.read, handle, art.size, art.label)
            announced = resp.headers.get("Content-Length")
            _check_complete(size, art.size if art.size is not None else (int(announced) if announced else None))
            return digest, size
        except SourceReadError as exc:
            # Anything the network side raised mid-stream; a local disk error (ENOSPC, EIO) comes
            # from the write side and propagates as it is.
            raise TransientError("the transfer was cut (%s)" % _reason(exc.cause)) from None
        finally:
            resp.close()

    @staticmethod
    def _http_error(art: Artifact, code: int, body: str) -> FleetopsError:
        if code == 403 and "expired" in body.lower():
            return FetchError("%s: the presigned URL has expired; resolve the plan again or raise url_expiry" % art.label)
        if code == 403:
            return FetchError("%s: access denied (403): the presigned URL was refused (expired, or signed for other credentials)"
                              % art.label)
        if code == 404:
            return FetchError("%s: no such object (404)" % art.label)
        if code == 429 or code >= 500:
            return TransientError("the store answered %d" % code)
        return FetchError("%s: the store answered %d" % (art.label, code))

    def _store_client(self):
        if self._store is None:
            if self.store_factory is None:
                raise FetchError("no S3 connection settings for fetching by bucket and key")
            self._store = self.store_factory()
        return self._store

    def _from_s3(self, art: Artifact, handle: t.BinaryIO) -> tuple[str, int]:
        try:
            body, resp = self._store_client().open(art.bucket, art.key, art.version_id)
        except S3Error as exc:
            raise (TransientError if exc.transient else FetchError)(str(exc)) from None
        try:
            digest, size = copy_verified(body.read, handle, art.size, art.label)
            _check_complete(size, art.size if art.size is not None else resp.get("ContentLength"))
            return digest, size
        except SourceReadError as exc:
            raise TransientError("the transfer was cut (%s)" % _reason(exc.cause)) from None
        finally:
            body.close()


def _check_complete(got: int, expected: int | None) -> None:
    """A stream that ends early is a cut connection (retried), not a checksum failure."""
    if expected is not None and got < int(expected):
        raise TransientError("the transfer ended after %d of %d bytes" % (got, int(expected)))


def _peek(exc: HTTPError) -> str:
    try:
        return (exc.read(2048) or b"").decode("utf-8", "replace")
    # best effort: only used to word the message
    except Exception:  # pylint: disable=broad-except
        return ""


def _reason(exc: BaseException) -> str:
    """A short cause with no URL in it (URLs may carry signatures)."""
    reason = getattr(exc, "reason", None)
    text = str(reason if reason is not None else exc) or type(exc).__name__
    if "http://" in text or "https://" in text or "X-Amz-" in text:
        return type(exc).__name__
    return text[:200]
