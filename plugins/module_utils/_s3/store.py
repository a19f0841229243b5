# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""S3 access shared by every module: one option set, one client, one error style.

Works against AWS and S3-compatible stores (``endpoint_url``). Retries use
botocore's ``standard`` mode (exponential backoff with jitter on throttling,
5xx and connection errors). Errors name ``s3://bucket/key`` and never carry
credentials or signed URLs.

``open_store`` is how callers get a store: for an explicit endpoint with plain
keys it is _s3/stdlib.HttpStore (the standard library, no boto3 import, the same
contract), else this module's boto3 S3Store. boto3 is imported only when a
boto3 client is built.
"""

from __future__ import annotations

import importlib.util
import typing as t

from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._s3.options import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.module_utils._s3.sigv4 import Signer


class _NeverRaised(Exception):
    """Stands in for botocore's exception classes until botocore is imported, so ``except`` clauses stay valid."""


class _BotocoreNotImported:
    """What ``botocore`` names until it is imported: ``botocore.exceptions.X`` is a class nothing raises."""

    class exceptions:  # pylint: disable=invalid-name
        BotoCoreError = type("BotoCoreError", (_NeverRaised,), {})
        ClientError = type("ClientError", (_NeverRaised,), {})
        EndpointConnectionError = type("EndpointConnectionError", (_NeverRaised,), {})
        ReadTimeoutError = type("ReadTimeoutError", (_NeverRaised,), {})
        ConnectTimeoutError = type("ConnectTimeoutError", (_NeverRaised,), {})
        NoCredentialsError = type("NoCredentialsError", (_NeverRaised,), {})
        ConnectionError = type("ConnectionError", (_NeverRaised,), {})
        HTTPClientError = type("HTTPClientError", (_NeverRaised,), {})


boto3: t.Any = None
botocore: t.Any = _BotocoreNotImported
Config: t.Any = None

S3_OPTION_NAMES = tuple(S3_ARGSPEC)

NOT_FOUND_CODES = ("404", "NoSuchKey", "NotFound", "NoSuchVersion")


class AlreadyExists(S3Error):
    """A conditional create found the object already there."""


class PreconditionFailed(S3Error):
    """A conditional write was refused: the object is not (or no longer) the one the condition named."""


class WriteConflict(S3Error):
    """S3 answered 409 ConditionalRequestConflict: another conditional write to the key was in flight."""


def _import_boto3() -> bool:
    """Import boto3 and botocore into this module's globals on first use; False when they are not installed."""
    global boto3, botocore, Config  # pylint: disable=global-statement
    if boto3 is None:
        try:
            import boto3 as _boto3  # pylint: disable=import-outside-toplevel
            import botocore.exceptions  # pylint: disable=import-outside-toplevel,redefined-outer-name
            from botocore.config import Config as _Config  # pylint: disable=import-outside-toplevel
        except ImportError:
            return False
        boto3, Config = _boto3, _Config
    return True


BOTO3_MISSING = ("boto3 is required for S3 access through a profile, an instance role or AWS's own endpoints "
                 "(an explicit endpoint_url with access keys needs none; nodes fetching presigned URLs need none)")


def require_boto3() -> str | None:
    """None when boto3 is installed, else the reason for the user."""
    if boto3 is None and importlib.util.find_spec("boto3") is None:
        return BOTO3_MISSING
    return None


def store_problem(options: dict[str, t.Any]) -> str | None:
    """None when ``open_store(options)`` can work here, else the reason (boto3 is needed and missing)."""
    if Signer.from_options(options) is not None:
        return None
    return require_boto3()


def open_store(options: dict[str, t.Any]):
    """The store for these S3 options: the standard-library one where its signer applies, else boto3's S3Store."""
    signer = Signer.from_options(options)
    if signer is not None:
        from ansible_collections.fleetops.release.plugins.module_utils._s3.stdlib import HttpStore  # pylint: disable=import-outside-toplevel

        return HttpStore(options, signer)
    return S3Store(options)


def s3_url(bucket: str, key: str = "") -> str:
    return "s3://%s/%s" % (bucket, key)


