//! Submissions: what a learner sent and what grading stored, read back one by one, in
//! lists with cursors, and in the results feed. (Idempotency keys are in
//! `idempotency.rs`; claims, leases and the completing transaction in `leases.rs`.)

use super::{Store, now_ms, rfc3339};
use crate::domain::{
    ExerciseSlug, FileName, LearnerId, Status, StoredResult, SubmissionId, Verdict,
};
use base64::Engine as _;
use sqlx::{AssertSqlSafe, Row};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct SubmissionRecord {
    pub id: SubmissionId,
    pub learner: LearnerId,
    pub exercise_slug: ExerciseSlug,
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
        id: SubmissionId::parse(row.get("id")).map_err(|error| decode(error.0))?,
        learner: LearnerId::parse(row.get("learner")).map_err(|error| decode(error.0))?,
        exercise_slug: ExerciseSlug::parse(row.get("exercise_slug"))
            .map_err(|error| decode(error.0))?,
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

/// A submission to create.
pub struct NewSubmission<'a> {
    pub learner: &'a LearnerId,
    pub exercise_slug: &'a ExerciseSlug,
    pub exercise_version: &'a str,
    pub max_score: f64,
    pub files: &'a BTreeMap<FileName, Vec<u8>>,
}

/// Scope of an idempotency key: the token, the key and a hash of the request.
pub struct IdempotencyKey<'a> {
    pub token_id: &'a str,
    pub key: &'a str,
    pub request_hash: &'a str,
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

fn decode_files(text: &str) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let encoded: BTreeMap<String, String> = serde_json::from_str(text)?;
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

fn encode_files(files: &BTreeMap<FileName, Vec<u8>>) -> String {
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
    pub(super) async fn insert_submission(
        &self,
        new: &NewSubmission<'_>,
        key: Option<&IdempotencyKey<'_>>,
    ) -> Result<SubmissionRecord, sqlx::Error> {
        let id = SubmissionId::new();
        let created_at = now_ms();
        let insert = sqlx::query(
            "INSERT INTO submissions (id, learner, exercise_slug, exercise_version, status, max_score, files, created_at) \
             VALUES ($1, $2, $3, $4, $8, $5, $6, $7)",
        )
        .bind(id.as_str())
        .bind(new.learner.as_str())
        .bind(new.exercise_slug.as_str())
        .bind(new.exercise_version)
        .bind(new.max_score)
        .bind(encode_files(new.files))
        .bind(created_at)
        .bind(Status::Queued.as_str());
        match key {
            // One statement commits on its own; a transaction would only add round trips.
            None => {
                insert.execute(&self.writer).await?;
            }
            Some(key) => {
                let mut transaction = self.writer.begin().await?;
                insert.execute(&mut *transaction).await?;
                sqlx::query("UPDATE idempotency_keys SET submission_id = $1 WHERE token_id = $2 AND key = $3")
                    .bind(id.as_str())
                    .bind(key.token_id)
                    .bind(key.key)
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
            }
        }
        Ok(SubmissionRecord {
            id,
            learner: new.learner.clone(),
            exercise_slug: new.exercise_slug.clone(),
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

    /// A submission with the learner's files, in one read (what a worker grades).
    pub async fn submission_with_files(
        &self,
        id: &str,
    ) -> anyhow::Result<Option<(SubmissionRecord, BTreeMap<String, Vec<u8>>)>> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS}, files FROM submissions WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some((
            record(&row)?,
            decode_files(&row.get::<String, _>("files"))?,
        )))
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
            "SELECT {COLUMNS} FROM submissions WHERE feed_seq > $1 AND status = $3 ORDER BY feed_seq LIMIT $2"
        )))
        .bind(after)
        .bind(limit)
        .bind(Status::Completed.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record).collect()
    }

    /// Submissions of one learner that are queued or running.
    pub async fn in_flight(&self, learner: &str) -> Result<i64, sqlx::Error> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM submissions WHERE learner = $1 AND status IN ($2, $3)",
        )
        .bind(learner)
        .bind(Status::Queued.as_str())
        .bind(Status::Running.as_str())
        .fetch_one(&self.pool)
        .await?;
        Ok(row.get("n"))
    }

    /// Submissions waiting for a worker.
    pub async fn queue_depth(&self) -> Result<i64, sqlx::Error> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM submissions WHERE status IN ($1, $2)")
            .bind(Status::Queued.as_str())
            .bind(Status::Running.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(row.get("n"))
    }
}
