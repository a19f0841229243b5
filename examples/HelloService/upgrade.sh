#!/bin/sh
# Upgrade HelloService in place. Published from bucket ${BUCKET_NAME} as ${REPO_NAME}.
set -eu
echo "upgrading ${REPO_NAME}"
