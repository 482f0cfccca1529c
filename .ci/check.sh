#!/usr/bin/env bash
# The code-shape checks (`make check`, run by `make test` and so by CI): ruff lint and format,
# mypy, the import-linter layer contracts and eslint on static/. Every check runs; the script
# fails when any of them found something, naming which.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
failed=()
run() {
  local name=$1
  shift
  echo "== check: $name ($*)"
  "$@" || failed+=("$name")
}
run "ruff check" "$BIN/ruff" check app tests
run "ruff format" "$BIN/ruff" format --check app tests
run "mypy" "$BIN/mypy"
run "import-linter" "$BIN/lint-imports" --no-cache
if [[ -x node_modules/.bin/eslint ]]; then
  run "eslint" node_modules/.bin/eslint static
elif [[ "${CI:-}" == "true" ]]; then
  echo "check: eslint is not installed (npm is missing: apt-get install npm); CI does not skip a check" >&2
  failed+=("eslint")
else
  echo "check: eslint SKIPPED: npm is missing (apt-get install npm, then make check)" >&2
fi
if ((${#failed[@]})); then
  echo "check: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "check: all passed"
