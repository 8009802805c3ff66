//! Idempotency keys: a client that retries `POST /v1/submissions` with the same
//! `Idempotency-Key` gets the first submission back, never a second one. A key is held
//! by a row before the submission exists, so two concurrent first requests cannot both
//! insert; a key whose first request died is forgotten after a minute.

use super::submissions::{IdempotencyKey, NewSubmission, SubmissionRecord};
use super::{Store, now_ms};
use sqlx::Row;

/// How long an idempotency key is remembered.
pub const IDEMPOTENCY_TTL_MS: i64 = 24 * 3600 * 1000;
/// A key whose first request has held it this long without finishing is taken as abandoned.
const IDEMPOTENCY_ABANDONED_MS: i64 = 60 * 1000;

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
}
