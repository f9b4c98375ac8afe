# One virtualenv per checkout; every target installs what it needs into it.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench bench-kafka clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,kafka,notebooks]'
	touch $(STAMP)

## Run the main demo on the embedded in-process bus (no broker needed).
demo: $(STAMP)
	$(BIN)/python examples/trading.py

## Lint, type-check and run every test (unit, marbles, integration, examples, notebooks).
test: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy src tests examples benchmarks
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy src tests examples benchmarks

## Throughput and latency against the raw ceiling measured in the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-kafka: $(STAMP)
	$(BIN)/python benchmarks/kafka_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
