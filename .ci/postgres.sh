#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the test session; sets PG_URL.
PG_DIR=""
PG_BIN=""
start_postgres() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    echo "postgres: no PostgreSQL server binaries (make system-deps installs Debian's postgresql)" >&2
    return 1
  fi
  PG_DIR=$(mktemp -d /tmp/migscope-pg.XXXXXX)
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
  local run=()
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$PG_DIR"
    run=(runuser -u postgres --)
  fi
  "${run[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; return 1; }
  "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w \
    -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null \
    || { cat "$PG_DIR/server.log" >&2; return 1; }
  PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
  export PG_URL
  echo "postgres: test server on 127.0.0.1:$port"
}
stop_postgres() {
  if [[ -n "$PG_DIR" && -d "$PG_DIR/data" ]]; then
    local run=()
    [[ $(id -u) -eq 0 ]] && run=(runuser -u postgres --)
    "${run[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$PG_DIR"
  fi
}
