#!/usr/bin/env bash
# Run the whole suite: unit, API and browser tests on SQLite, and the store/API tests again
# on a real PostgreSQL server started here on a free local port (stopped on exit). Tests run
# in MIGSCOPE_TEST_WORKERS processes (pytest-xdist, default 2); the duration is reported.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

source .ci/postgres.sh
start_postgres
trap stop_postgres EXIT
# A killed run (a CI timeout, Ctrl-C) still stops the server: exit, so the EXIT trap runs.
trap 'exit 143' TERM
trap 'exit 130' INT
export MIGSCOPE_TEST_POSTGRES_URL="$PG_URL"

started=$(date +%s)
set +e
$PY -m pytest -n "${MIGSCOPE_TEST_WORKERS:-2}" --dist loadfile "$@"
rc=$?
set -e
elapsed=$(($(date +%s) - started))
echo "test: the suite took ${elapsed} s ($((elapsed / 60)) min $((elapsed % 60)) s), pytest exit code ${rc}"
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure for this project" >&2
  exit 1
fi
exit $rc
