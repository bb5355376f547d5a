#!/usr/bin/env bash
# Build the serving image, run it with a read-only root as the Kubernetes manifest does, and
# check it from the outside like a user would: wait for /health/ready, POST a real canvas PNG
# to /predict and check the digit, store a correction with POST /feedback, run the
# image's own HEALTHCHECK, check it runs as non-root without TensorFlow or training code,
# and report the image size and the time from `run` to ready. The container is removed after.
#
# Limits (override with env vars): MAX_IMAGE_MB=250 uncompressed, MAX_READY_S=2 for the
# server's own start (from the container's process to ready; the engine's share is reported).
set -euo pipefail
cd "$(dirname "$0")/.."
source deploy/engine.sh

IMAGE="${IMAGE:-number-visualizer:latest}"
PORT="${IMAGE_TEST_PORT:-18080}"
MAX_IMAGE_MB="${MAX_IMAGE_MB:-250}"
MAX_READY_S="${MAX_READY_S:-2}"
# A 280x280 canvas PNG as the web page sends it: the first 3 in tests/fixtures/mnist_sample.npz
# (a real MNIST test digit), drawn by bench.digits.draw_on_canvas with default_rng(7).
FIXTURE=tests/fixtures/image_test_canvas_3.png
EXPECT=3
NAME="number-visualizer-image-test-$$"

[[ -s artifacts/digit_cnn.onnx ]] ||
    { echo "error: no artifacts/digit_cnn.onnx to put in the image; run make train-export" >&2; exit 1; }

SECONDS=0
bash deploy/build-image.sh
engine="$(container_engine)"
# As deploy/kubernetes runs it: a read-only root with /tmp and /data as the only writable
# places (emptyDir volumes there; here --read-only gives /tmp a tmpfs, and /data is a new
# world-writable directory, as an emptyDir is: a tmpfs's mode option is not honoured by every
# runtime). /data is mounted explicitly: the image's VOLUME would make an anonymous volume
# that a pod does not have.
data_dir="$(mktemp -d)"
chmod 1777 "$data_dir"
run_args=(--read-only --volume "$data_dir:/data")
[[ "$engine" == podman ]] && run_args+=("${PODMAN_RUN_ARGS[@]}" --no-healthcheck)

trap '$engine rm --force "$NAME" >/dev/null 2>&1 || true; rm -rf "$data_dir"' EXIT
started="$(python3 -c 'import time; print(time.time())')"
"$engine" run --detach --name "$NAME" "${run_args[@]}" \
    --publish "127.0.0.1:$PORT:8000" "$IMAGE" >/dev/null
process_started="$("$engine" inspect --format '{{.State.StartedAt}}' "$NAME")"
if ! python3 deploy/image_probe.py --url "http://127.0.0.1:$PORT" --started "$started" \
    --process-started "$process_started" --png "$FIXTURE" --expect "$EXPECT" \
    --max-ready "$MAX_READY_S"; then
    echo "--- container logs ---" >&2
    "$engine" logs "$NAME" >&2 || true
    exit 1
fi

# Memory after the probe's 100 predictions, two ways: the resident set of the container's
# processes (what the server holds) and the cgroup's figure that `stats` shows (which also
# counts the page cache of the files it read: the venv's libraries and the model).
rss_kb="$("$engine" exec "$NAME" sh -c 'cat /proc/[0-9]*/status' |
    awk '/^Name:/ {name = $2} /^VmRSS:/ && name ~ /^python/ {sum += $2} END {print sum}')"
echo "memory after 100 predictions: $((rss_kb / 1024)) MB resident (python processes)," \
    "$("$engine" stats --no-stream --format '{{.MemUsage}}' "$NAME" | cut -d/ -f1)in $engine stats"

# The image's own HEALTHCHECK command, exactly as declared, run inside the container.
mapfile -t healthcheck < <("$engine" image inspect --format '{{json .Config.Healthcheck.Test}}' \
    "$IMAGE" | python3 -c 'import json, sys; print(*json.load(sys.stdin)[1:], sep="\n")')
"$engine" exec "$NAME" "${healthcheck[@]}" && echo "HEALTHCHECK passes"

uid="$("$engine" exec "$NAME" id -u)"
[[ "$uid" != 0 ]] || { echo "FAIL: the container runs as root" >&2; exit 1; }
"$engine" exec "$NAME" python -c "
import importlib.util, sys
found = [m for m in ('tensorflow', 'keras', 'training', 'pip', 'pytest') if importlib.util.find_spec(m)]
sys.exit(f'FAIL: the image holds {found}' if found else None)"
echo "runs as uid $uid; no tensorflow, keras, training, pip or pytest in the image"

size="$("$engine" image inspect --format '{{.Size}}' "$IMAGE")"
size_mb="$(python3 -c "print(f'{$size / 1e6:.1f}')")"
echo "image $IMAGE: $size_mb MB uncompressed (limit $MAX_IMAGE_MB MB)"
python3 -c "import sys; sys.exit($size / 1e6 > $MAX_IMAGE_MB)" ||
    { echo "FAIL: the image is over $MAX_IMAGE_MB MB" >&2; exit 1; }
echo "image-test passed in ${SECONDS} s"
