# Sourced by the deploy scripts: pick the container engine and its arguments in one place.
# shellcheck shell=bash

# docker when its engine answers, podman otherwise; empty when neither can build.
container_engine() {
    if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
        echo docker
    elif command -v podman >/dev/null; then
        echo podman
    fi
}

# Arguments for `podman run` that also work inside an unprivileged container (CI, this
# sandbox): limits no higher than the outer container allows, and runc where it is installed.
# shellcheck disable=SC2034  # read by the scripts that source this file
PODMAN_RUN_ARGS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
if command -v runc >/dev/null || [[ -x /usr/sbin/runc ]]; then
    PODMAN_RUN_ARGS=(--runtime runc "${PODMAN_RUN_ARGS[@]}")
fi
