#!/usr/bin/env bash
# End-to-end check of the Docs portal against a real Tessera, with curl: builds both
# binaries, runs `tessera serve` on SQLite in a temporary directory, bootstraps `root`,
# creates a tenant and the app, starts the Docs portal, signs in through Tessera's /signin
# form (and its authenticator enrolment), checks the claims page and the error pages, signs
# out (RP-initiated logout). Needs curl and python3 (browse.py: standard library only).
# Honours CARGO_TARGET_DIR. Leaves nothing running.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
(cd "$root" && cargo build --quiet --bin tessera --bin docs-portal)
tessera=$target/debug/tessera
portal=$target/debug/docs-portal

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
tp=$(free_port)
dp=$(free_port)
idp=http://localhost:$tp
rp=http://localhost:$dp
work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
cd "$work"
export TESSERA_LISTEN=127.0.0.1:$tp TESSERA_ISSUER=$idp

fail() { echo "FAIL: $*" >&2; echo "--- tessera.log" >&2; tail -20 tessera.log >&2; echo "--- portal.log" >&2; tail -20 portal.log >&2; exit 1; }

# The Docs portal keeps retrying discovery while Tessera starts: start it early to show that.
"$tessera" serve >tessera.log 2>&1 & pids+=($!)
for _ in $(seq 50); do curl -fs "$idp/.well-known/openid-configuration" >/dev/null && break; sleep 0.2; done
echo "tessera serve: up at $idp"

pw='correct horse battery staple 1'
echo "$pw" | "$tessera" admin bootstrap --username root --email root@agency.gov.sg --password-stdin
"$tessera" admin tenant create --slug agency --name "Agency"
# PUBLIC=1: a public client (no secret, PKCE only) instead of a confidential one.
"$tessera" admin --json app create --tenant agency --name "Docs portal" ${PUBLIC:+--public} \
    --redirect-uri "$rp/callback" --post-logout-redirect-uri "$rp/" >app.json
client_id=$(python3 -c 'import json; print(json.load(open("app.json"))["client_id"])')
client_secret=$(python3 -c 'import json; print(json.load(open("app.json")).get("client_secret") or "")')
echo "app created: client_id=$client_id${client_secret:+ (with a secret)}"

DOCS_PORTAL_ISSUER=$idp DOCS_PORTAL_CLIENT_ID=$client_id DOCS_PORTAL_CLIENT_SECRET=$client_secret \
    DOCS_PORTAL_LISTEN=127.0.0.1:$dp DOCS_PORTAL_URL=$rp "$portal" >portal.log 2>&1 & pids+=($!)
for _ in $(seq 50); do curl -fs "$rp/" >/dev/null && break; sleep 0.2; done

python3 "$root/examples/docs-portal/browse.py" "$rp" "$idp" root "$pw" || fail "browser run"
