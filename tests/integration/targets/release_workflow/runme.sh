#!/usr/bin/env bash
# The versions, plan and rollback playbooks on local-connection nodes (each node is a directory) against moto:
#   versions: the table and the AWX survey spec;
#   plan: per host install/upgrade/unchanged/skipped with reasons, nothing changes on any node or in S3;
#   rollback: to the last good version from the audit records and to a named one, which scripts run on the way back
#   (recorded by the fixture scripts), every module of the target DIST at its version afterwards (converge; also one the
#   newer release changed outside the target's upgrade_list), a module the target does not list left alone, no download
#   for versions still on the node (in its cache), a download for one it no longer has, refusals.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_NOCOLOR=1
export ANSIBLE_HOST_KEY_CHECKING=false
w=$FLEETOPS_S3_WORK
PY=$FLEETOPS_TEST_PYTHON
started=$SECONDS

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_line() {  # expect_line LOG REGEX
    grep -Eq -- "$2" "$1" || { cat "$1"; fail "no line matching: $2"; }
}
no_line() {  # no_line LOG REGEX
    if grep -Eq -- "$2" "$1"; then cat "$1"; fail "unexpected line matching: $2"; fi
}
run() {  # run LOG PLAYBOOK ARGS...: runs a playbook, echoes its exit code
    local log=$1 playbook=$2 rc=0 t0=$SECONDS
    shift 2
    ansible-playbook "fleetops.release.$playbook" -i "$w/inventory.yml" "${common[@]}" "$@" > "$log" 2>&1 || rc=$?
    echo "$(basename "$log" .log): exit $rc in $((SECONDS - t0)) s" >&2
    echo "$rc"
}
expect_rc() {  # expect_rc WANT GOT LOG
    [ "$1" = "$2" ] || { cat "$3"; fail "$3: exit code $2, expected $1"; }
}
calls() { cat "$w/nodes/$1/calls.log" 2>/dev/null || true; }
state_of() {  # state_of NODE: "status version RbCore=... RbOld=..."
    "$PY" - "$w/nodes/$1/images.yaml" <<'PYEOF'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))
mods = s.get("modules") or {}
print(s["status"], s["image"]["version"], " ".join("%s=%s" % kv for kv in sorted(mods.items())))
PYEOF
}
converged() {  # converged NODE DIST_VERSION LEFT: the node is active on the DIST version with every module the DIST lists
    # (its sub_repo) at the DIST's version, and LEFT ("Module=version ...", modules the DIST does not list) as they were.
    "$PY" - "$w/nodes/$1/images.yaml" "$w/rb/RbDist-$2/repo-info" "$2" "$3" <<'PYEOF' || fail "$1 is not converged on RbDist $2: $(state_of "$1")"
import sys, yaml
state, dist = yaml.safe_load(open(sys.argv[1])), yaml.safe_load(open(sys.argv[2]))
mods, want = state.get("modules") or {}, dict(dist["sub_repo"])
assert (state["status"], state["image"]["version"]) == ("active", sys.argv[3]), state
assert {m: mods.get(m) for m in want} == want, (mods, want)
assert {m: v for m, v in mods.items() if m not in want} == dict(kv.split("=") for kv in sys.argv[4].split()), mods
PYEOF
}

# The fixtures: every module version is files/record.sh as deploy.sh and upgrade.sh, plus etc/release naming it (so that no
# two packages are the same bytes in the nodes' content-addressed caches). RbDist 1.2.0 also moves RbLib to 1.1.0, which
# is in no older upgrade_list: a rollback takes it back all the same (the rollback playbook converges every module).
for mv in RbLib-1.0.0 RbLib-1.1.0 RbCore-1.0.0 RbCore-1.1.0 RbCore-1.2.0 RbCore-developer RbOld-1.0.0; do
    d=$w/rb/$mv
    mkdir -p "$d/etc"
    cp files/record.sh "$d/deploy.sh"
    cp files/record.sh "$d/upgrade.sh"
    echo "${mv%%-*} ${mv#*-}" > "$d/etc/release"
    printf 'rel_branch: %s\nsrc_branch: %s\ndepend_list: none\n' "${mv#*-}" "${mv#*-}" > "$d/repo-info"
