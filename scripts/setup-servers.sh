#!/usr/bin/env bash
# Installs the servers the tests run for real and that come from a language registry
# rather than Debian: Synapse from PyPI, at the version the image pins, in a virtualenv
# inside the repository (.cache/, ignored by git). Idempotent: a matching install is kept.
# Runs before `npm test` (package.json's pretest) and in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

SYNAPSE_VERSION=1.163.2 # = test/support/synapse.ts SYNAPSE_VERSION = the image pin in stacks/services/images.ts
VENV=.cache/synapse-venv

installed() {
  [ -x "$VENV/bin/python" ] && [ "$("$VENV/bin/python" -c 'import importlib.metadata as m, psycopg2; print(m.version("matrix-synapse"))' 2>/dev/null)" = "$SYNAPSE_VERSION" ]
}

if ! installed; then
  echo "Installing matrix-synapse $SYNAPSE_VERSION from PyPI into $VENV (once)..." >&2
  rm -rf "$VENV"
  mkdir -p .cache
  python3 -m venv "$VENV"
  # The [postgres] extra is psycopg2, built from source: it needs pg_config (libpq-dev),
  # Python's headers and a C compiler, which .ci/run installs from Debian.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse[postgres]==$SYNAPSE_VERSION"
  installed || { echo "matrix-synapse $SYNAPSE_VERSION did not install in $VENV" >&2; exit 1; }
fi
