#!/usr/bin/env bash
# release_lock against the loopback S3 (moto) and lock files: a holder killed with SIGKILL is not taken over before
# its lease expires and is after; eight concurrent `ansible` processes race for one S3 lock and eight worker processes
# for one file lock (exactly one wins each time, the others name the holder); the life cycle, force, lost leases,
# check mode and the S3 errors (lock.yml, cases.yml); no secret in the output.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_NOCOLOR=1
w=$FLEETOPS_S3_WORK
locks=$w/locks
fail() { echo "FAIL: $*" >&2; exit 1; }
t0=$(date +%s)
$S3CTL mb locks

# --- A holder dies with SIGKILL while holding its S3 and file locks (ttl 30 s).
ansible-playbook -i localhost, -c local holder.yml -e "endpoint=$S3_ENDPOINT" -e "lock_dir=$locks" -e "marker=$w/held" \
    > "$w/holder.log" 2>&1 &
holder=$!
for _ in $(seq 1 2400); do [ -e "$w/held" ] && break; kill -0 "$holder" 2>/dev/null || break; sleep 0.05; done
[ -e "$w/held" ] || { cat "$w/holder.log"; fail "the holder did not take its locks"; }
kill -KILL "$holder"
wait "$holder" 2>/dev/null || true

# --- Everything else in one playbook; the killed holder's locks are checked first and taken over last.
ansible-playbook -i inventory.ini lock.yml -f 8 -e "endpoint=$S3_ENDPOINT" -e "lock_dir=$locks" "$@"

echo "release_lock: playbooks done after $(( $(date +%s) - t0 )) s"

# --- Eight separate controllers race for one S3 lock; the S3 secret is given as an option and never printed.
secret=lock-secret-$RANDOM$RANDOM
pids=()
for i in 1 2 3 4 5 6 7 8; do
    ansible localhost -i localhost, -c local -m fleetops.release.release_lock \
        -a "project=race environment=online bucket=locks endpoint_url=$S3_ENDPOINT retries=0 user=racer$i run_id=r-$i access_key=fleetops-test-key secret_key=$secret" \
        > "$w/race$i.log" 2>&1 &
    pids+=("$!")
done
won=0; lost=0
for i in 1 2 3 4 5 6 7 8; do
    if wait "${pids[$((i - 1))]}"; then
        won=$((won + 1)); winner=racer$i
        grep -q '"lock_id": "s3://locks/.fleetops/locks/race/online.json#1"' "$w/race$i.log" || { cat "$w/race$i.log"; fail "winner's lock id"; }
    else
        lost=$((lost + 1))
    fi
done
if [ "$won" != 1 ] || [ "$lost" != 7 ]; then cat "$w"/race*.log; fail "S3 race: $won winners and $lost losers, expected 1 and 7"; fi
for i in 1 2 3 4 5 6 7 8; do
    [ "racer$i" = "$winner" ] && continue
    grep -q "\"msg\": \"release lock race/online is held by $winner (owner $winner@" "$w/race$i.log" \
        || { cat "$w/race$i.log"; fail "racer$i: no 'held by $winner' message"; }
done
if grep -q -- "$secret" "$w"/race*.log "$w/holder.log"; then fail "the secret key appears in the output"; fi
echo "release_lock: all checks passed in $(( $(date +%s) - t0 )) s"
