//! The sandbox contract: what every runner (wasmtime, Docker) takes and returns.
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
pub mod frame;
pub mod harness;
pub mod sandboxes;
pub mod wasm;

pub use sandboxes::Sandboxes;

use crate::domain::{
    HttpSpec, Kind, Language, Limits, RunnerKind, RuntimeInfo, SuiteOutcome, Value,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

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
    /// http: the request to send.
    Request(crate::domain::Probe),
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
    /// (sql), the answer (http). Never a verdict.
    #[serde(default)]
    pub value: Option<Value>,
    /// A suite test's status and message, as the tester reported them.
    #[serde(default)]
    pub suite: Option<SuiteOutcome>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
    /// CPU work, in the runner's unit (wasm fuel: about one unit per instruction). A
    /// language runtime runs many cases in one instance; its fuel is recorded on the
    /// first case that instance ran.
    pub cpu_used: u64,
    pub peak_memory_bytes: u64,
}

impl CaseObservation {
    /// An observation of `outcome` with nothing else seen (no output, no time).
    pub fn new(outcome: CaseOutcome) -> CaseObservation {
        CaseObservation {
            outcome,
            value: None,
            suite: None,
            stdout: Vec::new(),
            stderr: Vec::new(),
            duration: Duration::ZERO,
            cpu_used: 0,
            peak_memory_bytes: 0,
        }
    }
}

/// The result of a run that reached the sandbox.
#[derive(Debug, Clone)]
pub enum RunReport {
    /// The program could not be loaded at all.
    CompileError { message: String },
    /// One observation per case, in order.
    Cases(Vec<CaseObservation>),
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
