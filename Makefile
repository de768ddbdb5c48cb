# Two commands matter on a fresh machine: `make demo` and `make test`. Both build the environment first.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# The machines run Debian's Node 20, past jsii's support date; it still runs the CDK, so say it once here, not on every synth.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: install demo test bench lint synth nag clean

install: $(STAMP)

$(STAMP): pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[cli,infra,dev]"
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/p4p demo --out out

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check shared functions cli infra tests bench
	$(BIN)/ruff format --check shared functions cli infra tests bench
	$(BIN)/mypy

synth: $(STAMP)
	npx cdk synth --quiet

nag: $(STAMP)
	$(BIN)/python -m infra.nag_report

clean:
	rm -rf $(VENV) node_modules cdk.out build out .pytest_cache
