#!/usr/bin/env bash
# Regenerates tests/fixtures/release-<commit>/: databases written by a previous release
# (SQLite and Postgres), as text dumps, with the JSON its HTTP API served for them, so a
# test can check that today's code migrates and serves such a database unchanged.
#
#   scripts/release-fixture.sh [COMMIT] [OUT_DIR]
#
# COMMIT defaults to 4611c05; OUT_DIR to tests/fixtures/release-<COMMIT>. The script
#   1. checks COMMIT out as a detached worktree beside this checkout (../release-<COMMIT>)
#      and builds it there (debug, its own target dir, `nice -n 19`);
#   2. on each backend, with the OLD binary: creates learner, instructor and admin tokens
#      (`verdict token create`), starts `verdict serve` on a small course (five shipped
#      exercises and a Hero-only policy, see below), submits as the learner, pushes a
#      second version of python-leap as the instructor, waits for every grading, stops,
#      and starts once more on the course as it now is (python-leap at version 2);
#   3. dumps the databases as text (sqlite3 .dump; pg_dump --no-owner --no-privileges
#      --inserts, less the lines a pooled connection cannot replay), replays each dump into
#      a fresh empty database, checks that dumping the copy gives the same text, starts
#      the old server on the copy and records its answers as pretty JSON under
#      expected/<backend>/ (and says where they differ from the original database's);
#   4. removes the worktree (unless it existed before) and the Postgres databases.
#
# Needs: git, cargo, curl, jq, python3, sqlite3, and a Postgres server (by default the one
# scripts/postgres.sh starts: 127.0.0.1:55432, user verdict, password verdict) whose user
# may create databases. Settings (environment):
#   RELEASE_FIXTURE_PG_HOST, _PG_PORT, _PG_USER, _PG_PASSWORD  the Postgres server
#   RELEASE_FIXTURE_PG_DB        database created (and dropped) for the run [release_fixture]
#   RELEASE_FIXTURE_WORKTREE     where the old commit is checked out [../release-<COMMIT>]
#   RELEASE_FIXTURE_TARGET_DIR   its cargo target dir [<worktree>/target]
#   RELEASE_FIXTURE_KEEP_WORKTREE=1  keep the worktree (and its build) afterwards
#   RELEASE_FIXTURE_PORT         first of the two ports the old servers listen on [18480]
#   RELEASE_FIXTURE_KEEP_WORK=1  keep the scratch folder (server logs, data dirs)
set -euo pipefail
shopt -s inherit_errexit

repo="$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)"
commit_arg="${1:-4611c05}"
commit="$(git -C "$repo" rev-parse --verify "${commit_arg}^{commit}")"
short="$(git -C "$repo" rev-parse --short=7 "$commit")"
out="${2:-$repo/tests/fixtures/release-$short}"
worktree="${RELEASE_FIXTURE_WORKTREE:-$(dirname "$repo")/release-$short}"
target="${RELEASE_FIXTURE_TARGET_DIR:-$worktree/target}"
pg_host="${RELEASE_FIXTURE_PG_HOST:-127.0.0.1}"
pg_port="${RELEASE_FIXTURE_PG_PORT:-55432}"
pg_user="${RELEASE_FIXTURE_PG_USER:-verdict}"
pg_db="${RELEASE_FIXTURE_PG_DB:-release_fixture}"
pg_replay_db="${pg_db}_replay"
port="${RELEASE_FIXTURE_PORT:-18480}"
export PGPASSWORD="${RELEASE_FIXTURE_PG_PASSWORD:-verdict}"
# Signed into every certificate and used for every link; fixed, so both backends and any
# later server (started with the same --public-url) agree on it.
public_url="http://grader.release-fixture.test"
learner="ada"

for tool in git cargo curl jq python3 sqlite3 psql; do
  command -v "$tool" >/dev/null || { echo "release-fixture: $tool is missing" >&2; exit 1; }
