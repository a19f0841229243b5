#!/usr/bin/env bash
# recap_alert and audit callbacks against a real webhook server on loopback and moto S3:
# one message per run within Slack's limits, retries, spooling, interrupts, secrets. See alerts.py.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
"$FLEETOPS_TEST_PYTHON" alerts.py "$FLEETOPS_S3_WORK" "$@"
