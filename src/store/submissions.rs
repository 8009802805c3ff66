//! Submissions: creation (with idempotency keys), fenced grading claims, fenced results,
//! listing with cursors, and the results feed.
//!
//! Fencing: each grading attempt takes a fresh `lease`. A result is written only by the
//! attempt that holds the lease of a `running` submission, so a duplicate or late delivery
//! can never write a second result or overwrite the first.
//!
//! Feed order: completing takes the next number from the one-row `feed_counter` in the
//! same transaction. The row lock serialises completions, so feed numbers become visible
//! in order and a reader paging by `feed_seq` never skips or repeats a result.

use super::{Store, now_ms, rfc3339};
use crate::domain::{Status, StoredResult, Verdict};
use base64::Engine as _;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;
/// A key whose first request has held it this long without finishing is taken as abandoned.
const IDEMPOTENCY_ABANDONED_MS: i64 = 60 * 1000;

#[derive(Debug, Clone)]
pub struct SubmissionRecord {
    pub id: String,
    pub learner: String,
    pub exercise_slug: String,
    pub exercise_version: String,
    pub status: Status,
    pub verdict: Option<Verdict>,
    pub score: Option<f64>,
    pub max_score: f64,
    pub attempts: i64,
    pub result: Option<StoredResult>,
    pub feed_seq: Option<i64>,
    pub created_at: String,
    pub completed_at: Option<String>,
}

const COLUMNS: &str = "id, learner, exercise_slug, exercise_version, status, verdict, score, max_score, attempts, \
                       result, feed_seq, created_at, completed_at";

fn record(row: &sqlx::any::AnyRow) -> Result<SubmissionRecord, sqlx::Error> {
    let decode = |error: String| sqlx::Error::Decode(error.into());
    let status: String = row.get("status");
    let verdict: Option<String> = row.get("verdict");
    let result: Option<String> = row.get("result");
    Ok(SubmissionRecord {
        id: row.get("id"),
        learner: row.get("learner"),
        exercise_slug: row.get("exercise_slug"),
        exercise_version: row.get("exercise_version"),
        status: Status::parse(&status).ok_or_else(|| decode(format!("bad status {status}")))?,
        verdict: verdict
            .map(|v| serde_json::from_value(serde_json::Value::String(v)))
            .transpose()
            .map_err(|error| decode(error.to_string()))?,
        score: row.get("score"),
        max_score: row.get("max_score"),
        attempts: row.get("attempts"),
        result: result
            .map(|r| serde_json::from_str(&r))
            .transpose()
            .map_err(|error| decode(error.to_string()))?,
        feed_seq: row.get("feed_seq"),
        created_at: rfc3339(row.get("created_at")),
        completed_at: row.get::<Option<i64>, _>("completed_at").map(rfc3339),
    })
}

/// What creating a submission did.
#[derive(Debug)]
pub enum Created {
    New(SubmissionRecord),
    /// The same idempotency key and body were seen before: the original submission.
    Replayed(SubmissionRecord),
    /// The key was used before with another body.
    KeyReused,
    /// The first request with this key has not finished yet.
    KeyInFlight,
}

/// A submission to create.
pub struct NewSubmission<'a> {
    pub learner: &'a str,
    pub exercise_slug: &'a str,
    pub exercise_version: &'a str,
    pub max_score: f64,
    pub files: &'a BTreeMap<String, Vec<u8>>,
}

/// Scope of an idempotency key: the token, the key and a hash of the request.
pub struct IdempotencyKey<'a> {
    pub token_id: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
}

/// What a grading claim found.
#[derive(Debug)]
pub enum Claim {
    /// This attempt owns the submission until it writes a result.
    Granted {
        lease: String,
        attempt: i64,
    },
    /// Already completed or failed: a duplicate or late delivery.
    Finished,
    /// Another attempt holds a live lease until this time (Unix ms).
    Busy {
        until_ms: i64,
    },
    /// The attempts are spent; the submission was marked failed.
    Exhausted,
    Missing,
}

/// Filters for listing submissions.
#[derive(Debug, Default)]
pub struct ListFilter {
    pub exercise: Option<String>,
    pub learner: Option<String>,
    pub status: Option<Status>,
    pub cursor: Option<String>,
    pub limit: i64,
}

/// Encodes a list cursor (ids are UUIDv7, so they sort by creation time); opaque to clients.
fn encode_cursor(record: &SubmissionRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("list:{}", record.id))
}

/// Decodes a list cursor, or `None` when it is not one of ours.
pub fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    Some(
        String::from_utf8(bytes)
            .ok()?
            .strip_prefix("list:")?
            .to_string(),
    )
}

