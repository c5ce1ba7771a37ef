# Two entry points: `make demo` (set up and serve the embedded sample cluster) and
# `make test` (set up and run ruff, mypy, the import-layer contracts and pytest).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test setup setup-test lint typecheck layers pytest bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install -q -e .

setup-test: $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	bash scripts/install-test-tools.sh

demo: setup
	$(BIN)/costreport demo

lint:
	$(BIN)/ruff check operator tests benchmarks e2e
	$(BIN)/ruff format --check operator tests benchmarks e2e

typecheck:
	$(BIN)/mypy

layers:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest -q

test: setup-test lint typecheck layers pytest

bench: setup
	$(BIN)/python benchmarks/engine.py
