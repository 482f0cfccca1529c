#!/usr/bin/env bash
# Run the whole suite: unit, API and browser tests on SQLite, and the store/API tests again
# on a real PostgreSQL server started here on a free local port (stopped on exit). Tests run
# in MIGSCOPE_TEST_WORKERS processes (pytest-xdist, default 2), a file's tests in one process
# (--dist loadfile: a module's shared servers and databases start once). The duration is
# reported with the slowest tests, against the budget: 5 minutes on an idle 2-core machine.
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
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
set +e
$PY -m pytest -n "${MIGSCOPE_TEST_WORKERS:-2}" --dist loadfile --durations=15 "$@"
rc=$?
set -e
elapsed=$(($(date +%s) - started))
budget_s=300
echo "test: the suite took ${elapsed} s ($((elapsed / 60)) min $((elapsed % 60)) s), pytest exit code ${rc}"
echo "test: budget ${budget_s} s on an idle 2-core machine; load average before: ${load_before}, after: $(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $elapsed -gt $budget_s ]]; then
  echo "test: over the budget (a busy machine takes longer: compare the load averages above)"
fi
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure for this project" >&2
  exit 1
fi
exit $rc
