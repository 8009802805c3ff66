#!/usr/bin/env bash
# Installs PostgreSQL from Debian packages if missing and starts a private cluster
# (under target/postgres, or /var/tmp when the postgres user cannot enter the checkout;
# port 55432) owned by the `postgres` system user.
PGPORT_VERDICT="${PGPORT_VERDICT:-55432}"

start_postgres() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "postgres: installing from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  local bin
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  local dir="$PWD/target/postgres"
  local run_as=()
  if [ "$(id -u)" = "0" ]; then run_as=(runuser -u postgres --); fi
  if "${run_as[@]}" "$bin/pg_isready" -q -h 127.0.0.1 -p "$PGPORT_VERDICT"; then
    return 0
  fi
  mkdir -p "$dir"
  if [ "$(id -u)" = "0" ]; then
    chown postgres:postgres "$dir"
    # A checkout under a folder the postgres user cannot enter (`mktemp -d` makes 0700
    # folders): keep this checkout's cluster in /var/tmp instead.
    if ! runuser -u postgres -- test -w "$dir"; then
      dir="/var/tmp/verdict-postgres-$(printf %s "$PWD" | sha256sum | cut -c1-12)"
      mkdir -p "$dir"
      chown postgres:postgres "$dir"
    fi
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    echo "postgres: creating a test cluster in $dir/data"
    local pwfile
    pwfile="$(mktemp)"
    echo verdict > "$pwfile"
    chmod 644 "$pwfile"
    "${run_as[@]}" "$bin/initdb" -D "$dir/data" -U verdict --pwfile="$pwfile" -A scram-sha-256 >/dev/null
    rm -f "$pwfile"
  fi
  "${run_as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $PGPORT_VERDICT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=on" start >/dev/null
  "${run_as[@]}" "$bin/pg_isready" -q -h 127.0.0.1 -p "$PGPORT_VERDICT"
}