class S3Store:
    """A thin, error-translating wrapper around one boto3 S3 client."""

    def __init__(self, options: dict[str, t.Any]) -> None:
        self.options = {name: options.get(name) for name in S3_OPTION_NAMES}
        self._client = None

    @property
    def client(self):
        if self._client is None:
            if not _import_boto3():
                raise S3Error(BOTO3_MISSING)
            opts = self.options
            try:
                session = boto3.session.Session(
                    profile_name=opts["profile"] or None,
                    aws_access_key_id=opts["access_key"] or None,
                    aws_secret_access_key=opts["secret_key"] or None,
                    aws_session_token=opts["session_token"] or None,
                    region_name=opts["region"] or None,
                )
            except botocore.exceptions.BotoCoreError as exc:
                raise S3Error("cannot set up the S3 client: %s" % exc) from None
            config = Config(
                retries={"mode": "standard", "total_max_attempts": max(1, int(opts["retries"] or 0) + 1)},
                connect_timeout=opts["connect_timeout"] or 10.0,
                read_timeout=opts["read_timeout"] or 60.0,
                signature_version="s3v4",
                s3={"addressing_style": "path"} if opts["endpoint_url"] else {},
            )
            try:
                self._client = session.client(
                    "s3", endpoint_url=opts["endpoint_url"] or None, config=config,
                    verify=opts["validate_certs"] if opts["validate_certs"] is not None else True)
            except botocore.exceptions.BotoCoreError as exc:
                raise S3Error("cannot set up the S3 client: %s" % exc) from None
        return self._client

    # -- error translation -------------------------------------------------------------
    def _fail(self, exc: Exception, what: str) -> S3Error:
        _import_boto3()
        if isinstance(exc, botocore.exceptions.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", "?"))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            msg = err.get("Message") or ""
            transient = isinstance(status, int) and (status >= 500 or status == 429)
            return S3Error("%s: S3 answered %s %s%s" % (what, status, code, (": " + msg) if msg else ""), transient)
        if isinstance(exc, botocore.exceptions.EndpointConnectionError):
            return S3Error("%s: cannot reach the S3 endpoint %s (after %s retries)" % (
                what, self.options["endpoint_url"] or "of AWS", self.options["retries"]), True)
        if isinstance(exc, (botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
            return S3Error("%s: S3 did not answer in time (after %s retries)" % (what, self.options["retries"]), True)
        if isinstance(exc, botocore.exceptions.NoCredentialsError):
            return S3Error("%s: no S3 credentials (set access_key/secret_key, a profile, or the AWS_* environment)" % what)
        # Other botocore errors are about the request or the configuration (bad parameters, unknown
        # profile): another attempt would fail the same way.
        transient = isinstance(exc, (botocore.exceptions.ConnectionError, botocore.exceptions.HTTPClientError))
        return S3Error("%s: %s" % (what, exc), transient)

    @staticmethod
    def _is_not_found(exc: Exception) -> bool:
        _import_boto3()
        if isinstance(exc, botocore.exceptions.ClientError):
            return str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES
        return False

    def _call(self, what: str, method: str, **kwargs):
        try:
            return getattr(self.client, method)(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail(exc, what) from None

    # -- reads ---------------------------------------------------------------------------
    def head(self, bucket: str, key: str, version_id: str | None = None) -> dict | None:
        """Metadata of an object, None when it does not exist."""
        kwargs = dict(Bucket=bucket, Key=key)
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            return self.client.head_object(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if self._is_not_found(exc):
                return None
            raise self._fail(exc, s3_url(bucket, key)) from None

    def get_bytes(self, bucket: str, key: str, max_size: int, version_id: str | None = None) -> bytes | None:
        """A small object's body (sidecars), None when absent; refuses anything over max_size."""
        kwargs = dict(Bucket=bucket, Key=key)
        if version_id:
            kwargs["VersionId"] = version_id
        try:
            resp = self.client.get_object(**kwargs)
            if int(resp.get("ContentLength") or 0) > max_size:
                resp["Body"].close()
                raise S3Error("%s: %d bytes, more than the %d allowed for this kind of file" % (
                    s3_url(bucket, key), resp["ContentLength"], max_size))
            return resp["Body"].read(max_size + 1)[:max_size + 1]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if self._is_not_found(exc):
                return None
            raise self._fail(exc, s3_url(bucket, key)) from None

    def open(self, bucket: str, key: str, version_id: str | None = None):
        """A streaming body for a large object (``read(n)``/``close()``) and its response."""
        kwargs = dict(Bucket=bucket, Key=key)
        if version_id:
            kwargs["VersionId"] = version_id
        resp = self._call(s3_url(bucket, key), "get_object", **kwargs)
        return resp["Body"], resp

    def list(self, bucket: str, prefix: str = "", delimiter: str | None = None) -> tuple[list[dict], list[str]]:
        """All objects and common prefixes under ``prefix`` (paginated)."""
        objects: list[dict] = []
        prefixes: list[str] = []
        kwargs = dict(Bucket=bucket, Prefix=prefix)
        if delimiter:
            kwargs["Delimiter"] = delimiter
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(**kwargs):
                objects.extend(page.get("Contents", []))
                prefixes.extend(p["Prefix"] for p in page.get("CommonPrefixes", []))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail(exc, s3_url(bucket, prefix)) from None
        return objects, prefixes

    def versioning_enabled(self, bucket: str) -> bool:
        try:
            return self.client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            return False  # no permission to ask: plan without version pinning

    # -- writes --------------------------------------------------------------------------
    def put_file(self, bucket: str, key: str, path: str, create_only: bool = False,
                 content_type: str = "application/gzip", sha256_b64: str | None = None) -> dict:
        """Upload a file; ``create_only`` makes it a conditional create (If-None-Match: *)."""
        with open(path, "rb") as body:
            return self._put(bucket, key, body, create_only, content_type, sha256_b64)

    def put_bytes(self, bucket: str, key: str, data: bytes, create_only: bool = False,
                  content_type: str = "text/plain; charset=utf-8") -> dict:
        return self._put(bucket, key, data, create_only, content_type, None)

    def _put(self, bucket, key, body, create_only, content_type, sha256_b64) -> dict:
        kwargs = dict(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
        if create_only:
            kwargs["IfNoneMatch"] = "*"
        if sha256_b64:
            kwargs["ChecksumSHA256"] = sha256_b64
        try:
            return self.client.put_object(**kwargs)
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if create_only and code in ("PreconditionFailed", "412"):
                raise AlreadyExists("%s already exists" % s3_url(bucket, key)) from None
            raise self._fail(exc, s3_url(bucket, key)) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, s3_url(bucket, key)) from None

    def put_conditional(self, bucket: str, key: str, data: bytes, if_match: str | None = None,
                        content_type: str = "application/json") -> dict:
        """Write ``data`` only if the object is absent (``if_match`` None: If-None-Match ``*``) or has ETag ``if_match``.

        Raises PreconditionFailed (412, or 404 for If-Match on a missing object) and WriteConflict (409);
        other failures as every call does (``transient`` set for timeouts, connection errors and 5xx).
        """
        kwargs = dict(Bucket=bucket, Key=key, Body=data, ContentType=content_type)
        if if_match is None:
            kwargs["IfNoneMatch"] = "*"
        else:
            kwargs["IfMatch"] = if_match
        try:
            return self.client.put_object(**kwargs)
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if code in ("PreconditionFailed", "412") or (if_match is not None and code in NOT_FOUND_CODES):
                raise PreconditionFailed("%s changed since it was read" % s3_url(bucket, key)) from None
            if code in ("ConditionalRequestConflict", "409"):
                raise WriteConflict("%s: another conditional write was in flight" % s3_url(bucket, key), True) from None
            raise self._fail(exc, s3_url(bucket, key)) from None
        except botocore.exceptions.BotoCoreError as exc:
            raise self._fail(exc, s3_url(bucket, key)) from None

    def get_small(self, bucket: str, key: str, max_size: int, if_none_match: str | None = None) -> tuple[bytes | None, dict]:
        """A small object's body and its response (ETag, LastModified, headers); (None, response) when absent.

        The response of a missing object still carries the HTTP headers (the server's ``date``). With
        ``if_none_match`` (an ETag read before), an unchanged object answers 304 and comes back as
        ``(None, {"NotModified": True, "ETag": ...})``.
        """
        kwargs = dict(Bucket=bucket, Key=key)
        if if_none_match:
            kwargs["IfNoneMatch"] = if_none_match
        try:
            resp = self.client.get_object(**kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            if self._is_not_found(exc):
                return None, exc.response
            response = getattr(exc, "response", None) or {}
            if if_none_match and response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 304:
                headers = response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
                return None, dict(response, NotModified=True, ETag=headers.get("etag") or if_none_match)
            raise self._fail(exc, s3_url(bucket, key)) from None
        try:
            if int(resp.get("ContentLength") or 0) > max_size:
                raise S3Error("%s: %d bytes, more than the %d allowed for this kind of file" % (
                    s3_url(bucket, key), resp["ContentLength"], max_size))
            return resp["Body"].read(max_size + 1), resp
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail(exc, s3_url(bucket, key)) from None
        finally:
            resp["Body"].close()

    def presign_get(self, bucket: str, key: str, expires: int, version_id: str | None = None) -> str:
        params = dict(Bucket=bucket, Key=key)
        if version_id:
            params["VersionId"] = version_id
        try:
            return self.client.generate_presigned_url("get_object", Params=params, ExpiresIn=int(expires))
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            raise self._fail(exc, s3_url(bucket, key)) from None
