//! The sandbox contract: what every runner (wasmtime now, Docker later) takes and returns.
//!
//! A runner executes learner code and returns **observations** (stdout, exit status, the
//! limit that stopped it). It never sees expected values and never decides a verdict:
//! `grading` does that on the host. Learner outcomes are values (`CaseOutcome`,
//! `RunReport::CompileError`); only infrastructure faults are `Err(RunnerError)`.
//! The written contract is `sandboxes/README.md`.

pub mod budget;
mod channel;
pub mod compiled;
pub mod docker;
pub mod harness;
pub mod wasm;

use crate::exercise::manifest::{HttpSpec, Kind, Language, RunnerKind};
use crate::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Effective limits for one run, after manifest values are clamped by operator maxima.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Limits {
    pub cpu_ms: u64,
    pub wall_ms: u64,
    pub memory_mb: u64,
    pub output_kb: u64,
    pub pids: u64,
}

impl Limits {
    /// Defaults for fields a manifest leaves out.
    pub const DEFAULT: Limits = Limits {
        cpu_ms: 2_000,
        wall_ms: 5_000,
        memory_mb: 128,
        output_kb: 64,
        pids: 32,
    };

    /// Applies a manifest's values over the defaults, then clamps them to `maxima`.
    pub fn resolve(spec: &crate::exercise::manifest::LimitsSpec, maxima: &Limits) -> Limits {
        let pick =
            |value: Option<u64>, default: u64, max: u64| value.unwrap_or(default).clamp(1, max);
        Limits {
            cpu_ms: pick(spec.cpu_ms, Self::DEFAULT.cpu_ms, maxima.cpu_ms),
            wall_ms: pick(spec.wall_ms, Self::DEFAULT.wall_ms, maxima.wall_ms),
            memory_mb: pick(spec.memory_mb, Self::DEFAULT.memory_mb, maxima.memory_mb),
            output_kb: pick(spec.output_kb, Self::DEFAULT.output_kb, maxima.output_kb),
            pids: pick(spec.pids, Self::DEFAULT.pids, maxima.pids),
        }
    }

    pub fn wall(&self) -> Duration {
        Duration::from_millis(self.wall_ms)
    }
}

/// One program to run against a list of inputs (one per test, in manifest order).
#[derive(Debug, Clone)]
pub struct RunRequest {
    /// The sandbox the exercise asks for.
    pub runner: RunnerKind,
    pub language: Language,
    pub kind: Kind,
    /// The learner's files (never the solution, never expected values).
    pub files: BTreeMap<String, Vec<u8>>,
    pub entrypoint: String,
    /// Instructor files the kind needs inside the sandbox: the suite kind's test files.
    pub support: BTreeMap<String, Vec<u8>>,
    /// The function the `function` kind calls.
    pub function: Option<String>,
    /// The `sql` kind's schema (SQL text).
    pub schema: Option<String>,
    /// The `http` kind's server command, port and readiness path.
    pub http: Option<HttpSpec>,
    /// One input per test, in run order (`exercise::run_order`): visible tests first.
    pub cases: Vec<CaseInput>,
    /// The index of the first hidden test in `cases` (`cases.len()` when none is). A
    /// runner that runs several cases in one sandbox stops showing text from there on;
    /// one that cannot choose the order of a framework's tests runs the two groups apart.
    pub hidden_from: usize,
    pub limits: Limits,
}

/// What one test hands the program. Expected values are never part of it.
#[derive(Debug, Clone, PartialEq)]
pub enum CaseInput {
    /// io: the program's stdin.
    Stdin(Vec<u8>),
    /// function: the arguments of the call.
    Call(Vec<Value>),
    /// sql: the seed script run after the schema.
    Seed(String),
    /// suite: the test to run (`Class.test_method`, or a full id).
    Test(String),
    /// http: the request to send, `{method, path, headers, body}`.
    Request(serde_json::Value),
}

/// How one case ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseOutcome {
    /// The program ran to completion with this exit code.
    Exited {
        code: i32,
    },
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    /// A trap or an abort; the message is the runtime's description.
    RuntimeError {
        message: String,
    },
}

/// What the sandbox observed for one case. Nothing here is trusted as a verdict.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseObservation {
    pub outcome: CaseOutcome,
    /// What a harness observed beyond stdout: the returned value (function), the rows
    /// (sql), or `{status, message}` (suite). Never a verdict.
    #[serde(default)]
    pub value: Option<Value>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
    /// CPU work, in the runner's unit (wasm fuel: about one unit per instruction). A
    /// language runtime runs many cases in one instance; its fuel is recorded on the
    /// first case that instance ran.
    pub cpu_used: u64,
    pub peak_memory_bytes: u64,
}

/// The result of a run that reached the sandbox.
#[derive(Debug, Clone)]
pub enum RunReport {
    /// The program could not be loaded at all.
    CompileError { message: String },
    /// One observation per case, in order.
    Cases(Vec<CaseObservation>),
}

/// Which runtime produced a result, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RuntimeInfo {
    /// e.g. `wasmtime 48.0.8`.
    pub runtime: String,
    /// SHA-256 of the module (or image digest) that ran.
    pub digest: String,
}

/// An infrastructure fault: the run is retried and never charged to the learner.
#[derive(Debug, thiserror::Error)]
#[error("runner failure: {0}")]
pub struct RunnerError(pub String);

/// A sandbox that runs learner programs.
#[async_trait::async_trait]
pub trait Runner: Send + Sync {
    /// The runner's name as recorded in results (`wasm`, `docker`).
    fn name(&self) -> &'static str;

    /// Runs every case of `request`; learner failures are in the report, not in `Err`.
    async fn run(&self, request: &RunRequest) -> Result<(RunReport, RuntimeInfo), RunnerError>;

    /// Whether this runner can run exercises that ask for `runner`.
    fn supports(&self, runner: RunnerKind) -> bool {
        runner.as_str() == self.name()
    }
}

/// Every sandbox this process has; each request goes to the one its exercise names.
pub struct Sandboxes {
    pub wasm: wasm::WasmRunner,
    /// `None` when Docker is off or cannot be used (see `docker::DockerMode`).
    pub docker: Option<docker::DockerRunner>,
}

#[async_trait::async_trait]
impl Runner for Sandboxes {
    fn name(&self) -> &'static str {
        "sandboxes"
    }

    async fn run(&self, request: &RunRequest) -> Result<(RunReport, RuntimeInfo), RunnerError> {
        match (request.runner, &self.docker) {
            (RunnerKind::Wasm, _) => self.wasm.run(request).await,
            (RunnerKind::Docker, Some(docker)) => docker.run(request).await,
            (RunnerKind::Docker, None) => Err(RunnerError(
                "this exercise needs the Docker runner, which is off in this process".to_string(),
            )),
        }
    }

    fn supports(&self, runner: RunnerKind) -> bool {
        match runner {
            RunnerKind::Wasm => true,
            RunnerKind::Docker => self.docker.is_some(),
        }
    }
}
