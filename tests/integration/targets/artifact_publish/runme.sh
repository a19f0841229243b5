#!/usr/bin/env bash
# artifact_publish against a loopback S3: check mode, idempotence, tags written once,
# developer overwritten, one source to many stores, and interop with plain tools.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh

$S3CTL mb releases
$S3CTL mb store-a
$S3CTL mb store-b
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
ansible-playbook -i localhost, -c local publish.yml -e "endpoint=$S3_ENDPOINT work=$FLEETOPS_S3_WORK examples=$FLEETOPS_EXAMPLES" "$@"
