-- verdict schema (SQLite). Times are Unix milliseconds; ids are text.
CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    hash        TEXT NOT NULL UNIQUE,       -- SHA-256 of the token; the token itself is never stored
    role        TEXT NOT NULL,
    learner     TEXT,
    name        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE exercises (
    slug            TEXT PRIMARY KEY,
    current_version TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE exercise_versions (
    version     TEXT PRIMARY KEY,           -- content hash of the package
    slug        TEXT NOT NULL,
    resolved    TEXT NOT NULL,              -- ResolvedExercise as JSON (holds hidden data)
    report      TEXT NOT NULL,              -- validation report as JSON
    created_at  INTEGER NOT NULL
);
CREATE INDEX exercise_versions_slug ON exercise_versions (slug, created_at);

CREATE TABLE exercise_files (
    version     TEXT NOT NULL,
    path        TEXT NOT NULL,
    content     BLOB NOT NULL,
    PRIMARY KEY (version, path)
);

CREATE TABLE submissions (
    id              TEXT PRIMARY KEY,
    learner         TEXT NOT NULL,
    exercise_slug   TEXT NOT NULL,
    exercise_version TEXT NOT NULL,
    status          TEXT NOT NULL,          -- queued | running | completed | failed
    verdict         TEXT,
    score           REAL,
    max_score       REAL NOT NULL,
    files           TEXT NOT NULL,          -- the learner's files as JSON {name: base64}
    attempts        INTEGER NOT NULL DEFAULT 0,
    lease           TEXT,                   -- fencing token of the grading attempt that owns it
    lease_until     INTEGER,                -- the owner renews this while it grades; past it, the lease is free
    result          TEXT,                   -- tests, runner, runtime, limits, resources as JSON
    feed_seq        INTEGER UNIQUE,         -- position in the results feed, set on completion
    created_at      INTEGER NOT NULL,
    started_at      INTEGER,
    completed_at    INTEGER
);
CREATE INDEX submissions_learner ON submissions (learner, created_at);
CREATE INDEX submissions_status ON submissions (status);

-- One row: the next results-feed position. Taking it row-locks, which orders completions.
CREATE TABLE feed_counter (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    next    INTEGER NOT NULL
);
INSERT INTO feed_counter (id, next) VALUES (1, 1);

CREATE TABLE idempotency_keys (
    token_id        TEXT NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    submission_id   TEXT,                   -- NULL while the first request is in flight
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (token_id, key)
);
