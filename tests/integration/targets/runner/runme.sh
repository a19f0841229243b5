#!/usr/bin/env bash
# Both callbacks under ansible-runner, the engine AWX runs jobs with: events, artifacts, no secret.
set -euo pipefail
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" runner_test.py "$work"
