#!/usr/bin/env bash
# s3_artifact against a loopback S3 behind the fault proxy: presigned and boto3 fetches,
# idempotence, version pinning, damaged objects at 1 MiB and 20 MiB, a hostile archive,
# and the store failing, stalling, cutting the stream and refusing expired URLs.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
examples=$FLEETOPS_EXAMPLES
w=$FLEETOPS_S3_WORK

$S3CTL mb releases --versioned
ansible-playbook -i localhost, -c local ../setup_s3/publish_fixtures.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" -e "examples=$examples"

# A 21 MiB artifact (random bytes, so gzip cannot shrink it), published with plain tools,
# plus two copies damaged at rest: one byte flipped at 1 MiB and at 20 MiB, sidecar intact.
mkdir -p "$w/big"
$S3CTL zeros "$w/big/blob.bin" 22020096
(cd "$w/big" && tar czf big.tar.gz blob.bin && sha256sum big.tar.gz > big.tar.gz.sha256)
big_sha=$(cut -d' ' -f1 "$w/big/big.tar.gz.sha256")
big_size=$(stat -c %s "$w/big/big.tar.gz")
for ch in 1.0.0 flip1m flip20m; do
    $S3CTL put releases "Big/$ch/big.tar.gz" "$w/big/big.tar.gz"
    $S3CTL put releases "Big/$ch/big.tar.gz.sha256" "$w/big/big.tar.gz.sha256"
done
$S3CTL flip releases Big/flip1m/big.tar.gz 1048576
$S3CTL flip releases Big/flip20m/big.tar.gz 20971520

# A hostile archive with a correct checksum: verification passes, the allow-list must not.
"$FLEETOPS_TEST_PYTHON" - "$w/evil.tar.gz" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w:gz") as tar:
    for name, data in (("ok.txt", b"fine\n"), ("../escaped.txt", b"owned\n")):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
PY
(cd "$w" && sha256sum evil.tar.gz > evil.tar.gz.sha256)
$S3CTL put releases Evil/1.0.0/evil.tar.gz "$w/evil.tar.gz"
$S3CTL put releases Evil/1.0.0/evil.tar.gz.sha256 "$w/evil.tar.gz.sha256"

ansible-playbook -i localhost, -c local fetch.yml -e "endpoint=$S3_ENDPOINT" -e "work=$w" \
    -e "big_sha=$big_sha" -e "big_size=$big_size" "$@"
