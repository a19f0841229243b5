# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_s3/store.py: error translation without a network.

Connection errors come from a closed loopback port, timeouts from a loopback socket that never answers,
and S3's own answers from botocore's Stubber (no request leaves the process).
"""

from __future__ import annotations

import datetime
import io
import socket
from urllib.parse import parse_qs, urlsplit

import botocore.exceptions
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._fetch.fetch import Artifact, Fetcher, FetchError
from ansible_collections.fleetops.release.plugins.module_utils._s3 import store as _s3
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import AlreadyExists, S3Store, require_boto3, s3_url

CLOSED = "http://127.0.0.1:9"
OPTIONS = {"endpoint_url": CLOSED, "retries": 0, "connect_timeout": 0.5, "access_key": "a", "secret_key": "b", "region": "us-east-1"}
UNREACHABLE = "cannot reach the S3 endpoint http://127.0.0.1:9 (after 0 retries)"


@pytest.fixture(autouse=True)
def isolated(no_aws_env):  # pylint: disable=unused-argument
    """Every test here runs without the machine's AWS settings (conftest.py)."""


@pytest.fixture(scope="module")
def closed_store():
    return S3Store(dict(OPTIONS))


@pytest.fixture(scope="module")
def stubbed():
    store = S3Store(dict(OPTIONS))
    with Stubber(store.client) as stubber:
        yield store, stubber
        stubber.assert_no_pending_responses()


def test_s3_url_and_boto3_present():
    assert s3_url("bkt", "M/1.0.0/M.tar.gz") == "s3://bkt/M/1.0.0/M.tar.gz"
    assert s3_url("bkt") == "s3://bkt/"
    assert require_boto3() is None


def test_options_keep_only_known_names():
    store = S3Store(dict(OPTIONS, bogus="x"))
    assert set(store.options) == set(_s3.S3_OPTION_NAMES)
    assert store.options["profile"] is None


# ---------------------------------------------------------------- no endpoint listening


def test_head_unreachable(closed_store):
    with pytest.raises(S3Error) as exc:
        closed_store.head("bkt", "k")
    message = str(exc.value)
    assert message == "s3://bkt/k: " + UNREACHABLE
    assert "s3://bkt/k" in message and "cannot reach the S3 endpoint http://127.0.0.1:9" in message
    assert exc.value.transient is True
    assert exc.value.__cause__ is None and exc.value.__suppress_context__


@pytest.mark.parametrize("call, where", [
    (lambda s: s.get_bytes("bkt", "M/1.0.0/repo-info", 100), "s3://bkt/M/1.0.0/repo-info"),
    (lambda s: s.open("bkt", "M/1.0.0/M.tar.gz", "v1"), "s3://bkt/M/1.0.0/M.tar.gz"),
    (lambda s: s.list("bkt", "M/", "/"), "s3://bkt/M/"),
    (lambda s: s.put_bytes("bkt", "M/1.0.0/x.sha256", b"x", create_only=True), "s3://bkt/M/1.0.0/x.sha256"),
], ids=["get_bytes", "open", "list", "put_bytes"])
def test_every_call_names_the_object_when_unreachable(closed_store, call, where):
    with pytest.raises(S3Error) as exc:
        call(closed_store)
    assert str(exc.value) == "%s: %s" % (where, UNREACHABLE)
    assert exc.value.transient is True


def test_versioning_unknown_when_unreachable(closed_store):
    assert closed_store.versioning_enabled("bkt") is False


def test_endpoint_of_aws_is_named_so():
    store = S3Store(dict(OPTIONS, endpoint_url=None))
    err = store._fail(  # pylint: disable=protected-access
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://s3.amazonaws.com/x?X-Amz-Signature=S"), "s3://b/k")
    assert str(err) == "s3://b/k: cannot reach the S3 endpoint of AWS (after 0 retries)"
    assert "X-Amz-Signature" not in str(err)
    assert err.transient is True


def test_read_timeout_on_a_silent_endpoint():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)  # the kernel accepts the connection; nobody ever answers
        port = silent.getsockname()[1]
        store = S3Store(dict(OPTIONS, endpoint_url="http://127.0.0.1:%d" % port, read_timeout=0.2))
        with pytest.raises(S3Error) as exc:
            store.head("bkt", "k")
    assert str(exc.value) == "s3://bkt/k: S3 did not answer in time (after 0 retries)"
    assert exc.value.transient is True


def test_no_credentials():
    store = S3Store({"endpoint_url": CLOSED, "retries": 0, "region": "us-east-1"})
    with pytest.raises(S3Error) as exc:
        store.head("bkt", "k")
    assert str(exc.value) == "s3://bkt/k: no S3 credentials (set access_key/secret_key, a profile, or the AWS_* environment)"
    assert exc.value.transient is False


