#!/usr/bin/env bash
# Both callbacks under ansible-runner, the engine AWX runs jobs with: events, artifacts, no secret; then the real
# deploy playbook as an AWX job of the example project against the loopback S3.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
w=$FLEETOPS_S3_WORK
# The work trees of the releases the deploy jobs install (as publish_fixtures.yml and publish_faulty.yml lay them out).
mkdir -p "$w/src/DemoProject.dist" "$w/src/FaultDist" "$w/src/Faulty"
cp -R "$FLEETOPS_EXAMPLES/LibGreet" "$FLEETOPS_EXAMPLES/HelloService" "$w/src/"
cp ../setup_s3/files/faulty/deploy.sh ../setup_s3/files/faulty/upgrade.sh "$w/src/Faulty/"
printf 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: none\n' > "$w/src/LibGreet/repo-info"
printf 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list:\n  LibGreet: 1.0.0\n' > "$w/src/HelloService/repo-info"
printf 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: none\n' > "$w/src/Faulty/repo-info"
printf 'rel_branch: 1.0.0\nsub_repo:\n  LibGreet: 1.0.0\n  HelloService: 1.0.0\nupgrade_list: none\n' > "$w/src/DemoProject.dist/repo-info"
printf 'rel_branch: 1.0.0\nsub_repo:\n  LibGreet: 1.0.0\n  Faulty: 1.0.0\nupgrade_list: none\n' > "$w/src/FaultDist/repo-info"
$S3CTL mb releases
ansible-playbook -i localhost, -c local publish.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w/src" > "$w/publish.log" \
    || { cat "$w/publish.log"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"; setup_s3_cleanup' EXIT
"$FLEETOPS_TEST_PYTHON" runner_test.py "$work"
