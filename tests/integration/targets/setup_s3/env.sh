# shellcheck shell=bash
# Sourced by the runme.sh of every S3 target: starts a moto S3 server and the
# fault proxy (files/s3proxy.py) on random loopback ports, exports where they
# are, and stops both when the sourcing shell exits.
#
#   S3_ENDPOINT     the proxy (use this in tests)      MOTO_ENDPOINT  moto itself
#   S3CTL           "python .../s3ctl.py"              FLEETOPS_TEST_PYTHON  the interpreter
set -euo pipefail

SETUP_S3_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The collection under test: ansible-test runs targets from a copy and points
# ANSIBLE_COLLECTIONS_PATH at the collection; a direct run uses the checkout.
FLEETOPS_COLLECTION_ROOT=${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/fleetops/release
if [ ! -d "$FLEETOPS_COLLECTION_ROOT/examples" ]; then
    FLEETOPS_COLLECTION_ROOT=$(cd "$SETUP_S3_DIR/../../../.." && pwd)
fi
export FLEETOPS_COLLECTION_ROOT
export FLEETOPS_EXAMPLES=$FLEETOPS_COLLECTION_ROOT/examples

# With CI=true (or in a tree staged by `make stage` under CI) a missing prerequisite fails.
fleetops_require() {
    local what=$1 why=$2
    if [ "${CI:-}" = true ] || [ -e "$FLEETOPS_COLLECTION_ROOT/tests/.ci-required" ]; then
        echo "missing prerequisite: $what ($why); CI requires it" >&2
        exit 1
    fi
    echo "SKIP: $what is missing ($why)"
    return 1
}
FLEETOPS_TEST_PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
export FLEETOPS_TEST_PYTHON
export ANSIBLE_PYTHON_INTERPRETER=$FLEETOPS_TEST_PYTHON
PYBIN=$(dirname "$FLEETOPS_TEST_PYTHON")

free_port() {
    "$FLEETOPS_TEST_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_port() {
    # Bounded by time, not by a count of tries: moto takes seconds to import on a loaded machine.
    local port=$1 deadline=$((SECONDS + 120))
    while [ "$SECONDS" -lt "$deadline" ]; do
        if "$FLEETOPS_TEST_PYTHON" -c "import socket,sys; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "service on 127.0.0.1:$port did not come up within 120 s" >&2
    return 1
}

FLEETOPS_S3_WORK=$(mktemp -d)
export FLEETOPS_S3_WORK
MOTO_PORT=$(free_port)
PROXY_PORT=$(free_port)
if [ -x "$PYBIN/moto_server" ]; then MOTO_BIN=$PYBIN/moto_server; else MOTO_BIN=$(command -v moto_server); fi
"$MOTO_BIN" -H 127.0.0.1 -p "$MOTO_PORT" >"$FLEETOPS_S3_WORK/moto.log" 2>&1 &
MOTO_PID=$!
"$FLEETOPS_TEST_PYTHON" "$SETUP_S3_DIR/files/s3proxy.py" "$PROXY_PORT" "$MOTO_PORT" >"$FLEETOPS_S3_WORK/proxy.log" 2>&1 &
PROXY_PID=$!

setup_s3_cleanup() {
    kill "$MOTO_PID" "$PROXY_PID" 2>/dev/null || true
    wait "$MOTO_PID" "$PROXY_PID" 2>/dev/null || true
    [ -n "${FLEETOPS_KEEP_WORK:-}" ] || rm -rf "$FLEETOPS_S3_WORK"
}
trap setup_s3_cleanup EXIT

wait_port "$MOTO_PORT"
wait_port "$PROXY_PORT"

export MOTO_ENDPOINT="http://127.0.0.1:$MOTO_PORT"
export S3_ENDPOINT="http://127.0.0.1:$PROXY_PORT"
export AWS_ACCESS_KEY_ID=${AWS_ACCESS_KEY_ID:-fleetops-test-key}
export AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY:-fleetops-test-secret}
export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
export S3CTL="$FLEETOPS_TEST_PYTHON $SETUP_S3_DIR/files/s3ctl.py"
export ANSIBLE_REMOTE_TEMP=$FLEETOPS_S3_WORK/ansible-tmp
