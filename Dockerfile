# The serving image: onnxruntime + Starlette on uvicorn, the committed model and the web page.
# No TensorFlow, no training code, no tests, no compilers, no pip: `make image` builds it,
# `make image-test` builds, runs and probes it.
ARG PYTHON_IMAGE=python:3.11-slim

# --- builder: a venv with the serve extra's requirements only -------------------------------
FROM ${PYTHON_IMAGE} AS builder
# The extras to install: `serve`, or `serve,postgres` for an image that stores feedback in
# PostgreSQL (FEEDBACK_DB=postgresql://..., as the Kubernetes manifest can).
ARG EXTRAS=serve
WORKDIR /src
# binutils (strip, readelf) in the builder only, for deploy/slim-venv.sh: it never reaches the
# image, so its version (whatever the base's Debian has) is not pinned.
# hadolint ignore=DL3008
RUN apt-get update -qq \
    && apt-get install --yes --quiet --no-install-recommends binutils >/dev/null \
    && rm -rf /var/lib/apt/lists/*
COPY pyproject.toml deploy/slim-venv.sh ./
# Install the extras' requirements, read from pyproject.toml (the one source of truth),
# not the project itself: the package also ships training/, which has no place here.
# No .pyc files yet: the runtime stage compiles only the modules serving imports.
# pip_cert is an optional build secret: a CA bundle for networks that intercept TLS.
RUN --mount=type=secret,id=pip_cert \
    python -c "import os, tomllib; extras = tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']; print(*(d for e in os.environ['EXTRAS'].split(',') for d in extras[e]), sep='\n')" > requirements-serve.txt \
    && python -m venv /opt/venv \
    && if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && /opt/venv/bin/pip install --no-cache-dir --no-compile --disable-pip-version-check \
        --progress-bar off -r requirements-serve.txt \
    && /opt/venv/bin/pip uninstall --yes --disable-pip-version-check pip setuptools \
    # Test suites, onnxruntime's C-API library and model tooling, Pillow's fonts and AVIF,
    # debug symbols: nothing serving loads (deploy/slim-venv.sh says what and why).
    && sh slim-venv.sh /opt/venv

# --- runtime: the venv, the app, the web page and the model ---------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    WORKERS=1 \
    ORT_THREADS=1 \
    LOG_LEVEL=info \
    MODEL_PATH=/app/artifacts/digit_cnn.onnx \
    WEB_DIR=/app/web \
    FEEDBACK_DB=/data/feedback.sqlite3 \
    ORT_DISABLE_TELEMETRY=1
# A numeric, unprivileged user: Kubernetes' runAsNonRoot can verify a number, not a name.
# Feedback is stored in /data (SQLite by default): the one writable place, meant to be a
# volume so that corrections outlive the container.
RUN groupadd --gid 10001 app \
    && useradd --no-log-init --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app \
    && mkdir /data && chown 10001:10001 /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# Owned by root and read-only to the app: the process cannot rewrite its own code or model.
COPY recognizer/ recognizer/
COPY feedback/ feedback/
COPY serving/ serving/
COPY web/ web/
COPY artifacts/ artifacts/
# Bytecode for what serving really imports (the venv was installed without any), so that
# every start does not compile it again; a few MB instead of every module's.
RUN PYTHONDONTWRITEBYTECODE='' python -c "import serving.runtime.server, serving.app, serving.__main__, \
uvicorn.loops.uvloop, uvicorn.protocols.http.httptools_impl, uvicorn.lifespan.on; \
from PIL import Image; Image.init()" \
    && python -m compileall -q recognizer feedback serving
USER 10001:10001
VOLUME /data
EXPOSE 8000
# Python, not curl: the slim base has no curl. Healthy means the model is loaded and warm.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/health/ready', timeout=2)"]
CMD ["python", "-m", "serving"]
