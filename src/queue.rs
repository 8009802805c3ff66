//! The grading queue: apalis on SQLite (a second file, `queue.db`) or Postgres.
//!
//! A job carries only a submission id. Fetching is event-driven (an SQLite update hook on
//! the pool that pushes, Postgres LISTEN/NOTIFY), with a short interval poll as the
//! fallback for pushes from other processes. The submissions table is the outbox: a
//! submission is committed first and pushed second, and `sweep_outbox` pushes whatever
//! a crash left unpushed. Duplicate jobs are harmless because grading is fenced.

use crate::store::{Backend, DatabaseLocation};
use anyhow::Context;
use apalis::prelude::*;
use apalis_postgres::{PgPool, PostgresStorage};
use apalis_sqlite::SqliteStorage;
use futures::channel::mpsc;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqliteOperation, SqlitePoolOptions, SqliteSynchronous,
};
use std::pin::Pin;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

/// The apalis queue name; fixed so that renaming the Rust type never orphans jobs.
pub const QUEUE_NAME: &str = "verdict-grading";
/// Deliveries of one job before it is given up as `internal_error`.
pub const MAX_ATTEMPTS: usize = 3;
/// Worker liveness: a worker silent for `HEARTBEAT × MISSED_HEARTBEATS` is dead and
/// its jobs are re-delivered.
const HEARTBEAT: Duration = Duration::from_secs(2);
const MISSED_HEARTBEATS: u32 = 3;
/// Connections to the SQLite queue file. SQLite has one writer at a time, and nearly
/// every queue operation writes, so one connection queues them in this process instead
/// of letting them collide in SQLite's busy handler.
const QUEUE_CONNECTIONS: u32 = 1;
/// Fallback poll for jobs pushed by another process.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The one job type: grade this submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GradingJob {
    pub submission_id: String,
}

/// Wakes a worker when a job row is inserted through this process's queue pool.
#[derive(Clone)]
pub struct InsertWake(Arc<Mutex<mpsc::UnboundedReceiver<()>>>);

impl Stream for InsertWake {
    type Item = ();
    fn poll_next(self: Pin<&mut Self>, context: &mut TaskContext<'_>) -> Poll<Option<()>> {
        self.0
            .lock()
            .expect("wake receiver")
            .poll_next_unpin(context)
    }
}

/// The queue of one process: where jobs are pushed and fetched.
#[derive(Clone)]
pub enum Queue {
    Sqlite {
        storage: SqliteStorage<GradingJob>,
        wake: InsertWake,
        pool: apalis_sqlite::SqlitePool,
    },
    Postgres {
        storage: PostgresStorage<GradingJob>,
        pool: PgPool,
    },
}

pub(crate) fn sqlite_config() -> apalis_sqlite::Config {
    apalis_sqlite::Config::default()
        .queue(QUEUE_NAME)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS as usize)
}

pub(crate) fn postgres_config() -> apalis_postgres::Config {
    apalis_postgres::Config::default()
        .queue(QUEUE_NAME)
        .heartbeat_interval(HEARTBEAT)
        .missed_heartbeats(MISSED_HEARTBEATS as usize)
}

impl Queue {
    /// Connects to the queue and creates its tables.
    pub async fn open(location: &DatabaseLocation) -> anyhow::Result<Queue> {
        match location.backend {
            Backend::Sqlite => {
                let (sender, receiver) = mpsc::unbounded::<()>();
                // Our own pool instead of apalis's `setup()`: it would switch connections to
                // synchronous=OFF, and a queued job must survive power loss like its submission.
                let options = SqliteConnectOptions::from_str(&location.queue_url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(match location.synchronous {
                        crate::store::Synchronous::Full => SqliteSynchronous::Full,
                        crate::store::Synchronous::Normal => SqliteSynchronous::Normal,
                    })
                    .busy_timeout(Duration::from_secs(10));
                let pool = SqlitePoolOptions::new()
                    .max_connections(QUEUE_CONNECTIONS)
                    .test_before_acquire(false)
                    .after_connect(move |connection, _| {
                        let sender = sender.clone();
                        Box::pin(async move {
                            let mut handle = connection.lock_handle().await?;
                            handle.set_update_hook(move |event| {
                                if event.operation == SqliteOperation::Insert
                                    && event.table == "Jobs"
                                {
                                    let _ = sender.unbounded_send(());
                                }
                            });
                            Ok(())
                        })
                    })
                    .connect_with(options)
                    .await
                    .context("cannot open the SQLite queue")?;
                SqliteStorage::<()>::migrations()
                    .run(&pool)
                    .await
                    .context("queue migration failed")?;
                let storage = SqliteStorage::<GradingJob>::new(&pool).with_config(sqlite_config());
                Ok(Queue::Sqlite {
                    storage,
                    wake: InsertWake(Arc::new(Mutex::new(receiver))),
                    pool,
                })
            }
            Backend::Postgres => {
                let pool = PgPool::connect(&location.queue_url)
                    .await
                    .context("cannot connect to the Postgres queue")?;
                PostgresStorage::setup(&pool)
                    .await
                    .context("queue migration failed")?;
                Ok(Queue::Postgres {
                    storage: PostgresStorage::<GradingJob>::new(&pool)
                        .with_config(postgres_config()),
                    pool,
                })
            }
        }
    }

    /// Pushes one grading job. Its idempotency key is the submission id and its attempt
    /// count, so the outbox sweep re-pushing a submission adds nothing while its job is
    /// still there, and adds a fresh job once an attempt has been spent.
    pub async fn push(&self, submission_id: &str, attempts: i64) -> anyhow::Result<()> {
        let task = TaskBuilder::new(GradingJob {
            submission_id: submission_id.to_string(),
        })
        .max_attempts(MAX_ATTEMPTS)
        .idempotency_key(format!("{submission_id}:{attempts}"))
        .build();
        match self {
            // SQLite ignores a duplicate key (ON CONFLICT DO NOTHING).
            Queue::Sqlite { storage, .. } => storage.clone().push_task(task).await?,
            // Postgres refuses it with a unique violation: the job is already there.
            Queue::Postgres { storage, .. } => match storage.clone().push_task(task).await {
                Ok(()) => {}
                Err(TaskSinkError::PushError(apalis_postgres::Error::Database(
                    sqlx::Error::Database(database),
                ))) if database.is_unique_violation() => {}
                Err(error) => return Err(error.into()),
            },
        }
        Ok(())
    }

    /// Deletes finished job rows older than `age` (apalis keeps them forever), so the
    /// queue stays small. Results live in the submissions table, not here.
    pub async fn purge_finished(&self, age: Duration) -> anyhow::Result<u64> {
        let seconds = age.as_secs() as i64;
        let deleted = match self {
            Queue::Sqlite { pool, .. } => sqlx::query(
                "DELETE FROM Jobs WHERE status IN ('Done', 'Killed') AND done_at < strftime('%s', 'now') - ?1",
            )
            .bind(seconds)
            .execute(pool)
            .await?
            .rows_affected(),
            Queue::Postgres { pool, .. } => sqlx::query(
                "DELETE FROM apalis.jobs WHERE status IN ('Done', 'Killed') \
                 AND done_at < now() - make_interval(secs => $1)",
            )
            .bind(seconds as f64)
            .execute(pool)
            .await?
            .rows_affected(),
        };
        Ok(deleted)
    }
}
