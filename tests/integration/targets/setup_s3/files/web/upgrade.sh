#!/bin/sh
# Upgrade WebService: stop the old one gracefully (it finishes requests in flight), start the new one.
set -eu
exec sh "$FLEETOPS_MODULE_DIR/deploy.sh"
