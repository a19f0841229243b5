# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The stdlib signer must produce exactly what botocore produces for the same request and time."""

from __future__ import annotations

import datetime
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import botocore.session
import pytest
from botocore.config import Config

from ansible_collections.fleetops.release.plugins.plugin_utils._sigv4 import Signer

NOW = datetime.datetime(2026, 11, 22, 6, 5, 4, tzinfo=datetime.UTC)


def botocore_url(endpoint, region, bucket, key, expires, version_id=None, token=None):
    session = botocore.session.get_session()
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"} if endpoint else {})
    client = session.create_client("s3", region_name=region, endpoint_url=endpoint, aws_access_key_id="AKIDEXAMPLE",
                                   aws_secret_access_key="wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", aws_session_token=token,
                                   config=config)
    params = {"Bucket": bucket, "Key": key}
    if version_id:
        params["VersionId"] = version_id
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        return client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires)


def parts(url):
    split = urlsplit(url)
    return split.scheme, split.netloc, split.path, {k: v[0] for k, v in parse_qs(split.query).items()}


@pytest.mark.parametrize("endpoint,region,bucket,key,version,token", [
    ("http://127.0.0.1:9000", "us-east-1", "releases", "ModuleX/1.2.0/ModuleX.tar.gz", None, None),
    ("http://10.20.0.1:4566", "eu-west-1", "releases", "Module X/dev+1/a b~c.tar.gz", "3HL4kqtJlcpXroDTDmJ", None),
    ("https://s3.eu-central-1.amazonaws.com", "eu-central-1", "projectx-releases", "LibGreet/developer/LibGreet.tar.gz", None,
     "FwoGZXIvYXdzE//token=="),
    ("https://minio.example.internal:9000/", "us-east-1", "b1x", "k/with/many/parts/x.tar.gz", "null-ish", None),
])
def test_signature_matches_botocore(endpoint, region, bucket, key, version, token):
    ours = Signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region, endpoint, token).presign_get(
        bucket, key, 900, version, now=NOW)
    theirs = botocore_url(endpoint, region, bucket, key, 900, version, token)
    assert parts(ours) == parts(theirs)


def test_from_options_prefers_task_keys_then_environment(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "ENVKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "envsecret")
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    assert Signer.from_options({"access_key": "K", "secret_key": "S", "endpoint_url": "http://s3"}).access_key == "K"
    env_signer = Signer.from_options({"endpoint_url": "http://s3"})
    assert (env_signer.access_key, env_signer.region) == ("ENVKEY", "ap-south-1")


def test_from_options_leaves_profiles_and_roles_to_boto3(monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY", raising=False)
    assert Signer.from_options({"profile": "prod", "access_key": "K", "secret_key": "S", "endpoint_url": "http://s3"}) is None
    assert Signer.from_options({"endpoint_url": "http://s3"}) is None
    assert Signer.from_options({"access_key": "K", "secret_key": "S"}) is None, "AWS's own endpoint resolution is boto3's job"
