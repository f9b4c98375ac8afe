# One virtualenv per checkout: `make demo` installs the library and its CLI into it,
# `make test` (and the other targets) everything, dev tools included.
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
PEERS     ?= .venv-peers
BIN       := $(VENV)/bin
STAMP     := $(VENV)/.installed
DEMO      := $(VENV)/.installed-demo
EXTRAS    := .[dev,cli,kafka,broker,ai,notebooks,server,otel,bench]
# What examples/trading.py needs: the core and the CLI's rich (no dev tools, no Kafka).
DEMO_EXTRAS := .[cli]

# X.Y of a Python (empty when it does not run). A venv is marked with the X.Y it was
# made with: another $(PYTHON) (an old 3.10 .venv, a new 3.13) means a new mark, and
# the venv is made again instead of being reused forever.
XY        := -c 'import sys; print("%d.%d" % sys.version_info[:2])'
PYTHON_XY := $(shell $(PYTHON) $(XY) 2>/dev/null)
MARK      := $(VENV)/.python-$(PYTHON_XY)

# (venv, python): refuse a Python older than 3.11 before anything is made, then
# (re)make the venv unless it already runs that X.Y, and mark it with it. The version
# is asked in the recipe's shell, which sees the PYENV_VERSION exported above.
TOO_OLD = echo "make: reagents needs Python >= 3.11; '$(1)' $(2)" >&2; \
	echo "  (pass PYTHON=/path/to/python3.11 or newer; make clean removes old venvs)" >&2; exit 1
define make_venv
	@v=$$($(2) $(XY) 2>/dev/null); [ -n "$$v" ] || { $(call TOO_OLD,$(2),does not run); }; \
	major=$${v%%.*}; minor=$${v#*.}; \
	if [ "$$major" -lt 3 ] || { [ "$$major" -eq 3 ] && [ "$$minor" -lt 11 ]; }; then \
		$(call TOO_OLD,$(2),is Python $$v); fi; \
	have=$$($(1)/bin/python $(XY) 2>/dev/null); \
	if [ "$$have" != "$$v" ] && [ -e $(1) ]; then \
		echo "make: $(1) runs Python $${have:-(broken)}, '$(2)' is $$v: making it again" >&2; \
		rm -rf $(1); fi; \
	if [ ! -x $(1)/bin/python ]; then echo "$(2) -m venv $(1)"; \
		$(2) -m venv $(1) && $(1)/bin/pip install --quiet --upgrade pip || exit 1; fi; \
	rm -f $(1)/.python-*; touch $@
endef

# True when $(PYTHON313) runs and is Python 3.13 (a pyenv shim may exist and not run).
HAVE_PY313 = $(PYTHON313) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null
NO_PY313 = make test: SKIPPED the Python 3.13 run: '$(PYTHON313)' is missing, does not run or is not 3.13 (install Python 3.13, or pass PYTHON313=/path/to/python3.13)

.PHONY: demo test browser pytest-3.13 lint bench bench-llm bench-kafka bench-peers bench-http clean

$(MARK):
	$(call make_venv,$(VENV),$(PYTHON))

$(STAMP): $(MARK) pyproject.toml
	$(BIN)/pip install --quiet -e '$(EXTRAS)'
	touch $(STAMP)

# The demo's own stamp: nothing to install when `make test` installed everything since.
$(DEMO): $(MARK) pyproject.toml
	@if [ ! -e $(STAMP) ] || [ pyproject.toml -nt $(STAMP) ] || [ $(MARK) -nt $(STAMP) ]; then \
		echo "$(BIN)/pip install --quiet -e '$(DEMO_EXTRAS)'"; \
		$(BIN)/pip install --quiet -e '$(DEMO_EXTRAS)' || exit 1; fi
	touch $(DEMO)

$(VENV313)/.python-3.13:
	$(call make_venv,$(VENV313),$(PYTHON313))

$(VENV313)/.installed: $(VENV313)/.python-3.13 pyproject.toml
	$(VENV313)/bin/pip install --quiet -e '$(EXTRAS)'
	touch $(VENV313)/.installed

## Run the main demo on the embedded in-process bus (no broker needed); it installs
## only the library and its CLI (no dev tools).
demo: $(DEMO)
	$(BIN)/python examples/trading.py

## Debian's chromium for the browser tests (`pytest -m browser`) and curl for the README's
## curl session (tests/test_readme_http.py), installed with apt-get
## when /usr/bin/chromium is missing (as root, else with sudo). Playwright drives it;
## no browser is ever downloaded by Playwright itself.
CHROMIUM  ?= /usr/bin/chromium
browser:
	@if [ -x "$(CHROMIUM)" ] && command -v curl >/dev/null; then echo "make browser: $(CHROMIUM) and curl are there"; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium curl \
		|| echo "make browser: apt-get could not install chromium: the browser tests will fail" >&2; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
		sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium curl \
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

## Kafka consumers on the embedded broker (200k events, 3 rounds, ~3 min): reagents next
## to raw aiokafka + orjson (the `bench` extra) in the same rounds, 25% and all matching.
bench-kafka: $(STAMP)
	$(BIN)/python benchmarks/kafka_bench.py

## bench-kafka with Quix Streams beside them. Quix Streams (confluent-kafka, rocksdict)
## never enters .venv: it gets a virtualenv of its own, .venv-peers.
$(PEERS)/.installed:
	$(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/pip install --quiet quixstreams orjson
	touch $@

bench-peers: $(STAMP) $(PEERS)/.installed
	$(BIN)/python benchmarks/kafka_bench.py --peers --peers-python $(PEERS)/bin/python

## POST /events (single and batches of 100) next to a bare FastAPI endpoint (~1 min).
bench-http: $(STAMP)
	$(BIN)/python benchmarks/http_bench.py

clean:
	rm -rf $(VENV) $(VENV313) $(PEERS) .pytest_cache .mypy_cache .ruff_cache
