#!/usr/bin/env bash
# Install Debian's chromium and postgresql when they are missing (root on these machines).
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "system-deps: missing ${need[*]}; run as root or install them with apt-get" >&2
    exit 1
  fi
  echo "system-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v chromium >/dev/null || { echo "system-deps: chromium still missing" >&2; exit 1; }
ls /usr/lib/postgresql/*/bin/initdb >/dev/null || { echo "system-deps: postgresql still missing" >&2; exit 1; }
