#!/bin/sh
# Install WebService: start it on port 8080 and wait until it answers.
set -eu
state=/var/lib/fleetops/web
mkdir -p "$state"
if [ -s "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
    kill -TERM "$(cat "$state/pid")"
    while kill -0 "$(cat "$state/pid")" 2>/dev/null; do sleep 0.1; done
fi
setsid python3 "$FLEETOPS_MODULE_DIR/server.py" "$FLEETOPS_VERSION" 8080 "$state/pid.new" "$state/requests.log" \
    </dev/null >>"$state/server.log" 2>&1 &
i=0
until python3 -c 'import socket; socket.create_connection(("127.0.0.1", 8080), 1)' 2>/dev/null; do
    i=$((i + 1)); [ "$i" -lt 600 ] || { echo "WebService did not start within a minute" >&2; exit 1; }
    sleep 0.1
done
mv "$state/pid.new" "$state/pid"
echo "WebService $FLEETOPS_VERSION listening on 8080"
