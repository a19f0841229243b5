# shellcheck shell=bash
# Sourced after ../setup_s3/env.sh by targets that need real SSH hosts:
#   fleetops_hosts_up COUNT UNREACHABLE [--state-tmpfs SIZE]
# brings up the hosts (files/testhosts.py), starts an S3 proxy on their bridge address, and exports
#   HOSTS_DIR, HOSTS_INVENTORY, NODE_S3_ENDPOINT (the store as the nodes reach it).
# Returns 1 (after fleetops_require) when this machine cannot run them: needs root, sshd, iproute2, unshare.
SETUP_HOSTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

fleetops_hosts_up() {
    local count=$1 unreachable=$2
    shift 2
    if [ "$(id -u)" != 0 ]; then fleetops_require "root" "network namespaces for the SSH test hosts"; return 1; fi
    for tool in /usr/sbin/sshd ip unshare ssh-keygen; do
        command -v "$tool" >/dev/null || { fleetops_require "$tool" "SSH test hosts"; return 1; }
    done
    HOSTS_DIR=$FLEETOPS_S3_WORK/hosts
    export HOSTS_DIR HOSTS_INVENTORY=$HOSTS_DIR/inventory.yml
    trap 'fleetops_hosts_down; setup_s3_cleanup' EXIT
    "$FLEETOPS_TEST_PYTHON" "$SETUP_HOSTS_DIR/files/testhosts.py" up --dir "$HOSTS_DIR" --count "$count" --unreachable "$unreachable" "$@"
    local gateway port
    gateway=$("$FLEETOPS_TEST_PYTHON" -c "import json,sys; print(json.load(open(sys.argv[1]))['gateway'])" "$HOSTS_DIR/hosts.json")
    port=$(free_port)
    "$FLEETOPS_TEST_PYTHON" "$SETUP_S3_DIR/files/s3proxy.py" "$port" "${MOTO_ENDPOINT##*:}" "$gateway" >"$FLEETOPS_S3_WORK/node-proxy.log" 2>&1 &
    NODE_PROXY_PID=$!
    export NODE_S3_ENDPOINT="http://$gateway:$port"
    local deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
        "$FLEETOPS_TEST_PYTHON" -c "import socket; socket.create_connection(('$gateway', $port), 1)" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "the node-side S3 proxy on $gateway:$port did not come up within 120 s" >&2
    return 1
}

fleetops_hosts_down() {
    if [ -n "${NODE_PROXY_PID:-}" ]; then kill "$NODE_PROXY_PID" 2>/dev/null || true; fi
    if [ -n "${HOSTS_DIR:-}" ]; then "$FLEETOPS_TEST_PYTHON" "$SETUP_HOSTS_DIR/files/testhosts.py" down --dir "$HOSTS_DIR" || true; fi
}
