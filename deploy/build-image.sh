#!/usr/bin/env bash
# Build the serving image: with docker when its engine answers, with podman otherwise.
#
# With podman, a base image that cannot be pulled (no registry reachable) is replaced by a
# local stand-in built by deploy/make-base-image.sh. If the host trusts an extra CA for
# outgoing TLS (PIP_CERT), it is handed to pip in the build as a secret, never baked in.
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/engine.sh

IMAGE="${IMAGE:-number-visualizer:latest}"
EXTRAS="${EXTRAS:-serve}"  # serve,postgres for an image that can store feedback in PostgreSQL
BASE_IMAGE="${BASE_IMAGE:-docker.io/library/python:3.11-slim}"

build_args=(--build-arg "EXTRAS=$EXTRAS")
if [[ -n "${PIP_CERT:-}" && -s "$PIP_CERT" ]]; then
    build_args+=(--secret "id=pip_cert,src=$PIP_CERT")
fi

SECONDS=0
case "$(container_engine)" in
docker)
    echo "building $IMAGE with docker"
    DOCKER_BUILDKIT=1 docker build "${build_args[@]}" --tag "$IMAGE" .
    ;;
podman)
    if ! podman image exists "$BASE_IMAGE"; then
        podman pull "$BASE_IMAGE" ||
            { echo "cannot pull $BASE_IMAGE; building a local stand-in"; bash deploy/make-base-image.sh; }
    fi
    if [[ -n "$(podman image inspect --format \
        '{{index .Labels "number-visualizer.base-stand-in"}}' "$BASE_IMAGE")" ]]; then
        echo "note: $BASE_IMAGE is the local debootstrap stand-in, not the official image"
    fi
    echo "building $IMAGE with podman"
    # chroot isolation and the host network: builds work inside an unprivileged container too.
    # Docker image format, because the OCI format has no HEALTHCHECK.
    podman build --isolation chroot --network host --format docker \
        "${build_args[@]}" --tag "$IMAGE" .
    ;;
*)
    echo "error: neither a working docker engine nor podman is available" >&2
    exit 1
    ;;
esac
echo "built $IMAGE in ${SECONDS} s"
