#!/usr/bin/env bash
# The fleet inventory plugin through ansible-inventory and ansible-playbook:
#   - the fleet inline: groups, variables, constructed groups, a playbook, temporary hosts from a second source;
#   - an S3 source (moto behind the fault proxy) and the inventory cache: populate, mutate, still cached,
#     --flush-cache, fresh; NoSuchKey, 403 and an unreachable endpoint;
#   - an HTTPS source (a loopback server with a self-signed certificate): token header, 404, 401, redirect,
#     TLS verification failure, timeout; no token or query string in any message;
#   - a local file source, and document errors with their exact messages.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
# shellcheck source=../setup_s3/env.sh
source ../setup_s3/env.sh
export ANSIBLE_COLLECTIONS_ON_ANSIBLE_VERSION_MISMATCH=ignore
export ANSIBLE_INVENTORY_ENABLED=fleetops.release.fleet,ansible.builtin.ini
export ANSIBLE_INVENTORY_UNPARSED_FAILED=true
here=$(pwd)
w=$FLEETOPS_S3_WORK/inventory
mkdir -p "$w/www" "$w/cert" "$w/cache"
PY=$FLEETOPS_TEST_PYTHON
CHECK="$PY $here/files/inv_check.py"
TOKEN=fleet-token-CANARY-4711
QUERY=sig=QUERY-CANARY-0815

https_pid=
inventory_cleanup() {
    if [ -n "$https_pid" ]; then kill "$https_pid" 2>/dev/null || true; wait "$https_pid" 2>/dev/null || true; fi
    setup_s3_cleanup
}
trap inventory_cleanup EXIT

step() { echo "== $*"; }

# inv FILE...: ansible-inventory --list into $w/list.json
inv() {
    local args=() f
    for f in "$@"; do args+=(-i "$f"); done
    ansible-inventory "${args[@]}" --list > "$w/list.json"
}

# expect_error MESSAGE FILE [ansible-inventory args]: the inventory fails with exactly MESSAGE in its output
expect_error() {
    local message=$1 file=$2
    shift 2
    if ansible-inventory -i "$file" --list "$@" > "$w/out" 2> "$w/err"; then
        echo "expected a failure for $file" >&2; cat "$w/out" >&2; exit 1
    fi
    tr -s ' \n' ' ' < "$w/err" > "$w/err.flat"
    if ! grep -qF -- "$message" "$w/err.flat"; then
        echo "expected message not found: $message" >&2; cat "$w/err" >&2; exit 1
    fi
    for secret in "$TOKEN" "$QUERY" "$AWS_SECRET_ACCESS_KEY"; do
        if grep -qF -- "$secret" "$w/err"; then echo "secret leaked in the error of $file" >&2; cat "$w/err" >&2; exit 1; fi
    done
}

# The source document of the remote cases: the projects of inline.fleet.yml (YAML and JSON)
"$PY" - "$here/inline.fleet.yml" "$w" <<'PY'
import json, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
projects = {"projects": doc["projects"]}
yaml.safe_dump(projects, open(sys.argv[2] + "/fleet.yml", "w"))
json.dump(projects, open(sys.argv[2] + "/www/fleet.json", "w"))
# v2: one more online host
projects["projects"]["projectx"]["environments"]["online"]["hosts"]["web09.example.com"] = {"tags": {"dc": "sh-2"}}
yaml.safe_dump(projects, open(sys.argv[2] + "/fleet-v2.yml", "w"))
PY

