# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The S3 store over the standard library: what _s3.S3Store does with boto3, for an explicit endpoint and plain keys.

Every module is a fresh Python process, and importing boto3 and building a client
costs about a quarter of a CPU second each time: a release's controller plays
call four S3 modules, and a node that fetches with its own keys pays it too.
This store signs its requests with _sigv4 and sends them with urllib. It keeps
S3Store's contract: the same methods and the same response keys
(``ContentLength``, ``ETag``, ``LastModified`` as an aware datetime,
``VersionId``, ``ResponseMetadata.HTTPHeaders``), the same errors (``S3Error``
naming ``s3://bucket/key``, ``transient`` for 5xx, 429, timeouts and connection
failures), and retries in the spirit of botocore's standard mode (exponential
backoff with jitter, ``retries`` more attempts). No message carries a key, a
signature or a URL query.

_s3.open_store picks this store where _sigv4.Signer.from_options applies;
profiles, instance roles, SSO and AWS's own endpoint resolution stay with boto3.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import http.client
import os
import random
import socket
import ssl
import time
import typing as t
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.sigv4 import EMPTY_SHA256, UNSIGNED_PAYLOAD, Signer
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import NOT_FOUND_CODES, AlreadyExists, PreconditionFailed, WriteConflict, s3_url

MAX_BACKOFF = 20.0
MAX_ERROR_BODY = 64 * 1024
RETRY_STATUSES = (429, 500, 502, 503, 504)
RETRY_CODES = ("RequestTimeout", "RequestTimeoutException", "PriorRequestNotComplete", "SlowDown", "Throttling",
               "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
               "TooManyRequestsException", "ProvisionedThroughputExceededException", "TransactionInProgressException",
               "RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException", "EC2ThrottledException",
               "InternalError")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """S3 answers a wrong region with a redirect; following it would resend the request unsigned for that host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _timed(base: type, read_timeout: float) -> type:
    """An HTTP(S)Connection class that connects within the request's timeout, then waits up to ``read_timeout``."""

    class Connection(base):  # type: ignore[misc,valid-type]
        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(read_timeout)

    return Connection


class _Handler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float) -> None:
        super().__init__()
        self._connection = _timed(http.client.HTTPConnection, read_timeout)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _TlsHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._connection = _timed(http.client.HTTPSConnection, read_timeout)

    def https_open(self, req):
        return self.do_open(self._connection, req, context=self._context)