/// Encodes a feed position.
pub fn encode_feed_cursor(seq: i64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("feed:{seq}"))
}

/// Decodes a feed position.
pub fn decode_feed_cursor(cursor: &str) -> Option<i64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("feed:")?
        .parse()
        .ok()
}

fn encode_files(files: &BTreeMap<String, Vec<u8>>) -> String {
    let encoded: BTreeMap<&str, String> = files
        .iter()
        .map(|(name, content)| {
            (
                name.as_str(),
                base64::engine::general_purpose::STANDARD.encode(content),
            )
        })
        .collect();
    serde_json::to_string(&encoded).unwrap_or_default()
}

impl Store {
    /// Creates a submission (status `queued`; see `needing_push` for the outbox).
    pub async fn create_submission(
        &self,
        new: &NewSubmission<'_>,
        idempotency: Option<&IdempotencyKey<'_>>,
    ) -> anyhow::Result<Created> {
        let Some(key) = idempotency else {
            return Ok(Created::New(self.insert_submission(new, None).await?));
        };
        for _ in 0..2 {
            let now = now_ms();
            let claimed = sqlx::query(
                "INSERT INTO idempotency_keys (token_id, key, request_hash, submission_id, created_at) \
                 VALUES ($1, $2, $3, NULL, $4) ON CONFLICT (token_id, key) DO NOTHING",
            )
            .bind(key.token_id)
            .bind(key.key)
            .bind(key.request_hash)
            .bind(now)
            .execute(&self.writer)
            .await?
            .rows_affected()
                == 1;
            if claimed {
                return match self.insert_submission(new, Some(key)).await {
                    Ok(record) => Ok(Created::New(record)),
                    Err(error) => {
                        sqlx::query(
                            "DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2",
                        )
                        .bind(key.token_id)
                        .bind(key.key)
                        .execute(&self.writer)
                        .await?;
                        Err(error.into())
                    }
                };
            }
            if let Some(answer) = self.idempotent_answer(key).await? {
                return Ok(answer);
            }
        }
        Ok(Created::KeyInFlight)
    }

    /// What an earlier request with this key decides, if it is still remembered:
    /// a replay, a reuse with another body, or a first request still in flight.
    /// Expired and abandoned keys are forgotten (`None`).
    pub async fn idempotent_answer(
        &self,
        key: &IdempotencyKey<'_>,
    ) -> anyhow::Result<Option<Created>> {
        let row = sqlx::query(
            "SELECT request_hash, submission_id, created_at FROM idempotency_keys WHERE token_id = $1 AND key = $2",
        )
        .bind(key.token_id)
        .bind(key.key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let now = now_ms();
        let created_at: i64 = row.get("created_at");
        let submission_id: Option<String> = row.get("submission_id");
        let expired = now - created_at > IDEMPOTENCY_TTL_MS
            || (submission_id.is_none() && now - created_at > IDEMPOTENCY_ABANDONED_MS);
        if expired {
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE token_id = $1 AND key = $2 AND created_at = $3",
            )
            .bind(key.token_id)
            .bind(key.key)
            .bind(created_at)
            .execute(&self.writer)
            .await?;
            return Ok(None);
        }
        if row.get::<String, _>("request_hash") != key.request_hash {
            return Ok(Some(Created::KeyReused));
        }
        Ok(Some(match submission_id {
            None => Created::KeyInFlight,
            Some(id) => match self.submission(&id).await? {
                Some(record) => Created::Replayed(record),
                None => Created::KeyInFlight,
            },
        }))
    }

    async fn insert_submission(
        &self,
        new: &NewSubmission<'_>,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<SubmissionRecord, sqlx::Error> {
        let id = uuid::Uuid::now_v7().to_string();
        let created_at = now_ms();
        let insert = sqlx::query(
            "INSERT INTO submissions (id, learner, exercise_slug, exercise_version, status, max_score, files, created_at) \
             VALUES ($1, $2, $3, $4, 'queued', $5, $6, $7)",
        )
        .bind(&id)
        .bind(new.learner)
        .bind(new.exercise_slug)
        .bind(new.exercise_version)
        .bind(new.max_score)
        .bind(encode_files(new.files))
        .bind(created_at);
        match key {
            // One statement commits on its own; a transaction would only add round trips.
            None => {
                insert.execute(&self.writer).await?;
            }
            Some(key) => {
                let mut transaction = self.writer.begin().await?;
                insert.execute(&mut *transaction).await?;
                sqlx::query("UPDATE idempotency_keys SET submission_id = $1 WHERE token_id = $2 AND key = $3")
                    .bind(&id)
                    .bind(key.token_id)
                    .bind(key.key)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
            }
        }
        Ok(SubmissionRecord {
            id,
            learner: new.learner.to_string(),
            exercise_slug: new.exercise_slug.to_string(),
            exercise_version: new.exercise_version.to_string(),
            status: Status::Queued,
            verdict: None,
            score: None,
            max_score: new.max_score,
            attempts: 0,
            result: None,
            feed_seq: None,
            created_at: rfc3339(created_at),
            completed_at: None,
        })
    }