step "inline: groups, memberships, variables, constructed groups"
inv inline.fleet.yml
$CHECK "$w/list.json" hosts=9 \
    "children:projectx=projectx_sdk_beta,projectx_beta_console,projectx_beta,projectx_online,projectx_crontab" \
    "members:projectx_sdk_beta=sdk-beta-01.example.com,sdk-beta-02.example.com" \
    "members:env_beta=sdk-beta-01.example.com,sdk-beta-02.example.com,console01.example.com,beta01.example.com" \
    "children:env_beta=projectx_sdk_beta,projectx_beta_console,projectx_beta" \
    "members:service_sdk=sdk-beta-01.example.com,sdk-beta-02.example.com" \
    "members:service_console=console01.example.com" \
    "members:env_online=web01.example.com,web02.example.com,web03.example.com" \
    "members:service_crontab=cron01.example.com,web01.example.com" \
    "members:projectx_crontab=cron01.example.com,web01.example.com" \
    "members:tag_dc_bj1=sdk-beta-01.example.com,web01.example.com,web02.example.com,web03.example.com" \
    "members:tag_dc_sh_2=sdk-beta-02.example.com" \
    "members:tag_canary=sdk-beta-01.example.com" \
    "members:tag_roles_web=web01.example.com,web02.example.com,web03.example.com" \
    "members:_2024_archive_Release_Prod=archive01.example.com" \
    "children:_2024_archive=_2024_archive_Release_Prod" \
    "members:env_prod=archive01.example.com" \
    "members:canaries=sdk-beta-01.example.com" \
    "members:keyed_env_beta=sdk-beta-01.example.com,sdk-beta-02.example.com,console01.example.com,beta01.example.com" \
    "members:keyed_env_none=cron01.example.com" \
    nogroup:tag_canary_false nogroup:tag_canary_true nogroup:service_beta \
    'var:sdk-beta-01.example.com:fleet_project="projectx"' \
    'var:sdk-beta-01.example.com:fleet_environment="sdk_beta"' \
    'var:sdk-beta-01.example.com:fleet_env="beta"' \
    'var:sdk-beta-01.example.com:fleet_service="sdk"' \
    'var:sdk-beta-01.example.com:fleet_tags={"dc": "bj1", "canary": true}' \
    'var:sdk-beta-01.example.com:ansible_host="10.1.0.11"' \
    'var:sdk-beta-01.example.com:rack_label="rack-bj1"' \
    'var:console01.example.com:fleet_service="console"' \
    'var:console01.example.com:fleet_tags={}' \
    'var:web02.example.com:ansible_user="deploy"' \
    'var:web02.example.com:fleet_env="online"' \
    'var:cron01.example.com:fleet_env=null' \
    'var:cron01.example.com:fleet_service="crontab"' \
    'var:archive01.example.com:fleet_env="prod"' \
    'var:archive01.example.com:fleet_project="2024-archive"'
ansible-inventory -i inline.fleet.yml --graph env_beta > "$w/graph"
grep -q -- "--@projectx_sdk_beta:" "$w/graph"
grep -q -- "--sdk-beta-01.example.com" "$w/graph"

step "playbook against the plugin, with temporary hosts from a second source"
ansible-playbook -i inline.fleet.yml -i temporary.ini check.yml "$@" > "$w/play.out" || { cat "$w/play.out"; exit 1; }
grep -q "tmp-beta-01 *: ok=2 " "$w/play.out" || { cat "$w/play.out"; exit 1; }
grep -q "sdk-beta-01.example.com *: ok=2 " "$w/play.out" || { cat "$w/play.out"; exit 1; }
inv inline.fleet.yml temporary.ini
$CHECK "$w/list.json" hosts=11 \
    "members:projectx_beta=beta01.example.com,tmp-beta-01" \
    "members:env_online=web01.example.com,web02.example.com,web03.example.com,tmp-web-09" \
    'var:tmp-web-09:fleet_env="online"' 'var:tmp-web-09:ansible_user="deploy"' 'var:tmp-web-09:fleet_project="projectx"'
# the second source may also come first
inv temporary.ini inline.fleet.yml
$CHECK "$w/list.json" hosts=11 "members:env_beta=sdk-beta-01.example.com,sdk-beta-02.example.com,console01.example.com,beta01.example.com,tmp-beta-01"

step "local file source (JSON), relative to the inventory file"
printf 'plugin: fleetops.release.fleet\nsource:\n  file: www/fleet.json\n' > "$w/file.fleet.yml"
inv "$w/file.fleet.yml"
$CHECK "$w/list.json" hosts=9 "members:service_sdk=sdk-beta-01.example.com,sdk-beta-02.example.com" \
    'var:sdk-beta-01.example.com:greeting="{{ fleet_project }} in {{ fleet_environment }}"'
# a source document is data: its templates are not rendered
ansible -i "$w/file.fleet.yml" -c local sdk-beta-01.example.com -m ansible.builtin.debug -a var=greeting > "$w/debug.out"
grep -qF '"greeting": "{{ fleet_project }} in {{ fleet_environment }}"' "$w/debug.out" || { cat "$w/debug.out"; exit 1; }
printf 'plugin: fleetops.release.fleet\nsource:\n  file: nowhere.json\n' > "$w/nofile.fleet.yml"
expect_error "$w/nowhere.json: cannot read the source: no such file" "$w/nofile.fleet.yml"

