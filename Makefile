# Every target makes and reuses a local .venv: a new user needs only Python 3.10+ and make.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Path to another mnist.npz; empty means $MNIST_PATH, else the committed datasets/mnist.npz.
MNIST  ?=
OUT    ?= artifacts
# Where `make finetune` reads the users' feedback: the server's SQLite file, an export
# (.ndjson/.csv), a postgresql:// URL, or the server's URL (with FEEDBACK_TOKEN set).
FEEDBACK_SOURCE ?= data/feedback.sqlite3

.DEFAULT_GOAL := help
.PHONY: help serve test test-fast debian-deps lint format train-export evaluate finetune bench image image-test clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# One stamp per extra: re-install only when pyproject.toml changes.
$(VENV)/.stamp-serve: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[serve]"
	touch $@

$(VENV)/.stamp-train: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[train]"
	touch $@ $(VENV)/.stamp-serve

# Linting needs ruff only: `make lint` must not pull in TensorFlow.
$(VENV)/.stamp-lint: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[lint]"
	touch $@

# The fast tier runs without the train extra (no TensorFlow): a quick first install.
$(VENV)/.stamp-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[serve,dev]"
	touch $@ $(VENV)/.stamp-serve $(VENV)/.stamp-lint

$(VENV)/.stamp-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e ".[train,dev]"
	touch $@ $(VENV)/.stamp-test $(VENV)/.stamp-train $(VENV)/.stamp-serve $(VENV)/.stamp-lint

serve: $(VENV)/.stamp-serve ## run the app on the committed model (http://127.0.0.1:8000)
	$(BIN)/python -m serving

test: $(VENV)/.stamp-dev ## the whole suite (needs Debian's chromium and postgresql: make debian-deps)
	$(BIN)/python -m pytest

test-fast: $(VENV)/.stamp-test ## unit and API tests: no TensorFlow, browser or database, under a minute
	$(BIN)/python -m pytest -p tests.fast_tier

debian-deps: ## install what the suite, image-test and bench need from Debian (as root)
	bash .ci/install-debian-packages

lint: $(VENV)/.stamp-lint ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.stamp-lint ## apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Writing into artifacts/ also renders docs/model.md from the new card (tests/test_model_doc.py).
train-export: $(VENV)/.stamp-train ## train, export to ONNX, evaluate, write artifacts/ (MNIST=path/to/mnist.npz)
	$(BIN)/python -m training run $(if $(MNIST),--data $(MNIST)) --out $(OUT)
	$(if $(filter artifacts,$(OUT)),$(BIN)/python -m training.model_doc)

evaluate: $(VENV)/.stamp-train ## re-evaluate the committed model and check the model card's figures
	$(BIN)/python -m training evaluate $(if $(MNIST),--data $(MNIST)) --model-dir $(OUT) --check

finetune: $(VENV)/.stamp-train ## learn from feedback (FEEDBACK_SOURCE=...) into runs/finetune, only if no worse
	$(BIN)/python -m training finetune --feedback $(FEEDBACK_SOURCE) $(if $(MNIST),--data $(MNIST)) --model-dir $(OUT) --out runs/finetune

bench: $(VENV)/.stamp-dev ## start-up, /health and /predict at c=1/8/32, number mode, WORKERS=1 and 2 (needs wrk)
	$(BIN)/python -m bench

image: ## build the serving container image (docker if present, else podman)
	bash deploy/build-image.sh

image-test: ## build, run and probe the container; report its size and time to ready
	bash deploy/image-test.sh

clean: ## remove the venv, caches and training runs
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis runs test-output
