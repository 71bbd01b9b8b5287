#!/usr/bin/env bash
# Installs what Tessera's test suites need on a fresh Debian machine, and only
# what is missing. Safe to run repeatedly, as root, with no stdin (CI=true).
#
#   - Debian: chromium + chromium-driver (headless browser for e2e/)
#   - PostgreSQL server binaries (initdb/postgres) for the Postgres store tests
#   - e2e/node_modules via `npm ci` (never downloads a browser build)
#   - Python 3 with venv, and the pinned admin API conformance packages
#     (api-tests/requirements.txt) in their virtualenv
#
# cargo-nextest is deliberately NOT installed or required: the suite runs with
# plain `cargo test`.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
E2E_DIR="$REPO_ROOT/e2e"

log() { printf '[install-test-deps] %s\n' "$*" >&2; }

export DEBIAN_FRONTEND=noninteractive
# Never let any npm package fetch a browser of its own; we use Debian's chromium.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
  else
    log "not root and no sudo: cannot install system packages"
  fi
fi

apt_updated=0
apt_install() {
  [ "$#" -gt 0 ] || return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found; please install manually: $*"
    return 1
  fi
  if [ "$apt_updated" -eq 0 ]; then
    log "apt-get update"
    "${SUDO[@]}" apt-get update -qq </dev/null
    apt_updated=1
  fi
  log "apt-get install $*"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" </dev/null
}

deb_installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" = "install ok installed" ]
}

# --- Debian packages -------------------------------------------------------
missing=()
for pkg in chromium chromium-driver; do
  deb_installed "$pkg" || missing+=("$pkg")
done

# Node.js + npm drive the e2e tests (node's built-in test runner).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

# Python 3 with venv runs the admin API conformance tests (api-tests/).
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  missing+=(python3 python3-venv)
fi

# PostgreSQL server binaries: initdb on PATH or under /usr/lib/postgresql/*/bin.
find_initdb() {
  if command -v initdb >/dev/null 2>&1; then
    command -v initdb
    return 0
  fi
  local candidate
  for candidate in /usr/lib/postgresql/*/bin/initdb; do
    if [ -x "$candidate" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}
if ! find_initdb >/dev/null; then
  missing+=(postgresql)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
else
  log "system packages already present"
fi

if initdb_path="$(find_initdb)"; then
  log "PostgreSQL: $("$initdb_path" --version 2>/dev/null || echo "$initdb_path")"
else
  log "ERROR: PostgreSQL initdb still not found after install"
  exit 1
fi

chromium_bin="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$chromium_bin" ]; then
  log "ERROR: chromium not found at $chromium_bin"
  exit 1
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  log "WARNING: node $(node --version) is older than 20; e2e tests need node >= 20.10"
fi

# --- e2e node_modules ------------------------------------------------------
if [ -f "$E2E_DIR/package.json" ]; then
  need_npm=0
  # npm writes node_modules/.package-lock.json after every successful install.
  stamp="$E2E_DIR/node_modules/.package-lock.json"
  if [ ! -d "$E2E_DIR/node_modules" ] || [ ! -f "$stamp" ]; then
    need_npm=1
  elif [ -f "$E2E_DIR/package-lock.json" ] && [ "$E2E_DIR/package-lock.json" -nt "$stamp" ]; then
    need_npm=1
  elif [ "$E2E_DIR/package.json" -nt "$stamp" ]; then
    need_npm=1
  fi

  if [ "$need_npm" -eq 1 ]; then
    if [ -f "$E2E_DIR/package-lock.json" ]; then
      log "npm ci in e2e/"
      (cd "$E2E_DIR" && npm ci --no-audit --no-fund </dev/null)
    else
      log "npm install in e2e/ (no lockfile)"
      (cd "$E2E_DIR" && npm install --no-audit --no-fund </dev/null)
    fi
    # npm ci may preserve the lockfile's old mtime on the stamp; make it fresh.
    touch "$stamp"
  else
    log "e2e/node_modules up to date"
  fi
fi

# --- api-tests virtualenv ----------------------------------------------------
bash "$REPO_ROOT/api-tests/install.sh"
log "api-tests virtualenv up to date"

log "done"
