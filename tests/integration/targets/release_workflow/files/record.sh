#!/bin/sh
# Fixture deploy.sh and upgrade.sh: append one line describing this call to <node>/calls.log, then fail if the node holds
# a marker file fail-<Module>-<version>.
set -eu
node=$(dirname "$FLEETOPS_MODULES_DIR")
echo "$FLEETOPS_MODULE $FLEETOPS_VERSION $(basename "$0") action=$FLEETOPS_ACTION previous=$FLEETOPS_PREVIOUS_VERSION direction=$FLEETOPS_DIRECTION dist=$FLEETOPS_DIST_VERSION" >> "$node/calls.log"
if [ -e "$node/fail-$FLEETOPS_MODULE-$FLEETOPS_VERSION" ]; then
    echo "told to fail by $node/fail-$FLEETOPS_MODULE-$FLEETOPS_VERSION"
    exit 5
fi
