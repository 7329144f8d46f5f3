#!/usr/bin/env bash
# Deploys an association (the example by default) to the local Docker engine, with
# Pulumi's local file backend: no Pulumi account, state and passphrase in ~/.bastide.
set -euo pipefail
cd "$(dirname "$0")/.."
config="${1:-examples/association.yaml}"
export PATH="$PWD/node_modules/.bin:$PATH"

state="${BASTIDE_STATE_DIR:-$HOME/.bastide}"
mkdir -p "$state/pulumi" && chmod 700 "$state"
export PULUMI_BACKEND_URL="file://$state/pulumi"

# The passphrase encrypts the stack's secrets; it is generated once and never printed.
passphrase="$state/passphrase"
if [ ! -s "$passphrase" ]; then
  (umask 077 && node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64url"))' >"$passphrase")
fi
export PULUMI_CONFIG_PASSPHRASE_FILE="$passphrase"

# Validate first: a bad file stops here, before Pulumi touches anything.
npm run --silent plan -- "$config" --out out/plan >/dev/null

pulumi stack select --create local
pulumi config set bastide:config "$config"

# Secrets only the admin can supply (the mail relay's password, when the relay needs a
# login): refuse here, naming the command, rather than halfway through pulumi up.
for key in $(npm run --silent plan -- "$config" --secret-keys); do
  if ! pulumi config get --stack local "$key" >/dev/null 2>&1; then
    echo "$config needs the secret $key, which the stack does not have; nothing was created or changed. Set it, then run npm run deploy again:" >&2
    echo "  PULUMI_BACKEND_URL=$PULUMI_BACKEND_URL PULUMI_CONFIG_PASSPHRASE_FILE=$passphrase npx pulumi config set --secret --stack local $key '<value>'" >&2
    exit 1
  fi
done
pulumi up --yes --stack local