done
dist() {  # dist VERSION SUB_REPO UPGRADE_LIST (each "Module: version" lines, indented)
    mkdir -p "$w/rb/RbDist-$1"
    printf 'rel_branch: %s\nsub_repo:\n%s\nupgrade_list:\n%s\n' "$1" "$2" "$3" > "$w/rb/RbDist-$1/repo-info"
}
dist 1.0.0 "  RbLib: 1.0.0
  RbCore: 1.0.0
  RbOld: 1.0.0" "  RbCore: 1.0.0
  RbOld: 1.0.0"
dist 1.1.0 "  RbLib: 1.0.0
  RbCore: 1.1.0" "  RbCore: 1.1.0"
dist 1.2.0 "  RbLib: 1.1.0
  RbCore: 1.2.0" "  RbLib: 1.1.0
  RbCore: 1.2.0"
dist developer "  RbLib: 1.0.0
  RbCore: developer" "  RbCore: developer"
$S3CTL mb releases
t0=$SECONDS
ansible-playbook -i localhost, -c local publish.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" > "$w/publish.log"
echo "publish: $((SECONDS - t0)) s" >&2

mkdir -p "$w/nodes"/{n1,n2,n3,n4,n5} "$w/audit"
printf 'image: {version: 1.0.0}\nstatus: failure\nupdated_at: "2026-11-22T06:00:00Z"\nlast_error: "RbCore 1.0.0: deploy.sh exited with 5"\nmodules: {RbLib: 1.0.0}\n' \
    > "$w/nodes/n4/images.yaml"
closed_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
{
    echo "fleet:"
    echo "  hosts:"
    for n in n1 n2 n3 n4 n5; do
        echo "    $n:"
        echo "      ansible_connection: local"
        echo "      ansible_python_interpreter: $PY"
        echo "      fleetops_node_paths: {state_file: $w/nodes/$n/images.yaml, cache_dir: $w/nodes/$n/cache, modules_dir: $w/nodes/$n/modules, log_dir: $w/nodes/$n/logs}"
    done
    echo "    gone: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: $closed_port, ansible_user: nobody,"
    echo "           ansible_ssh_common_args: '-o ConnectTimeout=5 -o BatchMode=yes', ansible_python_interpreter: $PY}"
} > "$w/inventory.yml"
# n3 keeps one version per module, so a rollback must download again what it pruned.
"$PY" - "$w/inventory.yml" <<'PYEOF'
import sys, yaml
path = sys.argv[1]
inv = yaml.safe_load(open(path))
inv["fleet"]["hosts"]["n3"]["deploy_keep_versions"] = 1
yaml.safe_dump(inv, open(path, "w"))
PYEOF

common=(-e "{\"fleetops_s3\": {\"endpoint_url\": \"$S3_ENDPOINT\", \"retries\": 1}}" -e fleetops_bucket=releases -e fleetops_dist=RbDist
        -e fleetops_project=rbproj -e '{"fleetops_serial": [10]}')
audit=(-e fleetops_environment=qa -e "fleetops_audit_dir=$w/audit")
export ANSIBLE_CALLBACKS_ENABLED=fleetops.release.audit
export FLEETOPS_AUDIT_DIR=$w/audit

# --- versions: the table and the survey spec.
survey=$w/out/survey.json
mkdir -p "$w/out"
rc=$(run "$w/versions.log" versions -e "fleetops_survey_file=$survey")
expect_rc 0 "$rc" "$w/versions.log"
log=$w/versions.log
expect_line "$log" '"name +channel +date +size +note"'
expect_line "$log" '"RbDist +1\.2\.0 +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}Z +[0-9]+ B +latest"'
expect_line "$log" '"RbDist +1\.0\.0 +[0-9-]+ [0-9:]+Z +[0-9]+ B"'
expect_line "$log" '"RbDist +developer +[0-9-]+ [0-9:]+Z +[0-9]+ B +test build"'
expect_line "$log" '"RbCore +1\.2\.0 +[0-9-]+ [0-9:]+Z +[0-9.]+ (B|KiB) +latest"'
expect_line "$log" '"RbCore +developer +.*test build"'
expect_line "$log" '"RbLib +1\.1\.0 +.*latest"'
expect_line "$log" '"RbLib +1\.0\.0 +[0-9-]+ [0-9:]+Z +[0-9.]+ (B|KiB)"'
expect_line "$log" '"RbDist 1\.2\.0 lists: RbLib 1\.1\.0, RbCore 1\.2\.0"'
no_line "$log" 'RbOld'
"$PY" - "$survey" <<'PYEOF'
import json, sys
spec = json.load(open(sys.argv[1]))
assert set(spec) == {"name", "description", "spec"}, spec
assert spec["name"] == "RbDist release" and spec["description"], spec
(question,) = spec["spec"]
assert question["variable"] == "fleetops_version" and question["type"] == "multiplechoice", question
assert question["choices"] == ["1.2.0", "1.1.0", "1.0.0"], question
assert question["default"] == "1.2.0" and question["required"] is True and question["question_name"], question
PYEOF
rc=$(run "$w/versions-none.log" versions -e fleetops_dist=NoSuchDist)
expect_rc 2 "$rc" "$w/versions-none.log"
expect_line "$w/versions-none.log" 'NoSuchDist has neither a release tag nor a developer build in bucket releases'

