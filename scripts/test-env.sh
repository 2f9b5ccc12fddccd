#!/usr/bin/env bash
# Installs and starts what the test suites need on a Debian machine (run as root).
# Safe to run twice: it installs only what is missing and starts only what is stopped.
set -euo pipefail

apt_updated=""
install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

need=()
command -v git >/dev/null || need+=(git)
command -v tar >/dev/null || need+=(tar)
command -v curl >/dev/null || need+=(curl ca-certificates)
command -v pg_ctlcluster >/dev/null && [ -d /usr/lib/postgresql/15 ] || need+=(postgresql-15 postgresql-common)
# The Docker engine's suites: a daemon, offline base images, a private registry with a password.
command -v dockerd >/dev/null || need+=(docker.io)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
# The web UI's suite drives Debian's chromium with playwright-core.
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then install "${need[@]}"; fi

# Test repositories are made with git commit: give git an identity if it has none.
git config --global user.email >/dev/null || git config --global user.email "ci@slipway.invalid"
git config --global user.name >/dev/null || git config --global user.name "Slipway CI"

# PostgreSQL 15 on 127.0.0.1:5432 with a test role and database; the store suites use
# SLIPWAY_TEST_POSTGRES_URL (default postgres://slipway:slipway@127.0.0.1:5432/slipway_test).
if ! pg_lsclusters -h | grep -q '^15 *main'; then pg_createcluster 15 main >/dev/null; fi
if ! pg_lsclusters -h | grep -q '^15 *main *[0-9]* *online'; then pg_ctlcluster 15 main start; fi
for _ in $(seq 1 50); do su postgres -c "pg_isready -q" && break; sleep 0.2; done
su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='slipway'\"" | grep -q 1 ||
  su postgres -c "psql -q -c \"CREATE ROLE slipway LOGIN SUPERUSER PASSWORD 'slipway'\""
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='slipway_test'\"" | grep -q 1 ||
  su postgres -c "createdb -O slipway slipway_test"

# dockerd, started by hand (no init system). No bridge and no iptables: containers run with
# --network host or none, so tests reach only 127.0.0.0/8.
mkdir -p /var/log/slipway-ci
if ! docker info >/dev/null 2>&1; then
  nohup dockerd --bridge=none --iptables=false --ip6tables=false >/var/log/slipway-ci/dockerd.log 2>&1 &
  for _ in $(seq 1 150); do docker info >/dev/null 2>&1 && break; sleep 0.2; done
  docker info >/dev/null || { tail -20 /var/log/slipway-ci/dockerd.log; echo "dockerd did not start" >&2; exit 1; }
fi

# A private registry on 127.0.0.1:5000 with one user; the registry tests read the same
# credentials from SLIPWAY_TEST_REGISTRY_* (defaults below).
mkdir -p /etc/slipway-ci /var/lib/slipway-ci/registry
[ -f /etc/slipway-ci/registry.htpasswd ] || htpasswd -Bbc /etc/slipway-ci/registry.htpasswd slipway slipway-registry >/dev/null 2>&1
cat >/etc/slipway-ci/registry.yml <<'YAML'
version: 0.1
log: { level: warn }
storage:
  filesystem: { rootdirectory: /var/lib/slipway-ci/registry }
  delete: { enabled: true }
http: { addr: "127.0.0.1:5000" }
auth:
  htpasswd: { realm: slipway-ci, path: /etc/slipway-ci/registry.htpasswd }
YAML
if ! curl -s -o /dev/null http://127.0.0.1:5000/v2/; then
  nohup docker-registry serve /etc/slipway-ci/registry.yml >/var/log/slipway-ci/registry.log 2>&1 &
  for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:5000/v2/ && break; sleep 0.2; done
fi

# The base and build images, made offline (cached after the first run).
bash "$(dirname "$0")/images.sh"
