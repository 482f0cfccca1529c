# migscope: `make run` serves the app, `make test` runs the checks and every test, `make check`
# only the checks (ruff, ruff format, mypy, import-linter, eslint), `make bench` the benchmarks.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
NODE_STAMP := node_modules/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test check bench stress system-deps lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

# eslint from the npm registry, pinned by package-lock.json (node_modules/ is not committed).
$(NODE_STAMP): package.json package-lock.json
	bash .ci/node-deps.sh

run: $(STAMP)
	$(VENV)/bin/migscope serve --host $(HOST) --port $(PORT)

# Debian's chromium (browser tests) and postgresql (the PostgreSQL pass), when missing.
system-deps:
	bash .ci/system-deps.sh

check: $(STAMP) $(NODE_STAMP)
	bash .ci/check.sh

# The suite runs even when a check failed (both results are shown); either failing fails.
test: $(STAMP) $(NODE_STAMP) system-deps
	@checks=0; $(MAKE) --no-print-directory check || checks=1; \
	tests=0; bash .ci/test.sh || tests=1; \
	if [ $$checks -ne 0 ]; then echo "make test: FAILED: the checks (make check) found something, see above" >&2; fi; \
	exit $$((checks | tests))

bench: $(STAMP)
	$(PY) -m app.bench && $(PY) -m app.bench_sweep

# Load test (not part of `make test`; README "Safe on a shared host"): locust, 451 users for
# 60 s against a real server on loopback, on SQLite and on a throw-away PostgreSQL server.
stress: $(STAMP) system-deps
	$(PY) -m pip install --quiet -e '.[stress]'
	source .ci/postgres.sh && start_postgres && trap stop_postgres EXIT && \
	  MIGSCOPE_TEST_POSTGRES_URL="$$PG_URL" $(PY) -m tests.stress.run_stress --db sqlite --db postgres

lint: check

clean:
	rm -rf $(VENV) .pytest_cache