# --- Install 1.0.0 on n1 and n2, then 1.1.0 (n1, n2 upgrade; n3 is new). Both succeed: audit records say so.
rc=$(run "$w/deploy-100.log" deploy -e fleetops_hosts=n1:n2 -e fleetops_version=1.0.0 "${audit[@]}")
expect_rc 0 "$rc" "$w/deploy-100.log"
expect_line "$w/nodes/n1/calls.log" '^RbOld 1\.0\.0 deploy\.sh action=deploy previous= direction=forward dist=1\.0\.0$'
rc=$(run "$w/deploy-110.log" deploy -e fleetops_hosts=n1:n2:n3 -e fleetops_version=1.1.0 -e '{"fleetops_upgradable": ["1.0.0"]}' "${audit[@]}")
expect_rc 0 "$rc" "$w/deploy-110.log"
expect_line "$w/nodes/n1/calls.log" '^RbCore 1\.1\.0 upgrade\.sh action=upgrade previous=1\.0\.0 direction=forward dist=1\.1\.0$'

# --- plan 1.2.0 for every host: nothing changes on any node (a new node gets only its lock file) or in S3.
snapshot() {  # every path with its type, mode and size, and every file's sha256; lock files by name only
    (cd "$w/nodes" && find . ! -name '*.lock' -printf '%p %y %m %s\n' | sort && \
     find . -type f ! -name '*.lock' -print0 | sort -z | xargs -0 sha256sum)
}
before=$(snapshot)
objects_before=$($S3CTL ls releases)
rc=$(run "$w/plan.log" plan -e fleetops_hosts=fleet -e fleetops_version=1.2.0 -e '{"fleetops_upgradable": ["1.1.0"]}')
expect_rc 2 "$rc" "$w/plan.log"
[ "$before" = "$(snapshot)" ] || { diff <(echo "$before") <(snapshot) || true; fail "plan changed a node"; }
[ "$objects_before" = "$($S3CTL ls releases)" ] || fail "plan changed the bucket"
[ ! -e "$w/nodes/n5/images.yaml" ] || fail "plan wrote n5's images.yaml"
log=$w/plan.log
expect_line "$log" '"RbDist 1\.2\.0 on fleet \(nothing was changed\):"'
expect_line "$log" '"n1 +upgrade +1\.1\.0 -> 1\.2\.0"'
expect_line "$log" '"  +upgrade: +RbLib 1\.0\.0 -> 1\.1\.0, RbCore 1\.1\.0 -> 1\.2\.0"'
expect_line "$log" '"  +unchanged: +RbOld 1\.0\.0"'
expect_line "$log" '"n3 +upgrade +1\.1\.0 -> 1\.2\.0"'
expect_line "$log" '"n4 +skip +failed: .*images\.yaml: node is in failure .*RbCore 1\.0\.0: deploy\.sh exited with 5; fix it, then reset it with the node_state module"'
expect_line "$log" '"n5 +install +new -> 1\.2\.0"'
expect_line "$log" '"  +install: +RbLib 1\.1\.0, RbCore 1\.2\.0"'
expect_line "$log" '"gone +skip +unreachable: '
expect_line "$log" '"totals: 6 host\(s\): 1 install, 3 upgrade, 2 skipped; modules: 2 to install, 6 to upgrade, [0-9]+ unchanged"'
expect_line "$log" '"skipped: failed: n4; unreachable: gone"'
expect_line "$log" 'no plan for gone \(unreachable or dist_deploy failed; see above\)'

