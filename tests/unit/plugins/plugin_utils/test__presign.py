# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugin_utils/_presign.py: URLs signed on the controller, no S3 settings sent to the node.

botocore presigns offline; the endpoint is a closed loopback port and no request is ever made.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
from urllib.parse import unquote, urlsplit

import pytest

from ansible_collections.fleetops.release.plugins.module_utils._errors import FleetopsError
from ansible_collections.fleetops.release.plugins.module_utils._fetch.node_fetch import url_id
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3_ARGSPEC
from ansible_collections.fleetops.release.plugins.plugin_utils import _presign
from ansible_collections.fleetops.release.plugins.plugin_utils._presign import CONTROLLER_ONLY, sign_for_node

ENDPOINT = "http://127.0.0.1:9"
ACCESS = "AKIAFLEETOPSTEST"
SECRET = "fleetops-secret-key-value"
REL_KEY = "M/1.0.0/M.tar.gz"
SRC_KEY = "M/developer/m-client.tar.gz"
UPG_KEY = "N/2.0.0/N.tar.gz"
# S3 clients are costly to build: tests share them (the cache key holds every setting, so sharing is exact)
SHARED_STORES: dict = {}
DROPPED = set(CONTROLLER_ONLY) | {alias for name in CONTROLLER_ONLY for alias in S3_ARGSPEC[name].get("aliases", [])}


@pytest.fixture(autouse=True)
def isolated(no_aws_env, monkeypatch):
    """No AWS configuration of the machine running the tests (no_aws_env); the client cache is this file's own."""
    monkeypatch.setattr(_presign, "_STORES", SHARED_STORES)


@pytest.fixture
def fresh_stores(monkeypatch):
    stores: dict = {}
    monkeypatch.setattr(_presign, "_STORES", stores)
    return stores


def small_plan(version_id=None):
    rel = {"bucket": "b", "key": REL_KEY, "sha256": "0" * 64, "size": 1}
    if version_id:
        rel["version_id"] = version_id
    return {"install": [{"module": "M", "version": "1.0.0", "rel": rel, "src": []}], "upgrade": []}


def bigger_plan():
    return {
        "install": [{"module": "M", "version": "1.0.0", "rel": {"bucket": "b", "key": REL_KEY, "sha256": "0" * 64, "size": 1,
                                                                "version_id": "v1"},
                     "src": [{"bucket": "b", "key": SRC_KEY, "sha256": "1" * 64, "size": 2}]}],
        "upgrade": [{"module": "N", "version": "2.0.0", "rel": {"bucket": "b", "key": UPG_KEY, "sha256": "2" * 64, "size": 3},
                     "src": []}],
    }


def credentials(**extra):
    return dict(dict(endpoint_url=ENDPOINT, access_key=ACCESS, secret_key=SECRET), **extra)


def query_of(url):
    return dict(pair.split("=", 1) for pair in urlsplit(url).query.split("&"))


