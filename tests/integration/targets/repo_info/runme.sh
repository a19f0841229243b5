#!/usr/bin/env bash
# repo_info against a loopback S3: the plan of a DIST, interop with artifacts published
# by plain tools (tar, sha256sum, aws s3 cp), and every kind of bad repo-info.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
examples=$FLEETOPS_EXAMPLES
vars=(-e "endpoint=$S3_ENDPOINT" -e "work=$FLEETOPS_S3_WORK" -e "examples=$examples")

$S3CTL mb releases
ansible-playbook -i localhost, -c local ../setup_s3/publish_fixtures.yml "${vars[@]}"

# The seed's own pipeline: plain tar, sha256sum and the AWS CLI; no repo-info sidecar.
AWS=${AWSCLI_BIN:-$(command -v aws || true)}
if [ ! -x "$AWS" ]; then
    fleetops_require "the AWS CLI" "interop with the seed's aws s3 cp; run make awscli" || true
    interop=false
else
    interop=true
    plain=$FLEETOPS_S3_WORK/plain
    mkdir -p "$plain/etc"
    cp "$examples/LibGreet/deploy.sh" "$examples/LibGreet/upgrade.sh" "$plain/"
    echo "x=1" > "$plain/etc/plain.conf"
    printf 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: none\n' > "$plain/repo-info"
    (cd "$plain" && tar czf PlainTool.tar.gz etc repo-info deploy.sh upgrade.sh && sha256sum PlainTool.tar.gz > PlainTool.tar.gz.sha256)
    "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp "$plain/PlainTool.tar.gz" s3://releases/PlainTool/1.0.0/ --only-show-errors
    "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp "$plain/PlainTool.tar.gz.sha256" s3://releases/PlainTool/1.0.0/ --only-show-errors
    printf 'rel_branch: 1.2.0\nsub_repo:\n  PlainTool: 1.0.0\n  LibGreet: 1.0.0\nupgrade_list: none\n' > "$plain/dist-repo-info"
    "$AWS" --endpoint-url "$S3_ENDPOINT" s3 cp "$plain/dist-repo-info" s3://releases/DemoProject.dist/1.2.0/repo-info --only-show-errors
fi

# Broken repo-infos, put straight into the bucket (artifact_publish would refuse them).
bad=$FLEETOPS_S3_WORK/bad
mkdir -p "$bad"
put() { printf '%b' "$3" > "$bad/f"; $S3CTL put releases "$1/$2/repo-info" "$bad/f"; }
put Bad.dist syntax 'rel_branch: syntax\nsub_repo:\n  LibGreet: 1.0.0\n   HelloService: [1.0.0\n'
put Bad.dist unknown 'rel_branch: unknown\nsub_repo:\n  LibGreet: 1.0.0\nupgrade_lst: none\n'
put Bad.dist wrongtype 'rel_branch: wrongtype\nsub_repo: [LibGreet, HelloService]\n'
put Bad.dist devdep 'rel_branch: devdep\nsub_repo:\n  DevDep: 1.0.0\n'
put DevDep 1.0.0 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list:\n  LibGreet: developer\n'
put Bad.dist cycle 'rel_branch: cycle\nsub_repo:\n  CycA: 1.0.0\n'
put CycA 1.0.0 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list:\n  CycB: 1.0.0\n'
put CycB 1.0.0 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list:\n  CycA: 1.0.0\n'
put Bad.dist twoversions 'rel_branch: twoversions\nsub_repo:\n  LibGreet: 2.0.0\n  HelloService: 1.0.0\n'
put Bad.dist missingmodule 'rel_branch: missingmodule\nsub_repo:\n  NoSuchModule: 1.0.0\n'
put Bad.dist missingversion 'rel_branch: missingversion\nsub_repo:\n  LibGreet: 9.9.9\n'
put Bad.dist dupkey 'rel_branch: dupkey\nsub_repo:\n  LibGreet: 1.0.0\n  LibGreet: 2.0.0\n'
put Bad.dist template 'rel_branch: [developer|rel_tag_info]\nsub_repo: none\n'
put Bad.dist nosidecar 'rel_branch: nosidecar\nsub_repo:\n  NoSum: 1.0.0\n'
printf 'rel_branch: 1.0.0\nsrc_branch: 1.0.0\ndepend_list: none\n' > "$bad/f"
$S3CTL put releases NoSum/1.0.0/repo-info "$bad/f"
(cd "$bad" && cp f repo-info && tar czf NoSum.tar.gz repo-info) && $S3CTL put releases NoSum/1.0.0/NoSum.tar.gz "$bad/NoSum.tar.gz"

# Tags whose version order differs from their text order, for artifact_info.
for tag in 1.9.0 1.10.0 1.10.0-rc1 0.9.0 developer; do
    printf '%s' "$tag" > "$bad/f"
    $S3CTL put releases "Ver/$tag/Ver.tar.gz" "$bad/f"
done
$S3CTL put releases Ver/1.10.0/Ver.tar.gz.sha256 "$bad/f"

ansible-playbook -i localhost, -c local info.yml "${vars[@]}"
ansible-playbook -i localhost, -c local resolve.yml "${vars[@]}" -e "interop=$interop" "$@"

# In the action's process on a local connection, as a module with a task environment: the same answers (local.yml).
# The module payloads the run leaves behind (kept) are those of the tasks with an environment only: one each for
# "as a module" repo_info, artifact_info and the two release_lock tasks, and one per loop that has a module item (the
# items of a loop share the task's remote directory). Run in the action's process, the other tasks would add one each.
rtmp=$FLEETOPS_S3_WORK/remote-tmp
rm -rf "$rtmp"
ANSIBLE_KEEP_REMOTE_FILES=1 ANSIBLE_REMOTE_TMP=$rtmp ANSIBLE_PYTHON_INTERPRETER=$(command -v python3) \
    ansible-playbook -i localhost, -c local local.yml "${vars[@]}"
count() { find "$rtmp" -name "AnsiballZ_$1.py" | wc -l; }
echo "module payloads: repo_info $(count repo_info), artifact_info $(count artifact_info), release_lock $(count release_lock)"
if [ "$(count repo_info)" -ne 2 ] || [ "$(count artifact_info)" -ne 2 ] || [ "$(count release_lock)" -ne 3 ]; then
    echo "expected 2 repo_info, 2 artifact_info and 3 release_lock payloads (the tasks run as modules), found:" >&2
    find "$rtmp" -name 'AnsiballZ_*' >&2
    exit 1
fi
rm -rf "$rtmp"  # the kept payloads carry the task's arguments, S3 keys included
