# Two commands on a fresh machine: `make run` (the product) and `make test` (the whole suite).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3
	$(BIN)/pip install --quiet -e '.[dev]'
	# Build step: train the local understanding model from the shipped data (cached).
	$(BIN)/supportflow understanding train
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/supportflow up

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench.turn_latency

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
