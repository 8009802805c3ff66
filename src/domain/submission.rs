//! A submission's lifecycle and the result a grading stores.

use super::limits::Limits;
use super::verdict::TestResult;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Queued,
    Running,
    Completed,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Queued,
            Status::Running,
            Status::Completed,
            Status::Failed,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// A submission row.
/// A grading's stored result. One type: the worker writes it through `complete` (or
/// `finish`), `record` reads it, always as JSON text, so exact integers in the tests'
/// values stay exact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoredResult {
    #[serde(default)]
    pub tests: Vec<TestResult>,
    /// The compile error, or why grading gave up.
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<RuntimeInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<WorkerInfo>,
}

/// What a grading used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Resources {
    /// wasm fuel (about one unit per instruction), for the wasm runner.
    pub cpu_fuel: Option<u64>,
    /// CPU microseconds, for the Docker runner.
    pub cpu_us: Option<u64>,
    pub wall_ms: u64,
    pub peak_memory_bytes: u64,
}

/// The process that graded.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerInfo {
    pub pid: u32,
}

impl StoredResult {
    /// The result of a submission whose every attempt failed for the host's reasons.
    pub fn gave_up(max_attempts: i64) -> StoredResult {
        StoredResult {
            message: Some(format!(
                "grading failed {max_attempts} times for infrastructure reasons; not charged to the learner"
            )),
            ..StoredResult::default()
        }
    }
}

/// Which runtime produced a result, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuntimeInfo {
    /// e.g. `wasmtime 48.0.8`.
    pub runtime: String,
    /// SHA-256 of the module (or image digest) that ran.
    pub digest: String,
}
