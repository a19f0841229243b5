#!/usr/bin/env bash
# dist_deploy and node_state on local-connection nodes (each node is a directory): gating,
# check mode, idempotence, upgrade, pruning, and the faults: failing and hanging scripts,
# fetch failures, corrupt state files, stale runs, a full state disk, and SIGKILL mid-run.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
w=$FLEETOPS_S3_WORK
vars=(-e "endpoint=$S3_ENDPOINT" -e "work=$w" -e "examples=$FLEETOPS_EXAMPLES")

$S3CTL mb releases
ansible-playbook -i localhost, -c local ../setup_s3/publish_fixtures.yml "${vars[@]}" > "$w/publish.log"
ansible-playbook -i localhost, -c local ../setup_s3/publish_faulty.yml "${vars[@]}" >> "$w/publish.log"

ansible-playbook -i localhost, -c local faults.yml "${vars[@]}" "$@"

# --- SIGKILL mid-run: the module dies while deploy.sh runs; images.yaml must stay parseable and
#     say building, and the next run must report the node stale instead of touching it.
node=$w/nodes/killed
mkdir -p "$node"
touch "$node/slow"
ansible-playbook -i localhost, -c local one.yml "${vars[@]}" -e "node=$node" -e dist=FaultDist -e version=1.0.0 > "$w/killed.log" 2>&1 &
play=$!
for _ in $(seq 1 1200); do [ -e "$node/started" ] && break; sleep 0.1; done
[ -e "$node/started" ] || { echo "deploy.sh never started"; cat "$w/killed.log"; exit 1; }
pkill -9 -f 'AnsiballZ_dist_deploy' || pkill -9 -f 'ansible_fleetops.release.dist_deploy' || true
pkill -9 -f "sleep 30" || true
wait "$play" || true
grep -q "^status: building" "$node/images.yaml" || { echo "expected building after SIGKILL:"; cat "$node/images.yaml"; exit 1; }
ansible-playbook -i localhost, -c local after_kill.yml "${vars[@]}" -e "node=$node" "$@"

# --- A full state disk (needs root to mount a tmpfs).
if [ "$(id -u)" = 0 ]; then
    full=$w/nodes/full
    mkdir -p "$full/state"
    mount -t tmpfs -o size=64k tmpfs "$full/state"
    trap 'umount "$full/state" 2>/dev/null || true; setup_s3_cleanup' EXIT
    ansible-playbook -i localhost, -c local full_disk.yml "${vars[@]}" -e "node=$full" "$@"
    umount "$full/state"
else
    fleetops_require "root" "mounting a small tmpfs for the full-disk test" || true
fi
