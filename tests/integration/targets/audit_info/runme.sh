#!/usr/bin/env bash
# audit_info and the fleetops.release.report playbook over audit records in JSON Lines files and in S3 (moto):
# exact report numbers, filters, day boundaries, malformed lines, unknown schemas, duplicates, a listing of more
# than one page, errors (missing directory, missing or refused bucket), and no secret in the output.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_NOCOLOR=1
w=$FLEETOPS_S3_WORK
audit=$w/audit
fail() { echo "FAIL: $*" >&2; exit 1; }

"$FLEETOPS_TEST_PYTHON" files/fixtures.py "$audit" audit
vars=(-e "endpoint=$S3_ENDPOINT" -e "moto_endpoint=$MOTO_ENDPOINT" -e "audit_dir=$audit")
ansible-playbook -i localhost, -c local audit.yml "${vars[@]}" "$@"

# --- The report playbook: tables from the directory and the bucket, keys given as options never printed.
secret=audit-report-secret-$RANDOM$RANDOM
s3json="{\"fleetops_s3\": {\"endpoint_url\": \"$S3_ENDPOINT\", \"access_key\": \"fleetops-test-key\", \"secret_key\": \"$secret\", \"retries\": 0}}"
rc=0
ansible-playbook fleetops.release.report -i localhost, -c local -e "fleetops_audit_dir=$audit" -e fleetops_audit_bucket=audit \
    -e "$s3json" -v > "$w/report.log" 2>&1 || rc=$?
[ "$rc" = 0 ] || { cat "$w/report.log"; fail "report: exit code $rc, expected 0"; }
expect() { grep -Eq -- "$1" "$w/report.log" || { cat "$w/report.log"; fail "report: no line matching: $1"; }; }
expect '"project +environment +releases +success +failed +partial +aborted +success% +last good +last release"'
expect '"projectx +beta_console +1 +1 +0 +0 +0 +100\.0% +1\.1\.0 +1\.1\.0 success 2026-11-20T23:59:59Z by carol \(r-0003\)"'
expect '"projectx +online +5 +2 +1 +1 +1 +40\.0% +1\.1\.0 +1\.2\.0 partial 2026-11-22T09:00:00Z by erin \(r-0008\)"'
expect '"projecty +online +1 +1 +0 +0 +0 +100\.0% +2\.0\.0 +2\.0\.0 success 2026-11-22T10:00:00Z by frank \(r-0009\)"'
expect "\"7 record\\(s\\); 3 skipped, the first at $audit/2026-11-20.jsonl:3: not JSON: Unterminated string starting at\""
expect '"2026-11-22T10:00:00Z +projecty +online +release +success +1\.0\.0 -> 2\.0\.0 +frank +r-0009"'
expect '\[WARNING\]: skipped 3 audit record\(s\)'
if grep -q -- "$secret" "$w/report.log"; then fail "the secret key appears in the report output"; fi

# Filters through the playbook's variables; check mode gives the same report.
ansible-playbook fleetops.release.report -i localhost, -c local --check -e "fleetops_audit_dir=$audit" -e fleetops_project=projectx \
    -e fleetops_environment=sdk_beta > "$w/empty.log" 2>&1 || { cat "$w/empty.log"; fail "report with no matching runs failed"; }
grep -Eq '"projectx +sdk_beta +0 +0 +0 +0 +0 +- +- +-"' "$w/empty.log" || { cat "$w/empty.log"; fail "empty environment line"; }
grep -q '"no matching runs"' "$w/empty.log" || { cat "$w/empty.log"; fail "no 'no matching runs'"; }

# Without a source the playbook stops at its check; a missing directory fails naming it.
rc=0
ansible-playbook fleetops.release.report -i localhost, -c local > "$w/nosource.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$w/nosource.log"; fail "report without a source: exit code $rc, expected 2"; }
grep -q 'set fleetops_audit_dir (the audit directory) or fleetops_audit_bucket (the audit bucket), or both' "$w/nosource.log" \
    || { cat "$w/nosource.log"; fail "report without a source: message"; }
rc=0
ansible-playbook fleetops.release.report -i localhost, -c local -e "fleetops_audit_dir=$w/missing" > "$w/missing.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$w/missing.log"; fail "report on a missing directory: exit code $rc, expected 2"; }
grep -q "\"msg\": \"audit directory $w/missing does not exist\"" "$w/missing.log" || { cat "$w/missing.log"; fail "missing directory message"; }
echo "audit_info: all checks passed"
