#!/bin/sh
# A module that misbehaves on request, for fault tests. Markers live beside the node's state file:
#   fail-deploy  exit 3 after some output      hang  never finish      slow  mark "started", then sleep 30
#   hold         mark "started", then wait (at most 60 s) until the test creates "go"
set -eu
node=$(dirname "$FLEETOPS_STATE_FILE")
echo "Faulty $FLEETOPS_VERSION: $FLEETOPS_ACTION in $FLEETOPS_MODULE_DIR (previous: ${FLEETOPS_PREVIOUS_VERSION:-none})"
if [ -e "$node/fail-deploy" ]; then
    echo "boom: the node asked this script to fail" >&2
    exit 3
fi
if [ -e "$node/hang" ]; then
    sleep 600
fi
if [ -e "$node/slow" ]; then
    touch "$node/started"
    sleep 30
fi
if [ -e "$node/hold" ]; then
    touch "$node/started"
    i=0
    while [ ! -e "$node/go" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
fi
echo "done"
