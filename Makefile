# One virtualenv per checkout; every target installs what it needs into it.
# `make test` also runs pytest in a second one on Python 3.13 (when there is one).
PYTHON    ?= python3
PYTHON313 ?= python3.13
# pyenv (as on the CI machines) may have 3.13 installed but not selected: add it after
# the selected version, so python3 stays what it was and python3.13 runs too.
PYENV_313 := $(shell pyenv versions --bare 2>/dev/null | grep -m1 '^3\.13')
ifneq ($(PYENV_313),)
ifeq ($(PYENV_VERSION),)
export PYENV_VERSION := $(shell pyenv version-name 2>/dev/null):$(PYENV_313)
endif
endif
VENV      ?= .venv
VENV313   ?= .venv-3.13
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
EXTRAS    := .[dev,kafka,ai,notebooks,server,otel]

# True when $(PYTHON313) runs and is Python 3.13 (a pyenv shim may exist and not run).
HAVE_PY313 = $(PYTHON313) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null
NO_PY313 = make test: SKIPPED the Python 3.13 run: '$(PYTHON313)' is missing, does not run or is not 3.13 (install Python 3.13, or pass PYTHON313=/path/to/python3.13)

.PHONY: demo test browser pytest-3.13 lint bench bench-llm bench-kafka bench-http clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet -e '$(EXTRAS)'
	touch $(STAMP)

$(VENV313)/bin/python:
	$(PYTHON313) -m venv $(VENV313)
	$(VENV313)/bin/pip install --quiet --upgrade pip

$(VENV313)/.installed: $(VENV313)/bin/python pyproject.toml
	$(VENV313)/bin/pip install --quiet -e '$(EXTRAS)'
	touch $(VENV313)/.installed

## Run the main demo on the embedded in-process bus (no broker needed).
demo: $(STAMP)
	$(BIN)/python examples/trading.py

## Debian's chromium for the browser tests (`pytest -m browser`), installed with apt-get
## when /usr/bin/chromium is missing (as root, else with sudo). Playwright drives it;
## no browser is ever downloaded by Playwright itself.
CHROMIUM  ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ]; then echo "make browser: $(CHROMIUM) is there"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
		|| echo "make browser: apt-get could not install chromium: the browser tests will fail" >&2; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium \
		|| echo "make browser: apt-get could not install chromium: the browser tests will fail" >&2; \
	else \
		echo "make browser: $(CHROMIUM) is missing and this user cannot install it (not root, no sudo):" >&2; \
		echo "  run 'apt-get install chromium' as root; until then the browser tests fail" >&2; \
	fi

## Lint and type-check once, then run every test (unit, marbles, integration, examples,
## notebooks) with $(PYTHON) in .venv, and again with Python 3.13 in .venv-3.13.
test: $(STAMP) browser
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/ruff format --check src tests examples benchmarks
	$(BIN)/mypy src tests examples benchmarks
	$(BIN)/pytest
	@if $(HAVE_PY313); then $(MAKE) --no-print-directory pytest-3.13; \
	else echo "$(NO_PY313)"; fi

## Every test on Python 3.13 alone (needs $(PYTHON313)).
pytest-3.13: $(VENV313)/.installed
	$(VENV313)/bin/pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples benchmarks
	$(BIN)/mypy src tests examples benchmarks

## Throughput and latency against the raw ceiling measured in the same run.
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

bench-llm: $(STAMP)
	$(BIN)/python benchmarks/llm_bench.py

bench-kafka: $(STAMP)
	$(BIN)/python benchmarks/kafka_bench.py

## POST /events (single and batches of 100) next to a bare FastAPI endpoint (~1 min).
bench-http: $(STAMP)
	$(BIN)/python benchmarks/http_bench.py

clean:
	rm -rf $(VENV) $(VENV313) .pytest_cache .mypy_cache .ruff_cache
