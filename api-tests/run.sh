#!/usr/bin/env bash
# Admin API conformance: the OpenAPI document Tessera serves at /api/v1/openapi.json must
# be a valid OpenAPI 3.1 document (openapi-spec-validator), and the running API must keep
# to it (schemathesis: no server errors, documented statuses, content types and response
# schemas), called with a platform token (tessera:admin) and a tenant token (tessera:tenant).
#
#   bash api-tests/run.sh
#
# Builds nothing: it runs ${TESSERA_BIN:-<repo>/target/debug/tessera}. In a fresh temp dir
# it migrates, bootstraps alice, creates the tenant `docs` and an API app holding
# tessera:admin, starts `tessera serve` on a free port, gets access tokens with the
# client_credentials grant and runs the checks. The pinned Python packages
# (api-tests/requirements.txt) are installed into a virtualenv (${API_TESTS_VENV:-
# <repo>/target/api-tests-venv}) only if missing. Its last line is
# `api: N passed, M failed` (one check per validated document and per API operation and
# token); it exits non-zero if any check failed. API_TESTS_EXAMPLES (default 25) bounds
# the test cases per operation and phase; API_TESTS_KEEP=1 keeps the temp dir (database,
# server log, JUnit reports) for a look afterwards.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${TESSERA_BIN:-$repo/target/debug/tessera}"
venv="${API_TESTS_VENV:-$repo/target/api-tests-venv}"
examples="${API_TESTS_EXAMPLES:-25}"

passed=0
failed=0
tmp=""
server_pid=""
closed=0

log() { printf 'api: %s\n' "$*" >&2; }

stop_server() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$server_pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$server_pid" 2>/dev/null; then
      log "server did not stop on SIGTERM within 10 s; sending SIGKILL"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}

# Stop the server, show its log if anything failed, print the closing line (exactly once).
close_out() { # exit status so far
  local status=$1
  stop_server
  if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi
  if [[ $failed -ne 0 && -n "$tmp" && -s "$tmp/server.log" ]]; then
    log "server log lines with errors or panics:"
    grep -E 'ERROR|panicked' "$tmp/server.log" | tail -n 40 >&2 || true
  fi
  closed=1
  echo "api: $passed passed, $failed failed"
}

