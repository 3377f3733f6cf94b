# The two commands of the README:
#   make demo   set up and run CPC on the embedded default (synthetic audio)
#   make test   set up and run the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.cpckit-installed

.PHONY: setup demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# the CPU build of torch first, so nothing pulls a CUDA build
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/cpckit train --modality audio --use-mock-data true --out-dir ./outputs_audio --epochs 10 --neg-mode inbatch

test: setup
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check src tests benchmarks cpc_project.py prepare_cifar10.py
	$(BIN)/python -m mypy

clean:
	rm -rf outputs_audio outputs_image outputs_multimodal .pytest_cache
