# The two commands of the README:
#   make demo   set up and run CPC on the embedded default (synthetic audio)
#   make test   set up and run the whole test suite
# `make setup` installs what the demo needs (cpckit and its dependencies, see
# docs/install.md); `make setup-test` adds the test extra (pytest, linters,
# librosa as the reference of cpckit.features, and the optional features).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cpckit-installed
TEST_STAMP := $(VENV)/.cpckit-test-installed

.PHONY: setup setup-test demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU build of torch first, so nothing pulls a CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(TEST_STAMP)

setup: $(STAMP)

setup-test: $(TEST_STAMP)

demo: setup
	$(BIN)/cpckit train --modality audio --use-mock-data true --out-dir ./outputs_audio --epochs 10 --neg-mode inbatch --overwrite

test: setup-test
	$(BIN)/python -m pytest -q

lint: setup-test
	$(BIN)/ruff check src tests benchmarks cpc_project.py prepare_cifar10.py
	$(BIN)/python -m mypy

clean:
	rm -rf outputs_audio outputs_image outputs_multimodal .pytest_cache