step "S3 source and the inventory cache"
$S3CTL mb fleet-inv
$S3CTL put fleet-inv cmdb/fleet.yml "$w/fleet.yml"
cat > "$w/s3.fleet.yml" <<EOF
plugin: fleetops.release.fleet
source:
  s3:
    bucket: fleet-inv
    key: cmdb/fleet.yml
    endpoint_url: $S3_ENDPOINT
    retries: 0
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: $w/cache
cache_timeout: 3600
EOF
$S3CTL clear-stats
inv "$w/s3.fleet.yml"
$CHECK "$w/list.json" hosts=9 "members:env_online=web01.example.com,web02.example.com,web03.example.com"
test "$($S3CTL gets /fleet-inv/cmdb/fleet.yml)" = 1
cache_file=$(find "$w/cache" -type f | head -1)
test -n "$cache_file"
grep -q "sdk-beta-01.example.com" "$cache_file"   # the raw document is what is cached
before=$(stat -c %Y.%s "$cache_file")
sleep 1.1
$S3CTL put fleet-inv cmdb/fleet.yml "$w/fleet-v2.yml"
inv "$w/s3.fleet.yml"
$CHECK "$w/list.json" hosts=9 "members:env_online=web01.example.com,web02.example.com,web03.example.com"
test "$($S3CTL gets /fleet-inv/cmdb/fleet.yml)" = 1            # a hit reads nothing from S3
test "$(stat -c %Y.%s "$cache_file")" = "$before"               # and does not rewrite the cache
ansible-inventory -i "$w/s3.fleet.yml" --list --flush-cache > "$w/list.json"
$CHECK "$w/list.json" hosts=10 "members:env_online=web01.example.com,web02.example.com,web03.example.com,web09.example.com"
test "$($S3CTL gets /fleet-inv/cmdb/fleet.yml)" = 2
inv "$w/s3.fleet.yml"
$CHECK "$w/list.json" hosts=10 'var:web09.example.com:fleet_tags={"dc": "sh-2"}'
test "$($S3CTL gets /fleet-inv/cmdb/fleet.yml)" = 2

step "S3 errors"
sed -e 's|key: cmdb/fleet.yml|key: cmdb/missing.yml|' -e '/^cache/d' "$w/s3.fleet.yml" > "$w/s3-missing.fleet.yml"
expect_error "s3://fleet-inv/cmdb/missing.yml: cannot read the source: no such object (NoSuchKey)" "$w/s3-missing.fleet.yml"
closed=$(free_port)
sed -e "s|endpoint_url: .*|endpoint_url: http://127.0.0.1:$closed|" -e '/^cache/d' "$w/s3.fleet.yml" > "$w/s3-closed.fleet.yml"
expect_error "s3://fleet-inv/cmdb/fleet.yml: cannot read the source: cannot reach the S3 endpoint http://127.0.0.1:$closed (after 0 retries)" \
    "$w/s3-closed.fleet.yml"
$S3CTL fault '{"mode": "status", "status": 403, "match": "cmdb/fleet.yml", "count": -1}'
expect_error "s3://fleet-inv/cmdb/fleet.yml: cannot read the source: S3 answered 403" "$w/s3.fleet.yml" --flush-cache
$S3CTL fault reset

step "HTTPS source"
cp "$w/www/fleet.json" "$w/www/token.json"
"$PY" files/https_server.py "$w/www" "$w/cert" "$w/https.port" "$TOKEN" "$w/https.log" 30 > "$w/https.out" 2>&1 &
https_pid=$!
for _ in $(seq 1 1200); do [ -s "$w/https.port" ] && break; sleep 0.1; done
[ -s "$w/https.port" ] || { echo "the HTTPS source server did not start"; cat "$w/https.out"; exit 1; }
port=$(cat "$w/https.port")
base=https://127.0.0.1:$port
https_doc() {  # https_doc NAME URL [extra option lines]
    local name=$1 url=$2
    shift 2
    {
        printf 'plugin: fleetops.release.fleet\nsource:\n  https:\n    url: "%s"\n' "$url"
        printf '    ca_path: %s\n' "$w/cert/cert.pem"
        printf '    headers:\n      Authorization: "Bearer {{ lookup('"'"'ansible.builtin.env'"'"', '"'"'FLEET_TOKEN'"'"') }}"\n'
        printf '    timeout: %s\n' "${HTTPS_TIMEOUT:-30}"  # 1 for the slow case only: a loaded machine answers late
        printf '%s\n' "$@"
    } > "$w/$name.fleet.yml"
}
export FLEET_TOKEN=$TOKEN
https_doc ok "$base/private/token.json?$QUERY"
inv "$w/ok.fleet.yml"
$CHECK "$w/list.json" hosts=9 "members:tag_canary=sdk-beta-01.example.com" 'var:beta01.example.com:fleet_env="beta"'
grep -qx "GET /private/token.json" "$w/https.log"
# nothing at -vvvv shows the token or the query string
ansible-inventory -i "$w/ok.fleet.yml" --list -vvvv > "$w/verbose.out" 2>&1
grep -q "sdk-beta-01.example.com" "$w/verbose.out"
if grep -qF -e "$TOKEN" -e "$QUERY" "$w/verbose.out"; then echo "the token or the query string leaked at -vvvv" >&2; exit 1; fi
https_doc missing "$base/public/missing.json?$QUERY"
expect_error "$base/public/missing.json: cannot read the source: the server answered 404 Not Found" "$w/missing.fleet.yml"
FLEET_TOKEN=wrong expect_error "$base/private/token.json: cannot read the source: the server answered 401 Unauthorized" "$w/ok.fleet.yml"
https_doc moved "$base/moved/fleet.json?$QUERY"
expect_error "$base/moved/fleet.json: cannot read the source: the server answered 302 Found (redirects are not followed: use the final URL)" \
    "$w/moved.fleet.yml"
