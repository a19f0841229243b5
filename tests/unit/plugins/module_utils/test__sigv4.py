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

from ansible_collections.fleetops.release.plugins.module_utils._s3.sigv4 import Signer

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


def botocore_authorization(method, url, region, headers, body, token=None):
    """botocore's own S3 SigV4 Authorization header for the same request, time and keys."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, headers=dict(headers), data=body)
    auth = S3SigV4Auth(Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token), "s3", region)
    with mock.patch("botocore.auth.get_current_datetime", return_value=NOW.replace(tzinfo=None)):
        auth.add_auth(request)
    return request.headers["Authorization"], request.headers["X-Amz-Content-SHA256"]


@pytest.mark.parametrize("method,key,query,extra,body,token", [
    ("GET", "Module X/dev+1/a b~c.tar.gz", {}, {}, b"", None),
    ("HEAD", "ModuleX/1.2.0/ModuleX.tar.gz", {"versionId": "3HL4kqtJ/lcpX=="}, {}, b"", "FwoGZXIvYXdzE//token=="),
    ("GET", "", {"list-type": "2", "prefix": "Lib Greet/dev/", "delimiter": "/", "continuation-token": "a+b/c=="}, {}, b"", None),
    ("GET", "", {"versioning": ""}, {}, b"", None),
    ("PUT", "locks/projectx/online.json", {}, {}, b'{"owner": "run 1"}', None),
    ("PUT", "ModuleX/1.2.0/ModuleX.tar.gz", {}, {"x-amz-checksum-sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
     b"payload", "tok"),
])
def test_signed_request_matches_botocore(method, key, query, extra, body, token):
    import hashlib

    signer = Signer("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "eu-west-1", "http://127.0.0.1:9000", token)
    url, headers = signer.sign(method, "releases", key, query, extra, hashlib.sha256(body).hexdigest(), now=NOW)
    theirs_headers = {name: value for name, value in headers.items() if name.lower().startswith("x-amz-")
                      and name.lower() not in ("x-amz-date", "x-amz-content-sha256", "x-amz-security-token")}
    authorization, payload = botocore_authorization(method, url, "eu-west-1", theirs_headers, body, token)
    assert payload == headers["x-amz-content-sha256"]
    assert headers["Authorization"] == authorization


def test_signed_request_keeps_other_headers_unsigned():
    signer = Signer("AK", "SK", "us-east-1", "http://s3.internal:9000/")
    url, headers = signer.sign("PUT", "b", "k", None, {"If-None-Match": "*", "Content-Type": "application/json"}, now=NOW)
    assert url == "http://s3.internal:9000/b/k"
    assert headers["If-None-Match"] == "*" and headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    assert "SignedHeaders=host;x-amz-content-sha256;x-amz-date," in headers["Authorization"]
    assert "SK" not in headers["Authorization"]


def test_region_from_the_config_file_as_boto3_finds_it(monkeypatch, tmp_path):
    config = tmp_path / "config"
    config.write_text("[default]\nregion = eu-north-1\n[profile ops]\nregion = ap-east-1\n")
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    options = {"access_key": "K", "secret_key": "S", "endpoint_url": "http://s3"}
    assert Signer.from_options(options).region == "eu-north-1"
    monkeypatch.setenv("AWS_PROFILE", "ops")
    assert Signer.from_options(options).region == "ap-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "sa-east-1")
    assert Signer.from_options(options).region == "sa-east-1", "the environment comes first"
    assert Signer.from_options(dict(options, region="us-west-2")).region == "us-west-2", "then the task's option"
    config.write_text("not an ini file [")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert Signer.from_options(options).region == "us-east-1"


def test_signing_needs_no_datetime_utc_alias(monkeypatch):
    """Nodes may run Python before 3.11, which has no datetime.UTC."""
    monkeypatch.delattr(datetime, "UTC", raising=False)
    signer = Signer("AK", "SK", "us-east-1", "http://127.0.0.1:9")
    assert "X-Amz-Signature=" in signer.presign_get("b", "k", 60)
    assert "Signature=" in signer.sign("GET", "b", "k")[1]["Authorization"]
