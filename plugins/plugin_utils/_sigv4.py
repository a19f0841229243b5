# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""Presigned S3 GET URLs (SigV4 query authentication) with the standard library alone.

The action plugins sign a handful of URLs per host in a freshly forked worker
process, where importing boto3 and building a client costs a quarter of a CPU
second every time. This signer costs well under a millisecond. It is used only
for an explicit endpoint_url (S3-compatible stores, VPC or regional endpoints:
path-style addressing, no endpoint resolution to get wrong) with plain keys
(task options or the AWS_* environment). AWS's own endpoint resolution,
profiles, instance roles and SSO go through boto3 (see _presign).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import os
import typing as t
from urllib.parse import quote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"


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
        region = options.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        return cls(access, secret, region, options.get("endpoint_url"), token)

    def _location(self, bucket: str, key: str) -> tuple[str, str, str]:
        """(scheme://host, host, canonical path), path style on the endpoint."""
        parts = urlsplit(self.endpoint_url)
        path = "%s/%s/%s" % (parts.path.rstrip("/"), quote(bucket, safe="~"), quote(key, safe="/~"))
        return "%s://%s" % (parts.scheme, parts.netloc), parts.netloc, path

    def presign_get(self, bucket: str, key: str, expires: int, version_id: str | None = None,
                    now: datetime.datetime | None = None) -> str:
        moment = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
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
        canonical_query = "&".join("%s=%s" % (quote(k, safe="~"), quote(v, safe="~")) for k, v in sorted(query.items()))
        canonical_request = "\n".join(["GET", path, canonical_query, "host:%s\n" % host, "host", "UNSIGNED-PAYLOAD"])
        to_sign = "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
        key_bytes = ("AWS4" + self.secret_key).encode("utf-8")
        for part in (day, self.region, "s3", "aws4_request"):
            key_bytes = hmac.new(key_bytes, part.encode("utf-8"), hashlib.sha256).digest()
        signature = hmac.new(key_bytes, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
        return "%s%s?%s&X-Amz-Signature=%s" % (base, path, canonical_query, signature)
