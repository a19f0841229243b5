#!/usr/bin/env bash
# The deploy playbook over real SSH: three hosts in network namespaces plus one unreachable.
# Install, idempotent rerun (no downloads), upgrade, a failing deploy.sh on the second host
# (the third is not started), and an unreachable host in the rollout.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
# shellcheck source=../setup_hosts/hosts.sh
source ../setup_hosts/hosts.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
w=$FLEETOPS_S3_WORK
fleetops_hosts_up 3 1 || exit 0

$S3CTL mb releases
ansible-playbook -i localhost, -c local ../setup_s3/publish_fixtures.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" \
    -e "examples=$FLEETOPS_EXAMPLES" > "$w/publish.log"
ansible-playbook -i localhost, -c local ../setup_s3/publish_faulty.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" >> "$w/publish.log"

inv=(-i "$HOSTS_INVENTORY")
release() {  # release LOG EXTRA_VARS_JSON
    local log=$1 json=$2 rc=0
    ansible-playbook "${inv[@]}" fleetops.release.deploy -e "$json" \
        -e "{\"fleetops_s3\": {\"endpoint_url\": \"$NODE_S3_ENDPOINT\"}, \"fleetops_bucket\": \"releases\"}" > "$w/$log" 2>&1 || rc=$?
    echo "$rc"
}
expect() {  # expect LOG PATTERN...
    local log=$1
    shift
    for pattern in "$@"; do
        grep -Eq -- "$pattern" "$w/$log" || { echo "FAIL: '$pattern' not in $log" >&2; tail -60 "$w/$log" >&2; exit 1; }
    done
}
state() { sed -n "s/^$2: *//p" "$HOSTS_DIR/hosts/$1/var/lib/fleetops/${3:-}images.yaml" | tr -d '"'; }
gets() { S3_ENDPOINT=$NODE_S3_ENDPOINT $S3CTL gets "$1"; }

# 1. install DIST 1.0.0 on the three reachable hosts (localhost is only the controller)
rc=$(release install.log '{"fleetops_hosts": "fleet:!unreachable", "fleetops_dist": "DemoProject.dist", "fleetops_version": "1.0.0"}')
[ "$rc" = 0 ] || { echo "install failed ($rc)"; tail -60 "$w/install.log"; exit 1; }
expect install.log 'h01 +installed +1.0.0' 'h02 +installed +1.0.0' 'h03 +installed +1.0.0' 'counts: installed=3'
for h in h01 h02 h03; do [ "$(state $h status)" = active ] && [ "$(state $h '  version')" = 1.0.0 ]; done
first=$(gets /releases/LibGreet/1.0.0/LibGreet.tar.gz)
[ "$first" = 3 ] || { echo "expected one download per host, got $first"; exit 1; }

# 2. the same release again: nothing runs, nothing is downloaded
rc=$(release rerun.log '{"fleetops_hosts": "fleet:!unreachable", "fleetops_dist": "DemoProject.dist", "fleetops_version": "1.0.0"}')
[ "$rc" = 0 ]
expect rerun.log 'h01 +skipped .*up to date' 'counts: skipped=3'
[ "$(gets /releases/LibGreet/1.0.0/LibGreet.tar.gz)" = 3 ] || { echo "the rerun downloaded again"; exit 1; }

# 3. upgrade to 1.1.0 from 1.0.0
rc=$(release upgrade.log '{"fleetops_hosts": "fleet:!unreachable", "fleetops_dist": "DemoProject.dist", "fleetops_version": "1.1.0", "fleetops_upgradable": ["1.0.0"], "fleetops_restart": true}')
[ "$rc" = 0 ] || { echo "upgrade failed ($rc)"; tail -60 "$w/upgrade.log"; exit 1; }
expect upgrade.log 'h01 +upgraded +1.1.0' 'h03 +upgraded +1.1.0' 'counts: upgraded=3'
[ "$(state h02 '  version')" = 1.1.0 ]

# 4. deploy.sh fails on h02: h02 is failure with the error and its log, h03 is not started
mkdir -p "$HOSTS_DIR/hosts/h02/var/lib/fleetops/fd"
touch "$HOSTS_DIR/hosts/h02/var/lib/fleetops/fd/fail-deploy"
paths='"fleetops_node_paths": {"state_file": "/var/lib/fleetops/fd/images.yaml", "modules_dir": "/var/lib/fleetops/fd/modules"}'
# This run also goes through the recap_alert and audit callbacks, to a real webhook server on loopback.
hook_port=$(free_port)
"$FLEETOPS_TEST_PYTHON" ../setup_webhook/files/webhook.py serve "$hook_port" "$w/hook" > /dev/null 2>&1 &
hook_pid=$!
wait_port "$hook_port"
export ANSIBLE_CALLBACKS_ENABLED=fleetops.release.recap_alert,fleetops.release.audit FLEETOPS_ALERT_SPOOL_DIR=$w/spool \
    FLEETOPS_AUDIT_DIR=$w/audit FLEETOPS_SLACK_WEBHOOK_URL=http://127.0.0.1:$hook_port/services/deploy-ssh
