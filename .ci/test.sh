#!/usr/bin/env bash
# Run the whole suite: unit, API and browser tests on SQLite, and the store/API tests again
# on a real PostgreSQL server started here on a free local port (stopped on exit).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python

source .ci/postgres.sh
start_postgres
trap stop_postgres EXIT
export MIGSCOPE_TEST_POSTGRES_URL="$PG_URL"

set +e
$PY -m pytest "$@"
rc=$?
set -e
if [[ $rc -eq 5 ]]; then
  echo "pytest collected no tests: that is a failure for this project" >&2
  exit 1
fi
exit $rc