class HttpError(Exception):
    """A non-2xx answer: its status, S3's error code and message, and the response headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__("%s %s" % (status, code))
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    @property
    def response(self) -> dict:
        return {"Error": {"Code": self.code, "Message": self.message},
                "ResponseMetadata": {"HTTPStatusCode": self.status, "HTTPHeaders": self.headers}}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in node if _local(child.tag) == name]


def _text(node: ET.Element, name: str, default: str | None = None) -> str | None:
    for child in node:
        if _local(child.tag) == name:
            return child.text or ""
    return default


def _iso_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _http_time(value: str | None) -> datetime.datetime | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _error_of(status: int, body: bytes, headers: dict[str, str]) -> HttpError:
    code, message = str(status), ""
    if body:
        try:
            root = ET.fromstring(body[:MAX_ERROR_BODY])
            code = _text(root, "Code") or code
            message = _text(root, "Message") or ""
        except ET.ParseError:
            pass
    return HttpError(status, code, message, headers)


def _retryable(error: HttpError) -> bool:
    """What botocore's standard retry mode retries: throttling, 500/502/503/504, and S3's timeout codes."""
    return error.status in RETRY_STATUSES or error.code in RETRY_CODES


def _response_dict(status: int, headers: dict[str, str]) -> dict[str, t.Any]:
    """boto3's shape for what the callers read of a HEAD, GET or PUT answer."""
    out: dict[str, t.Any] = {"ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers}}
    if "content-length" in headers:
        try:
            out["ContentLength"] = int(headers["content-length"])
        except ValueError:
            pass
    if "etag" in headers:
        out["ETag"] = headers["etag"]
    if "last-modified" in headers:
        out["LastModified"] = _http_time(headers["last-modified"])
    if "x-amz-version-id" in headers:
        out["VersionId"] = headers["x-amz-version-id"]
    if "content-type" in headers:
        out["ContentType"] = headers["content-type"]
    return out


class HttpStore:
    """S3Store's methods over urllib, signed with SigV4 (see the module docstring)."""

    def __init__(self, options: dict[str, t.Any], signer: Signer, sleep: t.Callable[[float], None] = time.sleep) -> None:
        self.options = {name: options.get(name) for name in S3_ARGSPEC}
        self.signer = signer
        self._sleep = sleep
        self._attempts = max(1, int(self.options["retries"] if self.options["retries"] is not None else 3) + 1)
        self._connect_timeout = float(self.options["connect_timeout"] or 10.0)
        self._read_timeout = float(self.options["read_timeout"] or 60.0)
        handlers: list[t.Any] = [_NoRedirect(), _Handler(self._read_timeout)]
        if signer.endpoint_url.startswith("https:"):
            handlers.append(_TlsHandler(self._read_timeout, self._ssl_context()))
        # The *_proxy environment applies, as it does for boto3.
        self._opener = urllib.request.build_opener(*handlers)

    def _ssl_context(self) -> ssl.SSLContext:
        if self.options["validate_certs"] is False:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
        return ssl.create_default_context(cafile=os.environ.get("AWS_CA_BUNDLE") or None)

    # -- one request, with retries -----------------------------------------------------
    def _send(self, method: str, bucket: str, key: str, what: str, query: dict[str, str] | None = None,
              headers: dict[str, str] | None = None, body: bytes | t.BinaryIO | None = None,
              length: int | None = None, stream: bool = False):
        """(status, lower-cased headers, body bytes or the open response when ``stream``); HttpError for non-2xx."""
        if isinstance(body, (bytes, bytearray)):
            payload = hashlib.sha256(body).hexdigest()
            length = len(body)
        elif body is None:
            payload = EMPTY_SHA256
        else:
            payload = UNSIGNED_PAYLOAD
        last: S3Error | None = None
        for attempt in range(self._attempts):
            if attempt:
                self._sleep(random.uniform(0, min(MAX_BACKOFF, 2.0 ** attempt)))
                if body is not None and not isinstance(body, (bytes, bytearray)):
                    body.seek(0)
            url, send = self.signer.sign(method, bucket, key, query, headers, payload)
            if length is not None:
                send["Content-Length"] = str(length)
            request = urllib.request.Request(url, data=body, headers=send, method=method)
            try:
                response = self._opener.open(request, timeout=self._connect_timeout)
            except urllib.error.HTTPError as exc:
                got = {name.lower(): value for name, value in exc.headers.items()} if exc.headers else {}
                try:
                    data = exc.read(MAX_ERROR_BODY) if method != "HEAD" else b""
                except (OSError, http.client.HTTPException):
                    data = b""
                finally:
                    exc.close()
                error = _error_of(exc.code, data, got)
                if _retryable(error) and attempt + 1 < self._attempts:
                    last = self._fail(error, what)
                    continue
                raise error from None
            except (TimeoutError, socket.timeout) as exc:
                last = S3Error("%s: S3 did not answer in time (after %s retries)" % (what, self.options["retries"]), True)
                last.__cause__ = exc
                continue
            except (urllib.error.URLError, ConnectionError, http.client.HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                if isinstance(reason, (TimeoutError, socket.timeout)):
                    last = S3Error("%s: S3 did not answer in time (after %s retries)" % (what, self.options["retries"]), True)
                else:
                    last = S3Error("%s: cannot reach the S3 endpoint %s (after %s retries)" % (
                        what, self.signer.endpoint_url, self.options["retries"]), True)
                continue
            got = {name.lower(): value for name, value in response.headers.items()}
            if stream:
                return response.status, got, response
            try:
                data = response.read()
            except (TimeoutError, socket.timeout, OSError, http.client.HTTPException):
                response.close()
                last = S3Error("%s: S3 did not answer in time (after %s retries)" % (what, self.options["retries"]), True)
                continue
            response.close()
            return response.status, got, data
        if last is None:  # not reached: every pass of the loop returns, raises or sets last
            raise S3Error("%s: no attempt was made" % what)
        raise last

    @staticmethod
    def _fail(error: HttpError, what: str) -> S3Error:
        transient = _retryable(error)
        return S3Error("%s: S3 answered %s %s%s" % (what, error.status, error.code,
                                                    (": " + error.message) if error.message else ""), transient)

    def _checked(self, method: str, bucket: str, key: str, what: str, **kwargs):
        try:
            return self._send(method, bucket, key, what, **kwargs)
        except HttpError as error:
            raise self._fail(error, what) from None

    @staticmethod
    def _version(version_id: str | None) -> dict[str, str]:
        return {"versionId": version_id} if version_id else {}

    @staticmethod
    def _check_names(bucket: str, key: str | None = None) -> None:
        if not bucket or "/" in bucket:
            raise S3Error("invalid bucket name %r" % bucket)
        if key is not None and not key:
            raise S3Error("s3://%s/: an object key must not be empty" % bucket)

    # -- reads ---------------------------------------------------------------------------
    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict | None:
        """Metadata of an object, None when it does not exist."""
        self._check_names(bucket, key)
        try:
            status, headers, _body = self._send("HEAD", bucket, key, s3_url(bucket, key), query=self._version(version_id))
        except HttpError as error:
            if error.code in NOT_FOUND_CODES:
                return None
            raise self._fail(error, s3_url(bucket, key)) from None
        return _response_dict(status, headers)

    def get_bytes(self, bucket: str, key: str, max_size: int, version_id: str | None = None) -> bytes | None:
        """A small object's body (sidecars), None when absent; refuses anything over max_size."""
        return self._get_small(bucket, key, max_size, self._version(version_id))[0]

    def get_small(self, bucket: str, key: str, max_size: int, if_none_match: str | None = None) -> tuple[bytes | None, dict]:
        """A small object's body and its response; (None, response) when absent (with the server's ``date``).

        With ``if_none_match`` (an ETag read before), an unchanged object answers 304 and comes back as
        ``(None, {"NotModified": True, "ETag": ...})``: one request, no body.
        """
        return self._get_small(bucket, key, max_size, {}, if_none_match)

    def _get_small(self, bucket: str, key: str, max_size: int, query: dict[str, str],
                   if_none_match: str | None = None) -> tuple[bytes | None, dict]:
        self._check_names(bucket, key)
        where = s3_url(bucket, key)
        headers = {"If-None-Match": if_none_match} if if_none_match else None
        try:
            status, headers, response = self._send("GET", bucket, key, where, query=query, headers=headers, stream=True)
        except HttpError as error:
            if error.code in NOT_FOUND_CODES:
                return None, error.response
            if error.status == 304 and if_none_match:
                return None, dict(error.response, NotModified=True, ETag=error.headers.get("etag") or if_none_match)
            raise self._fail(error, where) from None
        try:
            out = _response_dict(status, headers)
            if int(out.get("ContentLength") or 0) > max_size:
                raise S3Error("%s: %d bytes, more than the %d allowed for this kind of file" % (
                    where, out["ContentLength"], max_size))
            try:
                return response.read(max_size + 1), out
            except (TimeoutError, socket.timeout, OSError, http.client.HTTPException):
                raise S3Error("%s: S3 did not answer in time (after %s retries)" % (where, self.options["retries"]), True) from None
        finally:
            response.close()

    def open(self, bucket: str, key: str, version_id: str | None = None):
        """A streaming body for a large object (``read(n)``/``close()``) and its response."""
        self._check_names(bucket, key)
        status, headers, response = self._checked("GET", bucket, key, s3_url(bucket, key),
                                                  query=self._version(version_id), stream=True)
        return response, _response_dict(status, headers)

    def list(self, bucket: str, prefix: str = "", delimiter: str | None = None) -> tuple[list[dict], list[str]]:
        """All objects and common prefixes under ``prefix`` (every page of ListObjectsV2)."""
        self._check_names(bucket)
        objects: list[dict] = []
        prefixes: list[str] = []
        query = {"list-type": "2", "prefix": prefix}
        if delimiter:
            query["delimiter"] = delimiter
        while True:
            data = self._checked("GET", bucket, "", s3_url(bucket, prefix), query=dict(query))[2]
            try:
                root = ET.fromstring(data)
            except ET.ParseError:
                raise S3Error("%s: S3 answered a listing that is not XML" % s3_url(bucket, prefix)) from None
            for item in _children(root, "Contents"):
                entry: dict[str, t.Any] = {"Key": _text(item, "Key", ""), "LastModified": _iso_time(_text(item, "LastModified")),
                                           "ETag": _text(item, "ETag"), "Size": int(_text(item, "Size") or 0)}
                objects.append(entry)
            prefixes.extend(_text(item, "Prefix", "") for item in _children(root, "CommonPrefixes"))
            token = _text(root, "NextContinuationToken")
            if _text(root, "IsTruncated") != "true" or not token:
                return objects, prefixes
            query["continuation-token"] = token

    def versioning_enabled(self, bucket: str) -> bool:
        try:
            data = self._send("GET", bucket, "", s3_url(bucket), query={"versioning": ""})[2]
            return _text(ET.fromstring(data), "Status") == "Enabled"
        except (HttpError, S3Error, ET.ParseError):
            return False  # no permission to ask: plan without version pinning

    # -- writes --------------------------------------------------------------------------
    def put_file(self, bucket: str, key: str, path: str, create_only: bool = False,
                 content_type: str = "application/gzip", sha256_b64: str | None = None) -> dict:
        """Upload a file; ``create_only`` makes it a conditional create (If-None-Match: *)."""
        with open(path, "rb") as body:
            return self._put(bucket, key, body, create_only, content_type, sha256_b64, os.fstat(body.fileno()).st_size)

    def put_bytes(self, bucket: str, key: str, data: bytes, create_only: bool = False,
                  content_type: str = "text/plain; charset=utf-8") -> dict:
        return self._put(bucket, key, data, create_only, content_type, None, None)

    def _put(self, bucket, key, body, create_only, content_type, sha256_b64, length) -> dict:

        self._check_names(bucket, key)
        headers = {"Content-Type": content_type}
        if create_only:
            headers["If-None-Match"] = "*"
        if sha256_b64:
            headers["x-amz-checksum-sha256"] = sha256_b64
        where = s3_url(bucket, key)
        try:
            status, got, _body = self._send("PUT", bucket, key, where, headers=headers, body=body, length=length)
        except HttpError as error:
            if create_only and error.code in ("PreconditionFailed", "412"):
                raise AlreadyExists("%s already exists" % where) from None
            raise self._fail(error, where) from None
        return _response_dict(status, got)

    def put_conditional(self, bucket: str, key: str, data: bytes, if_match: str | None = None,
                        content_type: str = "application/json") -> dict:
        """As S3Store.put_conditional: PreconditionFailed (412, or 404 for If-Match), WriteConflict (409)."""

        self._check_names(bucket, key)
        headers = {"Content-Type": content_type}
        if if_match is None:
            headers["If-None-Match"] = "*"
        else:
            headers["If-Match"] = if_match
        where = s3_url(bucket, key)
        try:
            status, got, _body = self._send("PUT", bucket, key, where, headers=headers, body=data)
        except HttpError as error:
            if error.code in ("PreconditionFailed", "412") or (if_match is not None and error.code in NOT_FOUND_CODES):
                raise PreconditionFailed("%s changed since it was read" % where) from None
            if error.code in ("ConditionalRequestConflict", "409"):
                raise WriteConflict("%s: another conditional write was in flight" % where, True) from None
            raise self._fail(error, where) from None
        return _response_dict(status, got)

    def presign_get(self, bucket: str, key: str, expires: int, version_id: str | None = None) -> str:
        return self.signer.presign_get(bucket, key, expires, version_id)
