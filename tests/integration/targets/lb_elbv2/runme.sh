#!/usr/bin/env bash
# lb_member against AWS ELBv2 target groups on a loopback moto server: register and deregister
# (check mode, real, idempotent check, idempotent real), IP targets, the capacity guard, a wrong
# port, an unknown target group, an unreachable endpoint and missing credentials.
# moto registers targets as `healthy` at once and removes deregistered ones at once (no `initial`,
# no `draining`, no throttling): those are covered by tests/unit/plugins/module_utils/test__lb_elbv2.py.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
w=$FLEETOPS_S3_WORK
ctl="$FLEETOPS_TEST_PYTHON $PWD/files/elbv2ctl.py"

$ctl setup > "$w/elbv2.json"
closed_port=$(free_port)

ansible-playbook -i localhost, -c local elbv2.yml -e "ansible_python_interpreter=$FLEETOPS_TEST_PYTHON" \
    -e "endpoint=$MOTO_ENDPOINT" -e "closed_endpoint=http://127.0.0.1:$closed_port" -e "ctl='$ctl'" -e "@$w/elbv2.json" "$@"