finish() {
  local status=$?
  set +e
  [[ $closed -eq 0 ]] && close_out "$status"
  if [[ -n "$tmp" && -z "${API_TESTS_KEEP:-}" ]]; then rm -rf "$tmp"; fi
  if [[ $failed -ne 0 && $status -eq 0 ]]; then status=1; fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- prerequisites ------------------------------------------------------------------------

if [[ ! -x "$bin" ]]; then
  log "no Tessera binary at $bin (build it with: cargo build --bin tessera, or set TESSERA_BIN)"
  exit 1
fi
command -v python3 >/dev/null || { log "python3 is required"; exit 1; }

API_TESTS_VENV="$venv" bash "$here/install.sh"
py="$venv/bin/python"

# ---- a fresh Tessera ----------------------------------------------------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tessera-api.XXXXXX")"
cd "$tmp"

port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
issuer="http://localhost:$port"

# Only the settings below: nothing from the caller's environment may point elsewhere.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^TESSERA_' | grep -v '^TESSERA_BIN$' || true)
export TESSERA_DATABASE_URL="sqlite://$tmp/tessera.db"
export TESSERA_LISTEN="127.0.0.1:$port"
export TESSERA_ISSUER="$issuer"
export TESSERA_LOG_LEVEL="${API_TESTS_LOG_LEVEL:-info}"

"$bin" migrate </dev/null >&2
printf '%s\n' "correct horse battery 42" | "$bin" admin bootstrap --username alice \
  --email alice@agency.gov.sg --given-name Alice --family-name Tan --mobile +6591234567 \
  --password-stdin >&2
"$bin" admin tenant create --slug docs --name "Docs portal" </dev/null >&2
"$bin" admin tenant add-admin docs alice </dev/null >&2
platform_app="$("$bin" admin app create --tenant docs --name "API conformance" \
  --grant client_credentials --scope tessera:admin --json </dev/null)"

"$bin" serve </dev/null >"$tmp/server.log" 2>&1 &
server_pid=$!

ready=0
for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "tessera serve exited during start-up"
    break
  fi
  if "$py" - "$issuer/readyz" <<'PY' 2>/dev/null; then
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    sys.exit(0 if r.status == 200 else 1)
PY
    ready=1
    break
  fi
  sleep 0.2
done
if [[ $ready -ne 1 ]]; then
  log "server at $issuer did not become ready within 30 s"
  exit 1
fi
log "tessera serve is ready at $issuer (pid $server_pid)"

# ---- set-up through the API itself ---------------------------------------------------------

# Prints the platform token, then the tenant token: the tenant app is registered through the
# API with the platform token, and both apps get some data (a group, a member) to look at.
tokens="$(PLATFORM_APP="$platform_app" ISSUER="$issuer" "$py" - <<'PY'
import base64, json, os, sys, urllib.error, urllib.parse, urllib.request

issuer = os.environ["ISSUER"]

def token(client_id, secret, scope):
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    req = urllib.request.Request(
        issuer + "/token",
        data=urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode(),
        headers={"Authorization": "Basic " + basic, "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)["access_token"]

def api(method, path, tok, body=None):
    req = urllib.request.Request(
        issuer + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + tok, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit(f"{method} {path}: {e.code} {e.read().decode()}")

platform = json.loads(os.environ["PLATFORM_APP"])
admin = token(platform["client_id"], platform["client_secret"], "tessera:admin")
created = api("POST", "/api/v1/tenants/docs/apps", admin, {
    "name": "Tenant automation", "grant_types": ["client_credentials"],
    "scopes": ["tessera:tenant"], "access_token_ttl_secs": 3600,
})
group = api("POST", "/api/v1/tenants/docs/groups", admin, {"name": "Writers", "description": "Docs writers"})
api("POST", f"/api/v1/tenants/docs/groups/{group['id']}/members", admin, {"user": "alice"})
tenant = token(created["app"]["client_id"], created["client_secret"], "tessera:tenant")
print(admin)
print(tenant)
PY
)"
admin_token="$(sed -n 1p <<<"$tokens")"
tenant_token="$(sed -n 2p <<<"$tokens")"

# ---- the checks ---------------------------------------------------------------------------

"$py" - "$issuer/api/v1/openapi.json" "$tmp/openapi.json" <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=10) as r:
    open(sys.argv[2], "wb").write(r.read())
PY

echo "# openapi-spec-validator"
if out="$("$py" - "$tmp/openapi.json" 2>&1 <<'PY'
import json, sys
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator
doc = json.load(open(sys.argv[1]))
assert doc.get("openapi", "").startswith("3.1"), f"not OpenAPI 3.1: {doc.get('openapi')}"
validate(doc, cls=OpenAPIV31SpecValidator)
print(f"{len(doc['paths'])} paths")
PY
)"; then
  echo "ok - /api/v1/openapi.json is a valid OpenAPI 3.1 document ($out)"
  passed=$((passed + 1))
else
  echo "not ok - /api/v1/openapi.json is not a valid OpenAPI 3.1 document"
  printf '%s\n' "$out" | tail -n 20
  failed=$((failed + 1))
fi

# One schemathesis run; its JUnit report has one test case per operation. Extra arguments
# select the operations.
run_schemathesis() { # name, token, filter arguments...
  local name="$1" token="$2" rc=0
  shift 2
  echo "# schemathesis ($name)"
  "$venv/bin/schemathesis" --no-color run "$tmp/openapi.json" \
    --url "$issuer" \
    --header "Authorization: Bearer $token" \
    --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
    --phases examples,coverage,fuzzing \
    --max-examples "$examples" \
    --seed 7 \
    --workers 1 \
    --request-timeout 10 \
    --generation-database none \
    --report junit --report-junit-path "$tmp/$name.xml" \
    "$@" </dev/null 2>&1 || rc=$?
  local counts
  counts="$("$py" - "$tmp/$name.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0"); sys.exit()
ok = bad = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        bad += 1
        print(f"not ok - {case.get('name')}")
    elif case.find("skipped") is None:
        ok += 1
        print(f"ok - {case.get('name')}")
print(ok, bad)
PY
)"
  printf '%s\n' "$counts" | sed '$d'
  local ok bad
  read -r ok bad <<<"$(tail -n 1 <<<"$counts")"
  if [[ $rc -ne 0 && $bad -eq 0 ]]; then
    echo "not ok - schemathesis ($name) exited with status $rc before reporting a failure"
    bad=1
  elif [[ $ok -eq 0 && $bad -eq 0 ]]; then
    echo "not ok - schemathesis ($name) tested no operation"
    bad=1
  fi
  echo "schemathesis ($name): $ok operations passed, $bad failed"
  passed=$((passed + ok))
  failed=$((failed + bad))
}

# Schemathesis learns ids from responses, so it finds the calling apps themselves: replacing
# an app's settings or deleting it can end the caller's own access. Those two operations run
# last, after every other operation has run with both tokens.
destructive=(--include-operation-id update_app --include-operation-id delete_app)
run_schemathesis platform "$admin_token" --exclude-operation-id update_app --exclude-operation-id delete_app
run_schemathesis tenant "$tenant_token" --exclude-operation-id update_app --exclude-operation-id delete_app
run_schemathesis platform-app-changes "$admin_token" "${destructive[@]}"
run_schemathesis tenant-app-changes "$tenant_token" "${destructive[@]}"

close_out 0
[[ $failed -eq 0 ]]
