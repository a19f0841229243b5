# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Private to this collection: no compatibility promise outside fleetops.release.
"""The S3 option set, apart from _s3 so that reading it does not import boto3."""

from __future__ import annotations

import typing as t

# One option set for every S3-backed module; doc fragment fleetops.release._s3 documents it.
S3_ARGSPEC: dict[str, dict[str, t.Any]] = dict(
    endpoint_url=dict(type="str", aliases=["s3_url", "aws_endpoint_url"]),
    region=dict(type="str", aliases=["aws_region"]),
    profile=dict(type="str", aliases=["aws_profile"]),
    access_key=dict(type="str", aliases=["aws_access_key_id", "aws_access_key"], no_log=True),
    secret_key=dict(type="str", aliases=["aws_secret_access_key", "aws_secret_key"], no_log=True),
    session_token=dict(type="str", aliases=["aws_session_token"], no_log=True),
    validate_certs=dict(type="bool", default=True),
    retries=dict(type="int", default=5),
    connect_timeout=dict(type="float", default=10.0),
    read_timeout=dict(type="float", default=60.0),
)


def store_opener(params: dict[str, t.Any]) -> t.Callable[[], t.Any]:
    """What opens the store of these options when first called: a node whose artifacts all come by presigned URL, or
    that has nothing to fetch, never imports the S3 client code."""
    def opener() -> t.Any:
        from ansible_collections.fleetops.release.plugins.module_utils._s3.store import open_store  # pylint: disable=import-outside-toplevel

        return open_store(params)
    return opener
