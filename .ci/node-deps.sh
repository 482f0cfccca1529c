#!/usr/bin/env bash
# eslint and its plugins from the npm registry, exactly as package-lock.json pins them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v npm >/dev/null 2>&1; then
  if [[ "${CI:-}" == "true" ]]; then
    echo "node-deps: npm is missing (Debian: apt-get install npm); CI cannot lint static/*.js without it" >&2
    exit 1
  fi
  echo "node-deps: npm is missing: eslint will be skipped (apt-get install npm to lint static/*.js)" >&2
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
touch node_modules/.installed-stamp
