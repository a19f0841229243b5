#!/usr/bin/env bash
# Secrets never reach any output: canary credentials and the presigned URLs signed with them
# are searched for, plain and URL-encoded, in everything a run leaves behind at -vvvv:
# stdout, stderr, the Ansible log file, junit reports, and the task results.
set -euo pipefail
export AWS_ACCESS_KEY_ID=AKIAFLEETOPSCANARY01
export AWS_SECRET_ACCESS_KEY='canary/Secret+Value=fleetops01'
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
examples=$FLEETOPS_EXAMPLES
w=$FLEETOPS_S3_WORK
out=$w/outputs
mkdir -p "$out/junit"

$S3CTL mb releases
ansible-playbook -i localhost, -c local ../setup_s3/publish_fixtures.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" \
    -e "examples=$examples" > "$out/publish.out" 2>&1

export ANSIBLE_LOG_PATH=$out/ansible.log
export ANSIBLE_CALLBACKS_ENABLED=ansible.builtin.junit
export JUNIT_OUTPUT_DIR=$out/junit
export JUNIT_HIDE_TASK_ARGUMENTS=false
for mode in run check; do
    extra=()
    [ "$mode" = check ] && extra=(--check --diff)
    ansible-playbook -vvvv -i localhost, -c local canary.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" \
        "${extra[@]}" \
        > "$out/$mode.out" 2> "$out/$mode.err"
done

# The canaries: the key, the secret, both URL-encoded, and any piece of a signed URL.
"$FLEETOPS_TEST_PYTHON" - "$out" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" <<'PY'
import os, sys, urllib.parse
root, key, secret = sys.argv[1:4]
needles = {key, secret, urllib.parse.quote(secret, safe=""), urllib.parse.quote_plus(secret),
           urllib.parse.quote(key + "/", safe=""), "X-Amz-Signature", "X-Amz-Credential", "Signature="}
found = []
files = 0
for base, _dirs, names in os.walk(root):
    for name in names:
        files += 1
        data = open(os.path.join(base, name), "rb").read().decode("utf-8", "replace")
        found += ["%s: %r" % (os.path.join(base, name), n) for n in needles if n in data]
assert files >= 6, "expected the outputs of both runs, found %d files" % files
if found:
    sys.exit("secrets leaked:\n" + "\n".join(sorted(found)))
print("no secret in %d output files" % files)
PY
# The runs must have used the canaries for real (a run that did nothing proves nothing).
grep -q "ok=12 " "$out/run.out" || { echo "the canary run did not complete as expected" >&2; tail -30 "$out/run.out" >&2; exit 1; }
grep -q '"downloaded": true' "$out/run.out"
