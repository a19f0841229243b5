#!/usr/bin/env bash
# The deploy playbook's release lock and graceful abort, end to end: three local nodes behind Debian's haproxy
# (the lb_haproxy target's lab), the lock in the moto bucket, SIGINT and SIGTERM mid-release. See abort.py.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HAPROXY=${HAPROXY:-$(command -v haproxy || echo /usr/sbin/haproxy)}
[ -x "$HAPROXY" ] || { fleetops_require haproxy "the balancer the release rotates through"; exit 0; }
export HAPROXY
w=$FLEETOPS_S3_WORK
$S3CTL mb releases
ansible-playbook -i localhost, -c local ../setup_s3/publish_fixtures.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" -e "examples=$FLEETOPS_EXAMPLES" > "$w/publish.log" 2>&1 \
    || { tail -30 "$w/publish.log"; exit 1; }
ansible-playbook -i localhost, -c local ../setup_s3/publish_faulty.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" -e "examples=$FLEETOPS_EXAMPLES" >> "$w/publish.log" 2>&1 \
    || { tail -30 "$w/publish.log"; exit 1; }

export LB_WORK=$w/lab
mkdir -p "$LB_WORK"
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_LOCAL_TEMP=$w/ansible-local
DRIVER=""
stop_driver() { [ -z "$DRIVER" ] || kill -- "-$DRIVER" 2>/dev/null || true; setup_s3_cleanup; }
trap stop_driver EXIT
trap 'exit 143' TERM INT
# A session of its own: haproxy, the web servers and every ansible-playbook go with it, whatever happens.
setsid "$FLEETOPS_TEST_PYTHON" "$HERE/abort.py" "$@" &
DRIVER=$!
wait "$DRIVER"
