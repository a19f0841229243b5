# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_fetch/fetch.py: streamed verification, the cache, and fetches from a loopback HTTP server."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError, IntegrityError, S3Error
from ansible_collections.fleetops.release.plugins.module_utils._fetch import fetch as _fetch
from ansible_collections.fleetops.release.plugins.module_utils._fetch.fetch import (
    CHUNK,
    Artifact,
    Fetcher,
    FetchError,
    SourceReadError,
    copy_verified,
    hash_file,
)

KEY = "M/1.0.0/M.tar.gz"
PATH = "/bkt/" + KEY
LABEL = "s3://bkt/" + KEY
QUERY = "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDSECRET&X-Amz-Signature=SECRET"
DATA = bytes(range(256)) * 6000  # 1.5 MB: more than one CHUNK
DATA_SHA = hashlib.sha256(DATA).hexdigest()
PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", "no_proxy", "NO_PROXY")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def reader_threads():
    return {thread for thread in threading.enumerate() if thread.name.endswith("(_reader)")}


# ---------------------------------------------------------------- copy_verified


@pytest.mark.parametrize("size", [0, 1, CHUNK, int(3.5 * CHUNK)], ids=["empty", "one-byte", "chunk", "3.5-chunks"])
@pytest.mark.parametrize("expected", ["exact", "unknown"])
def test_copy_verified_digest_and_size(size, expected):
    data = (b"0123456789abcdef" * (size // 16 + 1))[:size]
    out = io.BytesIO()
    digest, got = copy_verified(io.BytesIO(data).read, out, size if expected == "exact" else None, LABEL)
    assert (digest, got) == (sha(data), size)
    assert out.getvalue() == data


def test_copy_verified_refuses_more_bytes_than_expected():
    before = reader_threads()
    out = io.BytesIO()
    started = time.monotonic()
    with pytest.raises(IntegrityError) as exc:
        copy_verified(io.BytesIO(b"x" * (3 * CHUNK)).read, out, CHUNK + 1, LABEL)
    assert str(exc.value) == "%s: more bytes than the %d the plan expects; refused" % (LABEL, CHUNK + 1)
    assert time.monotonic() - started < 30  # it stops; a hang would never end
    assert len(out.getvalue()) == CHUNK  # the chunk that overflowed was not written
    assert reader_threads() == before


def test_copy_verified_stops_an_endless_reader():
    """A source that never ends must not leave the reader thread blocked on a full queue."""
    calls = []

    def endless(amount):
        calls.append(amount)
        return b"y" * amount

    before = reader_threads()
    started = time.monotonic()
    with pytest.raises(IntegrityError, match="more bytes than the 10 the plan expects"):
        copy_verified(endless, io.BytesIO(), 10, "Mod/developer/x.tar.gz")
    assert time.monotonic() - started < 30  # it stops; a hang would never end
    assert reader_threads() == before
    settled = len(calls)
    time.sleep(0.05)
    assert len(calls) == settled  # nothing reads any more


def test_copy_verified_exactly_expected_size_is_fine():
    digest, size = copy_verified(io.BytesIO(b"abc").read, io.BytesIO(), 3, LABEL)
    assert (digest, size) == (sha(b"abc"), 3)


def test_copy_verified_short_stream_is_reported_as_is():
    # a short stream is the caller's business (_check_complete): copy_verified reports what it saw
    assert copy_verified(io.BytesIO(b"ab").read, io.BytesIO(), 10, LABEL) == (sha(b"ab"), 2)


def test_copy_verified_propagates_an_error_raised_by_read():
    boom = ConnectionResetError(104, "Connection reset by peer")
    source = io.BytesIO(b"z" * (2 * CHUNK + 5))

    def read(amount):
        if source.tell() >= 2 * CHUNK:
            raise boom
        return source.read(amount)

    before = reader_threads()
    out = io.BytesIO()
    with pytest.raises(SourceReadError) as exc:
        copy_verified(read, out, None, LABEL)
    assert exc.value.cause is boom
    assert out.getvalue() == b"z" * (2 * CHUNK)
    assert reader_threads() == before


def test_copy_verified_propagates_an_error_on_the_first_read():
    def read(amount):
        raise OSError("read failed for %d" % amount)

    with pytest.raises(SourceReadError) as exc:
        copy_verified(read, io.BytesIO(), 5, LABEL)
    assert isinstance(exc.value.cause, OSError)
    assert str(exc.value) == "read failed for %d" % CHUNK


def test_copy_verified_lets_a_write_error_through_unwrapped():
    class FullDisk(io.BytesIO):
        def write(self, data):
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError) as exc:
        copy_verified(io.BytesIO(b"abc").read, FullDisk(), None, LABEL)
    assert not isinstance(exc.value, SourceReadError)
    assert exc.value.errno == 28


# ---------------------------------------------------------------- Artifact / hash_file


def test_artifact_from_dict_full():
    art = Artifact.from_dict(dict(key=KEY, bucket="bkt", sha256=DATA_SHA.upper(), size="12", version_id="v1", url="https://x"),
                             "artifact 1")
    assert (art.key, art.bucket, art.sha256, art.size, art.version_id, art.url) == (KEY, "bkt", DATA_SHA, 12, "v1", "https://x")
    assert art.name == "M.tar.gz"
    assert art.label == LABEL


def test_artifact_from_dict_url_only():
    art = Artifact.from_dict(dict(key=KEY, url="https://x", name="rel"), "artifact 2")
    assert (art.bucket, art.sha256, art.size, art.name) == (None, None, None, "rel")
    assert art.label == KEY


@pytest.mark.parametrize("data", [{}, {"key": ""}, {"key": None, "bucket": "b"}, {"bucket": "b", "sha256": DATA_SHA}])
def test_artifact_from_dict_needs_a_key(data):
    with pytest.raises(FleetopsError) as exc:
        Artifact.from_dict(data, "artifact 3")
    assert str(exc.value) == "artifact 3: 'key' is required"


@pytest.mark.parametrize("digest", ["", "0" * 63, "0" * 65, "g" * 64, "sha256:" + "0" * 57, " " + "0" * 63])
def test_artifact_from_dict_bad_sha256(digest):
    with pytest.raises(FleetopsError) as exc:
        Artifact.from_dict(dict(key=KEY, bucket="bkt", sha256=digest), "artifact 1")
    assert str(exc.value) == "artifact 1 (%s): sha256 %r is not a 64-digit hex digest" % (KEY, digest)


@pytest.mark.parametrize("data", [dict(key=KEY), dict(key=KEY, url="", bucket=""), dict(key=KEY, url=None, bucket=None)])
def test_artifact_from_dict_needs_url_or_bucket(data):
    with pytest.raises(FleetopsError) as exc:
        Artifact.from_dict(data, "artifact 4")
    assert str(exc.value) == "artifact 4 (%s): needs either a presigned url or a bucket" % KEY


@pytest.mark.parametrize("size", [0, 1, CHUNK, int(2.5 * CHUNK)])
def test_hash_file(tmp_path, size):
    data = os.urandom(size)
    path = tmp_path / "f"
    path.write_bytes(data)
    assert hash_file(str(path)) == (sha(data), size)


# ---------------------------------------------------------------- Fetcher.lookup


def put_cache(cache, name, data):
    os.makedirs(os.path.join(cache, "sha256"), exist_ok=True)
    path = os.path.join(cache, "sha256", name)
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def test_lookup_absent(tmp_path):
    fetcher = Fetcher(str(tmp_path))
    assert fetcher.lookup(Artifact(KEY, sha256=DATA_SHA, bucket="bkt")) is None
    assert fetcher.lookup(Artifact(KEY, bucket="bkt")) is None  # nothing to look up without a digest


def test_lookup_good_cached_file(tmp_path):
    path = put_cache(str(tmp_path), sha(b"hello"), b"hello")
    fetcher = Fetcher(str(tmp_path))
    assert fetcher.cached_path(sha(b"hello")) == path
    assert fetcher.lookup(Artifact(KEY, sha256=sha(b"hello"), size=5, bucket="bkt")) == path
    assert fetcher.lookup(Artifact(KEY, sha256=sha(b"hello"), bucket="bkt")) == path


def test_lookup_damaged_cached_file_is_removed(tmp_path):
    path = put_cache(str(tmp_path), sha(b"hello"), b"hellO")
    assert Fetcher(str(tmp_path)).lookup(Artifact(KEY, sha256=sha(b"hello"), size=5, bucket="bkt")) is None
    assert not os.path.exists(path)


def test_lookup_wrong_size_is_removed(tmp_path):
    path = put_cache(str(tmp_path), sha(b"hello"), b"hello")
    assert Fetcher(str(tmp_path)).lookup(Artifact(KEY, sha256=sha(b"hello"), size=6, bucket="bkt")) is None
    assert not os.path.exists(path)


# ---------------------------------------------------------------- Fetcher.fetch: refusals before any request


def test_fetch_without_sha256_is_refused_unless_allowed(tmp_path):
    fetcher = Fetcher(str(tmp_path / "cache"))
    with pytest.raises(IntegrityError) as exc:
        fetcher.fetch(Artifact(KEY, bucket="bkt", url="http://127.0.0.1:9" + PATH + QUERY))
    assert str(exc.value) == ("%s: no sha256 in the plan (its .sha256 sidecar is missing); refused unless allow_unverified is set"
                              % LABEL)
    assert "allow_unverified" in str(exc.value)
    assert not os.path.exists(str(tmp_path / "cache"))


def test_fetch_by_bucket_without_store_settings(tmp_path):
    with pytest.raises(FetchError) as exc:
        Fetcher(str(tmp_path)).fetch(Artifact(KEY, sha256=DATA_SHA, bucket="bkt"))
    assert str(exc.value) == "no S3 connection settings for fetching by bucket and key"
    assert os.listdir(str(tmp_path / "sha256")) == []


# ---------------------------------------------------------------- Fetcher.fetch by bucket/key (fake store)


class FakeStore:
    def __init__(self, data, failures=()):
        self.data = data
        self.failures = list(failures)
        self.calls = []

    def open(self, bucket, key, version_id=None):
        self.calls.append((bucket, key, version_id))
        if self.failures:
            raise self.failures.pop(0)
        return io.BytesIO(self.data), {"ContentLength": len(self.data)}


def test_fetch_from_s3_pins_the_version(tmp_path):
    store = FakeStore(b"payload")
    fetcher = Fetcher(str(tmp_path), store_factory=lambda: store, backoff=0.01)
    got = fetcher.fetch(Artifact(KEY, sha256=sha(b"payload"), size=7, bucket="bkt", version_id="v9"))
    assert (got.downloaded, got.size, got.sha256, got.attempts) == (True, 7, sha(b"payload"), 1)
    assert store.calls == [("bkt", KEY, "v9")]
    with open(got.path, "rb") as handle:
        assert handle.read() == b"payload"


def test_fetch_from_s3_retries_a_transient_error(tmp_path):
    store = FakeStore(b"payload", [S3Error(LABEL + ": S3 answered 503 SlowDown", True)])
    fetcher = Fetcher(str(tmp_path), store_factory=lambda: store, backoff=0.01)
    got = fetcher.fetch(Artifact(KEY, sha256=sha(b"payload"), bucket="bkt"))
    assert got.attempts == 2
    assert len(store.calls) == 2


def test_fetch_from_s3_gives_up_on_a_refusal(tmp_path):
    store = FakeStore(b"payload", [S3Error(LABEL + ": S3 answered 403 AccessDenied", False)])
    fetcher = Fetcher(str(tmp_path), store_factory=lambda: store, backoff=0.01)
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(Artifact(KEY, sha256=sha(b"payload"), bucket="bkt"))
    assert str(exc.value) == LABEL + ": S3 answered 403 AccessDenied"
    assert len(store.calls) == 1
    assert os.listdir(str(tmp_path / "sha256")) == []


def test_fetch_from_s3_short_body_is_retried_then_reported(tmp_path):
    store = FakeStore(b"pay")
    fetcher = Fetcher(str(tmp_path), store_factory=lambda: store, backoff=0.01, attempts=2)
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(Artifact(KEY, sha256=sha(b"payload"), size=7, bucket="bkt"))
    assert str(exc.value) == LABEL + ": download failed after 2 attempts: the transfer ended after 3 of 7 bytes"
    assert len(store.calls) == 2
    assert os.listdir(str(tmp_path / "sha256")) == []


# ---------------------------------------------------------------- Fetcher.fetch over HTTP (loopback server)


class Loopback:
    """What the test server does per path, and every request it saw."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        self.lock = threading.Lock()
        self.base = ""

    def url(self, path=PATH):
        return self.base + path + QUERY

    def count(self, path=PATH):
        with self.lock:
            return sum(1 for seen in self.requests if seen.split("?", 1)[0] == path)


def send(handler, code, body=b"", length=None, headers=None):
    handler.send_response(code)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body) if length is None else length))
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()


def serve(data):
    return lambda handler, nth: send(handler, 200, data)


def fail_then_serve(code, times, data):
    def behave(handler, nth):
        if nth <= times:
            send(handler, code, b"<Error><Code>SlowDown</Code></Error>")
        else:
            send(handler, 200, data)
    return behave


def cut_then_serve(data, times):
    """Announce the full length, send half, drop the connection (the first ``times`` requests)."""
    def behave(handler, nth):
        if nth <= times:
            send(handler, 200, data[:len(data) // 2], length=len(data))
            handler.close_connection = True
        else:
            send(handler, 200, data)
    return behave


def loopback(monkeypatch, tls=None):
    """A loopback HTTP server (HTTPS with ``tls``, a SelfSigned) answering per ``routes``; stopped by the generator."""
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    state = Loopback()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # pylint: disable=invalid-name
            path = self.path.split("?", 1)[0]
            with state.lock:
                state.requests.append(self.path)
                nth = sum(1 for seen in state.requests if seen.split("?", 1)[0] == path)
            behave = state.routes.get(path)
            if behave is None:
                send(self, 418, b"no route")
            else:
                behave(self, nth)

        def log_message(self, *args):  # pylint: disable=arguments-differ
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    if tls is not None:
        tls.wrap(httpd)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.base = "%s://127.0.0.1:%d" % ("http" if tls is None else "https", httpd.server_address[1])
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture
def server(monkeypatch):
    yield from loopback(monkeypatch)


@pytest.fixture
def tls_server(monkeypatch, self_signed):
    yield from loopback(monkeypatch, self_signed)


def fetcher_for(tmp_path, **kwargs):
    kwargs.setdefault("backoff", 0.01)
    kwargs.setdefault("timeout", 5.0)
    return Fetcher(str(tmp_path / "cache"), **kwargs)


def cache_listing(tmp_path):
    return sorted(os.listdir(str(tmp_path / "cache" / "sha256")))


DATA_SIZE = len(DATA)


def http_artifact(server, sha256=DATA_SHA, size=DATA_SIZE):
    return Artifact(KEY, sha256=sha256, size=size, bucket="bkt", url=server.url())


def assert_no_secret(exc, server):
    message = str(exc)
    assert "SECRET" not in message
    assert "X-Amz" not in message
    assert server.base not in message
    assert "127.0.0.1" not in message


def test_fetch_downloads_verifies_and_caches(server, tmp_path):
    server.routes[PATH] = serve(DATA)
    got = fetcher_for(tmp_path).fetch(http_artifact(server))
    final = str(tmp_path / "cache" / "sha256" / DATA_SHA)
    assert (got.path, got.sha256, got.size, got.downloaded, got.attempts) == (final, DATA_SHA, len(DATA), True, 1)
    assert got.seconds >= 0
    with open(final, "rb") as handle:
        assert handle.read() == DATA
    assert stat.S_IMODE(os.stat(final).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(str(tmp_path / "cache" / "sha256")).st_mode) == 0o700
    assert cache_listing(tmp_path) == [DATA_SHA]
    assert server.count() == 1
    assert server.requests[0] == PATH + QUERY  # the presigned query string is sent untouched
    assert set(got.to_dict()) == {"path", "sha256", "size", "downloaded", "attempts", "seconds"}


def test_second_fetch_uses_the_cache_without_a_request(server, tmp_path):
    server.routes[PATH] = serve(DATA)
    first = fetcher_for(tmp_path).fetch(http_artifact(server))
    again = fetcher_for(tmp_path).fetch(http_artifact(server))
    assert again.to_dict() == dict(path=first.path, sha256=DATA_SHA, size=len(DATA), downloaded=False, attempts=0, seconds=0.0)
    assert server.count() == 1


def test_fetch_replaces_a_damaged_cached_copy(server, tmp_path):
    server.routes[PATH] = serve(DATA)
    damaged = put_cache(str(tmp_path / "cache"), DATA_SHA, b"bit rot")
    got = fetcher_for(tmp_path).fetch(http_artifact(server))
    assert got.downloaded is True and got.path == damaged
    with open(damaged, "rb") as handle:
        assert handle.read() == DATA
    assert server.count() == 1


def test_fetch_unverified_when_allowed(server, tmp_path):
    server.routes[PATH] = serve(b"unverified bytes")
    got = fetcher_for(tmp_path, allow_unverified=True).fetch(http_artifact(server, sha256=None, size=None))
    assert (got.sha256, got.size, got.downloaded) == (sha(b"unverified bytes"), 16, True)
    assert cache_listing(tmp_path) == [sha(b"unverified bytes")]


def test_fetch_wrong_bytes_is_an_integrity_error(server, tmp_path):
    wrong = b"\x00" * len(DATA)
    server.routes[PATH] = serve(wrong)
    with pytest.raises(IntegrityError) as exc:
        fetcher_for(tmp_path).fetch(http_artifact(server))
    assert str(exc.value) == "%s: sha256 mismatch: expected %s, got %s over %d bytes; the download was discarded" % (
        LABEL, DATA_SHA, sha(wrong), len(DATA))
    assert cache_listing(tmp_path) == []  # neither the file nor a .partial-* temp
    assert server.count() == 1  # not retried
    assert_no_secret(exc.value, server)


def test_fetch_more_bytes_than_planned_is_an_integrity_error(server, tmp_path):
    server.routes[PATH] = serve(DATA + b"extra")
    with pytest.raises(IntegrityError) as exc:
        fetcher_for(tmp_path).fetch(http_artifact(server))
    assert str(exc.value) == "%s: more bytes than the %d the plan expects; refused" % (LABEL, len(DATA))
    assert cache_listing(tmp_path) == []
    assert server.count() == 1
    assert_no_secret(exc.value, server)


def test_fetch_retries_503_then_succeeds(server, tmp_path):
    server.routes[PATH] = fail_then_serve(503, 2, DATA)
    got = fetcher_for(tmp_path).fetch(http_artifact(server))
    assert (got.attempts, got.downloaded, got.sha256) == (3, True, DATA_SHA)
    assert server.count() == 3
    assert cache_listing(tmp_path) == [DATA_SHA]


@pytest.mark.parametrize("code", [500, 503, 429])
def test_fetch_gives_up_after_the_attempts(server, tmp_path, code):
    server.routes[PATH] = fail_then_serve(code, 99, DATA)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path, attempts=2).fetch(http_artifact(server))
    assert str(exc.value) == "%s: download failed after 2 attempts: the store answered %d" % (LABEL, code)
    assert server.count() == 2
    assert cache_listing(tmp_path) == []
    assert_no_secret(exc.value, server)


def test_fetch_expired_presigned_url_is_not_retried(server, tmp_path):
    body = b"<?xml version='1.0'?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    server.routes[PATH] = lambda handler, nth: send(handler, 403, body, headers={"Content-Type": "application/xml"})
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path).fetch(http_artifact(server))
    assert str(exc.value) == "%s: the presigned URL has expired; resolve the plan again or raise url_expiry" % LABEL
    assert server.count() == 1
    assert cache_listing(tmp_path) == []
    assert_no_secret(exc.value, server)


def test_fetch_access_denied_is_not_retried(server, tmp_path):
    body = b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
    server.routes[PATH] = lambda handler, nth: send(handler, 403, body)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path).fetch(http_artifact(server))
    assert str(exc.value) == ("%s: access denied (403): the presigned URL was refused (expired, or signed for other credentials)"
                              % LABEL)
    assert server.count() == 1
    assert_no_secret(exc.value, server)


def test_fetch_404_is_not_retried(server, tmp_path):
    server.routes[PATH] = lambda handler, nth: send(handler, 404, b"<Error><Code>NoSuchKey</Code></Error>")
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path).fetch(http_artifact(server))
    assert str(exc.value) == "%s: no such object (404)" % LABEL
    assert server.count() == 1
    assert cache_listing(tmp_path) == []
    assert_no_secret(exc.value, server)


def test_fetch_does_not_follow_redirects(server, tmp_path):
    target = "/elsewhere"
    server.routes[PATH] = lambda handler, nth: send(handler, 302, headers={"Location": server.url(target)})
    server.routes[target] = serve(DATA)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path).fetch(http_artifact(server))
    assert str(exc.value) == "%s: the store answered 302" % LABEL
    assert server.count() == 1
    assert server.count(target) == 0
    assert_no_secret(exc.value, server)


@pytest.mark.parametrize("known_size", [True, False], ids=["plan-size", "content-length"])
def test_fetch_cut_transfer_is_retried(server, tmp_path, known_size):
    server.routes[PATH] = cut_then_serve(DATA, 1)
    got = fetcher_for(tmp_path).fetch(http_artifact(server, size=len(DATA) if known_size else None))
    assert (got.attempts, got.size, got.sha256, got.downloaded) == (2, len(DATA), DATA_SHA, True)
    assert server.count() == 2
    assert cache_listing(tmp_path) == [DATA_SHA]


@pytest.mark.parametrize("known_size", [True, False], ids=["plan-size", "content-length"])
def test_fetch_cut_every_time_gives_up(server, tmp_path, known_size):
    server.routes[PATH] = cut_then_serve(DATA, 99)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path, attempts=3).fetch(http_artifact(server, size=len(DATA) if known_size else None))
    assert str(exc.value) == "%s: download failed after 3 attempts: the transfer ended after %d of %d bytes" % (
        LABEL, len(DATA) // 2, len(DATA))
    assert server.count() == 3
    assert cache_listing(tmp_path) == []
    assert_no_secret(exc.value, server)


def test_fetch_unreachable_store(monkeypatch, tmp_path):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    art = Artifact(KEY, sha256=DATA_SHA, bucket="bkt", url="http://127.0.0.1:9" + PATH + QUERY)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path, attempts=2).fetch(art)
    message = str(exc.value)
    assert message.startswith(LABEL + ": download failed after 2 attempts: cannot reach the store (")
    assert "refused" in message.lower()
    assert "SECRET" not in message and "127.0.0.1" not in message
    assert cache_listing(tmp_path) == []


def test_fetch_connection_closed_without_an_answer_is_retried(server, tmp_path):
    def behave(handler, nth):
        if nth == 1:
            handler.close_connection = True  # no status line at all
        else:
            send(handler, 200, DATA)

    server.routes[PATH] = behave
    got = fetcher_for(tmp_path).fetch(http_artifact(server))
    assert (got.attempts, got.sha256) == (2, DATA_SHA)
    assert server.count() == 2


# ---------------------------------------------------------------- Fetcher.fetch: how stream errors are classified


class FakeResponse:
    def __init__(self, data, error=None):
        self.stream = io.BytesIO(data)
        self.error = error
        self.headers = {"Content-Length": str(len(data))}
        self.closed = False

    def read(self, amount):
        if self.error is not None and self.stream.tell() >= len(self.stream.getvalue()) // 2:
            raise self.error
        return self.stream.read(amount)

    def close(self):
        self.closed = True


def fake_open_url(monkeypatch, first_error):
    """open_url stand-in: the first response fails half-way with ``first_error``, later ones are whole."""
    responses = []

    def fake(url, **kwargs):
        assert kwargs["follow_redirects"] == "none"
        responses.append(FakeResponse(DATA, first_error if not responses else None))
        return responses[-1]

    monkeypatch.setattr(_fetch, "open_url", fake)
    return responses


def test_fetch_connection_reset_mid_stream_is_retried(monkeypatch, tmp_path):
    responses = fake_open_url(monkeypatch, ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"))
    got = fetcher_for(tmp_path).fetch(Artifact(KEY, sha256=DATA_SHA, bucket="bkt", url="https://s3.example" + PATH + QUERY))
    assert (got.attempts, got.sha256, got.size) == (2, DATA_SHA, len(DATA))
    assert len(responses) == 2 and all(r.closed for r in responses)
    assert cache_listing(tmp_path) == [DATA_SHA]


def test_fetch_timeout_mid_stream_gives_up_with_a_clean_message(monkeypatch, tmp_path):
    def fake(url, **kwargs):
        return FakeResponse(DATA, TimeoutError("timed out"))

    monkeypatch.setattr(_fetch, "open_url", fake)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path, attempts=2).fetch(Artifact(KEY, sha256=DATA_SHA, bucket="bkt", url="https://s3.example" + PATH + QUERY))
    assert str(exc.value) == LABEL + ": download failed after 2 attempts: the transfer was cut (timed out)"
    assert cache_listing(tmp_path) == []


def test_fetch_local_disk_error_is_not_retried(monkeypatch, tmp_path):
    responses = fake_open_url(monkeypatch, None)

    def disk_full(read, handle, expected_size, label):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_fetch, "copy_verified", disk_full)
    with pytest.raises(OSError) as exc:
        fetcher_for(tmp_path).fetch(Artifact(KEY, sha256=DATA_SHA, bucket="bkt", url="https://s3.example" + PATH + QUERY))
    assert exc.value.errno == errno.ENOSPC
    assert len(responses) == 1 and responses[0].closed
    assert cache_listing(tmp_path) == []


@pytest.mark.parametrize("code", [errno.EHOSTUNREACH, errno.ENETUNREACH])
def test_fetch_network_oserror_mid_stream_is_retried(monkeypatch, tmp_path, code):
    responses = fake_open_url(monkeypatch, OSError(code, os.strerror(code)))
    got = fetcher_for(tmp_path).fetch(Artifact(KEY, sha256=DATA_SHA, bucket="bkt", url="https://s3.example" + PATH + QUERY))
    assert got.attempts == 2
    assert len(responses) == 2


def test_reason_never_carries_a_url():
    # pylint: disable=protected-access
    assert _fetch._reason(OSError("GET http://h/k" + QUERY + " failed")) == "OSError"
    assert _fetch._reason(ValueError("bad X-Amz-Signature")) == "ValueError"
    assert _fetch._reason(ConnectionResetError()) == "ConnectionResetError"
    assert _fetch._reason(OSError("x" * 300)) == "x" * 200


# -- TLS contexts: built once per fetcher, not per request --------------------------------------
def count_contexts(monkeypatch):
    built = {"https": [], "http": []}
    real_tls, real_plain = _fetch.tls_context, _fetch.plain_http_context

    def tls(validate_certs):
        built["https"].append(validate_certs)
        return real_tls(validate_certs)

    def plain():
        built["http"].append(True)
        return real_plain()

    monkeypatch.setattr(_fetch, "tls_context", tls)
    monkeypatch.setattr(_fetch, "plain_http_context", plain)
    return built


def three_artifacts(server):
    datas = [DATA + bytes([n]) for n in range(3)]
    arts = []
    for n, data in enumerate(datas):
        path = "/bkt/Mod/1.0.0/part%d.tar.gz" % n
        server.routes[path] = serve(data)
        arts.append(Artifact("Mod/1.0.0/part%d.tar.gz" % n, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                             bucket="bkt", url=server.url(path)))
    return arts


def test_plain_http_downloads_never_load_the_ca_bundle(server, tmp_path, monkeypatch):
    built = count_contexts(monkeypatch)
    fetcher = fetcher_for(tmp_path)
    got = [fetcher.fetch(art) for art in three_artifacts(server)]
    assert [g.downloaded for g in got] == [True, True, True]
    assert built == {"https": [], "http": [True]}


def test_https_downloads_share_one_verified_context(tls_server, tmp_path, monkeypatch):
    built = count_contexts(monkeypatch)
    fetcher = fetcher_for(tmp_path, validate_certs=False)
    got = [fetcher.fetch(art) for art in three_artifacts(tls_server)]
    assert [g.downloaded for g in got] == [True, True, True] and len(cache_listing(tmp_path)) == 3
    assert built == {"https": [False], "http": []}


def test_https_still_verifies_the_certificate(tls_server, tmp_path, monkeypatch):
    built = count_contexts(monkeypatch)
    tls_server.routes[PATH] = serve(DATA)
    with pytest.raises(FetchError) as exc:
        fetcher_for(tmp_path, attempts=2).fetch(http_artifact(tls_server))
    assert str(exc.value).startswith(LABEL + ": download failed after 2 attempts: cannot reach the store (")
    assert "CERTIFICATE_VERIFY_FAILED" in str(exc.value) or "certificate verify failed" in str(exc.value)
    assert_no_secret(exc.value, tls_server)
    assert built == {"https": [True], "http": []}     # the same context for the retry
    assert tls_server.count() == 0                     # refused in the handshake, before any request
    assert cache_listing(tmp_path) == []               # no partial file left
