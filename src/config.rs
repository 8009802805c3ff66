//! Configuration: every flag has a `VERDICT_*` environment variable, and an optional
//! `verdict.toml` supplies defaults for both (flags > environment > file).

use crate::domain::Limits;
use clap::Args;
use std::path::PathBuf;

/// Where the data lives; taken by every command that touches the database.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// Folder for the embedded SQLite database (and the queue file).
    #[arg(long, env = "VERDICT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// `postgres://…` to use Postgres instead of the embedded SQLite.
    #[arg(long, env = "VERDICT_DATABASE_URL")]
    pub database_url: Option<String>,
    /// SQLite durability. `full` (default): a 202 survives power loss. `normal` is faster
    /// but can lose the last commits on power loss (never on a process crash).
    #[arg(long, env = "VERDICT_SQLITE_SYNCHRONOUS", value_enum, default_value_t = crate::store::Synchronous::Full)]
    pub sqlite_synchronous: crate::store::Synchronous,
}

impl DatabaseArgs {
    pub fn location(&self) -> anyhow::Result<crate::store::DatabaseLocation> {
        let mut location =
            crate::store::DatabaseLocation::resolve(&self.data_dir, self.database_url.as_deref())?;
        location.synchronous = self.sqlite_synchronous;
        Ok(location)
    }
}

/// Operator maxima: manifest limits are clamped to these.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Largest CPU time a manifest may ask for, per test.
    #[arg(long, env = "VERDICT_MAX_CPU_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_cpu_ms: u64,
    /// Largest wall time a manifest may ask for, per test.
    #[arg(long, env = "VERDICT_MAX_WALL_MS", default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_wall_ms: u64,
    /// Largest memory a manifest may ask for.
    #[arg(long, env = "VERDICT_MAX_MEMORY_MB", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..=4096))]
    pub max_memory_mb: u64,
    /// Largest output (stdout + stderr) a manifest may allow, per test.
    #[arg(long, env = "VERDICT_MAX_OUTPUT_KB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_output_kb: u64,
}

impl LimitArgs {
    pub fn maxima(&self) -> Limits {
        Limits {
            cpu_ms: self.max_cpu_ms,
            wall_ms: self.max_wall_ms,
            memory_mb: self.max_memory_mb,
            output_kb: self.max_output_kb,
            pids: 256,
        }
    }
}

/// Worker settings.
#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    /// Gradings run at once by this process (default: the number of cores).
    #[arg(long, env = "VERDICT_CONCURRENCY")]
    pub concurrency: Option<usize>,
}

impl WorkerArgs {
    pub fn concurrency(&self) -> usize {
        self.concurrency
            .unwrap_or_else(|| {
                std::thread::available_parallelism()
                    .map(|n| n.get())
                    .unwrap_or(2)
            })
            .max(1)
    }
}

/// API settings: caps that protect the service and its learners.
#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// Address to listen on.
    #[arg(long, env = "VERDICT_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Submissions a learner may make per minute (429 beyond).
    #[arg(long, env = "VERDICT_RATE_PER_MINUTE", default_value_t = 30)]
    pub rate_per_minute: u32,
    /// Submissions a learner may have queued or running at once (429 beyond).
    #[arg(long, env = "VERDICT_MAX_IN_FLIGHT", default_value_t = 5)]
    pub max_in_flight: i64,
    /// Submissions queued or running across all learners (503 beyond).
    #[arg(long, env = "VERDICT_QUEUE_CAP", default_value_t = 10_000)]
    pub queue_cap: i64,
    /// Largest JSON body for a submission, in KiB (413 beyond).
    #[arg(long, env = "VERDICT_MAX_SUBMISSION_KB", default_value_t = 256)]
    pub max_submission_kb: usize,
    /// Largest exercise package upload, in KiB (413 beyond).
    #[arg(long, env = "VERDICT_MAX_PACKAGE_KB", default_value_t = 16 * 1024)]
    pub max_package_kb: usize,
    /// Open connections in all (kept below the descriptor limit); a fast 503 beyond.
    #[arg(long, env = "VERDICT_MAX_CONNECTIONS", default_value_t = 4096)]
    pub max_connections: usize,
    /// Open connections from one client address; a fast 503 beyond.
    #[arg(
        long,
        env = "VERDICT_MAX_CONNECTIONS_PER_CLIENT",
        default_value_t = 256
    )]
    pub max_connections_per_client: usize,
    /// Seconds a client has to send a request's header, and that a kept-alive
    /// connection may wait idle for its next request.
    #[arg(long, env = "VERDICT_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,
    /// Seconds a request's body has to arrive in full, from its header's arrival.
    #[arg(long, env = "VERDICT_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,
}

/// Loads `verdict.toml` (or the file named by `VERDICT_CONFIG`) into `VERDICT_*`
/// variables that are not set yet, so clap sees them as environment defaults.
pub fn load_config_file() -> anyhow::Result<()> {
    let path = std::env::var_os("VERDICT_CONFIG")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("verdict.toml"));
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error)
            if error.kind() == std::io::ErrorKind::NotFound
                && std::env::var_os("VERDICT_CONFIG").is_none() =>
        {
            return Ok(());
        }
        Err(error) => anyhow::bail!("cannot read {}: {error}", path.display()),
    };
    let table: toml::Table =
        toml::from_str(&text).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    for (key, value) in table {
        let variable = format!("VERDICT_{}", key.to_ascii_uppercase().replace('-', "_"));
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Integer(number) => number.to_string(),
            toml::Value::Boolean(flag) => flag.to_string(),
            other => anyhow::bail!(
                "{}: `{key}` must be a string, number or boolean, got {other}",
                path.display()
            ),
        };
        if std::env::var_os(&variable).is_none() {
            // SAFETY: called at start-up, before any other thread exists.
            unsafe { std::env::set_var(variable, text) };
        }
    }
    Ok(())
}