def test_unknown_profile_is_reported():
    store = S3Store({"endpoint_url": CLOSED, "profile": "no-such-profile"})
    with pytest.raises(S3Error) as exc:
        store.head("bkt", "k")
    assert "The config profile (no-such-profile) could not be found" in str(exc.value)


def test_invalid_parameters_are_reported(closed_store):
    with pytest.raises(S3Error) as exc:
        closed_store.head("bkt", "")
    assert str(exc.value) == "s3://bkt/: Parameter validation failed:\nInvalid length for parameter Key, value: 0, valid min length: 1"


CONFIG_ERRORS = [
    pytest.param(lambda: S3Store({"endpoint_url": CLOSED, "profile": "no-such-profile"}).head("bkt", "k"), id="unknown-profile"),
    pytest.param(lambda: S3Store(dict(OPTIONS)).head("bkt", ""), id="empty-key"),
    pytest.param(lambda: S3Store(dict(OPTIONS)).head("a/b", "k"), id="bad-bucket-name"),
]


@pytest.mark.parametrize("call", CONFIG_ERRORS)
def test_configuration_errors_are_not_transient(call):
    with pytest.raises(S3Error) as exc:
        call()
    assert exc.value.transient is False


def test_fetch_with_an_unknown_profile_is_not_retried(tmp_path):
    calls = []

    def factory():
        calls.append(1)
        return S3Store({"endpoint_url": CLOSED, "profile": "no-such-profile"})

    fetcher = Fetcher(str(tmp_path), store_factory=factory, backoff=0.01)
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(Artifact("M/1.0.0/M.tar.gz", sha256="0" * 64, bucket="bkt"))
    assert "after 4 attempts" not in str(exc.value)
    assert "The config profile (no-such-profile) could not be found" in str(exc.value)


# ---------------------------------------------------------------- presign (offline)


def test_presign_get_without_network(closed_store):
    url = closed_store.presign_get("bkt", "M/1.0.0/M.tar.gz", 600)
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "127.0.0.1:9", "/bkt/M/1.0.0/M.tar.gz")
    assert query["X-Amz-Expires"] == ["600"]
    assert query["X-Amz-Credential"][0].startswith("a/")
    assert len(query["X-Amz-Signature"][0]) == 64
    assert "versionId" not in query
    assert "b" not in query["X-Amz-Credential"][0].split("/")[0]


def test_presign_get_pins_a_version(closed_store):
    query = parse_qs(urlsplit(closed_store.presign_get("bkt", "M/1.0.0/M.tar.gz", "60", "v+1/x")).query)
    assert query["versionId"] == ["v+1/x"]
    assert query["X-Amz-Expires"] == ["60"]


# ---------------------------------------------------------------- S3's answers (Stubber)


def client_error(stubber, method, code, status, message="", params=None):
    stubber.add_client_error(method, service_error_code=code, service_message=message, http_status_code=status,
                             expected_params=params)


@pytest.mark.parametrize("code, status", [("404", 404), ("NoSuchKey", 404), ("NotFound", 404), ("NoSuchVersion", 404)])
def test_head_not_found_is_none(stubbed, code, status):
    store, stubber = stubbed
    client_error(stubber, "head_object", code, status, params={"Bucket": "bkt", "Key": "k"})
    assert store.head("bkt", "k") is None


def test_head_passes_the_version(stubbed):
    store, stubber = stubbed
    stubber.add_response("head_object", {"ContentLength": 5, "VersionId": "v1"}, {"Bucket": "bkt", "Key": "k", "VersionId": "v1"})
    assert store.head("bkt", "k", "v1")["ContentLength"] == 5


@pytest.mark.parametrize("code, status, message, transient, text", [
    ("AccessDenied", 403, "Access Denied", False, "s3://bkt/k: S3 answered 403 AccessDenied: Access Denied"),
    ("SlowDown", 503, "Reduce your request rate.", True, "s3://bkt/k: S3 answered 503 SlowDown: Reduce your request rate."),
    ("InternalError", 500, "", True, "s3://bkt/k: S3 answered 500 InternalError"),
    ("TooManyRequests", 429, "", True, "s3://bkt/k: S3 answered 429 TooManyRequests"),
    ("PreconditionFailed", 412, "", False, "s3://bkt/k: S3 answered 412 PreconditionFailed"),
])
def test_head_client_errors(stubbed, code, status, message, transient, text):
    store, stubber = stubbed
    client_error(stubber, "head_object", code, status, message)
    with pytest.raises(S3Error) as exc:
        store.head("bkt", "k")
    assert str(exc.value) == text
    assert exc.value.transient is transient


def test_get_bytes(stubbed):
    store, stubber = stubbed
    stubber.add_response("get_object", {"ContentLength": 5, "Body": StreamingBody(io.BytesIO(b"hello"), 5)},
                         {"Bucket": "bkt", "Key": "k.sha256"})
    assert store.get_bytes("bkt", "k.sha256", 100) == b"hello"


