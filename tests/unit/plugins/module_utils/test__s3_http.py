# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The standard-library store keeps the boto3 store's contract.

Against a real moto server on loopback, both stores run the same calls and must give the same answers;
a scripted HTTP server on loopback plays S3's failures (5xx, throttling, conflicts, silence, redirects).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import http.server
import threading
import time

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._s3 import store as _s3
from ansible_collections.fleetops.release.plugins.module_utils._s3.stdlib import HttpStore
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import (
    AlreadyExists,
    PreconditionFailed,
    S3Store,
    WriteConflict,
    open_store,
    store_problem,
)

KEYS = {"access_key": "AKIDTEST", "secret_key": "SECRETTESTKEY", "region": "us-east-1"}


@pytest.fixture
def stores(moto_endpoint, request):
    """(http store, boto3 store) on a bucket of their own."""
    options = dict(KEYS, endpoint_url=moto_endpoint, retries=0, connect_timeout=2.0, read_timeout=5.0)
    boto = S3Store(dict(options))
    bucket = "b-" + hashlib.sha256(request.node.name.encode()).hexdigest()[:12]
    boto.client.create_bucket(Bucket=bucket)
    store = open_store(dict(options))
    assert isinstance(store, HttpStore)
    return store, boto, bucket


def test_open_store_picks_by_options(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    assert isinstance(open_store(dict(KEYS, endpoint_url="http://127.0.0.1:9")), HttpStore)
    assert isinstance(open_store(dict(KEYS)), S3Store), "AWS's own endpoints go through boto3"
    assert isinstance(open_store(dict(KEYS, endpoint_url="http://127.0.0.1:9", profile="p")), S3Store)
    assert isinstance(open_store({"endpoint_url": "http://127.0.0.1:9"}), S3Store), "no keys: boto3's credential chain"


def test_store_problem_needs_boto3_only_where_boto3_is_used(monkeypatch):
    monkeypatch.setattr(_s3, "boto3", None)
    monkeypatch.setattr(_s3.importlib.util, "find_spec", lambda name: None)
    assert store_problem(dict(KEYS, endpoint_url="http://127.0.0.1:9")) is None
    assert "boto3 is required" in store_problem(dict(KEYS))


def test_reads_match_boto3(stores):
    store, boto, bucket = stores
    boto.client.put_object(Bucket=bucket, Key="Mod X/dev/a b.tar.gz", Body=b"x" * 300)
    boto.client.put_object(Bucket=bucket, Key="Mod X/dev/a b.tar.gz.sha256", Body=b"abc  a b.tar.gz\n")
    boto.client.put_object(Bucket=bucket, Key="Mod X/1.0.0/m.tar.gz", Body=b"y")
    boto.client.put_object(Bucket=bucket, Key="Other/dev/o.tar.gz", Body=b"z")
    for name in ("head",):
        ours, theirs = getattr(store, name)(bucket, "Mod X/dev/a b.tar.gz"), getattr(boto, name)(bucket, "Mod X/dev/a b.tar.gz")
        for field in ("ContentLength", "ETag", "LastModified"):
            assert ours[field] == theirs[field], field
        assert ours["LastModified"].tzinfo is not None
    assert store.head(bucket, "Mod X/none") is None and boto.head(bucket, "Mod X/none") is None
    assert store.get_bytes(bucket, "Mod X/dev/a b.tar.gz.sha256", 100) == boto.get_bytes(bucket, "Mod X/dev/a b.tar.gz.sha256", 100)
    assert store.get_bytes(bucket, "absent", 100) is None
    with pytest.raises(S3Error, match="s3://%s/Mod X/dev/a b.tar.gz: 300 bytes, more than the 10 allowed" % bucket):
        store.get_bytes(bucket, "Mod X/dev/a b.tar.gz", 10)
    ours, theirs = store.list(bucket, "Mod X/"), boto.list(bucket, "Mod X/")
    assert [(o["Key"], o["Size"], o["LastModified"]) for o in ours[0]] == [(o["Key"], o["Size"], o["LastModified"]) for o in theirs[0]]
    assert store.list(bucket, "", delimiter="/") == ([], ["Mod X/", "Other/"]) == ([], boto.list(bucket, "", delimiter="/")[1])
    body, response = store.open(bucket, "Mod X/dev/a b.tar.gz")
    try:
        assert body.read(1000) == b"x" * 300 and response["ContentLength"] == 300
    finally:
        body.close()
    with pytest.raises(S3Error, match="s3://%s/gone: S3 answered 404 NoSuchKey" % bucket):
        store.open(bucket, "gone")
    assert store.versioning_enabled(bucket) is False
    boto.client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert store.versioning_enabled(bucket) is True
    put = boto.client.put_object(Bucket=bucket, Key="v", Body=b"one")
    boto.client.put_object(Bucket=bucket, Key="v", Body=b"two")
    assert store.get_bytes(bucket, "v", 10, version_id=put["VersionId"]) == b"one"
    assert store.head(bucket, "v", version_id=put["VersionId"])["VersionId"] == put["VersionId"]


def test_get_small_carries_the_server_date_when_absent(stores):
    store, _boto, bucket = stores
    data, response = store.get_small(bucket, "locks/none.json", 1000)
    assert data is None
    assert response["ResponseMetadata"]["HTTPHeaders"]["date"]


def test_writes_and_conditions_match_boto3(stores, tmp_path):
    store, boto, bucket = stores
    first = store.put_conditional(bucket, "lock.json", b'{"owner": "a"}')
    assert first["ETag"] == boto.head(bucket, "lock.json")["ETag"]
    with pytest.raises(PreconditionFailed, match="s3://%s/lock.json changed since it was read" % bucket):
        store.put_conditional(bucket, "lock.json", b"{}")
    second = store.put_conditional(bucket, "lock.json", b'{"owner": "b"}', if_match=first["ETag"])
    with pytest.raises(PreconditionFailed):
        store.put_conditional(bucket, "lock.json", b"{}", if_match=first["ETag"])
    with pytest.raises(PreconditionFailed):
        store.put_conditional(bucket, "missing.json", b"{}", if_match=second["ETag"])
    assert boto.get_bytes(bucket, "lock.json", 100) == b'{"owner": "b"}'
    archive = tmp_path / "m.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + b"a" * 5000)
    digest = base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
    store.put_file(bucket, "M/1.0.0/m.tar.gz", str(archive), create_only=True, sha256_b64=digest)
    assert boto.get_bytes(bucket, "M/1.0.0/m.tar.gz", 10000) == archive.read_bytes()
    with pytest.raises(AlreadyExists, match="s3://%s/M/1.0.0/m.tar.gz already exists" % bucket):
        store.put_file(bucket, "M/1.0.0/m.tar.gz", str(archive), create_only=True)
    store.put_bytes(bucket, "M/1.0.0/m.tar.gz.sha256", b"abc  m.tar.gz\n")
    assert boto.head(bucket, "M/1.0.0/m.tar.gz.sha256")["ContentType"].startswith("text/plain")
    url = store.presign_get(bucket, "M/1.0.0/m.tar.gz", 60)
    assert "X-Amz-Signature=" in url and "SECRETTESTKEY" not in url


def test_bad_names_are_refused_before_any_request():
    store = open_store(dict(KEYS, endpoint_url="http://127.0.0.1:9", retries=0))
    with pytest.raises(S3Error, match="invalid bucket name 'a/b'"):
        store.head("a/b", "k")
    with pytest.raises(S3Error, match="an object key must not be empty"):
        store.head("bkt", "")


# ---------------------------------------------------------------- S3's failures, scripted on loopback
class Script:
    """Answers in order: (status, headers, body), or "silence" to never answer in time."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []


@pytest.fixture
def scripted():
    holder = {}
    released = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            script = holder["script"]
            length = int(self.headers.get("Content-Length") or 0)
            script.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length) if length else b""))
            answer = script.answers.pop(0) if script.answers else (200, {}, b"")
            if answer == "silence":
                released.wait(10.0)
                return
            status, headers, body = answer
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_DELETE = _answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sleeps = []

    def make(answers, **options):
        holder["script"] = Script(answers)
        opts = dict(KEYS, endpoint_url="http://127.0.0.1:%d" % server.server_address[1], retries=2,
                    connect_timeout=1.0, read_timeout=0.5)
        opts.update(options)
        store = open_store(opts)
        store._sleep = sleeps.append
        return store, holder["script"], sleeps

    yield make
    released.set()
    server.shutdown()
    server.server_close()


def _error(code, message="", status=500):
    return (status, {"Content-Type": "application/xml"},
            ("<?xml version='1.0'?><Error><Code>%s</Code><Message>%s</Message></Error>" % (code, message)).encode())


def test_a_5xx_is_retried_with_backoff_then_answers(scripted):
    store, script, sleeps = scripted([_error("InternalError", status=500), _error("SlowDown", status=503),
                                      (200, {"Content-Length": "2"}, b"ok")])
    assert store.get_bytes("bkt", "k", 10) == b"ok"
    assert len(script.requests) == 3 and len(sleeps) == 2 and all(0 <= s <= 20 for s in sleeps)
    assert all("Authorization" in headers for _m, _p, headers, _b in script.requests)


def test_retries_run_out_into_a_transient_error(scripted):
    store, script, _sleeps = scripted([_error("SlowDown", "Reduce your request rate", 503)] * 3)
    with pytest.raises(S3Error) as caught:
        store.head("bkt", "Mod/dev/x.tar.gz")
    assert str(caught.value) == "s3://bkt/Mod/dev/x.tar.gz: S3 answered 503 503"
    assert caught.value.transient and len(script.requests) == 3
    store, script, _sleeps = scripted([_error("SlowDown", "Reduce your request rate", 503)] * 3)
    with pytest.raises(S3Error, match=r"s3://bkt/k: S3 answered 503 SlowDown: Reduce your request rate") as caught:
        store.get_bytes("bkt", "k", 10)
    assert caught.value.transient


def test_a_client_error_is_not_retried(scripted):
    store, script, _sleeps = scripted([_error("AccessDenied", "Access Denied", 403)])
    with pytest.raises(S3Error, match=r"^s3://bkt/k: S3 answered 403 AccessDenied: Access Denied$") as caught:
        store.get_bytes("bkt", "k", 10)
    assert not caught.value.transient and len(script.requests) == 1


def test_a_conflicting_conditional_write(scripted):
    store, _script, _sleeps = scripted([_error("ConditionalRequestConflict", status=409)])
    with pytest.raises(WriteConflict) as caught:
        store.put_conditional("bkt", "lock.json", b"{}", if_match='"abc"')
    assert caught.value.transient


def test_the_condition_and_body_reach_s3(scripted):
    store, script, _sleeps = scripted([(200, {"ETag": '"e1"'}, b"")])
    assert store.put_conditional("bkt", "locks/p/e.json", b'{"a": 1}', if_match='"e0"')["ETag"] == '"e1"'
    method, path, headers, body = script.requests[0]
    headers = {name.lower(): value for name, value in headers.items()}
    assert (method, path, body) == ("PUT", "/bkt/locks/p/e.json", b'{"a": 1}')
    assert headers["if-match"] == '"e0"' and headers["content-type"] == "application/json"
    assert headers["x-amz-content-sha256"] == hashlib.sha256(b'{"a": 1}').hexdigest()


def test_an_upload_streams_the_file_with_its_signed_checksum(scripted, tmp_path):
    """S3 checks x-amz-checksum-sha256 against the bytes (moto does not, so the request itself is what is checked)."""
    archive = tmp_path / "m.tar.gz"
    archive.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 40)
    digest = base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
    store, script, _sleeps = scripted([_error("InternalError", status=500), (200, {"ETag": '"e"'}, b"")])
    store.put_file("bkt", "M/1.0.0/m.tar.gz", str(archive), create_only=True, sha256_b64=digest)
    assert len(script.requests) == 2, "a retry sends the whole file again"
    for _method, _path, headers, body in script.requests:
        headers = {name.lower(): value for name, value in headers.items()}
        assert body == archive.read_bytes() and headers["content-length"] == str(len(body))
        assert headers["x-amz-checksum-sha256"] == digest and headers["if-none-match"] == "*"
        assert "x-amz-checksum-sha256" in headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
        assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"


def test_a_silent_endpoint_times_out_after_the_read_timeout(scripted):
    store, script, _sleeps = scripted(["silence", "silence"], retries=1, connect_timeout=30.0, read_timeout=0.3)
    started = time.monotonic()
    with pytest.raises(S3Error, match=r"^s3://bkt/k: S3 did not answer in time \(after 1 retries\)$") as caught:
        store.get_bytes("bkt", "k", 10)
    assert time.monotonic() - started < 8, "the read timeout (0.3 s), not the connect timeout (30 s), bounds the wait"
    assert caught.value.transient and len(script.requests) == 2


def test_nobody_listening():
    store = open_store(dict(KEYS, endpoint_url="http://127.0.0.1:9", retries=1, connect_timeout=0.5))
    store._sleep = lambda seconds: None
    with pytest.raises(S3Error, match=r"^s3://bkt/k: cannot reach the S3 endpoint http://127.0.0.1:9 \(after 1 retries\)$") as caught:
        store.head("bkt", "k")
    assert caught.value.transient


def test_a_redirect_is_not_followed(scripted):
    store, script, _sleeps = scripted([(301, {"Location": "http://elsewhere.invalid/bkt/k"}, b"")])
    with pytest.raises(S3Error, match="s3://bkt/k: S3 answered 301"):
        store.get_bytes("bkt", "k", 10)
    assert len(script.requests) == 1


def test_listing_follows_continuation_tokens(scripted):
    def page(keys, token=None):
        items = "".join("<Contents><Key>%s</Key><LastModified>2026-12-01T10:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag>"
                        "<Size>5</Size></Contents>" % key for key in keys)
        more = "<IsTruncated>true</IsTruncated><NextContinuationToken>%s</NextContinuationToken>" % token if token else \
            "<IsTruncated>false</IsTruncated>"
        return (200, {}, ('<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">%s%s'
                          '<CommonPrefixes><Prefix>M/dev/</Prefix></CommonPrefixes></ListBucketResult>' % (items, more)).encode())

    store, script, _sleeps = scripted([page(["M/a", "M/b"], "tok+/=1"), page(["M/c"])])
    objects, prefixes = store.list("bkt", "M/")
    assert [o["Key"] for o in objects] == ["M/a", "M/b", "M/c"] and prefixes == ["M/dev/", "M/dev/"]
    assert objects[0]["LastModified"] == datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.UTC) and objects[0]["Size"] == 5
    assert "continuation-token=tok%2B%2F%3D1" in script.requests[1][1]


def test_a_listing_that_is_not_xml(scripted):
    store, _script, _sleeps = scripted([(200, {}, b"<html>proxy login</html")])
    with pytest.raises(S3Error, match="s3://bkt/M/: S3 answered a listing that is not XML"):
        store.list("bkt", "M/")


def test_no_secret_in_any_message(scripted):
    store, _script, _sleeps = scripted([_error("SignatureDoesNotMatch", "The request signature we calculated does not match", 403)],
                                       session_token="TOKENSECRET")
    with pytest.raises(S3Error) as caught:
        store.get_bytes("bkt", "k", 10)
    for secret in ("SECRETTESTKEY", "TOKENSECRET", "Signature="):
        assert secret not in str(caught.value)


def test_retried_as_botocore_retries(scripted):
    """S3's 400 RequestTimeout (a stalled upload) is retried; a 501 is not, as in botocore's standard mode."""
    store, script, _sleeps = scripted([_error("RequestTimeout", "Your socket connection to the server was not read", 400),
                                      (200, {"ETag": '"e"'}, b"")])
    store.put_bytes("bkt", "k", b"x")
    assert len(script.requests) == 2
    store, script, _sleeps = scripted([_error("NotImplemented", "A header you provided implies functionality", 501)])
    with pytest.raises(S3Error, match="S3 answered 501 NotImplemented") as caught:
        store.put_bytes("bkt", "k", b"x")
    assert len(script.requests) == 1 and not caught.value.transient


def test_a_conditional_get_of_an_unchanged_object_is_a_304_for_both_stores(stores):
    store, boto, bucket = stores
    boto.client.put_object(Bucket=bucket, Key="pull/desired.json", Body=b'{"generation": 1}')
    for each in (store, boto):
        data, response = each.get_small(bucket, "pull/desired.json", 1000)
        etag = response["ETag"]
        assert data == b'{"generation": 1}' and not response.get("NotModified")
        data, response = each.get_small(bucket, "pull/desired.json", 1000, if_none_match=etag)
        assert data is None and response["NotModified"] is True and response["ETag"] == etag
    boto.client.put_object(Bucket=bucket, Key="pull/desired.json", Body=b'{"generation": 2}')
    for each in (store, boto):
        data, response = each.get_small(bucket, "pull/desired.json", 1000, if_none_match=etag)
        assert data == b'{"generation": 2}' and response["ETag"] != etag and not response.get("NotModified")
        assert each.get_small(bucket, "pull/none.json", 1000, if_none_match=etag)[0] is None