def sigv4_signature(url, secret):
    """Recompute the SigV4 query signature of a presigned GET, to prove which secret signed it."""
    parts = urlsplit(url)
    pairs = sorted(tuple(pair.split("=", 1)) for pair in parts.query.split("&") if not pair.startswith("X-Amz-Signature="))
    query = dict(pairs)
    canonical = "\n".join(["GET", parts.path, "&".join("%s=%s" % pair for pair in pairs), "host:" + parts.netloc, "", "host",
                           "UNSIGNED-PAYLOAD"])
    scope = unquote(query["X-Amz-Credential"]).split("/", 1)[1]
    to_sign = "\n".join(["AWS4-HMAC-SHA256", query["X-Amz-Date"], scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def assert_signed(url, key, access=ACCESS, secret=SECRET, region="us-east-1", version_id=None, expires="900"):
    assert url.startswith("%s/b/%s?" % (ENDPOINT, key))
    query = query_of(url)
    assert "X-Amz-Signature" in query
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == expires
    assert unquote(query["X-Amz-Credential"]).split("/")[0] == access
    assert unquote(query["X-Amz-Credential"]).split("/")[2] == region
    assert query["X-Amz-Signature"] == sigv4_signature(url, secret)
    if version_id is None:
        assert "versionId" not in query
    else:
        assert unquote(query["versionId"]) == version_id
    assert secret not in url


def test_sign_for_node_small_plan():
    args = dict(credentials(), plan=small_plan())
    out = sign_for_node(args)
    assert set(out) == {"plan", "presigned_urls"}
    assert out["plan"] == small_plan()
    assert list(out["presigned_urls"]) == ["b/" + REL_KEY]
    assert_signed(out["presigned_urls"]["b/" + REL_KEY], REL_KEY)


def test_sign_for_node_pins_the_version():
    out = sign_for_node(dict(credentials(region="eu-west-1"), plan=small_plan("3/L4kqtJ+lcpXroDTD mJ"), url_expiry=300))
    ident = "b/%s?versionId=3/L4kqtJ+lcpXroDTD mJ" % REL_KEY
    assert list(out["presigned_urls"]) == [ident]
    assert_signed(out["presigned_urls"][ident], REL_KEY, region="eu-west-1", version_id="3/L4kqtJ+lcpXroDTD mJ", expires="300")


def test_sign_for_node_signs_every_artifact_of_the_plan():
    out = sign_for_node(dict(credentials(), plan=bigger_plan()))
    urls = out["presigned_urls"]
    assert set(urls) == {url_id("b", REL_KEY, "v1"), url_id("b", SRC_KEY), url_id("b", UPG_KEY)}
    assert_signed(urls[url_id("b", REL_KEY, "v1")], REL_KEY, version_id="v1")
    assert_signed(urls[url_id("b", SRC_KEY)], SRC_KEY)
    assert_signed(urls[url_id("b", UPG_KEY)], UPG_KEY)


def test_sign_for_node_signs_artifacts_given_directly():
    out = sign_for_node(dict(credentials(), artifacts=[dict(key="X/developer/x.tar.gz", bucket="b", version_id="v7")]))
    ident = url_id("b", "X/developer/x.tar.gz", "v7")
    assert list(out["presigned_urls"]) == [ident]
    assert_signed(out["presigned_urls"][ident], "X/developer/x.tar.gz", version_id="v7")
    assert out["artifacts"] == [dict(key="X/developer/x.tar.gz", bucket="b", version_id="v7")]


def test_sign_for_node_drops_every_controller_setting_and_alias():
    args = dict(
        plan=small_plan(), endpoint_url=ENDPOINT, s3_url=ENDPOINT, aws_endpoint_url=ENDPOINT,
        region="us-east-1", aws_region="us-east-1", profile=None, aws_profile=None,
        access_key=ACCESS, aws_access_key_id=ACCESS, aws_access_key=ACCESS,
        secret_key=SECRET, aws_secret_access_key=SECRET, aws_secret_key=SECRET,
        session_token="session-token-value", aws_session_token="session-token-value",
        validate_certs=False, retries=2, connect_timeout=3.0, read_timeout=7.0,
        cache_dir="/var/cache/x", extract_root="/opt", attempts=3, timeout=9.0, url_expiry=120, presign=True,
    )
    before = copy.deepcopy(args)
    out = sign_for_node(args)
    assert DROPPED == {"endpoint_url", "s3_url", "aws_endpoint_url", "region", "aws_region", "profile", "aws_profile",
                       "access_key", "aws_access_key_id", "aws_access_key", "secret_key", "aws_secret_access_key",
                       "aws_secret_key", "session_token", "aws_session_token"}
    assert not DROPPED & set(out)
    assert out == dict(plan=small_plan(), validate_certs=False, retries=2, connect_timeout=3.0, read_timeout=7.0,
                       cache_dir="/var/cache/x", extract_root="/opt", attempts=3, timeout=9.0, url_expiry=120, presign=True,
                       presigned_urls=out["presigned_urls"])
    url = out["presigned_urls"]["b/" + REL_KEY]
    assert_signed(url, REL_KEY, expires="120")
    assert query_of(url)["X-Amz-Security-Token"] == "session-token-value"
    text = repr(out)
    assert SECRET not in text and "AKIA" not in text.replace(url, "")
    assert args == before  # the caller's args are not modified


def test_sign_for_node_alias_credentials_are_used_and_stripped():
    args = dict(plan=small_plan(), aws_endpoint_url=ENDPOINT, aws_access_key_id="AKIAALIASKEY", aws_secret_access_key="alias-secret",
                aws_session_token="alias-token", aws_region="ap-south-1")
    out = sign_for_node(args)
    assert set(out) == {"plan", "presigned_urls"}
    url = out["presigned_urls"]["b/" + REL_KEY]
    assert_signed(url, REL_KEY, access="AKIAALIASKEY", secret="alias-secret", region="ap-south-1")
    assert query_of(url)["X-Amz-Security-Token"] == "alias-token"


def test_sign_for_node_canonical_name_wins_over_alias():
    out = sign_for_node(dict(plan=small_plan(), endpoint_url=ENDPOINT, access_key=ACCESS, aws_access_key_id="AKIAOTHER",
                             secret_key=SECRET, aws_secret_access_key="other-secret"))
    assert_signed(out["presigned_urls"]["b/" + REL_KEY], REL_KEY)


def test_sign_for_node_keeps_an_artifact_url():
    plan = bigger_plan()
    plan["install"][0]["src"][0]["url"] = "https://already.example/src?X-Amz-Signature=given"
    out = sign_for_node(dict(credentials(), plan=plan))
    assert set(out["presigned_urls"]) == {url_id("b", REL_KEY, "v1"), url_id("b", UPG_KEY)}
    assert out["plan"]["install"][0]["src"][0]["url"] == "https://already.example/src?X-Amz-Signature=given"


def test_sign_for_node_keeps_given_presigned_urls():
    given = {url_id("b", REL_KEY, "v1"): "https://given.example/rel"}
    out = sign_for_node(dict(credentials(), plan=bigger_plan(), presigned_urls=given))
    assert out["presigned_urls"][url_id("b", REL_KEY, "v1")] == "https://given.example/rel"
    assert set(out["presigned_urls"]) == {url_id("b", REL_KEY, "v1"), url_id("b", SRC_KEY), url_id("b", UPG_KEY)}
    assert given == {url_id("b", REL_KEY, "v1"): "https://given.example/rel"}


def test_sign_for_node_with_everything_signed_builds_no_client(fresh_stores):
    plan = small_plan()
    plan["install"][0]["rel"]["url"] = "https://already.example/rel"
    out = sign_for_node(dict(plan=plan, endpoint_url=ENDPOINT, profile="no-such-profile", validate_certs=True))
    assert out == dict(plan=plan, validate_certs=True)  # nothing to sign: no presigned_urls, no profile lookup
    assert fresh_stores == {}


def test_sign_for_node_reuses_one_client_per_setting(fresh_stores):
    sign_for_node(dict(credentials(), plan=small_plan()))
    first = list(fresh_stores.values())
    sign_for_node(dict(credentials(), plan=bigger_plan()))
    assert list(fresh_stores.values()) == first
    # an alias is the same setting as its canonical name
    sign_for_node(dict(endpoint_url=ENDPOINT, aws_access_key_id=ACCESS, aws_secret_key=SECRET, plan=small_plan()))
    assert list(fresh_stores.values()) == first
    sign_for_node(dict(credentials(region="eu-west-1"), plan=small_plan()))
    assert len(fresh_stores) == 2


def test_sign_for_node_needs_a_bucket():
    with pytest.raises(FleetopsError) as exc:
        sign_for_node(dict(credentials(), artifacts=[dict(key="X/developer/x.tar.gz")]))
    assert str(exc.value) == "X/developer/x.tar.gz: no bucket to sign a URL for"


def test_sign_for_node_nothing_to_fetch():
    with pytest.raises(FleetopsError) as exc:
        sign_for_node(credentials())
    assert str(exc.value) == "nothing to fetch: give plan or artifacts"


def test_sign_for_node_refuses_a_non_plan():
    with pytest.raises(FleetopsError) as exc:
        sign_for_node(dict(credentials(), plan={"modules": {"M": "1.0.0"}}))
    assert str(exc.value) == "plan: not a plan from fleetops.release.repo_info (no 'install' list)"


def test_hide_urls_moves_plan_and_artifact_urls_into_the_no_log_option():
    from ansible_collections.fleetops.release.plugins.plugin_utils._presign import hide_urls

    plan = {"install": [{"module": "M", "version": "1.0.0", "src": [],
                         "rel": {"bucket": "b", "key": "M/1.0.0/M.tar.gz", "version_id": "v1", "url": "https://s/M?X-Amz-Signature=S1"}}],
            "upgrade": []}
    args = {"plan": plan, "artifacts": [{"key": "N/1.0.0/N.tar.gz", "url": "https://s/N?X-Amz-Signature=S2"}], "cache_dir": "/c"}
    out = hide_urls(args)
    assert out["presigned_urls"] == {"b/M/1.0.0/M.tar.gz?versionId=v1": "https://s/M?X-Amz-Signature=S1",
                                     "/N/1.0.0/N.tar.gz": "https://s/N?X-Amz-Signature=S2"}
    assert "url" not in out["plan"]["install"][0]["rel"]
    assert "url" not in out["artifacts"][0]
    assert "X-Amz" not in repr({k: v for k, v in out.items() if k != "presigned_urls"})
    assert plan["install"][0]["rel"]["url"].endswith("S1"), "the task's own args are not modified"
