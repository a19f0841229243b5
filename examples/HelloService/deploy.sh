#!/bin/sh
# Install HelloService. Published from bucket ${BUCKET_NAME} as ${REPO_NAME}.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
echo "installing ${REPO_NAME} from $here"
