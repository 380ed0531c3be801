# Portico: two commands on a fresh machine (Python 3.11+ and make only).
#   make run   creates the environment, then starts the whole suite (portico up)
#   make test  creates the environment, then runs every check and test
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
SIGSTORE_NODE := services/security/node
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Generated code and third-party protos are not ours to lint.
PACKAGES := portico_common portico_embedded portico_cli $(patsubst services/%,portico_%,$(wildcard services/*))

.PHONY: run test env node node-if-available lint typecheck proto proto-lint proto-check pytest bench demo status fmt clean

run: env
	$(BIN)/portico up

test: env lint typecheck proto-lint proto-check pytest

env: $(VENV)/.synced node-if-available

# Node.js is optional for running the suite: without it, npm provenance checks
# answer UNAVAILABLE with a clear message (and their tests fail, visibly).
node-if-available:
	@if command -v npm >/dev/null; then $(MAKE) --no-print-directory node; \
	else echo "note: npm not found; npm provenance verification (services/security/node) is unavailable" >&2; fi

# npm's own Sigstore verifier (@sigstore/verify) for the security service's
# provenance checks; installed from the committed lockfile, cached until it changes.
node: $(SIGSTORE_NODE)/node_modules/.installed

$(SIGSTORE_NODE)/node_modules/.installed: $(SIGSTORE_NODE)/package.json $(SIGSTORE_NODE)/package-lock.json
	@command -v npm >/dev/null || { echo "error: Node.js 20+ with npm is required for provenance verification (services/security/node); install it and rerun" >&2; exit 1; }
	npm ci --prefix $(SIGSTORE_NODE) --no-audit --no-fund --loglevel=error
	touch $@

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages
	touch $@

lint: env
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: env
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: env
	$(BIN)/mypy $(addprefix -p ,$(PACKAGES))

proto: env
	PATH=$(BIN):$$PATH $(BIN)/python scripts/gen_protos.py

proto-lint: env
	$(BIN)/buf lint

# Fails when the committed stubs differ from a fresh generation.
proto-check: env
	@tmp=$$(mktemp -d) && PATH=$(BIN):$$PATH $(BIN)/python scripts/gen_protos.py $$tmp >/dev/null \
	  && diff -r -x __pycache__ -x py.typed $$tmp/portico libs/contracts/src/portico \
	  && echo "generated stubs are fresh"; rc=$$?; rm -rf $$tmp; exit $$rc

pytest: env
	$(BIN)/pytest

bench: env
	$(BIN)/python -m bench

demo: env
	$(BIN)/portico demo

status: env
	$(BIN)/portico status

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache $(SIGSTORE_NODE)/node_modules
