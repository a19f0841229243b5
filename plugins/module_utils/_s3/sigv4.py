# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""S3 request signing (SigV4) with the standard library alone: presigned GET URLs and signed requests.

The action plugins sign a handful of URLs per host in a freshly forked worker
process, and every module starts a fresh Python: importing boto3 and building a
client costs a quarter of a CPU second each time. This signer costs well under
a millisecond. It is used only for an explicit endpoint_url (S3-compatible
stores, VPC or regional endpoints: path-style addressing, no endpoint
resolution to get wrong) with plain keys (task options or the AWS_*
environment). AWS's own endpoint resolution, profiles, instance roles and SSO
go through boto3 (see _s3.open_store and plugin_utils/_presign).
"""

from __future__ import annotations

import configparser
import datetime
import hashlib
import hmac
import os
import typing as t
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _canonical_query(query: dict[str, str]) -> str:
    return "&".join("%s=%s" % (quote(k, safe="~"), quote(v, safe="~")) for k, v in sorted(query.items()))


def config_region() -> str | None:
    """The region of the AWS config file's profile (``AWS_PROFILE``, else ``default``), as boto3 would find it."""
    path = os.environ.get("AWS_CONFIG_FILE") or os.path.join(os.path.expanduser("~"), ".aws", "config")
    profile = os.environ.get("AWS_PROFILE") or "default"
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return None
    for section in (("profile %s" % profile, profile) if profile != "default" else ("default", "profile default")):
        if parser.has_option(section, "region"):
            return parser.get(section, "region").strip() or None
    return None


class Signer:
    """Signs GET URLs for one set of keys, one region and one endpoint."""

    def __init__(self, access_key: str, secret_key: str, region: str, endpoint_url: str,
                 session_token: str | None = None) -> None:
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region
        self.endpoint_url = endpoint_url.rstrip("/")
        self.session_token = session_token

    @classmethod
    def from_options(cls, options: dict[str, t.Any]) -> Signer | None:
        """A signer for an explicit endpoint with plain keys (options, else environment); None means: use boto3."""
        if options.get("profile") or not options.get("endpoint_url"):
            return None
        access = options.get("access_key")
        secret = options.get("secret_key")
        token = options.get("session_token")
        if not access and not secret:
            access = os.environ.get("AWS_ACCESS_KEY_ID")
            secret = os.environ.get("AWS_SECRET_ACCESS_KEY")
            token = token or os.environ.get("AWS_SESSION_TOKEN")
        if not access or not secret:
            return None
        region = (options.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
                  or config_region() or "us-east-1")
        return cls(access, secret, region, options.get("endpoint_url"), token)

    def _signing_key(self, day: str) -> bytes:
        key_bytes = ("AWS4" + self.secret_key).encode("utf-8")
        for part in (day, self.region, "s3", "aws4_request"):
            key_bytes = hmac.new(key_bytes, part.encode("utf-8"), hashlib.sha256).digest()
        return key_bytes

    def _signature(self, day: str, amz_date: str, scope: str, canonical_request: str) -> str:
        to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
        return hmac.new(self._signing_key(day), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()

    def url(self, bucket: str, key: str = "") -> str:
        """The path-style URL of an object (or of the bucket, key empty), without a query."""
        base, _host, path = self._location(bucket, key)
        return base + path

    def sign(self, method: str, bucket: str, key: str = "", query: dict[str, str] | None = None,
             headers: dict[str, str] | None = None, payload_sha256: str = UNSIGNED_PAYLOAD,
             now: datetime.datetime | None = None) -> tuple[str, dict[str, str]]:
        """(URL with its query, headers to send) for a request signed in its Authorization header.

        Every ``x-amz-*`` header given is signed along with the host; other headers (Content-Type,
        If-None-Match, If-Match) are sent as they are.
        """
        moment = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
        day = moment.strftime("%Y%m%d")
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        base, host, path = self._location(bucket, key)
        send = dict(headers or {})
        send["x-amz-date"] = amz_date
        send["x-amz-content-sha256"] = payload_sha256
        if self.session_token:
            send["x-amz-security-token"] = self.session_token
        signed = {"host": host}
        signed.update((name.lower(), " ".join(str(value).split())) for name, value in send.items()
                      if name.lower().startswith("x-amz-"))
        names = ";".join(sorted(signed))
        canonical_query = _canonical_query(query or {})
        canonical_headers = "".join("%s:%s\n" % (name, signed[name]) for name in sorted(signed))
        canonical_request = "\n".join([method, path, canonical_query, canonical_headers, names, payload_sha256])
        send["Authorization"] = "%s Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
            ALGORITHM, self.access_key, scope, names, self._signature(day, amz_date, scope, canonical_request))
        return base + path + ("?" + canonical_query if canonical_query else ""), send

    def _location(self, bucket: str, key: str) -> tuple[str, str, str]:
        """(scheme://host, host, canonical path), path style on the endpoint."""
        parts = urlsplit(self.endpoint_url)
        path = "%s/%s/%s" % (parts.path.rstrip("/"), quote(bucket, safe="~"), quote(key, safe="/~"))
        return "%s://%s" % (parts.scheme, parts.netloc), parts.netloc, path

    def presign_get(self, bucket: str, key: str, expires: int, version_id: str | None = None,
                    now: datetime.datetime | None = None) -> str:
        moment = (now or datetime.datetime.now(datetime.timezone.utc)).astimezone(datetime.timezone.utc)
        amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
        day = moment.strftime("%Y%m%d")
        scope = "%s/%s/s3/aws4_request" % (day, self.region)
        base, host, path = self._location(bucket, key)
        query = {
            "X-Amz-Algorithm": ALGORITHM,
            "X-Amz-Credential": "%s/%s" % (self.access_key, scope),
            "X-Amz-Date": amz_date,
            "X-Amz-Expires": str(int(expires)),
            "X-Amz-SignedHeaders": "host",
        }
        if self.session_token:
            query["X-Amz-Security-Token"] = self.session_token
        if version_id:
            query["versionId"] = version_id
        canonical_query = _canonical_query(query)
        canonical_request = "\n".join(["GET", path, canonical_query, "host:%s\n" % host, "host", UNSIGNED_PAYLOAD])
        signature = self._signature(day, amz_date, scope, canonical_request)
        return "%s%s?%s&X-Amz-Signature=%s" % (base, path, canonical_query, signature)
