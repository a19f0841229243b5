# Copyright (c) 2026 fleetops.release contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for module_utils/_lock.py: the release lock over S3 (moto in process, no network) and over files.

The answers moto never gives (409 ConditionalRequestConflict, a write that commits but whose answer is lost,
412 on botocore's retry of our own committed write) come from botocore event hooks on the real client.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import multiprocessing
import os

import boto3
import botocore.exceptions
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws

from ansible_collections.fleetops.release.plugins.module_utils import _lock
from ansible_collections.fleetops.release.plugins.module_utils._errors import S3Error
from ansible_collections.fleetops.release.plugins.module_utils._lock import (
    FileBackend,
    LockError,
    LockHeld,
    LockLost,
    LockRecordError,
    S3Backend,
    Snapshot,
    parse_record,
    run,
)
from ansible_collections.fleetops.release.plugins.module_utils._repo.catalog import module_names
from ansible_collections.fleetops.release.plugins.module_utils._s3.store import S3Store

BUCKET = "locks"
KEY = ".fleetops/locks/projectx/online.json"
S3_OPTIONS = dict(region="us-east-1", access_key="a", secret_key="b", retries=0)


@pytest.fixture(autouse=True)
def isolated(no_aws_env, monkeypatch):  # pylint: disable=unused-argument
    monkeypatch.setattr(_lock, "_sleep", lambda seconds: None)


class Clock:
    """The wall clock the lock code sees, moved by the tests."""

    def __init__(self, monkeypatch):
        self.shift = 0.0
        real = _lock.time.time
        monkeypatch.setattr(_lock, "_now", lambda: real() + self.shift)


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture
def s3():
    """An in-process moto S3 with bucket ``locks``; yields a factory of stores that share one client."""
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        store = S3Store(dict(S3_OPTIONS))
        yield store


def params(**kwargs):
    base = dict(project="projectx", environment="online", bucket=BUCKET, ttl=60, reason="deploy 1.2.0",
                run_id="r-1", user="alice", owner="alice@ctl1 pid 1", wait=0, poll_interval=0.01, force=False,
                state="acquired", lease=None, backend=None, prefix=".fleetops/locks/", path=None)
    base.update(S3_OPTIONS)
    base.update(kwargs)
    return base


def call(store, check_mode=False, **kwargs):
    return run(params(**kwargs), check_mode, lambda options: store)


def stored(store):
    return json.loads(store.client.get_object(Bucket=BUCKET, Key=KEY)["Body"].read())


# ---------------------------------------------------------------- names, records, expiry


@pytest.mark.parametrize("name", ["a/b", "..", "../x", "x..y", ".hidden", "", "a b", "x" * 129])
def test_project_and_environment_are_validated(name, tmp_path):
    for option in ("project", "environment"):
        with pytest.raises(LockError) as exc:
            run(params(**{option: name, "bucket": None, "path": str(tmp_path)}), False)
        assert str(exc.value).startswith("%s %r is not a valid lock name: expected 1 to 128 letters" % (option, name))
        assert "no '/', no '..'" in str(exc.value)
    assert os.listdir(tmp_path) == []


def record(**kwargs):
    base = dict(schema=1, project="projectx", environment="online", status="held", generation=3, token="t" * 32,
                owner="bob@ctl2 pid 9", user="bob", run_id="r-0", reason="hotfix", ttl=60,
                since="2026-11-22T10:00:00Z", renewed="2026-11-22T10:00:00Z", expires="2026-11-22T10:01:00Z")
    base.update(kwargs)
    return base


@pytest.mark.parametrize("data, problem", [
    (b"{not json", "not JSON"),
    (b"\xff\xfe", "not UTF-8 text"),
    (b"[1, 2]", "a JSON list, not an object"),
    (json.dumps(dict(record(), schema=2)).encode(), "schema 2, this version reads schema 1"),
    (json.dumps({"hello": "world"}).encode(), "schema None"),
    (json.dumps(record(status="busy")).encode(), "status 'busy' is neither 'held' nor 'released'"),
    (json.dumps(record(generation=0)).encode(), "generation 0 is not a positive integer"),
    (json.dumps(record(generation=True)).encode(), "generation True is not a positive integer"),
    (json.dumps(record(ttl="60")).encode(), "ttl '60' is not a positive integer"),
    (json.dumps(record(token="")).encode(), "no token"),
])
def test_foreign_or_corrupt_records_are_clear_errors(data, problem):
    with pytest.raises(LockRecordError) as exc:
        parse_record(data, "s3://locks/k.json")
    message = str(exc.value)
    assert message.startswith("s3://locks/k.json is not a fleetops.release lock record (")
    assert problem in message
    assert "removing it restarts the lock's generation at 1" in message


def test_parse_record_accepts_a_record():
    assert parse_record(json.dumps(record()).encode(), "x")["generation"] == 3


def test_expiry_rule_uses_the_stores_clock_only():
    rec = record(ttl=60, expires="1999-01-01T00:00:00Z")  # the holder's own idea of expiry is not used
    assert not Snapshot(rec, "e", now=1059.0, modified=1000.0).expired
    assert Snapshot(rec, "e", now=1060.0, modified=1000.0).expired
    assert Snapshot(rec, "e", now=1059.0, modified=1000.0).expires_at == 1060.0
    assert Snapshot(rec, "e", now=1059.0, modified=1000.0).held
    assert not Snapshot(record(status="released"), "e", now=1001.0, modified=1000.0).held
    assert not Snapshot(None, None, now=1.0, modified=None).expired


def test_s3_clock_comes_from_the_date_header(monkeypatch):
    backend = S3Backend(store=None, bucket=BUCKET, key=KEY)
    monkeypatch.setattr(_lock, "_now", lambda: 1000.0)
    # A controller whose clock is 2 hours behind the server still sees the server's time.
    when = backend._server_time({"ResponseMetadata": {"HTTPHeaders": {"date": "Sun, 22 Nov 2026 10:00:00 GMT"}}})
    assert when == datetime.datetime(2026, 11, 22, 10, tzinfo=datetime.UTC).timestamp()
    assert backend.now() == when
    assert backend._server_time({"ResponseMetadata": {"HTTPHeaders": {"date": "garbage"}}}) is None
    assert backend._server_time({}) is None


def test_s3_expiry_against_last_modified_and_date(s3):
    """A holder whose clock runs an hour fast wrote an 'expires' far ahead; the server's clocks decide."""
    data = json.dumps(record(ttl=30, expires="2099-01-01T00:00:00Z")).encode()
    s3.client.put_object(Bucket=BUCKET, Key=KEY, Body=data)
    modified = s3.client.head_object(Bucket=BUCKET, Key=KEY)["LastModified"]

    def date(seconds):
        value = (modified + datetime.timedelta(seconds=seconds)).strftime("%a, %d %b %Y %H:%M:%S GMT")

        def hook(http_response, parsed, **kwargs):
            parsed.setdefault("ResponseMetadata", {}).setdefault("HTTPHeaders", {})["date"] = value
        return hook

    backend = S3Backend(s3, BUCKET, KEY)
    hook = date(29)
    s3.client.meta.events.register("after-call.s3.GetObject", hook)
    assert not backend.read().expired
    s3.client.meta.events.unregister("after-call.s3.GetObject", hook)
    hook = date(30)
    s3.client.meta.events.register("after-call.s3.GetObject", hook)
    snap = backend.read()
    s3.client.meta.events.unregister("after-call.s3.GetObject", hook)
    assert snap.expired and snap.expires_at == modified.timestamp() + 30


# ---------------------------------------------------------------- S3: the lease life cycle


def test_acquire_creates_generation_1(s3):
    result = call(s3)
    assert result["changed"] and result["acquired"] and not result["renewed"] and not result["forced"]
    assert result["generation"] == 1
    assert result["lock_id"] == "s3://locks/%s#1" % KEY
    lease = result["lease"]
    assert lease["backend"] == "s3" and lease["bucket"] == BUCKET and lease["key"] == KEY
    assert lease["etag"] == s3.client.head_object(Bucket=BUCKET, Key=KEY)["ETag"]
    assert len(lease["token"]) == 32 and lease["generation"] == 1 and lease["check_mode"] is False
    body = stored(s3)
    assert body["token"] == lease["token"] and body["status"] == "held" and body["schema"] == 1
    assert {k: body[k] for k in ("user", "owner", "run_id", "reason", "ttl")} == dict(
        user="alice", owner="alice@ctl1 pid 1", run_id="r-1", reason="deploy 1.2.0", ttl=60)
    assert "token" not in result["holder"] and result["previous"] is None and result["warnings"] == []


def test_lock_held_is_a_clear_error(s3):
    first = call(s3)
    with pytest.raises(LockHeld) as exc:
        call(s3, user="bob", owner="bob@ctl2 pid 2", run_id="r-2")
    message = str(exc.value)
    assert message.startswith("release lock projectx/online is held by alice (owner alice@ctl1 pid 1, run r-1) since ")
    # The expiry everybody else reads: the object's LastModified plus the ttl (the holder's own lease counts from the
    # write's Date header, which can be a second later on a busy machine).
    assert "reason: deploy 1.2.0; it expires at %s (in " % call(s3, state="query")["expires"] in message
    assert "Wait for it (option wait, in seconds) or break it with force=true." in message
    assert message.endswith("[s3://locks/%s, generation 1]" % KEY)
    assert first["lease"]["token"] not in message
    assert exc.value.result["holder"]["user"] == "alice" and exc.value.result["acquired"] is False
    assert stored(s3)["token"] == first["lease"]["token"]


def test_wait_polls_until_the_deadline(s3, monkeypatch):
    call(s3)
    ticks = iter(range(100))
    monkeypatch.setattr(_lock, "_monotonic", lambda: float(next(ticks)))
    reads = []
    real_read = S3Backend.read
    monkeypatch.setattr(S3Backend, "read", lambda self: reads.append(1) or real_read(self))
    with pytest.raises(LockHeld) as exc:
        call(s3, user="bob", wait=5, poll_interval=1)
    assert "(waited " in str(exc.value)
    assert len(reads) >= 3


def test_wait_succeeds_when_the_holder_releases(s3, monkeypatch):
    first = call(s3)
    released = []

    def sleep(seconds):
        if not released:
            released.append(call(s3, state="released", lease=first["lease"]))
    monkeypatch.setattr(_lock, "_sleep", sleep)
    result = call(s3, user="bob", wait=30)
    assert result["acquired"] and result["generation"] == 2 and result["previous"]["released"] is True


def test_renew_keeps_generation_and_token(s3, clock):
    first = call(s3)
    clock.shift = 30
    renewed = call(s3, lease=first["lease"], ttl=120)
    assert renewed["changed"] and renewed["renewed"] and renewed["generation"] == 1
    assert renewed["lease"]["token"] == first["lease"]["token"]
    assert renewed["lease"]["etag"] != first["lease"]["etag"]
    assert stored(s3)["ttl"] == 120
    # The old ETag is not needed: the record carries our token, the renewal writes over what it read.
    again = call(s3, lease=first["lease"])
    assert again["renewed"] and again["generation"] == 1


def test_renew_of_an_expired_lease_nobody_took(s3, clock):
    first = call(s3)
    clock.shift = 61
    renewed = call(s3, lease=first["lease"])
    assert renewed["renewed"] and renewed["generation"] == 1
    assert renewed["warnings"][0].startswith("the lease on release lock projectx/online had expired at ")


def test_release_then_acquire_increments_generation(s3):
    first = call(s3)
    released = call(s3, state="released", lease=first["lease"])
    assert released["changed"] and released["released"] and released["lock_id"] == first["lock_id"]
    body = stored(s3)
    assert body["status"] == "released" and body["generation"] == 1 and body["released_by"]["user"] == "alice"
    # Idempotent: releasing again changes nothing.
    again = call(s3, state="released", lease=first["lease"])
    assert not again["changed"] and again["released"]
    nxt = call(s3, user="bob")
    assert nxt["generation"] == 2
    assert nxt["previous"]["released"] is True and nxt["previous"]["expired"] is False
    assert not nxt["forced"] and nxt["warnings"] == []
    # Never deleted: the object is still there, at generation 2.
    assert stored(s3)["generation"] == 2


def test_expired_lock_is_taken_over_not_before(s3, clock):
    call(s3)
    clock.shift = 59
    with pytest.raises(LockHeld):
        call(s3, user="bob")
    clock.shift = 61
    result = call(s3, user="bob")
    assert result["generation"] == 2 and result["previous"]["expired"] is True
    assert result["previous"]["user"] == "alice"
    assert result["warnings"][0].startswith("took over release lock projectx/online from alice (owner alice@ctl1 pid 1, run r-1)")


def test_force_breaks_a_held_lock(s3):
    first = call(s3)
    result = call(s3, user="bob", owner="bob@ctl2 pid 2", force=True, reason="INC-1")
    assert result["forced"] and result["generation"] == 2
    assert result["previous"]["forced"] is True and result["previous"]["user"] == "alice"
    assert "token" not in result["previous"]
    assert result["warnings"] == [
        "force=true broke release lock projectx/online held by alice (owner alice@ctl1 pid 1, run r-1) since %s, "
        "reason: deploy 1.2.0; it would have expired at %s. This run now holds generation 2."
        % (first["holder"]["since"], first["expires"])]
    assert stored(s3)["forced_from"]["user"] == "alice"
    # The broken holder has lost the lock: renew and release fail and leave bob's lease alone.
    for state, verb in (("acquired", "renew"), ("released", "release")):
        with pytest.raises(LockLost) as exc:
            call(s3, state=state, lease=first["lease"])
        assert str(exc.value) == (
            "cannot %s release lock projectx/online: lost the lock (your lease, generation 1): now held by bob "
            "(owner bob@ctl2 pid 2, run r-1) since %s (generation 2, broken with force). Their lease is left untouched."
            % (verb, result["holder"]["since"]))
    assert stored(s3)["token"] == result["lease"]["token"] and stored(s3)["status"] == "held"


def test_lost_after_expiry_takeover(s3, clock):
    first = call(s3)
    clock.shift = 61
    call(s3, user="bob")
    with pytest.raises(LockLost) as exc:
        call(s3, lease=first["lease"])
    assert "taken over after your lease expired or was released" in str(exc.value)


def test_force_release_without_a_lease(s3):
    call(s3)
    with pytest.raises(LockError) as exc:
        call(s3, state="released")
    assert "needs the lease that acquiring it returned" in str(exc.value)
    result = call(s3, state="released", force=True, user="ops")
    assert result["changed"] and result["forced"] and result["previous"]["user"] == "alice"
    assert result["warnings"][0].startswith("force=true released release lock projectx/online held by alice")
    assert stored(s3)["released_by"] == dict(user="ops", owner="alice@ctl1 pid 1", run_id="r-1", forced=True)


def test_lease_of_another_lock_is_refused(s3):
    first = call(s3)
    with pytest.raises(LockError) as exc:
        call(s3, environment="beta", lease=first["lease"], state="released")
    assert "not for projectx/beta" in str(exc.value)


def test_query(s3):
    assert call(s3, state="query")["holder"] is None
    first = call(s3)
    q = call(s3, state="query", lease=first["lease"])
    assert q["held"] and q["acquired"] and not q["changed"] and q["lock_id"] is None and q["generation"] == 1
    assert q["holder"]["user"] == "alice" and "token" not in q["holder"]


def test_check_mode_writes_nothing(s3):
    result = call(s3, check_mode=True)
    assert result["changed"] and result["acquired"] and result["generation"] == 1 and result["lease"]["check_mode"]
    with pytest.raises(botocore.exceptions.ClientError):
        stored(s3)
    # A check-mode lease renews and releases in check mode, and is refused otherwise.
    assert call(s3, check_mode=True, lease=result["lease"])["renewed"]
    assert call(s3, check_mode=True, state="released", lease=result["lease"])["changed"]
    with pytest.raises(LockError) as exc:
        call(s3, state="released", lease=result["lease"])
    assert "comes from a check-mode run" in str(exc.value)
    real = call(s3)
    predicted = call(s3, check_mode=True, state="released", lease=real["lease"])
    assert predicted["changed"] and stored(s3)["status"] == "held"
    with pytest.raises(LockHeld):
        call(s3, check_mode=True, user="bob")
    forced = call(s3, check_mode=True, user="bob", force=True)
    assert forced["forced"] and forced["generation"] == 2 and stored(s3)["generation"] == 1


def test_corrupt_object_in_s3_is_reported(s3):
    s3.client.put_object(Bucket=BUCKET, Key=KEY, Body=b"<html>")
    with pytest.raises(LockRecordError) as exc:
        call(s3, force=True)
    assert str(exc.value).startswith("s3://locks/%s is not a fleetops.release lock record (not JSON" % KEY)


def test_missing_bucket_names_it(s3):
    with pytest.raises(S3Error) as exc:
        call(s3, bucket="no-such-bucket")
    assert "s3://no-such-bucket/.fleetops/locks/projectx/online.json" in str(exc.value)
    assert "NoSuchBucket" in str(exc.value)


def test_unreachable_endpoint_names_the_bucket():
    store = S3Store(dict(S3_OPTIONS, endpoint_url="http://127.0.0.1:9", connect_timeout=0.5))
    with pytest.raises(S3Error) as exc:
        call(store)
    assert str(exc.value) == "s3://locks/%s: cannot reach the S3 endpoint http://127.0.0.1:9 (after 0 retries)" % KEY


def test_prefix_is_normalised(s3):
    result = call(s3, prefix="/team/locks")
    assert result["lease"]["key"] == "team/locks/projectx/online.json"


def test_catalog_ignores_the_lock_prefix(s3):
    call(s3)
    s3.client.put_object(Bucket=BUCKET, Key="ModuleX/1.0.0/ModuleX.tar.gz", Body=b"x")
    assert module_names(s3, BUCKET) == ["ModuleX"]


# ---------------------------------------------------------------- S3: answers moto never gives


def response(status, code, message=""):
    body = ("<Error><Code>%s</Code><Message>%s</Message></Error>" % (code, message)).encode()
    return AWSResponse("http://127.0.0.1/", status, {}, None), {
        "Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, body


def scripted(store, answers):
    """Answer the next PutObject calls from ``answers`` (callables taking the call's API parameters).

    ``before-call`` answers instead of the server when its handler returns a response; the API parameters
    come from ``before-parameter-build``, which sees them as the caller gave them.
    """
    queue = list(answers)
    calls = []

    def capture(params, **kwargs):
        calls.append(dict(params))

    def hook(**kwargs):
        if queue:
            return queue.pop(0)(calls[-1])
        return None
    store.client.meta.events.register("before-parameter-build.s3.PutObject", capture)
    store.client.meta.events.register_first("before-call.s3.PutObject", hook)
    return calls


def refuse(status, code):
    def answer(params):
        http, parsed, _body = response(status, code)
        return http, parsed
    return answer


def commit_then(store, fail):
    """Perform the write for real on the server (another client), then lose its answer."""
    other = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")

    def answer(params):
        other.put_object(**params)
        return fail(params)
    return answer


def test_409_conflict_then_success(s3):
    calls = scripted(s3, [refuse(409, "ConditionalRequestConflict"), refuse(409, "ConditionalRequestConflict")])
    result = call(s3)
    assert result["acquired"] and result["generation"] == 1
    assert len(calls) == 3 and stored(s3)["token"] == result["lease"]["token"]


def test_409_forever_is_bounded(s3):
    calls = scripted(s3, [refuse(409, "ConditionalRequestConflict")] * 20)
    with pytest.raises(LockError) as exc:
        call(s3)
    assert "409 ConditionalRequestConflict 6 times in a row" in str(exc.value) and "s3://locks/" in str(exc.value)
    assert len(calls) == _lock.MAX_CONFLICTS + 1


def read_timeout(params):
    raise botocore.exceptions.ReadTimeoutError(endpoint_url="http://127.0.0.1/locks")


def test_committed_write_whose_answer_timed_out_is_ours(s3):
    calls = scripted(s3, [commit_then(s3, read_timeout)])
    result = call(s3)
    assert result["acquired"] and result["generation"] == 1 and result["warnings"] == []
    assert len(calls) == 1  # no second write: the read showed our token
    assert result["lease"]["etag"] == s3.client.head_object(Bucket=BUCKET, Key=KEY)["ETag"]


def test_412_on_the_retry_of_our_own_committed_write_is_ours(s3):
    # botocore's retry of a write whose first answer was lost meets our own object: 412.
    calls = scripted(s3, [commit_then(s3, refuse(412, "PreconditionFailed"))])
    result = call(s3)
    assert result["acquired"] and result["generation"] == 1
    assert len(calls) == 1


def test_takeover_whose_answer_timed_out_is_ours(s3, clock):
    call(s3)
    clock.shift = 61
    scripted(s3, [commit_then(s3, read_timeout)])
    result = call(s3, user="bob")
    assert result["acquired"] and result["generation"] == 2 and result["previous"]["expired"]


def test_release_whose_answer_timed_out(s3):
    first = call(s3)
    scripted(s3, [commit_then(s3, read_timeout)])
    result = call(s3, state="released", lease=first["lease"])
    assert result["changed"] and result["released"] and stored(s3)["status"] == "released"


def test_timeouts_forever_are_bounded(s3):
    calls = scripted(s3, [read_timeout] * 20)
    with pytest.raises(LockError) as exc:
        call(s3)
    assert "gave up after %d conditional writes" % _lock.MAX_WRITES in str(exc.value)
    assert len(calls) == _lock.MAX_WRITES


def test_someone_else_wins_between_read_and_write(s3):
    """Our create meets another controller's object (412): read again, and it is held by them."""
    other = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")

    def they_win(params):
        other.put_object(Bucket=BUCKET, Key=KEY, Body=json.dumps(record(generation=1)).encode())
        http, parsed, _body = response(412, "PreconditionFailed")
        return http, parsed
    scripted(s3, [they_win])
    with pytest.raises(LockHeld) as exc:
        call(s3)
    assert "held by bob (owner bob@ctl2 pid 9, run r-0)" in str(exc.value)


def test_other_errors_are_not_retried(s3):
    calls = scripted(s3, [refuse(403, "AccessDenied")])
    with pytest.raises(S3Error) as exc:
        call(s3)
    assert str(exc.value).startswith("s3://locks/%s: S3 answered 403 AccessDenied" % KEY)
    assert len(calls) == 1


# ---------------------------------------------------------------- file backend


def fparams(tmp_path, **kwargs):
    return params(bucket=None, path=str(tmp_path / "locks"), **kwargs)


def test_file_backend_life_cycle(tmp_path, clock):
    first = run(fparams(tmp_path), False)
    path = str(tmp_path / "locks" / "projectx" / "online.json")
    assert first["lock_id"] == "file://%s#1" % path
    assert first["lease"]["backend"] == "file" and first["lease"]["path"] == path
    with open(path, "rb") as handle:
        data = handle.read()
    assert first["lease"]["etag"] == hashlib.sha256(data).hexdigest()
    assert sorted(os.listdir(tmp_path / "locks" / "projectx")) == ["online.json", "online.json.lock"]
    with pytest.raises(LockHeld) as exc:
        run(fparams(tmp_path, user="bob"), False)
    assert "[%s, generation 1]" % path in str(exc.value)
    renewed = run(fparams(tmp_path, lease=first["lease"]), False)
    assert renewed["renewed"] and renewed["generation"] == 1
    released = run(fparams(tmp_path, lease=renewed["lease"], state="released"), False)
    assert released["changed"]
    assert not run(fparams(tmp_path, lease=renewed["lease"], state="released"), False)["changed"]
    second = run(fparams(tmp_path, user="bob"), False)
    assert second["generation"] == 2 and second["previous"]["released"]
    clock.shift = 61
    third = run(fparams(tmp_path, user="carol"), False)
    assert third["generation"] == 3 and third["previous"]["expired"]
    clock.shift = 0  # the files' mtimes are on the real clock
    forced = run(fparams(tmp_path, user="dave", force=True), False)
    assert forced["generation"] == 4 and forced["forced"]
    with pytest.raises(LockLost):
        run(fparams(tmp_path, user="carol", lease=third["lease"], state="released"), False)
    check = run(fparams(tmp_path, user="erin", force=True), True)
    assert check["generation"] == 5
    assert run(fparams(tmp_path, state="query"), False)["generation"] == 4


def test_file_corrupt_record(tmp_path):
    folder = tmp_path / "locks" / "projectx"
    folder.mkdir(parents=True)
    (folder / "online.json").write_text("{}")
    with pytest.raises(LockRecordError) as exc:
        run(fparams(tmp_path), False)
    assert str(exc.value).startswith("%s is not a fleetops.release lock record (schema None" % (folder / "online.json"))


def test_file_write_refuses_a_changed_file(tmp_path):
    backend = FileBackend(str(tmp_path), "p", "e")
    etag, _when = backend.write(b'{"a": 1}', None)
    with pytest.raises(_lock._Refused):
        backend.write(b'{"a": 2}', None)
    with pytest.raises(_lock._Refused):
        backend.write(b'{"a": 2}', "0" * 64)
    backend.write(b'{"a": 2}', etag)
    assert [n for n in os.listdir(tmp_path / "p") if n.endswith(".tmp")] == []


def _contender(args):
    root, index, start = args
    start.wait()
    try:
        result = run(params(bucket=None, path=root, user="u%d" % index, owner="o%d" % index), False)
        return "acquired", result["generation"]
    except LockHeld as exc:
        return "held", str(exc)


def test_file_backend_concurrent_processes_exactly_one_wins(tmp_path):
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        start = manager.Event()
        with ctx.Pool(8) as pool:
            pending = pool.map_async(_contender, [(str(tmp_path), i, start) for i in range(8)])
            start.set()
            outcomes = pending.get(timeout=60)
    winners = [o for o in outcomes if o[0] == "acquired"]
    assert len(winners) == 1 and winners[0][1] == 1
    assert all(o[1].startswith("release lock projectx/online is held by u") for o in outcomes if o[0] == "held")


def test_out_of_rotation_is_kept_for_the_next_holder(s3, clock):
    first = call(s3)
    assert stored(s3)["out_of_rotation"] == {}
    noted = call(s3, lease=first["lease"], out_of_rotation={"web02": [1, 0, 1], "web03": []})
    assert stored(s3)["out_of_rotation"] == {"web02": [0, 1]}
    # A plain renew (no out_of_rotation) keeps the note.
    call(s3, lease=noted["lease"])
    assert stored(s3)["out_of_rotation"] == {"web02": [0, 1]}
    # The run dies; whoever takes over after the expiry finds the note (and keeps it until it says otherwise).
    clock.shift = 61
    nxt = call(s3, user="bob")
    assert nxt["previous"]["out_of_rotation"] == {"web02": [0, 1]} and nxt["previous"]["expired"]
    assert stored(s3)["out_of_rotation"] == {"web02": [0, 1]}
    with pytest.raises(LockError, match=r"out_of_rotation\[web02\] must be a list of membership indexes"):
        call(s3, user="bob", lease=nxt["lease"], out_of_rotation={"web02": ["first"]})


def test_a_lease_released_with_force_is_lost_not_quietly_taken_again(s3):
    first = call(s3)
    call(s3, user="carol", state="released", force=True)
    for state, verb in (("acquired", "renew"), ("released", "release")):
        with pytest.raises(LockLost, match="cannot %s release lock projectx/online: lost the lock" % verb):
            call(s3, state=state, lease=first["lease"])
    assert stored(s3)["status"] == "released" and stored(s3)["generation"] == 1


def test_takeover_keeps_what_the_dead_run_left_out_of_rotation(s3, clock):
    first = call(s3)
    call(s3, lease=first["lease"], out_of_rotation={"web02": [0]})
    clock.shift = 61
    nxt = call(s3, user="bob")
    assert stored(s3)["out_of_rotation"] == {"web02": [0]} and nxt["previous"]["out_of_rotation"] == {"web02": [0]}
    # Once bob's run has put them back it says what is still out.
    call(s3, user="bob", lease=nxt["lease"], out_of_rotation={})
    assert stored(s3)["out_of_rotation"] == {}
