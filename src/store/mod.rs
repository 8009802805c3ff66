//! The database: one `sqlx::AnyPool` over SQLite (embedded default) or Postgres.
//!
//! Every query is written once with `$N` placeholders, which both SQLite and Postgres
//! accept, and uses only portable types (TEXT, BIGINT, DOUBLE, BLOB/BYTEA). The schema
//! lives in `migrations/sqlite` and `migrations/postgres`.

pub mod certificates;
pub mod exercises;
pub mod idempotency;
pub mod leases;
pub mod submissions;
pub mod tokens;

use anyhow::Context;
use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};
use std::path::{Path, PathBuf};
use std::time::Duration;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// SQLite's `synchronous` setting (Postgres keeps its durable defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Synchronous {
    Full,
    Normal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the data lives, resolved from `--data-dir` and `--database-url`.
#[derive(Debug, Clone)]
pub struct DatabaseLocation {
    pub backend: Backend,
    /// The application database.
    pub url: String,
    /// The queue's database: a second SQLite file (so queue polling never contends with
    /// API writes), or the same Postgres database.
    pub queue_url: String,
    /// The SQLite file, for the queue's own connection options.
    pub queue_file: Option<PathBuf>,
    pub synchronous: Synchronous,
}

impl DatabaseLocation {
    pub fn resolve(
        data_dir: &Path,
        database_url: Option<&str>,
    ) -> anyhow::Result<DatabaseLocation> {
        match database_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(DatabaseLocation {
                    backend: Backend::Postgres,
                    url: url.to_string(),
                    queue_url: url.to_string(),
                    queue_file: None,
                    synchronous: Synchronous::Full,
                })
            }
            Some(url) if url.starts_with("sqlite:") => {
                let file = PathBuf::from(
                    url.trim_start_matches("sqlite://")
                        .trim_start_matches("sqlite:"),
                );
                let file =
                    PathBuf::from(file.to_string_lossy().split('?').next().unwrap_or_default());
                let queue_file = file.with_extension("queue.db");
                Ok(DatabaseLocation {
                    backend: Backend::Sqlite,
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    queue_url: format!("sqlite://{}?mode=rwc", queue_file.display()),
                    queue_file: Some(queue_file),
                    synchronous: Synchronous::Full,
                })
            }
            Some(other) => anyhow::bail!(
                "--database-url must start with postgres:// or sqlite:, got {:?}",
                other.split(':').next().unwrap_or_default()
            ),
            None => {
                std::fs::create_dir_all(data_dir).with_context(|| {
                    format!("cannot create the data dir {}", data_dir.display())
                })?;
                let file = data_dir.join("verdict.db");
                let queue_file = data_dir.join("queue.db");
                Ok(DatabaseLocation {
                    backend: Backend::Sqlite,
                    url: format!("sqlite://{}?mode=rwc", file.display()),
                    queue_url: format!("sqlite://{}?mode=rwc", queue_file.display()),
                    queue_file: Some(queue_file),
                    synchronous: Synchronous::Full,
                })
            }
        }
    }
}

/// The application's handle on its database.
#[derive(Clone)]
pub struct Store {
    /// Reads.
    pub pool: AnyPool,
    /// Writes: one connection on SQLite, the same pool on Postgres.
    pub writer: AnyPool,
    /// Immutable exercise versions already read.
    versions: std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<String, crate::domain::StoredVersion>>,
    >,
    pub backend: Backend,
}

/// SQLite settings applied to every connection: WAL, `synchronous=FULL` by default (a 202
/// survives power loss) and a busy timeout so writers wait instead of failing.
fn sqlite_pragmas(synchronous: Synchronous) -> &'static str {
    match synchronous {
        Synchronous::Full => {
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;"
        }
        Synchronous::Normal => {
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON;"
        }
    }
}

impl Store {
    /// Connects and brings the schema up to date.
    pub async fn open(location: &DatabaseLocation) -> anyhow::Result<Store> {
        let store = Store::connect(location).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without migrating.
    pub async fn connect(location: &DatabaseLocation) -> anyhow::Result<Store> {
        install_default_drivers();
        let backend = location.backend;
        let pragmas = sqlite_pragmas(location.synchronous);
        let open = |connections: u32| {
            AnyPoolOptions::new()
                .max_connections(connections)
                .acquire_timeout(Duration::from_secs(30))
                // No ping per acquire: a broken connection fails its query and is dropped.
                .test_before_acquire(false)
                .after_connect(move |connection, _| {
                    Box::pin(async move {
                        if backend == Backend::Sqlite {
                            connection.execute(pragmas).await?;
                        }
                        Ok(())
                    })
                })
                .connect(&location.url)
        };
        let context = || format!("cannot connect to the {backend:?} database");
        let (pool, writer) = match backend {
            // SQLite has one writer at a time. Queueing writers on a one-connection pool
            // in this process is far faster than letting them collide and back off in
            // SQLite's busy handler.
            Backend::Sqlite => (
                open(8).await.with_context(context)?,
                open(1).await.with_context(context)?,
            ),
            Backend::Postgres => {
                let pool = open(16).await.with_context(context)?;
                (pool.clone(), pool)
            }
        };
        Ok(Store {
            pool,
            writer,
            versions: Default::default(),
            backend,
        })
    }

    pub async fn migrate(&self) -> anyhow::Result<()> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&self.writer)
            .await
            .context("database migration failed")?;
        Ok(())
    }

    /// True when the database answers.
    pub async fn ping(&self) -> bool {
        sqlx::query("SELECT 1").execute(&self.pool).await.is_ok()
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// RFC 3339 text for a Unix-millisecond time.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
