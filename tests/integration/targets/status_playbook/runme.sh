#!/usr/bin/env bash
# fleetops.release.status on local-connection nodes (each node its own images.yaml) plus one unreachable host:
# the per-host report, the counts, the exit code (2 on problems, 0 when every node is ok or in progress),
# --check, fleetops_stale_after, and a missing fleetops_hosts.
set -euo pipefail
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
export ANSIBLE_PYTHON_INTERPRETER=$PY
w=$(mktemp -d)
trap '[ -n "${FLEETOPS_KEEP_WORK:-}" ] || rm -rf "$w"' EXIT
export ANSIBLE_REMOTE_TEMP=$w/ansible-tmp
export ANSIBLE_HOST_KEY_CHECKING=false
export ANSIBLE_NOCOLOR=1

fail() { echo "FAIL: $*" >&2; exit 1; }
stamp() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
closed_port=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

old=$(stamp '2 hours ago')
fresh=$(stamp '1 minute ago')
mkdir -p "$w/nodes"/{active1,active2,failure,missing,stale,fresh,corrupt}
node() {  # node NAME STATUS VERSION STARTED_AT [LAST_ERROR]
    {
        echo "image: {version: $3}"
        echo "status: $2"
        echo "updated_at: \"${4:-2026-11-22T06:00:00Z}\""
        [ -z "${4:-}" ] || echo "started_at: \"$4\""
        [ -z "${5:-}" ] || echo "last_error: \"$5\""
    } > "$w/nodes/$1/images.yaml"
}
node active1 active 1.1.0 ""
node active2 active 1.1.0 ""
node failure failure 1.0.0 "" "Faulty 1.0.0: deploy.sh exited with 3"
node stale building null "$old"
node fresh maintain 1.0.0 "$fresh"
printf 'status: Active\n' > "$w/nodes/corrupt/images.yaml"

inventory() {  # inventory FILE HOST...
    local file=$1 host
    shift
    {
        echo "fleet:"
        echo "  hosts:"
        for host in "$@"; do
            if [ "$host" = unreachable ]; then
                echo "    unreachable: {ansible_connection: ssh, ansible_host: 127.0.0.1, ansible_port: $closed_port, ansible_user: nobody,"
                echo "                  ansible_ssh_common_args: '-o ConnectTimeout=5 -o BatchMode=yes', ansible_python_interpreter: $PY}"
            else
                echo "    $host: {ansible_connection: local, ansible_python_interpreter: $PY, fleetops_node_paths: {state_file: $w/nodes/$host/images.yaml}}"
            fi
        done
    } > "$file"
}
inventory "$w/mixed.yml" active1 failure missing stale fresh corrupt unreachable
inventory "$w/good.yml" active1 active2 fresh

sweep() {  # sweep LOG INVENTORY ARGS...: runs the playbook, echoes its exit code
    local log=$1 inv=$2 rc=0
    shift 2
    ansible-playbook fleetops.release.status -i "$inv" -e fleetops_hosts=fleet "$@" > "$log" 2>&1 || rc=$?
    echo "$rc"
}
expect_line() {  # expect_line LOG REGEX
    grep -Eq -- "$2" "$1" || { cat "$1"; fail "no line matching: $2"; }
}
snapshot() { (cd "$w/nodes" && find . -print0 | sort -z | xargs -0 ls -ld --time-style=+%s.%N | awk '{print $1, $5, $6, $7}'; \
              find . -type f -print0 | sort -z | xargs -0 sha256sum); }

# --- A mixed fleet: every problem kind, exit code 2, nothing stops the sweep.
before=$(snapshot)
rc=$(sweep "$w/mixed.log" "$w/mixed.yml" "$@")
[ "$rc" = 2 ] || { cat "$w/mixed.log"; fail "mixed fleet: exit code $rc, expected 2"; }
log=$w/mixed.log
expect_line "$log" '"host +health +status +version +updated_at +last_error"'
expect_line "$log" '"active1 +ok +active +1\.1\.0 +2026-11-22T06:00:00Z +-"'
expect_line "$log" '"failure +failure +failure +1\.0\.0 +2026-11-22T06:00:00Z +Faulty 1\.0\.0: deploy\.sh exited with 3"'
expect_line "$log" '"missing +missing +- +- +- +-"'
expect_line "$log" "\"stale +stale +building +- +$old +building since $old\""
expect_line "$log" "\"fresh +in_progress +maintain +1\\.0\\.0 +$fresh +maintain since $fresh\""
expect_line "$log" "\"corrupt +corrupt +corrupt +- +- +unknown status 'Active' \\(expected one of building, maintain, failure, active\\)\""
expect_line "$log" '"unreachable +unreachable +- +- +- +.*(Connection refused|connect to host).*"'
expect_line "$log" '"counts: ok=1, in_progress=1, failure=1, missing=1, stale=1, corrupt=1, unreachable=1"'
expect_line "$log" '"msg": "node problems: failure: failure; missing: missing; stale: stale; corrupt: corrupt; unreachable: unreachable"'
# The node_state results stay ordinary, registered results (the recap_alert callback reads their health).
expect_line "$log" 'ok: \[active1\]'
[ "$before" = "$(snapshot)" ] || fail "the sweep changed something under the nodes"

