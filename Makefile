# migscope: `make run` serves the app, `make test` runs every test, `make bench` the benchmarks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench system-deps lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

run: $(STAMP)
	$(VENV)/bin/migscope serve --host $(HOST) --port $(PORT)

# Debian's chromium (browser tests) and postgresql (the PostgreSQL pass), when missing.
system-deps:
	bash .ci/system-deps.sh

test: $(STAMP) system-deps
	bash .ci/test.sh

bench: $(STAMP)
	$(PY) -m app.bench

lint: $(STAMP)
	$(VENV)/bin/ruff check app tests

clean:
	rm -rf $(VENV) .pytest_cache