# --- Release 1.2.0 (RbLib 1.1.0, RbCore 1.2.0): RbCore 1.2.0's upgrade.sh fails on n2 after RbLib's succeeded, so the run
# is partial and 1.1.0 stays the last good version.
touch "$w/nodes/n2/fail-RbCore-1.2.0"
rc=$(run "$w/deploy-120.log" deploy -e fleetops_hosts=n1:n2:n3 -e fleetops_version=1.2.0 -e '{"fleetops_upgradable": ["1.1.0"]}' "${audit[@]}")
expect_rc 2 "$rc" "$w/deploy-120.log"
[ "$(state_of n2)" = "failure 1.1.0 RbCore=1.1.0 RbLib=1.1.0 RbOld=1.0.0" ] || fail "n2 after the failed upgrade: $(state_of n2)"
for mv in RbCore/1.1.0 RbLib/1.0.0; do
    [ ! -d "$w/nodes/n3/modules/$mv" ] || fail "n3 (keep_versions 1) still has $mv"
done
[ "$(state_of n1)" = "active 1.2.0 RbCore=1.2.0 RbLib=1.1.0 RbOld=1.0.0" ] || fail "n1 after 1.2.0: $(state_of n1)"
[ -d "$w/nodes/n1/modules/RbCore/1.1.0" ] || fail "n1 (keep_versions 3) lost RbCore 1.1.0"

# --- rollback to the last good version (audit): 1.1.0. n2 is in failure and skipped; n1 has everything, n3 pruned RbCore 1.1.0
# and RbLib 1.0.0. RbLib goes back to 1.0.0 too, although 1.1.0's upgrade_list names only RbCore; RbOld (not in 1.1.0) stays.
for n in n1 n2 n3; do rm -f "$w/nodes/$n/calls.log"; done
rc=$(run "$w/rollback-good.log" rollback -e fleetops_hosts=n1:n2:n3 "${audit[@]}")
expect_rc 0 "$rc" "$w/rollback-good.log"
log=$w/rollback-good.log
expect_line "$log" 'rolling n1:n2:n3 back to RbDist 1\.1\.0 \(the last good version of rbproj/qa in the audit records \(run [0-9TZ]+-[0-9]+, ended [0-9T:-]+Z\)\); the last release went to 1\.2\.0'
expect_line "$log" '"n1 +upgraded +1\.1\.0 +2 script\(s\) ran, 0 bytes downloaded"'
expect_line "$log" '"n2 +skipped +1\.1\.0 +failed: .*node is in failure'
# n3 pruned the directories of RbLib 1.0.0 and RbCore 1.1.0 (keep_versions 1) but its cache still holds the packages:
# extracted again, not downloaded.
expect_line "$log" '"n3 +upgraded +1\.1\.0 +2 script\(s\) ran, 0 bytes downloaded"'
for mv in RbLib/1.0.0 RbCore/1.1.0; do
    [ -x "$w/nodes/n3/modules/$mv/upgrade.sh" ] || fail "n3: $mv was not extracted again"
