#!/usr/bin/env bash
# lb_member against a real HAProxy (Debian's haproxy, master-worker mode) on loopback, with three small
# Python HTTP servers as its backend servers. Everything is started by lb_haproxy.py, in a session of its own
# (haproxy, its workers, the HTTP servers, the ansible-playbook runs); when this shell exits, whatever happened,
# that whole process group is killed. See lb_haproxy.py.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
COLLECTION_ROOT=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/fleetops/release
[ -d "$COLLECTION_ROOT/plugins" ] || COLLECTION_ROOT=$(cd "$HERE/../../../.." && pwd)
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}

if [ ! -x "$HAPROXY" ]; then
    if [ "${CI:-}" = true ] || [ -e "$COLLECTION_ROOT/tests/.ci-required" ]; then
        echo "missing prerequisite: haproxy (Debian package haproxy); CI requires it" >&2
        exit 1
    fi
    echo "SKIP: haproxy is missing (Debian package haproxy)"
    exit 0
fi

LB_WORK=$(mktemp -d)
export LB_WORK HAPROXY
DRIVER=""
cleanup() {
    if [ -n "$DRIVER" ]; then
        kill -- "-$DRIVER" 2>/dev/null || true
    fi
    [ -n "${FLEETOPS_KEEP_WORK:-}" ] || rm -rf "$LB_WORK"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_PYTHON_INTERPRETER=$PYTHON
export ANSIBLE_REMOTE_TEMP=$LB_WORK/ansible-remote
export ANSIBLE_LOCAL_TEMP=$LB_WORK/ansible-local
export ANSIBLE_PIPELINING=true
setsid "$PYTHON" "$HERE/lb_haproxy.py" "$@" &
DRIVER=$!
wait "$DRIVER"