rc=$(release fail.log "{\"fleetops_hosts\": \"fleet:!unreachable\", \"fleetops_dist\": \"FaultDist\", \"fleetops_version\": \"1.0.0\", \"fleetops_serial\": 1, $paths}")
[ "$rc" = 2 ] || { echo "expected exit 2 from a failed release, got $rc"; tail -40 "$w/fail.log"; exit 1; }
expect fail.log 'h01 +installed +1.0.0' \
    'h02 +failed +1.0.0 +Faulty 1.0.0: deploy.sh exited with 3 \(log: /var/lib/fleetops/logs/' \
    'h03 +not started +- +the rollout was stopped by failures before this host' \
    'release failed on h02; the rollout was stopped before the remaining hosts'
[ "$(state h02 status fd/)" = failure ]
grep -q "deploy.sh exited with 3" "$HOSTS_DIR/hosts/h02/var/lib/fleetops/fd/images.yaml"
[ ! -e "$HOSTS_DIR/hosts/h03/var/lib/fleetops/fd/images.yaml" ] || { echo "h03 was touched"; exit 1; }
ls "$HOSTS_DIR"/hosts/h02/var/lib/fleetops/logs/*/02-Faulty-1.0.0-deploy.log > /dev/null
unset ANSIBLE_CALLBACKS_ENABLED FLEETOPS_SLACK_WEBHOOK_URL
kill "$hook_pid"
# The alert and the audit record of that release: real dist_deploy results over SSH.
"$FLEETOPS_TEST_PYTHON" - "$w" <<'PY'
import glob, json, sys
w = sys.argv[1]
sent = [json.loads(line) for line in open(w + "/hook/requests.jsonl")]
assert len(sent) == 1, "one message, got %d" % len(sent)
message = json.loads(sent[0]["body"])
text = "\n".join(b.get("text", {}).get("text", "") for b in message["blocks"] if b["type"] == "section")
assert message["blocks"][0]["text"]["text"] == "fleet:!unreachable 1.0.0: partial", message["blocks"][0]
assert "`h02`" in text and "Ansible: *failed*  node: *failure*" in text and "deploy.sh exited with 3" in text, text
assert "`h03`  -  Ansible: *not attempted*" in text and "`h01`" not in text, text
records = [json.loads(line) for f in glob.glob(w + "/audit/*.jsonl") for line in open(f)]
assert len(records) == 1, records
r = records[0]
assert (r["kind"], r["result"], r["version_to"], r["dist"]) == ("release", "partial", "1.0.0", "FaultDist"), r
assert r["hosts"] == {"ok": 1, "failed": 1, "unreachable": 0, "rescued": 0, "not_attempted": 1}, r["hosts"]
assert r["node_health"] == {"active": 1, "failure": 1}, r["node_health"]
print("deploy over SSH: one alert (h02 failed/failure, h03 not attempted), audit record partial")
PY

# 5. an unreachable host in the rollout is reported, the others are unaffected
rc=$(release unreachable.log '{"fleetops_hosts": "fleet", "fleetops_dist": "DemoProject.dist", "fleetops_version": "1.1.0", "fleetops_serial": 4, "fleetops_upgradable": ["1.0.0"]}')
[ "$rc" = 2 ]
expect unreachable.log 'u01 +unreachable' 'h01 +skipped' 'release failed on u01'

# 6. unknown DIST version, and an upgradable set that matches nothing: clear errors, no host touched
rc=$(release unknown.log '{"fleetops_hosts": "fleet:!unreachable", "fleetops_dist": "DemoProject.dist", "fleetops_version": "9.9.9"}')
[ "$rc" != 0 ]
expect unknown.log "module 'DemoProject.dist' has no version '9.9.9' in the bucket \\(it has 1.0.0, 1.1.0\\)"
rc=$(release nomatch.log '{"fleetops_hosts": "fleet:!unreachable", "fleetops_dist": "DemoProject.dist", "fleetops_version": "1.1.0", "fleetops_upgradable": ["0.9.0", "7.0"]}')
[ "$rc" != 0 ]
expect nomatch.log "fleetops_upgradable names 0.9.0, 7.0, which are not a release of DemoProject.dist in bucket releases \\(it has 1.1.0, 1.0.0\\)"
if grep -q "Release to the fleet" "$w/unknown.log" "$w/nomatch.log"; then echo "a host was contacted after a bad request"; exit 1; fi
echo "deploy_ssh: all cases passed"
