#!/usr/bin/env bash
# Installs the pinned Python packages of the admin API conformance tests
# (api-tests/requirements.txt: schemathesis, openapi-spec-validator) into a virtualenv,
# only if it is missing or holds other versions. Prints nothing when all is in place.
#
#   bash api-tests/install.sh      # the virtualenv: ${API_TESTS_VENV:-<repo>/target/api-tests-venv}
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="${API_TESTS_VENV:-$repo/target/api-tests-venv}"

# The virtualenv is current when it was made from exactly these requirements.
stamp="$venv/.requirements.txt"
if [[ -x "$venv/bin/python" ]] && cmp -s "$here/requirements.txt" "$stamp" \
  && "$venv/bin/python" -c 'import schemathesis, openapi_spec_validator' 2>/dev/null; then
  exit 0
fi
command -v python3 >/dev/null || { echo "api-tests: python3 is required" >&2; exit 1; }
echo "api-tests: installing Python packages from api-tests/requirements.txt into $venv" >&2
python3 -m venv "$venv" >&2
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -r "$here/requirements.txt" </dev/null >&2
cp "$here/requirements.txt" "$stamp"
