#!/bin/sh
# Creates, once, the secrets docker-compose.yml reads (docs/cluster.md, "Try it with Docker Compose"):
#
#   .env                      NATS passwords and the JetStream encryption key (compose reads it for
#                             ${...}; the NATS nodes resolve them in deploy/nats/accounts.conf)
#   deploy/secrets/pii.key    the PII key, `k1:<64 hex>`: the same file for every engine
#                             (checkpoints sealed by one engine are opened by the next owner)
#   deploy/secrets/api-keys   one admin API key's hash, `ops admin sha256:<hex>`; the key itself is
#                             printed once, here, and kept nowhere
#
# Existing files are kept: run it again after deleting the ones to replace. Needs openssl and
# sha256sum (or shasum). The secrets are 0644 files in a 0700 directory: the engines run as the
# image's `node` user, which must be able to read the files compose mounts into /run/secrets.
set -eu
cd "$(dirname "$0")/.."
umask 077

# Passwords start with letters: nats-server reads a value like 1234 or 9e47 from the environment as
# a number and refuses it as a password.
secret() { printf 'bw-%s' "$(openssl rand -hex "$1")"; }

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else shasum -a 256 | cut -d' ' -f1; fi
}

if [ -e .env ]; then
  echo ".env exists: kept"
else
  {
    echo "# Written by deploy/secrets.sh for docker-compose.yml. Keep it out of version control."
    echo "NATS_JETSTREAM_KEY=$(secret 32)"
    echo "NATS_ENGINE_PASSWORD=$(secret 24)"
    echo "NATS_ENGINE_FEED_PASSWORD=$(secret 24)"
    echo "NATS_PRODUCER_PASSWORD=$(secret 24)"
    echo "NATS_ADMIN_PASSWORD=$(secret 24)"
  } >.env
  echo "wrote .env (NATS passwords, JetStream key)"
fi

mkdir -p deploy/secrets
chmod 700 deploy/secrets

if [ -e deploy/secrets/pii.key ]; then
  echo "deploy/secrets/pii.key exists: kept"
else
  printf 'k1:%s\n' "$(openssl rand -hex 32)" >deploy/secrets/pii.key
  echo "wrote deploy/secrets/pii.key"
fi

if [ -e deploy/secrets/api-keys ]; then
  echo "deploy/secrets/api-keys exists: kept"
else
  # The form `bellwether keys create` gives: bw_ and 32 random bytes in base64url.
  key="bw_$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"
  printf 'ops admin sha256:%s\n' "$(printf '%s' "$key" | sha256)" >deploy/secrets/api-keys
  echo "wrote deploy/secrets/api-keys; the admin API key (shown only now):"
  echo "  $key"
fi

chmod 644 deploy/secrets/pii.key deploy/secrets/api-keys