done
# The old binary reads VERDICT_* variables and ./verdict.toml: run it with neither.
while IFS= read -r name; do unset "$name"; done < <(compgen -e | grep '^VERDICT_' || true)

log() { echo "release-fixture: $*" >&2; }
psql_on() { local db="$1"; shift; psql -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$db" "$@"; }
psql_admin() { psql_on postgres "$@"; }
pretty() { python3 -m json.tool --no-ensure-ascii --indent 2; }

# Database names go into SQL: plain identifiers only.
[[ "$pg_db" =~ ^[a-z_][a-z0-9_]{0,50}$ ]] || { log "RELEASE_FIXTURE_PG_DB must be a plain lower-case identifier"; exit 1; }
[[ "$port" =~ ^[0-9]+$ ]] || { log "RELEASE_FIXTURE_PORT must be a number"; exit 1; }
case "$out" in "" | / | "$repo" | "$repo/") log "refusing to replace $out"; exit 1 ;; esac

work="$(mktemp -d)"
server_pid=""
created_worktree=""
cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then kill -TERM "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  psql_admin -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true
  psql_admin -c "DROP DATABASE IF EXISTS $pg_replay_db" >/dev/null 2>&1 || true
  if [ -n "$created_worktree" ] && [ "${RELEASE_FIXTURE_KEEP_WORKTREE:-}" != 1 ]; then
    git -C "$repo" worktree remove --force "$worktree" || true
  fi
  if [ "${RELEASE_FIXTURE_KEEP_WORK:-}" = 1 ]; then log "kept $work"; else rm -rf "$work"; fi
  exit "$status"
}
trap cleanup EXIT

# --- 1. the old release, built -----------------------------------------------------------
if [ -e "$worktree" ]; then
  [ "$(git -C "$worktree" rev-parse HEAD)" = "$commit" ] \
    || { log "$worktree exists but is not at $commit; remove it or set RELEASE_FIXTURE_WORKTREE"; exit 1; }
else
  git -C "$repo" worktree add --detach "$worktree" "$commit"
  created_worktree=1
fi
log "building $short in $worktree (target $target)"
(cd "$worktree" && CARGO_TARGET_DIR="$target" nice -n 19 cargo build)
bin="$target/debug/verdict"

# --- the course: five shipped exercises, a Hero-only policy --------------------------------
# The shipped policy also needs the Commando and Titan exercises (Docker among them) and
# python-sum-lines, whose 520 KB input would make the fixture megabytes; this one keeps
# the shipped Hero tier's title, description and pass ratio.
course="$work/course"   # python-leap at version 1: what the first start loads
mkdir -p "$course"
for slug in python-leap python-word-count shout hello-wasm js-fizzbuzz; do
  cp -R "$worktree/exercises/$slug" "$course/$slug"
done
cat > "$course/certification.toml" <<'EOF'
# The release fixture's policy: the shipped Hero tier, on the fixture's five exercises.
[tiers.hero]
title = "Hero"
description = "Writes small, correct programs: functions, text processing and data processing."
requires = []
required = ["python-leap", "python-word-count"]
min_points = 25          # the two required (20) and one more
pass_ratio = 0.8
EOF
# Version 2 of python-leap: one more hidden test (its expected value is computed at upload).
leap_v2="$work/python-leap-v2"
cp -R "$course/python-leap" "$leap_v2"
cat >> "$leap_v2/exercise.toml" <<'EOF'

[[tests]]
name = "a leap year late in the century"
args = [2096]
visibility = "hidden"
EOF
# The course after the push (python-leap at version 2): what the second start loads.
course_final="$work/course-final"
cp -R "$course" "$course_final"
rm -rf "$course_final/python-leap"
cp -R "$leap_v2" "$course_final/python-leap"
answers="$work/answers"
mkdir -p "$answers/partial"
cat > "$answers/partial/leap.py" <<'EOF'
def leap_year(year):
    # Forgets the century rule.
    return year % 4 == 0
