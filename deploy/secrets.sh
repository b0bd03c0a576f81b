#!/bin/sh
# Creates, once, the secrets deploy/docker-compose.yml reads (docs/cluster.md, "Try it with Docker Compose"):
#
#   deploy/.env               NATS passwords, the JetStream encryption key and Grafana's admin password
#                             (compose reads it for ${...}; the NATS nodes resolve them in
#                             deploy/nats/accounts.conf)
#   deploy/secrets/pii.key    the PII key, `k1:<64 hex>`: the same file for every engine
#                             (checkpoints sealed by one engine are opened by the next owner)
#   deploy/secrets/api-keys   one admin API key's hash, `ops admin sha256:<hex>`; the key itself is
#                             printed once, here, and kept nowhere; and the hash of Prometheus's key,
#                             `prometheus viewer sha256:<hex>`
#   deploy/secrets/prometheus-token   that viewer key, which Prometheus sends to scrape /metrics
#
# Existing files are kept: run it again after deleting the ones to replace. Needs openssl and
# sha256sum (or shasum). The secrets are 0644 files in a 0700 directory: the engines run as the
# image's `node` user, which must be able to read the files compose mounts into /run/secrets.
set -eu
cd "$(dirname "$0")"
umask 077

# Passwords start with letters: nats-server reads a value like 1234 or 9e47 from the environment as
# a number and refuses it as a password.
secret() { printf 'bw-%s' "$(openssl rand -hex "$1")"; }

sha256() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum | cut -d' ' -f1; else shasum -a 256 | cut -d' ' -f1; fi
}

# Before 2026-12-07 the compose file and its .env lived at the repository's root: an .env there is moved.
if [ ! -e .env ] && [ -e ../.env ] && grep -q NATS_JETSTREAM_KEY ../.env; then
  mv ../.env .env
  echo "moved ../.env to deploy/.env (the compose file now lives in deploy/)"
fi

if [ -e .env ]; then
  echo "deploy/.env exists: kept"
else
  {
    echo "# Written by deploy/secrets.sh for deploy/docker-compose.yml. Keep it out of version control."
    echo "NATS_JETSTREAM_KEY=$(secret 32)"
    echo "NATS_ENGINE_PASSWORD=$(secret 24)"
    echo "NATS_ENGINE_FEED_PASSWORD=$(secret 24)"
    echo "NATS_PRODUCER_PASSWORD=$(secret 24)"
    echo "NATS_ADMIN_PASSWORD=$(secret 24)"
  } >.env
  echo "wrote deploy/.env (NATS passwords, JetStream key)"
fi
if ! grep -q '^GRAFANA_ADMIN_PASSWORD=' .env; then
  echo "GRAFANA_ADMIN_PASSWORD=$(secret 16)" >>.env
  echo "added GRAFANA_ADMIN_PASSWORD to deploy/.env"
fi

mkdir -p secrets
chmod 700 secrets

if [ -e secrets/pii.key ]; then
  echo "deploy/secrets/pii.key exists: kept"
else
  printf 'k1:%s\n' "$(openssl rand -hex 32)" >secrets/pii.key
  echo "wrote deploy/secrets/pii.key"
fi

# The form `bellwether keys create` gives: bw_ and 32 random bytes in base64url.
api_key() { printf 'bw_%s' "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"; }

if [ -e secrets/api-keys ]; then
  echo "deploy/secrets/api-keys exists: kept"
else
  key="$(api_key)"
  printf 'ops admin sha256:%s\n' "$(printf '%s' "$key" | sha256)" >secrets/api-keys
  echo "wrote deploy/secrets/api-keys; the admin API key (shown only now):"
  echo "  $key"
fi

if [ -e secrets/prometheus-token ]; then
  echo "deploy/secrets/prometheus-token exists: kept"
else
  key="$(api_key)"
  printf '%s' "$key" >secrets/prometheus-token
  printf 'prometheus viewer sha256:%s\n' "$(printf '%s' "$key" | sha256)" >>secrets/api-keys
  echo "wrote deploy/secrets/prometheus-token (a viewer key for Prometheus) and its hash to deploy/secrets/api-keys"
fi

chmod 644 secrets/pii.key secrets/api-keys secrets/prometheus-token
