# Entry points for developers and CI. A fresh clone needs only Python >= 3.11 and make;
# everything else (the virtualenv, the packages, a PostgreSQL for the tests) is installed from here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check -q
PYTEST_ARGS ?=
# Two workers, each taking whole test files (module fixtures such as the chart's checkov scan run once);
# `make test TEST_WORKERS=` runs the suite in one process.
TEST_WORKERS ?= -n 2 --dist loadfile
SHELL := /bin/bash

.PHONY: run test lint bench stop-test-services

run: $(VENV)/.installed-run
	exec $(BIN)/todo-agent serve

test: $(VENV)/.installed-test
	bash scripts/provision-test-services
	. .cache/test-env && $(BIN)/pytest -q $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-run
	$(BIN)/python -m bench

# Stops the throwaway PostgreSQL cluster that `make test` starts when no server was found.
stop-test-services:
	bash scripts/provision-test-services --stop

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 || { \
	  v=$$($(PYTHON) -V 2>&1 | head -n 1); \
	  echo "error: Python 3.11 or newer is needed; '$(PYTHON) -V' says: $${v:-nothing}" >&2; \
	  echo "       Install one and run e.g. 'make PYTHON=python3.12 $(MAKECMDGOALS)'." >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "error: '$(PYTHON) -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)." >&2; exit 1; }

# The stamps make reinstalls happen only when pyproject.toml changes.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(PIP) -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e '.[test,chart]'
	@touch $@