EOF

# --- helpers -------------------------------------------------------------------------------
# api METHOD PATH TOKEN [BODY_FILE] [EXTRA_HEADER]: prints the body; fails unless 2xx.
api() {
  local method="$1" path="$2" token="$3" body="${4:-}" extra="${5:-}"
  local args=(-sS -X "$method" -o "$work/response" -w '%{http_code}' --max-time 90)
  if [ -n "$token" ]; then args+=(-H "Authorization: Bearer $token"); fi
  if [ -n "$body" ]; then args+=(-H 'content-type: application/json' --data-binary "@$body"); fi
  if [ -n "$extra" ]; then args+=(-H "$extra"); fi
  local code
  code="$(curl "${args[@]}" "http://127.0.0.1:$current_port$path")"
  if [ "${code:0:1}" != 2 ]; then
    log "$method $path answered $code: $(head -c 2000 "$work/response")"
    return 1
  fi
  cat "$work/response"
}

start_server() { # start_server BACKEND EXERCISES_DIR LOG DATA_DIR [DATABASE_URL]
  local backend="$1" exercises="$2" logfile="$3" data_dir="$4" url="${5:-}"
  local args=(serve --bind "127.0.0.1:$current_port" --public-url "$public_url"
    --exercises "$exercises" --data-dir "$data_dir" --docker off --concurrency 1)
  if [ -n "$url" ]; then args+=(--database-url "$url"); fi
  (cd "$work" && exec "$bin" "${args[@]}") >"$logfile" 2>&1 &
  server_pid=$!
  local i
  for i in $(seq 1 600); do
    if curl -sf -o /dev/null "http://127.0.0.1:$current_port/readyz"; then return 0; fi
    if ! kill -0 "$server_pid" 2>/dev/null; then break; fi
    sleep 0.5
  done
  log "the $backend server did not start; its log:"
  tail -n 40 "$logfile" >&2
  return 1
}

stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}

# submit SLUG FILE: submits FILE as the learner, waits for the grading, appends its id
# to `ids`.
submit() {
  local slug="$1" file="$2" body="$work/submit.json"
  jq -n --arg exercise "$slug" --arg name "$(basename "$file")" --rawfile content "$file" \
    '{exercise: $exercise, files: {($name): $content}}' > "$body"
  local id status i
  id="$(api POST /v1/submissions "$learner_token" "$body" | jq -r .id)"
  for i in $(seq 1 20); do
    status="$(api GET "/v1/submissions/$id?wait=30" "$learner_token" | jq -r .status)"
    case "$status" in completed|failed) break ;; esac
  done
  case "$status" in completed) ;; *) log "submission $id of $slug ended $status"; return 1 ;; esac
  log "$slug: $(jq -r '"\(.verdict) \(.score) / \(.max_score)"' "$work/response") ($id)"
  ids+=("$id")
}