    pub async fn submission(&self, id: &str) -> Result<Option<SubmissionRecord>, sqlx::Error> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM submissions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(record).transpose()
    }

    /// The learner's files of a submission.
    pub async fn submission_files(&self, id: &str) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
        let row = sqlx::query("SELECT files FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_one(&self.pool)
            .await?;
        let encoded: BTreeMap<String, String> =
            serde_json::from_str(&row.get::<String, _>("files"))?;
        encoded
            .into_iter()
            .map(|(name, content)| {
                Ok((
                    name,
                    base64::engine::general_purpose::STANDARD.decode(content)?,
                ))
            })
            .collect()
    }

    /// The outbox: submissions queued since before `cutoff_ms`, and running ones whose
    /// lease lapsed (their worker died and the queue gave the job up), with their attempt
    /// counts. Pushing them again is safe: the queue drops a job it already holds.
    pub async fn needing_push(&self, cutoff_ms: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, attempts FROM submissions WHERE (status = 'queued' AND created_at < $1) \
             OR (status = 'running' AND lease_until < $1) ORDER BY created_at LIMIT 10000",
        )
        .bind(cutoff_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get("id"), row.get("attempts")))
            .collect())
    }

    /// Takes a grading attempt. Counting attempts here, not in the queue, is what stops a
    /// job that kills its worker from looping: the queue re-delivers orphans without
    /// checking its own attempt count. A running submission whose lease is still being
    /// renewed is `Busy`: a duplicate delivery waits instead of stealing it.
    pub async fn claim(
        &self,
        id: &str,
        max_attempts: i64,
        lease_ttl_ms: i64,
    ) -> Result<Claim, sqlx::Error> {
        let lease = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let row = sqlx::query(
            "UPDATE submissions SET status = 'running', attempts = attempts + 1, lease = $2, started_at = $3, \
             lease_until = $4 \
             WHERE id = $1 AND (status = 'queued' OR (status = 'running' AND lease_until < $3)) RETURNING attempts",
        )
        .bind(id)
        .bind(&lease)
        .bind(now)
        .bind(now + lease_ttl_ms)
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else {
            let current = sqlx::query("SELECT status, lease_until FROM submissions WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.writer)
                .await?;
            return Ok(match current {
                None => Claim::Missing,
                Some(row)
                    if Status::parse(&row.get::<String, _>("status")) == Some(Status::Running) =>
                {
                    Claim::Busy {
                        until_ms: row.get::<Option<i64>, _>("lease_until").unwrap_or(now),
                    }
                }
                Some(_) => Claim::Finished,
            });
        };
        let attempt: i64 = row.get("attempts");
        if attempt > max_attempts {
            self.finish(
                id,
                &lease,
                Status::Failed,
                Verdict::InternalError,
                None,
                &StoredResult::gave_up(max_attempts),
            )
            .await?;
            return Ok(Claim::Exhausted);
        }
        Ok(Claim::Granted { lease, attempt })
    }

    /// Ends a submission as `failed` / `internal_error` after its attempts are spent.
    pub async fn give_up(
        &self,
        id: &str,
        lease: &str,
        max_attempts: i64,
    ) -> Result<bool, sqlx::Error> {
        self.finish(
            id,
            lease,
            Status::Failed,
            Verdict::InternalError,
            None,
            &StoredResult::gave_up(max_attempts),
        )
        .await
    }

    /// Extends a lease this attempt still holds; false once it was lost.
    pub async fn renew(
        &self,
        id: &str,
        lease: &str,
        lease_ttl_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let renewed = sqlx::query(
            "UPDATE submissions SET lease_until = $3 WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(lease)
        .bind(now_ms() + lease_ttl_ms)
        .execute(&self.writer)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Gives a claimed submission back to the queue after an infrastructure failure.
    pub async fn release(&self, id: &str, lease: &str) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE submissions SET status = 'queued', lease = NULL, lease_until = NULL WHERE id = $1 AND lease = $2 AND status = 'running'")
            .bind(id)
            .bind(lease)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Writes the final state if, and only if, `lease` still owns the submission.
    /// Returns false for a fenced-off (duplicate or late) attempt.
    pub async fn finish(
        &self,
        id: &str,
        lease: &str,
        status: Status,
        verdict: Verdict,
        score: Option<f64>,
        result: &StoredResult,
    ) -> Result<bool, sqlx::Error> {
        match self
            .complete(id, lease, status, verdict, score, result)
            .await?
        {
            Some(transaction) => {
                transaction.commit().await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Writes the result as `finish` does, but leaves the transaction open (holding the
    /// feed's row lock) so the caller can add what belongs to the same completion, such
    /// as certificates, before committing. `None` when the lease was lost.
    pub async fn complete(
        &self,
        id: &str,
        lease: &str,
        status: Status,
        verdict: Verdict,
        score: Option<f64>,
        result: &StoredResult,
    ) -> Result<Option<sqlx::Transaction<'static, sqlx::Any>>, sqlx::Error> {
        let result =
            serde_json::to_string(result).map_err(|error| sqlx::Error::Encode(error.into()))?;
        let mut transaction = self.writer.begin().await?;
        let seq: i64 =
            sqlx::query("UPDATE feed_counter SET next = next + 1 WHERE id = 1 RETURNING next")
                .fetch_one(&mut *transaction)
                .await?
                .get("next");
        let written = sqlx::query(
            "UPDATE submissions SET status = $3, verdict = $4, score = $5, result = $6, feed_seq = $7, \
             completed_at = $8, lease = NULL, lease_until = NULL WHERE id = $1 AND lease = $2 AND status = 'running'",
        )
        .bind(id)
        .bind(lease)
        .bind(status.as_str())
        .bind(verdict.as_str())
        .bind(score)
        .bind(result)
        .bind(seq - 1)
        .bind(now_ms())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if written {
            Ok(Some(transaction))
        } else {
            transaction.rollback().await?;
            Ok(None)
        }
    }

    /// Lists submissions, newest first, with an opaque cursor for the next page.
    pub async fn list_submissions(
        &self,
        filter: &ListFilter,
    ) -> Result<(Vec<SubmissionRecord>, Option<String>), sqlx::Error> {
        let mut sql = format!("SELECT {COLUMNS} FROM submissions WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let mut push = |sql: &mut String, clause: &str, value: String| {
            binds.push(value);
            sql.push_str(&clause.replace('?', &format!("${}", binds.len())));
        };
        if let Some(exercise) = &filter.exercise {
            push(&mut sql, " AND exercise_slug = ?", exercise.clone());
        }
        if let Some(learner) = &filter.learner {
            push(&mut sql, " AND learner = ?", learner.clone());
        }
        if let Some(status) = filter.status {
            push(&mut sql, " AND status = ?", status.as_str().to_string());
        }
        let cursor = filter.cursor.as_deref().and_then(decode_cursor);
        if let Some(id) = &cursor {
            push(&mut sql, " AND id < ?", id.clone());
        }
        sql.push_str(&format!(" ORDER BY id DESC LIMIT {}", filter.limit + 1));
        // Audited: the SQL holds only fixed text and `$N` placeholders; values are bound.
        let mut query = sqlx::query(AssertSqlSafe(sql));
        for bind in &binds {
            query = query.bind(bind.as_str());
        }
        let rows = query.fetch_all(&self.pool).await?;
        let mut records = rows.iter().map(record).collect::<Result<Vec<_>, _>>()?;
        let next = if records.len() as i64 > filter.limit {
            records.truncate(filter.limit as usize);
            records.last().map(encode_cursor)
        } else {
            None
        };
        Ok((records, next))
    }

    /// Completed submissions after feed position `after`, in completion order. (Failed
    /// ones take a position too but are left out: they are never charged to a learner.)
    pub async fn feed(&self, after: i64, limit: i64) -> Result<Vec<SubmissionRecord>, sqlx::Error> {
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM submissions WHERE feed_seq > $1 AND status = 'completed' ORDER BY feed_seq LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    /// Submissions of one learner that are queued or running.
    pub async fn in_flight(&self, learner: &str) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM submissions WHERE learner = $1 AND status IN ('queued', 'running')")
            .bind(learner)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("n"))
    }

    /// Submissions waiting for a worker.
    pub async fn queue_depth(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM submissions WHERE status IN ('queued', 'running')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get("n"))
    }
}