HTTPS_TIMEOUT=1 https_doc slow "$base/slow/fleet.json?$QUERY"
expect_error "$base/slow/fleet.json: cannot read the source: no answer within 1 s (timeout)" "$w/slow.fleet.yml"
sed -e '/ca_path/d' "$w/ok.fleet.yml" > "$w/noca.fleet.yml"
expect_error "$base/private/token.json: cannot read the source: TLS certificate verification failed (self-signed certificate); set ca_path to the CA that signed the server's certificate" \
    "$w/noca.fleet.yml"
https_doc plain "http://127.0.0.1:$port/public/fleet.json?$QUERY"
expect_error "source.https.url: only https:// URLs with a host are accepted (got a string: 'http://127.0.0.1:$port/public/fleet.json')" \
    "$w/plain.fleet.yml"

step "document errors"
bad() {  # bad NAME: $w/NAME.fleet.yml from stdin
    { echo "plugin: fleetops.release.fleet"; cat; } > "$w/$1.fleet.yml"
}
bad unknown <<'EOF'
projects:
  projectx:
    enviroments: {}
EOF
expect_error "$w/unknown.fleet.yml: projects.projectx: unknown key 'enviroments' (did you mean 'environments'?); known keys: vars, environments" \
    "$w/unknown.fleet.yml"
bad option <<'EOF'
projcts: {}
EOF
expect_error "$w/option.fleet.yml: unknown key 'projcts' (did you mean 'projects'?)" "$w/option.fleet.yml"
bad conflict <<'EOF'
projects:
  projectx:
    environments:
      beta:
        hosts:
          web01.example.com: {vars: {ansible_host: 10.0.0.1}}
      online:
        hosts:
          web01.example.com: {vars: {ansible_host: 10.0.0.2}}
EOF
expect_error "$w/conflict.fleet.yml: projects.projectx.environments.online.hosts[\"web01.example.com\"]: host 'web01.example.com' is already listed at projects.projectx.environments.beta.hosts[\"web01.example.com\"] with different vars; variable 'ansible_host' differs" \
    "$w/conflict.fleet.yml"
bad type <<'EOF'
projects:
  projectx:
    environments: [beta, online]
EOF
expect_error "$w/type.fleet.yml: projects.projectx.environments: expected a mapping of environment names (got a list: ['beta', 'online'])" \
    "$w/type.fleet.yml"
bad tag <<'EOF'
projects:
  projectx:
    environments:
      beta:
        hosts:
          web01.example.com: {tags: {dc: {name: bj1}}}
EOF
expect_error "$w/tag.fleet.yml: projects.projectx.environments.beta.hosts[\"web01.example.com\"].tags.dc: a tag value must be a string, number, boolean, null or a list of those (got a mapping: {'name': 'bj1'})" \
    "$w/tag.fleet.yml"
bad duplicate <<'EOF'
projects:
  projectx:
    environments:
      beta:
        hosts:
          web01.example.com:
          web01.example.com:
EOF
expect_error "$w/duplicate.fleet.yml: not valid YAML: found duplicate key 'web01.example.com' (line 8, column 11)" "$w/duplicate.fleet.yml"
bad both <<'EOF'
projects: {}
source: {file: x.json}
EOF
expect_error "$w/both.fleet.yml: needs exactly one of projects (the fleet inline) and source (where to read it)" "$w/both.fleet.yml"
bad collide <<'EOF'
projects:
  web-a: {}
  web_a: {}
EOF
expect_error "$w/collide.fleet.yml: projects.web_a: project 'web_a' becomes group 'web_a', which project 'web-a' already is (projects.web-a)" \
    "$w/collide.fleet.yml"
echo "inventory_fleet: all checks passed"