# record DIR: what the running server answers, as pretty JSON (and the certificate page).
record() {
  local dir="$1" n id certificate slug
  mkdir -p "$dir"
  n=0
  for id in "${ids[@]}"; do
    n=$((n + 1))
    api GET "/v1/submissions/$id" "$instructor_token" | pretty > "$dir/submission-$n-instructor.json"
    api GET "/v1/submissions/$id" "$learner_token" | pretty > "$dir/submission-$n-learner.json"
  done
  # The lists' first pages (three items and the cursor to the next).
  api GET "/v1/submissions?limit=3" "$learner_token" | pretty > "$dir/submissions-learner-page-1.json"
  api GET "/v1/results?limit=3" "$instructor_token" | pretty > "$dir/results-instructor-page-1.json"
  api GET "/v1/learners/$learner/progress" "$learner_token" | pretty > "$dir/progress-learner.json"
  api GET "/v1/learners/$learner/progress" "$instructor_token" | pretty > "$dir/progress-instructor.json"
  api GET "/v1/learners/$learner/certificates" "$learner_token" | pretty > "$dir/certificates-learner.json"
  mapfile -t certificates < <(jq -r '.certificates[].id' "$dir/certificates-learner.json")
  [ "${#certificates[@]}" -ge 1 ] || { log "no certificate was issued"; return 1; }
  n=0
  for certificate in "${certificates[@]}"; do
    n=$((n + 1))
    api GET "/v1/certificates/$certificate" "" | pretty > "$dir/certificate-$n.json"
    api GET "/certificates/$certificate" "" > "$dir/certificate-$n.html"
  done
  api GET /.well-known/jwks.json "" | pretty > "$dir/jwks.json"
  api GET /v1/revocations "" | pretty > "$dir/revocations.json"
  api GET /v1/exercises "$learner_token" | pretty > "$dir/exercises-learner.json"
  for slug in "${slugs[@]}"; do
    api GET "/v1/exercises/$slug" "$learner_token" | pretty > "$dir/exercise-$slug-learner.json"
  done
  api GET /v1/exercises/python-leap/versions "$instructor_token" | pretty > "$dir/exercise-python-leap-versions.json"
  [ "$(jq length "$dir/exercise-python-leap-versions.json")" = 2 ] \
    || { log "python-leap should have two versions"; return 1; }
}

# Lines of a pg_dump that break (or leak session state) when replayed through a pooled
# connection into a fresh database: the empty search_path, psql's \restrict/\unrestrict
# meta-commands, and comments on extensions (only an extension's owner may set them).
dump_postgres() { # dump_postgres DB
  "$pg_dump" --no-owner --no-privileges --inserts -h "$pg_host" -p "$pg_port" -U "$pg_user" "$1" \
    | grep -v -x -F "SELECT pg_catalog.set_config('search_path', '', false);" \
    | grep -v -E '^\\|^COMMENT ON EXTENSION '
}

# --- 2-4. each backend ----------------------------------------------------------------------
stage="$work/out"
mkdir -p "$stage/expected"
echo '{}' > "$stage/tokens.json"
echo '{}' > "$stage/ids.json"
slugs=(python-leap python-word-count shout hello-wasm js-fizzbuzz)

server_version="$(psql_admin -Atc 'SHOW server_version_num')"
pg_dump="/usr/lib/postgresql/$((server_version / 10000))/bin/pg_dump"
[ -x "$pg_dump" ] || pg_dump="$(command -v pg_dump)"
pg_url="postgres://$pg_user:$PGPASSWORD@$pg_host:$pg_port/$pg_db"
pg_replay_url="postgres://$pg_user:$PGPASSWORD@$pg_host:$pg_port/$pg_replay_db"

