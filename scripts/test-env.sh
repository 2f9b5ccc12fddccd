#!/usr/bin/env bash
# Installs and starts what the test suites need on a Debian machine (run as root).
# Safe to run twice: it installs only what is missing and starts only what is stopped.
set -euo pipefail

need=()
command -v git >/dev/null || need+=(git)
command -v tar >/dev/null || need+=(tar)
if [ ${#need[@]} -gt 0 ]; then
  if [ -z "${SLIPWAY_APT_UPDATED:-}" ]; then apt-get update -qq; export SLIPWAY_APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
fi

# Test repositories are made with git commit: give git an identity if it has none.
git config --global user.email >/dev/null || git config --global user.email "ci@slipway.invalid"
git config --global user.name >/dev/null || git config --global user.name "Slipway CI"