def test_get_bytes_absent_is_none(stubbed):
    store, stubber = stubbed
    client_error(stubber, "get_object", "NoSuchKey", 404)
    assert store.get_bytes("bkt", "k.sha256", 100) is None


def test_get_bytes_refuses_a_large_object(stubbed):
    store, stubber = stubbed
    body = io.BytesIO(b"x" * 101)
    stubber.add_response("get_object", {"ContentLength": 101, "Body": StreamingBody(body, 101)})
    with pytest.raises(S3Error) as exc:
        store.get_bytes("bkt", "M/1.0.0/repo-info", 100)
    assert str(exc.value) == "s3://bkt/M/1.0.0/repo-info: 101 bytes, more than the 100 allowed for this kind of file"
    assert exc.value.transient is False
    assert body.closed


def test_open_returns_the_body(stubbed):
    store, stubber = stubbed
    stubber.add_response("get_object", {"ContentLength": 3, "Body": StreamingBody(io.BytesIO(b"abc"), 3)},
                         {"Bucket": "bkt", "Key": "k", "VersionId": "v2"})
    body, resp = store.open("bkt", "k", "v2")
    assert body.read(10) == b"abc"
    assert resp["ContentLength"] == 3


def test_open_missing_object_is_an_error(stubbed):
    store, stubber = stubbed
    client_error(stubber, "get_object", "NoSuchKey", 404, "The specified key does not exist.")
    with pytest.raises(S3Error) as exc:
        store.open("bkt", "k")
    assert str(exc.value) == "s3://bkt/k: S3 answered 404 NoSuchKey: The specified key does not exist."
    assert exc.value.transient is False


def test_list_collects_pages(stubbed):
    store, stubber = stubbed
    stamp = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    stubber.add_response("list_objects_v2", {"Contents": [{"Key": "M/a", "LastModified": stamp}], "IsTruncated": True,
                                             "NextContinuationToken": "t"},
                         {"Bucket": "bkt", "Prefix": "M/", "Delimiter": "/"})
    stubber.add_response("list_objects_v2", {"Contents": [{"Key": "M/b", "LastModified": stamp}], "IsTruncated": False,
                                             "CommonPrefixes": [{"Prefix": "M/1.0.0/"}]},
                         {"Bucket": "bkt", "Prefix": "M/", "Delimiter": "/", "ContinuationToken": "t"})
    objects, prefixes = store.list("bkt", "M/", "/")
    assert [o["Key"] for o in objects] == ["M/a", "M/b"]
    assert prefixes == ["M/1.0.0/"]


def test_versioning_enabled(stubbed):
    store, stubber = stubbed
    stubber.add_response("get_bucket_versioning", {"Status": "Enabled"}, {"Bucket": "bkt"})
    stubber.add_response("get_bucket_versioning", {"Status": "Suspended"}, {"Bucket": "bkt"})
    client_error(stubber, "get_bucket_versioning", "AccessDenied", 403)
    assert [store.versioning_enabled("bkt") for n in range(3)] == [True, False, False]


@pytest.mark.parametrize("code", ["PreconditionFailed", "412"])
def test_conditional_put_of_an_existing_object(stubbed, code):
    store, stubber = stubbed
    client_error(stubber, "put_object", code, 412)
    with pytest.raises(AlreadyExists) as exc:
        store.put_bytes("bkt", "M/1.0.0/M.tar.gz.sha256", b"x", create_only=True)
    assert str(exc.value) == "s3://bkt/M/1.0.0/M.tar.gz.sha256 already exists"


def test_unconditional_put_412_is_a_plain_error(stubbed):
    store, stubber = stubbed
    client_error(stubber, "put_object", "PreconditionFailed", 412)
    with pytest.raises(S3Error) as exc:
        store.put_bytes("bkt", "k", b"x")
    assert type(exc.value) is S3Error  # pylint: disable=unidiomatic-typecheck
    assert str(exc.value) == "s3://bkt/k: S3 answered 412 PreconditionFailed"


def test_put_sends_the_condition_and_checksum(stubbed, tmp_path):
    store, stubber = stubbed
    path = tmp_path / "M.tar.gz"
    path.write_bytes(b"tar")
    stubber.add_response("put_object", {"ETag": '"e"'}, {
        "Bucket": "bkt", "Key": "M/1.0.0/M.tar.gz", "Body": _AnyBody(), "ContentType": "application/gzip",
        "IfNoneMatch": "*", "ChecksumSHA256": "c2hh"})
    assert store.put_file("bkt", "M/1.0.0/M.tar.gz", str(path), create_only=True, sha256_b64="c2hh") == {"ETag": '"e"'}


class _AnyBody:
    """Matches any request body in Stubber's expected_params."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = None
