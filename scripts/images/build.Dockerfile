# The build image: git and curl for builds, Docker for image builds (the CLI talks to the
# host's daemon through a mounted socket; dockerd runs inside for Docker-in-Docker).
FROM slipway/base:bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git curl ca-certificates docker.io \
 && rm -rf /var/lib/apt/lists/*
