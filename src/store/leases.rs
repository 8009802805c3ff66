//! Grading attempts and their fencing: the outbox, claims, lease renewal, release, and
//! the completing transaction.
//!
//! Fencing: each grading attempt takes a fresh `lease`. A result is written only by the
//! attempt that holds the lease of a `running` submission, so a duplicate or late
//! delivery can never write a second result or overwrite the first.
//!
//! Feed order: completing takes the next number from the one-row `feed_counter` in the
//! same transaction. The row lock serialises completions, so feed numbers become visible
//! in order and a reader paging by `feed_seq` never skips or repeats a result. What else
//! belongs to a completion (the certificates it makes due) runs inside that transaction,
//! in a savepoint this module opens and closes: no caller holds the transaction.

use super::{Store, now_ms};
use crate::domain::{Status, StoredResult, Verdict};
use sqlx::{Acquire, Row};

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

/// A grading's final state, written only by the attempt that holds `lease`.
pub struct Completion<'a> {
    pub id: &'a str,
    pub lease: &'a str,
    pub status: Status,
    pub verdict: Verdict,
    pub score: Option<f64>,
    pub result: &'a StoredResult,
}

/// What writing a completion did.
#[derive(Debug)]
pub enum Completed {
    /// The result is stored. `also` is what the work added to the completion returned:
    /// on an error its writes were rolled back and the result was kept.
    Written { also: anyhow::Result<()> },
    /// A newer attempt owns the submission: nothing was written.
    Fenced,
}

impl Store {
    /// The outbox: submissions queued since before `cutoff_ms`, and running ones whose
    /// lease lapsed (their worker died and the queue gave the job up), with their attempt
    /// counts. Pushing them again is safe: the queue drops a job it already holds.
    pub async fn needing_push(&self, cutoff_ms: i64) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let rows = sqlx::query(
            "SELECT id, attempts FROM submissions WHERE (status = $2 AND created_at < $1) \
             OR (status = $3 AND lease_until < $1) ORDER BY created_at LIMIT 10000",
        )
        .bind(cutoff_ms)
        .bind(Status::Queued.as_str())
        .bind(Status::Running.as_str())
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
            "UPDATE submissions SET status = $5, attempts = attempts + 1, lease = $2, started_at = $3, \
             lease_until = $4 \
             WHERE id = $1 AND (status = $6 OR (status = $5 AND lease_until < $3)) RETURNING attempts",
        )
        .bind(id)
        .bind(&lease)
        .bind(now)
        .bind(now + lease_ttl_ms)
        .bind(Status::Running.as_str())
        .bind(Status::Queued.as_str())
        .fetch_optional(&self.writer)
        .await?;
        let Some(row) = row else {
            return self.why_not_claimed(id, now).await;
        };
        let attempt: i64 = row.get("attempts");
        if attempt > max_attempts {
            self.give_up(id, &lease, max_attempts).await?;
            return Ok(Claim::Exhausted);
        }
        Ok(Claim::Granted { lease, attempt })
    }

    /// Why a claim found nothing to take: the submission is gone, finished, or busy.
    async fn why_not_claimed(&self, id: &str, now: i64) -> Result<Claim, sqlx::Error> {
        let current = sqlx::query("SELECT status, lease_until FROM submissions WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.writer)
            .await?;
        Ok(match current {
            None => Claim::Missing,
            Some(row)
                if Status::parse(&row.get::<String, _>("status")) == Some(Status::Running) =>
            {
                Claim::Busy {
                    until_ms: row.get::<Option<i64>, _>("lease_until").unwrap_or(now),
                }
            }
            Some(_) => Claim::Finished,
        })
    }

    /// Ends a submission as `failed` / `internal_error` after its attempts are spent.
    pub async fn give_up(
        &self,
        id: &str,
        lease: &str,
        max_attempts: i64,
    ) -> Result<bool, sqlx::Error> {
        let completion = Completion {
            id,
            lease,
            status: Status::Failed,
            verdict: Verdict::InternalError,
            score: None,
            result: &StoredResult::gave_up(max_attempts),
        };
        let done = self.complete(&completion, async |_| Ok(())).await?;
        Ok(matches!(done, Completed::Written { .. }))
    }

    /// Extends a lease this attempt still holds; false once it was lost.
    pub async fn renew(
        &self,
        id: &str,
        lease: &str,
        lease_ttl_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let renewed = sqlx::query(
            "UPDATE submissions SET lease_until = $3 WHERE id = $1 AND lease = $2 AND status = $4",
        )
        .bind(id)
        .bind(lease)
        .bind(now_ms() + lease_ttl_ms)
        .bind(Status::Running.as_str())
        .execute(&self.writer)
        .await?;
        Ok(renewed.rows_affected() == 1)
    }

    /// Gives a claimed submission back to the queue after an infrastructure failure.
    pub async fn release(&self, id: &str, lease: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE submissions SET status = $3, lease = NULL, lease_until = NULL \
             WHERE id = $1 AND lease = $2 AND status = $4",
        )
        .bind(id)
        .bind(lease)
        .bind(Status::Queued.as_str())
        .bind(Status::Running.as_str())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Writes the final state if, and only if, `completion.lease` still owns the
    /// submission, then runs `also` in a savepoint of the same transaction (holding the
    /// feed's row lock, so completions are seen one at a time) and commits. A failure of
    /// `also` rolls back only its own writes: the result lands either way.
    pub async fn complete(
        &self,
        completion: &Completion<'_>,
        also: impl AsyncFnOnce(&mut sqlx::AnyConnection) -> anyhow::Result<()>,
    ) -> Result<Completed, sqlx::Error> {
        let result = serde_json::to_string(completion.result)
            .map_err(|error| sqlx::Error::Encode(error.into()))?;
        let mut transaction = self.writer.begin().await?;
        let seq: i64 =
            sqlx::query("UPDATE feed_counter SET next = next + 1 WHERE id = 1 RETURNING next")
                .fetch_one(&mut *transaction)
                .await?
                .get("next");
        let written = sqlx::query(
            "UPDATE submissions SET status = $3, verdict = $4, score = $5, result = $6, feed_seq = $7, \
             completed_at = $8, lease = NULL, lease_until = NULL WHERE id = $1 AND lease = $2 AND status = $9",
        )
        .bind(completion.id)
        .bind(completion.lease)
        .bind(completion.status.as_str())
        .bind(completion.verdict.as_str())
        .bind(completion.score)
        .bind(result)
        .bind(seq - 1)
        .bind(now_ms())
        .bind(Status::Running.as_str())
        .execute(&mut *transaction)
        .await?
        .rows_affected()
            == 1;
        if !written {
            transaction.rollback().await?;
            return Ok(Completed::Fenced);
        }
        let also = match transaction.begin().await {
            Ok(mut savepoint) => {
                let also = also(&mut savepoint).await;
                // Explicitly, before anything else runs: on Postgres a failed statement
                // leaves the transaction unusable until the savepoint is rolled back.
                let ended = match also {
                    Ok(()) => savepoint.commit().await,
                    Err(_) => savepoint.rollback().await,
                };
                also.and(ended.map_err(anyhow::Error::from))
            }
            Err(error) => Err(anyhow::Error::from(error)),
        };
        // The grading is kept whatever happened to `also`: its failure is reported,
        // never a reason to lose the result (a broken transaction fails this commit,
        // and the submission is retried).
        transaction.commit().await?;
        Ok(Completed::Written { also })
    }
}
