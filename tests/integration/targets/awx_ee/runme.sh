#!/usr/bin/env bash
# The AWX pieces that can be checked without AWX or a container engine: the execution environment's build context
# (ansible-builder create, then its galaxy and introspection steps run offline), the survey specs and job templates
# of examples/awx/, and the systemd units of examples/systemd/.
set -euo pipefail
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
PYTHON=${ANSIBLE_TEST_PYTHON_INTERPRETER:-$(command -v python3)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" awx_ee_test.py "$work"
