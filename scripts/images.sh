#!/usr/bin/env bash
# Builds Slipway's images without any registry (see docs/docker.md):
#  - slipway/base:bookworm  — a minimal Debian (debootstrap --variant=minbase + docker import);
#    glibc and a shell, no Node, no git: what the Docker engine needs of an image at least.
#  - slipway/build:bookworm — the base plus git, curl, CA certificates and Docker (the CLI for
#    builds that use the host's socket, the daemon for Docker-in-Docker).
# Safe to run twice: an image that exists is kept; the debootstrap tree is cached as a tarball
# in $SLIPWAY_IMAGE_CACHE (default /var/cache/slipway). SLIPWAY_REBUILD_IMAGES=1 rebuilds.
set -euo pipefail

cache="${SLIPWAY_IMAGE_CACHE:-/var/cache/slipway}"
mirror="${SLIPWAY_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
rebuild="${SLIPWAY_REBUILD_IMAGES:-}"
here="$(cd "$(dirname "$0")" && pwd)"

have() { [ -z "$rebuild" ] && docker image inspect "$1" >/dev/null 2>&1; }

if ! have slipway/base:bookworm; then
  mkdir -p "$cache"
  tarball="$cache/bookworm-minbase.tar"
  if [ ! -s "$tarball" ] || [ -n "$rebuild" ]; then
    root="$(mktemp -d "$cache/rootfs.XXXXXX")"
    trap 'rm -rf "$root"' EXIT
    debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; echo "debootstrap failed; see $cache/debootstrap.log" >&2; exit 1; }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
    rm -rf "$root"
    trap - EXIT
  fi
  docker import --change 'CMD ["/bin/bash"]' --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    "$tarball" slipway/base:bookworm >/dev/null
  echo "built slipway/base:bookworm"
fi

if ! have slipway/build:bookworm; then
  DOCKER_BUILDKIT=0 docker build --network host -q -t slipway/build:bookworm -f "$here/images/build.Dockerfile" "$here/images" >/dev/null
  echo "built slipway/build:bookworm"
fi