index=0
for backend in sqlite postgres; do
  current_port=$((port + index))
  index=$((index + 1))
  data="$work/data-$backend"
  mkdir -p "$data"
  db_args=(--data-dir "$data")
  url=""
  if [ "$backend" = postgres ]; then
    psql_admin -c "DROP DATABASE IF EXISTS $pg_db" -c "CREATE DATABASE $pg_db" >/dev/null
    url="$pg_url"
    db_args+=(--database-url "$url")
    # The same issuer key as the SQLite run: one keys/ folder serves both dumps.
    cp -R "$work/data-sqlite/keys" "$data/keys"
    chmod 700 "$data/keys"
    chmod 600 "$data/keys"/*
  fi
  log "$backend: tokens"
  learner_token="$(cd "$work" && "$bin" token create --role learner --learner "$learner" --name fixture-learner "${db_args[@]}" | tail -n 1)"
  instructor_token="$(cd "$work" && "$bin" token create --role instructor --name fixture-instructor "${db_args[@]}" | tail -n 1)"
  admin_token="$(cd "$work" && "$bin" token create --role admin --name fixture-admin "${db_args[@]}" | tail -n 1)"

  log "$backend: first start (python-leap at version 1)"
  start_server "$backend" "$course" "$work/$backend-serve-1.log" "$data" "$url"
  ids=()
  submit python-leap "$answers/partial/leap.py"                        # 1 partial
  submit python-leap "$course/python-leap/solution/leap.py"            # 2 accepted
  submit shout "$course/shout/starter/shout.wat"                       # 3 wrong_answer
  exp="$stage/expected/$backend"
  mkdir -p "$exp"
  log "$backend: pushing python-leap version 2"
  (cd "$work" && "$bin" exercise push "$leap_v2" --server "http://127.0.0.1:$current_port" --token "$instructor_token") \
    | pretty > "$exp/upload-python-leap-v2.json"
  submit python-leap "$leap_v2/solution/leap.py"                       # 4 accepted, version 2
  submit python-word-count "$course/python-word-count/solution/word_count.py" # 5 accepted
  submit js-fizzbuzz "$course/js-fizzbuzz/starter/fizzbuzz.js"         # 6 partial
  submit shout "$course/shout/solution/shout.wat"                      # 7 accepted: Hero
  stop_server

  # A restart on the course as it now is (python-leap's live version is 2): it loads
  # nothing new. What it serves is kept to compare with the replayed dump's answers.
  log "$backend: second start (the course as it now is)"
  start_server "$backend" "$course_final" "$work/$backend-serve-2.log" "$data" "$url"
  record "$work/live-expected/$backend"
  stop_server

  log "$backend: dumping, and replaying the dump into a fresh database"
  replay="$work/replay-$backend"
  mkdir -p "$replay"
  cp -R "$work/data-sqlite/keys" "$replay/keys"
  chmod 700 "$replay/keys"
  chmod 600 "$replay/keys"/*
  replay_url=""
  if [ "$backend" = sqlite ]; then
    sqlite3 -batch "$data/verdict.db" .dump > "$stage/sqlite.sql"
    sqlite3 -batch "$data/queue.db" .dump > "$stage/sqlite-queue.sql"
    sqlite3 -batch -bail "$replay/verdict.db" < "$stage/sqlite.sql"
    sqlite3 -batch -bail "$replay/queue.db" < "$stage/sqlite-queue.sql"
    sqlite3 -batch "$replay/verdict.db" .dump | diff -q - "$stage/sqlite.sql" >/dev/null \
      || { log "sqlite.sql does not replay to the same database"; exit 1; }
    sqlite3 -batch "$replay/queue.db" .dump | diff -q - "$stage/sqlite-queue.sql" >/dev/null \
      || { log "sqlite-queue.sql does not replay to the same database"; exit 1; }
    cp -R "$data/keys" "$stage/keys"
  else
    dump_postgres "$pg_db" > "$stage/postgres.sql"
    psql_admin -c "DROP DATABASE IF EXISTS $pg_replay_db" -c "CREATE DATABASE $pg_replay_db" >/dev/null
    psql_on "$pg_replay_db" -f "$stage/postgres.sql" >/dev/null
    # A float8 -0 (a zero score the old release computes as -0.0) is dumped as the bare
    # literal -0, which replays as 0: the one change a replay may make.
    dump_postgres "$pg_replay_db" | diff -q - <(sed 's/, -0, /, 0, /g' "$stage/postgres.sql") >/dev/null \
      || { log "postgres.sql does not replay to the same database"; exit 1; }
    replay_url="$pg_replay_url"
  fi

  # expected/ is what the old release serves from the replayed dump, which is what a test
  # that loads the dump starts from.
  log "$backend: third start, on the replayed dump; recording the API"
  start_server "$backend" "$course_final" "$work/$backend-serve-3.log" "$replay" "$replay_url"
  record "$exp"
  stop_server
  if ! diff -r -x upload-python-leap-v2.json "$work/live-expected/$backend" "$exp" > "$work/live-vs-replay-$backend.diff"; then
    log "$backend: the replayed dump is served differently from the database it came from:"
    cat "$work/live-vs-replay-$backend.diff" >&2
  fi
  if [ "$backend" = postgres ]; then
    psql_admin -c "DROP DATABASE $pg_replay_db" -c "DROP DATABASE $pg_db" >/dev/null
  fi

  # tokens.json and ids.json, by backend.
  jq --arg backend "$backend" --arg learner "$learner" --arg l "$learner_token" \
    --arg i "$instructor_token" --arg a "$admin_token" \
    '.[$backend] = {learner: {token: $l, role: "learner", learner: $learner}, instructor: {token: $i, role: "instructor"}, admin: {token: $a, role: "admin"}}' \
    "$stage/tokens.json" > "$work/tokens.json"
  mv "$work/tokens.json" "$stage/tokens.json"
  jq --arg backend "$backend" --arg learner "$learner" --arg public_url "$public_url" \
    --slurpfile subs <(for n in $(seq 1 "${#ids[@]}"); do cat "$exp/submission-$n-instructor.json"; done) \
    --slurpfile certs "$exp/certificates-learner.json" \
    --slurpfile versions "$exp/exercise-python-leap-versions.json" \
    --slurpfile jwks "$exp/jwks.json" \
    --slurpfile exercises "$exp/exercises-learner.json" \
    '.[$backend] = {
       learner: $learner,
       public_url: $public_url,
       submissions: [$subs | to_entries[] | {n: (.key + 1), id: .value.id, exercise: .value.exercise.slug, exercise_version: .value.exercise.version, status: .value.status, verdict: .value.verdict, score: .value.score, max_score: .value.max_score}],
       certificates: [$certs[0].certificates[] | {id, tier, kid, status, evidence: [.evidence[].submission]}],
       exercises: [$exercises[0][] | {slug, version, language, kind}],
       python_leap_versions: [$versions[0][] | {version, current}],
       kids: [$jwks[0].keys[] | .kid | split("#") | last]
     }' "$stage/ids.json" > "$work/ids.json"
  mv "$work/ids.json" "$stage/ids.json"
done

# The course the databases hold (python-leap at version 2), for a later server's --exercises.
cp -R "$course_final" "$stage/exercises"
# The keys folder must stay owner-only for a server to load it; git keeps 0644.
chmod 700 "$stage/keys"
chmod 600 "$stage/keys"/*

[ "$(jq -c .sqlite.kids "$stage/ids.json")" = "$(jq -c .postgres.kids "$stage/ids.json")" ] \
  || { log "the two databases list different signing keys"; exit 1; }

# --- README.md ------------------------------------------------------------------------------
ids_table() { # ids_table BACKEND
  jq -r --arg b "$1" '
    "| n | submission id | exercise | version | verdict | score |",
    "|---|---|---|---|---|---|",
    (.[$b].submissions[] | "| \(.n) | `\(.id)` | \(.exercise) | `\(.exercise_version[0:12])` | \(.verdict) | \(.score) / \(.max_score) |"),
    "",
    (.[$b] as $x | $x.certificates[] | "Certificate: `\(.id)` (\(.tier), \(.status)); evidence: submissions \([.evidence[] as $e | $x.submissions[] | select(.id == $e) | .n] | map(tostring) | join(", ")).")
  ' "$stage/ids.json"
}
{
  printf '# Release fixture: verdict %s\n\n' "$short"
  printf 'What the release at commit `%s` writes to its database, on SQLite and on\n' "$commit"
  printf 'Postgres, and what its HTTP API serves from it. Generated on %s by\n' "$(date -u +%Y-%m-%d)"
  printf '`scripts/release-fixture.sh %s` with that commit'"'"'s own binary; do not edit by hand, run\n' "$short"
  printf 'the script again (ids, tokens, keys and times change with every run).\n\n'
  cat <<'EOF'
## Files

| file | what |
|---|---|
| `sqlite.sql` | `sqlite3 verdict.db .dump`: the store (`tokens`, `exercises`, `exercise_versions`, `exercise_files`, `submissions`, `feed_counter`, `idempotency_keys`, `certification_policy`, `signing_keys`, `certificates`) and its `_sqlx_migrations` (1 `init`, 2 `certification`) |
| `sqlite-queue.sql` | `sqlite3 queue.db .dump`: this release keeps apalis's queue in a second file beside `verdict.db` (`Jobs`, `Workers`, and apalis's own `_sqlx_migrations`) |
| `postgres.sql` | `pg_dump --no-owner --no-privileges --inserts` of the one database: schema `public` (the store and `public._sqlx_migrations`), schema `apalis` (`apalis.jobs`, `apalis.workers`, `apalis._sqlx_migrations`, its functions and triggers), extensions `hstore` and `pgcrypto`; less the lines a pooled connection cannot replay (`SELECT pg_catalog.set_config('search_path', '', false);`, psql's `\restrict`/`\unrestrict`, `COMMENT ON EXTENSION`) |
| `keys/signing-*.jwk` | the issuer's private Ed25519 key (a private JWK, a test key), as the release names it in `<data-dir>/keys/`; both databases list it in `signing_keys` and every certificate is signed with it |
| `exercises/` | the course both databases hold, as a `--exercises` folder: five shipped exercises (python-leap at its second version) and `certification.toml` (the Hero tier only) |
| `tokens.json` | the raw API tokens, by backend (`learner` bound to `ada`, `instructor`, `admin`); the databases hold only their SHA-256 |
| `ids.json` | the ids below, by backend, as JSON |
| `expected/<backend>/` | what the old server answered, as pretty JSON, when started on the *replayed* dump (see "Replay" below) with `--exercises exercises/` and `--public-url http://grader.release-fixture.test` |

`expected/<backend>/` holds, for submissions n = 1..7, `submission-<n>-instructor.json` and
`submission-<n>-learner.json` (GET /v1/submissions/{id} with each token);
`submissions-learner-page-1.json` (GET /v1/submissions?limit=3, learner) and
`results-instructor-page-1.json` (GET /v1/results?limit=3): first pages with their cursor;
`progress-learner.json` and `progress-instructor.json` (GET /v1/learners/ada/progress);
`certificates-learner.json` (GET /v1/learners/ada/certificates); `certificate-1.json`
(GET /v1/certificates/{id}, public) and `certificate-1.html` (GET /certificates/{id}, the
page); `jwks.json` (GET /.well-known/jwks.json); `revocations.json` (GET /v1/revocations);
`exercises-learner.json` (GET /v1/exercises), `exercise-<slug>-learner.json`
(GET /v1/exercises/{slug}), `exercise-python-leap-versions.json`
(GET /v1/exercises/python-leap/versions, instructor); and `upload-python-leap-v2.json`,
the 201 answer to the instructor's `verdict exercise push` of version 2 (recorded live).

## What the databases hold

The same story on both backends (ids, tokens and times differ):

- Exercises, all on the wasm runner: `python-leap` (Python function; two versions, 5
  hidden tests in the first, 6 in the second), `python-word-count` (Python function),
  `shout` (WebAssembly io, a hidden test read from `tests/lines.in`), `hello-wasm`
  (WebAssembly io, `regex`), `js-fizzbuzz` (JavaScript function). Only the second
  version of python-leap is current.
- The policy in force: Hero requires python-leap and python-word-count and 25 points
  (pass ratio 0.8). The shipped policy was not used because it needs the Commando and
  Titan exercises (Docker among them) and python-sum-lines, whose 520 KB input would
  make this fixture megabytes.
- Learner `ada`, submitting with the learner token, one at a time: 1 python-leap
  (version 1, a solution that forgets the century rule: partial 7/10); 2 python-leap
  (version 1, the reference: accepted); 3 shout (the starter: wrong_answer 0/10); then
  the instructor pushes python-leap version 2; 4 python-leap (version 2, accepted);
  5 python-word-count (accepted); 6 js-fizzbuzz (the starter: partial 3/10); 7 shout
  (the reference: accepted), whose completion issued the Hero certificate (its evidence
  is each exercise's best submission, the earliest on a tie: see below).
- The server was then restarted once on `exercises/` (it loaded nothing new) before the
  dump, so the policy row and the queue's worker rows are a restarted server's.

EOF
  printf '### SQLite\n\n'
  ids_table sqlite
  printf '\n### Postgres\n\n'
  ids_table postgres
  printf '\nSigning key (both backends): kid `%s`, the file `keys/%s`.\n' \
    "$(jq -r '.sqlite.kids | join("`, `")' "$stage/ids.json")" "$(basename "$(ls "$stage/keys"/*.jwk)")"
  cat <<'EOF'

## Replay

Each dump replays into a fresh, empty database (the script checks this, and that dumping
the copy gives the same text, but for the Postgres `-0` below):

```sh
# SQLite: two files in one data dir, as the release keeps them
mkdir -p data && sqlite3 data/verdict.db < sqlite.sql && sqlite3 data/queue.db < sqlite-queue.sql
# Postgres (a role that may create the hstore and pgcrypto extensions; both are trusted)
createdb fresh && psql -v ON_ERROR_STOP=1 -d fresh -f postgres.sql
```

`postgres.sql` has no psql meta-command and no COPY, so it can also be sent as one
multi-statement simple query (sqlx `raw_sql`) on a pooled connection; it still `SET`s a
few session settings (`check_function_bodies = false`, `client_min_messages = warning`,
`row_security = off`, timeouts 0) on that connection. `sqlite.sql` starts with
`PRAGMA foreign_keys=OFF; BEGIN TRANSACTION;` and ends with `COMMIT;`.

To serve it: copy `keys/` into the data dir with mode 0700 for the folder and 0600 for
the file (git keeps 0644, and the release refuses a key file others can read), start
with `--exercises` on a copy of `exercises/` and `--public-url
http://grader.release-fixture.test` (the issuer signed into the certificates, and the base
of every link the API answers with), and use the tokens in `tokens.json`.

## Stable and varying

Fixed by the fixture (the same at every read): every id, token, version hash, score,
verdict, status, test name, visibility, expected/actual value and message, `attempts`,
the stored `created_at`/`completed_at`/`issued_at` times, the signed credential, the
certificate's evidence, the JWKS and the revocation list. Measured while grading, and so
different between backends and runs, but stored and so fixed once dumped:
`duration_ms`, `resources` (`cpu_fuel`, `peak_memory_bytes`, `wall_ms`), the times.
Not stored, so they depend on the server that answers: every absolute URL (from
`--public-url`), the JWKS `kid` URI, and the certificate page's "valid" check.

Quirks of this release:

- Times are served as RFC 3339 UTC with milliseconds and trailing zeros dropped
  (`2026-12-02T12:45:17.44Z` for .440); they are stored as Unix milliseconds.
- A learner's view of a submission shows, for hidden tests, name, status, score,
  `max_score`, visibility and `duration_ms` (later releases drop `duration_ms`), and the
  whole grading's `limits` and `resources`.
- On Postgres a zero score can be stored as float8 `-0` (submission 3 above was served
  as `"score": -0.0` by the live database). pg_dump writes it as the bare literal `-0`,
  which replays as `0`, so the expected JSON, recorded from the replayed dump, says
  `0.0`, as on SQLite.
- apalis keeps finished jobs; this release purges `Done`/`Killed` jobs older than an
  hour, 30 s after a start and every 30 s after, so a server started on these dumps
  will delete the queue's job rows (the results live in `submissions`).
- `serve` puts the policy of its `--exercises` folder in force at every start
  (`certification_policy` is rewritten; a folder without `certification.toml` turns
  certification off), and saves a new version of any package in the folder whose
  content is not the live one.
EOF
} > "$stage/README.md"

rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -R "$stage" "$out"
log "wrote $out"
