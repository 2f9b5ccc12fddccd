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
command -v pg_ctlcluster >/dev/null && [ -d /usr/lib/postgresql/15 ] || need+=(postgresql-15 postgresql-common)
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
