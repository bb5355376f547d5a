#!/usr/bin/env bash
# Build a local stand-in for the public base image when no registry is reachable.
#
# The Dockerfile builds FROM python:3.11-slim. Where that image cannot be pulled (an offline
# or registry-less machine with podman), this script makes an image with the same name from a
# minimal Debian bookworm root filesystem: Python 3.11 with venv/ensurepip, CA certificates,
# and `python`/`python3` on /usr/local/bin as in the official image. It is labelled as a
# stand-in so nobody mistakes it for the real thing. The rootfs tarball is cached outside the
# repository so a rebuild takes seconds.
set -euo pipefail

BASE_IMAGE="${BASE_IMAGE:-docker.io/library/python:3.11-slim}"
CACHE_DIR="${BASE_CACHE_DIR:-/var/tmp/number-visualizer-base}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=bookworm
TARBALL="$CACHE_DIR/$SUITE-python3.11-rootfs.tar"

if podman image exists "$BASE_IMAGE"; then
    echo "base image $BASE_IMAGE is already present"
    exit 0
fi

if [[ ! -f "$TARBALL" ]]; then
    command -v debootstrap >/dev/null || {
        echo "error: $BASE_IMAGE is not available and debootstrap is not installed;" \
            "pull the image or install debootstrap (apt-get install debootstrap)" >&2
        exit 1
    }
    mkdir -p "$CACHE_DIR"
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    trap 'rm -rf "$rootfs"' EXIT
    echo "debootstrapping a minimal Debian $SUITE with Python 3.11 into $rootfs (a few minutes)"
    debootstrap --variant=minbase --include=python3.11,python3.11-venv,python3-distutils,ca-certificates \
        "$SUITE" "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 || {
        echo "error: debootstrap failed, see $CACHE_DIR/debootstrap.log" >&2
        exit 1
    }
    # The official image keeps its interpreter on /usr/local/bin; mirror that layout.
    ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python3"
    ln -sf /usr/bin/python3.11 "$rootfs/usr/local/bin/python"
    # Like the official slim images: no apt lists, caches, docs, man pages or translations.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* \
        "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
        "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -cf "$TARBALL.partial" .
    mv "$TARBALL.partial" "$TARBALL"
fi

echo "importing $TARBALL as $BASE_IMAGE (local stand-in)"
podman import \
    --change 'ENV PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'LABEL number-visualizer.base-stand-in=debootstrap-bookworm-python3.11' \
    --change 'CMD ["python3"]' \
    "$TARBALL" "$BASE_IMAGE" >/dev/null
podman image inspect --format '{{.Size}}' "$BASE_IMAGE" |
    awk -v name="$BASE_IMAGE" '{printf "%s: %.1f MB uncompressed\n", name, $1 / 1e6}'
