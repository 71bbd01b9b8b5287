#!/usr/bin/env bash
# Interop harness: proves Tessera's OpenID Connect provider with two independent client
# libraries, Python's authlib (authlib_flow.py) and Node's openid-client v6 + jose
# (openid_client_flow.mjs).
#
#   bash interop/run.sh
#
# Builds nothing: it runs ${TESSERA_BIN:-<repo>/target/debug/tessera}. In a fresh temp dir
# it migrates, bootstraps alice, creates the tenant `docs` and three apps, starts
# `tessera serve` on a free port, runs both test programs and stops the server. Both sign
# alice in through the portal (password, then the authenticator app: authlib_flow.py enrols
# it, openid_client_flow.mjs uses the key it saved in $INTEROP_TOTP_STATE). It installs
# the pinned Python and npm packages only if they are missing. Its last line is
# `interop: N passed, M failed`; it exits non-zero if any check failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
bin="${TESSERA_BIN:-$repo/target/debug/tessera}"

passed=0
failed=0
tmp=""
server_pid=""
closed=0

log() { printf 'interop: %s\n' "$*" >&2; }

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
  # Setup failed before the tests could report: count that as one failure.
  if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi
  if [[ $failed -ne 0 && -n "$tmp" && -s "$tmp/server.log" ]]; then
    log "last lines of the server log:"
    tail -n 40 "$tmp/server.log" >&2
  fi
  closed=1
  echo "interop: $passed passed, $failed failed"
}

finish() {
  local status=$?
  set +e
  [[ $closed -eq 0 ]] && close_out "$status"
  [[ -n "$tmp" ]] && rm -rf "$tmp"
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
command -v node >/dev/null || { log "node (v20 or newer) is required"; exit 1; }

if ! python3 -c 'import authlib, requests' 2>/dev/null; then
  log "installing Python packages from interop/requirements.txt"
  python3 -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt" </dev/null >&2
fi
if [[ ! -d "$here/node_modules/openid-client" || ! -d "$here/node_modules/jose" ]]; then
  log "installing npm packages from interop/package-lock.json"
  (cd "$here" && npm ci --no-audit --no-fund </dev/null >&2)
fi

# ---- a fresh Tessera ----------------------------------------------------------------------

tmp="$(mktemp -d "${TMPDIR:-/tmp}/tessera-interop.XXXXXX")"
cd "$tmp"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port="$(free_port)"
issuer="http://localhost:$port"
# Redirect URIs are only registered and matched: nothing listens on these ports.
authlib_redirect="http://localhost:9901/callback"
oidc_redirect="http://localhost:9902/callback"
username="alice"
password="correct horse battery 42"

# Only the settings below: nothing from the caller's environment may point elsewhere.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^TESSERA_' | grep -v '^TESSERA_BIN$' || true)
export TESSERA_DATABASE_URL="sqlite://$tmp/tessera.db"
export TESSERA_LISTEN="127.0.0.1:$port"
export TESSERA_ISSUER="$issuer"
export TESSERA_LOG_LEVEL="${INTEROP_LOG_LEVEL:-info}"

"$bin" migrate </dev/null >&2
printf '%s\n' "$password" | "$bin" admin bootstrap --username "$username" \
  --email alice@agency.gov.sg --given-name Alice --family-name Tan --mobile +6591234567 \
  --password-stdin >&2
"$bin" admin tenant create --slug docs --name "Docs portal" </dev/null >&2

json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

authlib_app="$("$bin" admin app create --tenant docs --name authlib --redirect-uri "$authlib_redirect" \
  --grant authorization_code --grant refresh_token --json </dev/null)"
oidc_app="$("$bin" admin app create --tenant docs --name openid-client --redirect-uri "$oidc_redirect" \
  --grant authorization_code --grant refresh_token --json </dev/null)"
machine_app="$("$bin" admin app create --tenant docs --name machine --grant client_credentials \
  --scope reports.read --json </dev/null)"

"$bin" serve </dev/null >"$tmp/server.log" 2>&1 &
server_pid=$!

ready=0
for _ in $(seq 1 150); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    log "tessera serve exited during start-up"
    break
  fi
  if python3 - "$issuer/readyz" <<'PY' 2>/dev/null; then
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

# ---- the tests ----------------------------------------------------------------------------

export TEST_USERNAME="$username" TEST_PASSWORD="$password"
# The authenticator app's key (enrolled by the first suite at alice's first sign-in) and
# the last TOTP time step used, so that the next suite's sign-in uses an unused code.
export INTEROP_TOTP_STATE="$tmp/totp.json"

run_suite() { # name, command...
  local name="$1"; shift
  local out="$tmp/$name.out" rc=0
  echo "# $name"
  "$@" </dev/null 2>&1 | tee "$out" || rc=$?
  local ok bad
  ok="$(grep -c '^ok - ' "$out" || true)"
  bad="$(grep -c '^not ok - ' "$out" || true)"
  if [[ $rc -ne 0 && $bad -eq 0 ]]; then
    echo "not ok - $name: exited with status $rc before reporting a failure"
    bad=1
  elif [[ $rc -eq 0 && $ok -eq 0 ]]; then
    echo "not ok - $name: ran no check"
    bad=1
  fi
  passed=$((passed + ok))
  failed=$((failed + bad))
}

run_suite authlib env \
  AUTHLIB_CLIENT_ID="$(json_field client_id <<<"$authlib_app")" \
  AUTHLIB_CLIENT_SECRET="$(json_field client_secret <<<"$authlib_app")" \
  AUTHLIB_REDIRECT_URI="$authlib_redirect" \
  python3 "$here/authlib_flow.py"

run_suite openid-client env \
  OIDC_CLIENT_ID="$(json_field client_id <<<"$oidc_app")" \
  OIDC_CLIENT_SECRET="$(json_field client_secret <<<"$oidc_app")" \
  OIDC_REDIRECT_URI="$oidc_redirect" \
  MACHINE_CLIENT_ID="$(json_field client_id <<<"$machine_app")" \
  MACHINE_CLIENT_SECRET="$(json_field client_secret <<<"$machine_app")" \
  node "$here/openid_client_flow.mjs"

close_out 0
[[ $failed -eq 0 ]]