# --- Check mode: the same report and exit code, nothing written.
rc=$(sweep "$w/check.log" "$w/mixed.yml" --check "$@")
[ "$rc" = 2 ] || { cat "$w/check.log"; fail "check mode: exit code $rc, expected 2"; }
expect_line "$w/check.log" '"counts: ok=1, in_progress=1, failure=1, missing=1, stale=1, corrupt=1, unreachable=1"'
expect_line "$w/check.log" '"msg": "node problems: failure: failure; missing: missing; stale: stale; corrupt: corrupt; unreachable: unreachable"'
[ "$before" = "$(snapshot)" ] || fail "check mode changed something under the nodes"
[ ! -e "$w/nodes/corrupt/images.yaml.lock" ] || fail "a read took the node lock"

# --- fleetops_stale_after: three hours make the two-hour-old building in progress.
rc=$(sweep "$w/stale.log" "$w/mixed.yml" -e fleetops_stale_after=10800 "$@")
[ "$rc" = 2 ] || { cat "$w/stale.log"; fail "stale_after: exit code $rc, expected 2"; }
expect_line "$w/stale.log" "\"stale +in_progress +building +- +$old +building since $old\""
expect_line "$w/stale.log" '"counts: ok=1, in_progress=2, failure=1, missing=1, corrupt=1, unreachable=1"'
expect_line "$w/stale.log" '"msg": "node problems: failure: failure; missing: missing; corrupt: corrupt; unreachable: unreachable"'

# --- A healthy fleet (one node still in progress): exit code 0, the in-progress node listed.
rc=$(sweep "$w/good.log" "$w/good.yml" "$@")
[ "$rc" = 0 ] || { cat "$w/good.log"; fail "healthy fleet: exit code $rc, expected 0"; }
expect_line "$w/good.log" '"counts: ok=2, in_progress=1"'
expect_line "$w/good.log" "\"fresh +in_progress +maintain"
if grep -q 'fatal:' "$w/good.log"; then cat "$w/good.log"; fail "healthy fleet: a task failed"; fi
rc=$(sweep "$w/good-check.log" "$w/good.yml" --check "$@")
[ "$rc" = 0 ] || { cat "$w/good-check.log"; fail "healthy fleet in check mode: exit code $rc, expected 0"; }

# --- An unreadable state file (a directory) is an error naming it, not a crash of the sweep.
mkdir -p "$w/nodes/active2/images.yaml.d"
inventory "$w/error.yml" active1 active2
sed -i "s|$w/nodes/active2/images.yaml|$w/nodes/active2/images.yaml.d|" "$w/error.yml"
rc=$(sweep "$w/error.log" "$w/error.yml" "$@")
[ "$rc" = 2 ] || { cat "$w/error.log"; fail "unreadable state: exit code $rc, expected 2"; }
expect_line "$w/error.log" "\"active2 +error +- +- +- +cannot read the node state $w/nodes/active2/images.yaml.d: Is a directory\""
expect_line "$w/error.log" '"msg": "node problems: error: active2"'

# --- Without fleetops_hosts, or with a pattern matching nothing, the first play stops the run.
rc=0
ansible-playbook fleetops.release.status -i "$w/good.yml" > "$w/nohosts.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || { cat "$w/nohosts.log"; fail "no fleetops_hosts: exit code $rc, expected 2"; }
expect_line "$w/nohosts.log" 'set fleetops_hosts \(a pattern matching at least one inventory host\)'
rc=$(sweep "$w/nomatch.log" "$w/good.yml" -e fleetops_hosts=nosuchgroup "$@")
[ "$rc" = 2 ] || { cat "$w/nomatch.log"; fail "pattern matching nothing: exit code $rc, expected 2"; }
grep -q 'Read images.yaml' "$w/nomatch.log" && fail "the sweep ran although the pattern matched nothing"
echo "status_playbook: all checks passed"