done
for n in n1 n3; do
    [ "$(calls $n)" = "RbLib 1.0.0 upgrade.sh action=upgrade previous=1.1.0 direction=back dist=1.1.0
RbCore 1.1.0 upgrade.sh action=upgrade previous=1.2.0 direction=back dist=1.1.0" ] || fail "$n calls: $(calls $n)"
done
[ -z "$(calls n2)" ] || fail "n2 ran scripts: $(calls n2)"
converged n1 1.1.0 RbOld=1.0.0
converged n3 1.1.0 ""

# --- Refusals: the environment is on its last good version now; an unknown version; no audit record at all.
rc=$(run "$w/rollback-same.log" rollback -e fleetops_hosts=n1:n2:n3 "${audit[@]}")
expect_rc 2 "$rc" "$w/rollback-same.log"
expect_line "$w/rollback-same.log" 'rbproj/qa is already on 1\.1\.0 \(its last release, run [0-9TZ]+-[0-9]+, ended [0-9T:-]+Z with [a-z]+\): nothing to roll back; name another version with -e fleetops_rollback_to=<tag>'
rc=$(run "$w/rollback-unknown.log" rollback -e fleetops_hosts=n1 -e fleetops_rollback_to=9.9.9)
expect_rc 2 "$rc" "$w/rollback-unknown.log"
expect_line "$w/rollback-unknown.log" 'fleetops_rollback_to names 9\.9\.9, which is not a release of RbDist in bucket releases \(it has 1\.2\.0, 1\.1\.0, 1\.0\.0\)'
rc=$(run "$w/rollback-none.log" rollback -e fleetops_hosts=n1 -e fleetops_environment=prod -e "fleetops_audit_dir=$w/audit")
expect_rc 2 "$rc" "$w/rollback-none.log"
expect_line "$w/rollback-none.log" "no successful release of rbproj/prod in the audit records \\($w/audit\\), so there is no last good version; name the version to go back to with -e fleetops_rollback_to=<tag>"
rc=$(run "$w/rollback-version.log" rollback -e fleetops_hosts=n1 -e fleetops_rollback_to=1.0.0 -e fleetops_version=1.0.0)
expect_rc 2 "$rc" "$w/rollback-version.log"
expect_line "$w/rollback-version.log" 'do not set fleetops_version or fleetops_upgradable for a rollback'
for f in "$w"/rollback-{same,unknown,none,version}.log; do no_line "$f" 'Release this host, rotating it through its load balancers'; done

# --- Reset n2, then roll back to the named 1.0.0: n3 never had RbOld (installed at 1.1.0) and gets its deploy.sh; n2 still
# has RbLib 1.1.0 from its failed 1.2.0 and takes it back to 1.0.0, which 1.0.0's upgrade_list does not name.
ansible n2 -i "$w/inventory.yml" -m fleetops.release.node_state \
    -a "action=reset reason='fixed by the test' state_file=$w/nodes/n2/images.yaml" > "$w/reset.log" 2>&1 || { cat "$w/reset.log"; fail "reset n2"; }
for n in n1 n2 n3; do rm -f "$w/nodes/$n/calls.log"; done
# n2 loses RbCore 1.0.0 altogether (directory and cache), as a node that pruned it would: it must download it again.
rm -rf "$w/nodes/n2/cache" "$w/nodes/n2/modules/RbCore/1.0.0"
rc=$(run "$w/rollback-100.log" rollback -e fleetops_hosts=n1:n2:n3 -e fleetops_rollback_to=1.0.0 "${audit[@]}")
expect_rc 0 "$rc" "$w/rollback-100.log"
log=$w/rollback-100.log
expect_line "$log" 'rolling n1:n2:n3 back to RbDist 1\.0\.0 \(fleetops_rollback_to\); the last release went to 1\.1\.0'
expect_line "$log" '"n1 +upgraded +1\.0\.0 +1 script\(s\) ran, 0 bytes downloaded"'
expect_line "$log" '"n2 +upgraded +1\.0\.0 +2 script\(s\) ran, [1-9][0-9]* bytes downloaded"'
expect_line "$log" '"n3 +upgraded +1\.0\.0 +2 script\(s\) ran, [1-9][0-9]* bytes downloaded"'
[ "$(calls n1)" = "RbCore 1.0.0 upgrade.sh action=upgrade previous=1.1.0 direction=back dist=1.0.0" ] || fail "n1 calls: $(calls n1)"
[ "$(calls n2)" = "RbLib 1.0.0 upgrade.sh action=upgrade previous=1.1.0 direction=back dist=1.0.0
RbCore 1.0.0 upgrade.sh action=upgrade previous=1.1.0 direction=back dist=1.0.0" ] || fail "n2 calls: $(calls n2)"
[ "$(calls n3)" = "RbCore 1.0.0 upgrade.sh action=upgrade previous=1.1.0 direction=back dist=1.0.0
RbOld 1.0.0 deploy.sh action=deploy previous= direction=back dist=1.0.0" ] || fail "n3 calls: $(calls n3)"
for n in n1 n2 n3; do
    converged $n 1.0.0 ""
    [ "$(state_of $n)" = "active 1.0.0 RbCore=1.0.0 RbLib=1.0.0 RbOld=1.0.0" ] || fail "$n after the rollback to 1.0.0: $(state_of $n)"
done

echo "release_workflow: all checks passed in $((SECONDS - started)) s"
