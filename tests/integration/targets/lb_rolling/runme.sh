#!/usr/bin/env bash
# Rolling releases through real load balancers: three SSH hosts run a real HTTP service behind Debian's
# haproxy, then nginx, on this machine; a load generator checks that no request is lost while the deploy
# playbook drains, upgrades and enables each host, five times over. Plus the rotation's failure cases.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
# shellcheck source=../setup_hosts/hosts.sh
source ../setup_hosts/hosts.sh
for tool in haproxy nginx; do
    command -v "$tool" >/dev/null || PATH=$PATH:/usr/sbin
    command -v "$tool" >/dev/null || { fleetops_require "$tool" "the balancer under test"; exit 0; }
done
fleetops_hosts_up 3 0 || exit 0
w=$FLEETOPS_S3_WORK
$S3CTL mb releases
ansible-playbook -i localhost, -c local ../setup_s3/publish_web.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" > "$w/publish.log" 2>&1 \
    || { tail -30 "$w/publish.log"; exit 1; }
"$FLEETOPS_TEST_PYTHON" rolling.py "$w" "$@"
