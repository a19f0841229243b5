#!/usr/bin/env bash
# lb_member with type=nginx against Debian's real nginx and three real HTTP backends on loopback.
# Needs root (nginx's master) and /usr/sbin/nginx. See lb_nginx.py for the cases.
set -euo pipefail

COLLECTION_ROOT=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/fleetops/release
NGINX_BINARY=${NGINX_BINARY:-/usr/sbin/nginx}
export NGINX_BINARY
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}

require() {
    if [ "${CI:-}" = true ] || [ -e "$COLLECTION_ROOT/tests/.ci-required" ]; then
        echo "missing prerequisite: $1; CI requires it" >&2
        exit 1
    fi
    echo "SKIP: $1"
    exit 0
}
[ "$(id -u)" = 0 ] || require "root (the nginx master)"
[ -x "$NGINX_BINARY" ] || require "$NGINX_BINARY (Debian package nginx)"

WORK=$(mktemp -d)
cleanup() {
    # The driver stops what it started; this catches what an interrupted run left.
    local pid
    if [ -s "$WORK/nginx/nginx.pid" ]; then
        "$NGINX_BINARY" -p "$WORK/nginx/" -e "$WORK/nginx/error.log" -c "$WORK/nginx/nginx.conf" -s quit 2>/dev/null || true
        sleep 1
    fi
    if [ -e "$WORK/pids" ]; then
        while read -r pid; do
            kill "$pid" 2>/dev/null || true
        done < "$WORK/pids"
    fi
    [ -n "${FLEETOPS_KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

start=$(date +%s)
"$PYTHON" lb_nginx.py "$WORK" "$@"
echo "lb_nginx passed in $(( $(date +%s) - start )) s"
