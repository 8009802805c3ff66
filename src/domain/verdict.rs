//! Verdicts: how a submission and each of its tests ended, as graded on the host.

use super::exercise::Visibility;
use super::value::Value;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accepted,
    Partial,
    WrongAnswer,
    CompileError,
    RuntimeError,
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    /// Infrastructure failure after every attempt; never charged to the learner.
    InternalError,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Accepted => "accepted",
            Verdict::Partial => "partial",
            Verdict::WrongAnswer => "wrong_answer",
            Verdict::CompileError => "compile_error",
            Verdict::RuntimeError => "runtime_error",
            Verdict::TimeLimit => "time_limit",
            Verdict::MemoryLimit => "memory_limit",
            Verdict::OutputLimit => "output_limit",
            Verdict::InternalError => "internal_error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    TimeLimit,
    MemoryLimit,
    OutputLimit,
    Skipped,
}

/// A suite test's status, as the tester reports it (pytest, unittest, `node:test`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuiteStatus {
    Passed,
    Failed,
    Skipped,
    /// The test could not run (its setup or teardown failed, or it ran twice).
    Error,
}

/// What the tester reported for one suite test: an observation, graded on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteOutcome {
    pub status: SuiteStatus,
    pub message: String,
}

/// One test's result, as stored. `learner_view` removes hidden data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TestResult {
    pub name: String,
    pub status: TestStatus,
    pub score: f64,
    pub max_score: f64,
    pub visibility: Visibility,
    /// How long the test ran. Absent from a learner's view of a hidden test: learner
    /// code could spend time in proportion to the test's input and read it back here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<Value>,
}

impl TestResult {
    /// What a learner may see: hidden tests keep only their name, status and score (not
    /// their duration, which learner code could make carry the test's input).
    pub fn learner_view(&self) -> TestResult {
        match self.visibility {
            Visibility::Visible => self.clone(),
            Visibility::Hidden => TestResult {
                message: None,
                output: None,
                expected: None,
                actual: None,
                duration_ms: None,
                ..self.clone()
            },
        }
    }
}

/// The outcome of grading one submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grade {
    pub verdict: Verdict,
    pub score: f64,
    pub max_score: f64,
    pub tests: Vec<TestResult>,
    /// The compile error, when there is one (shown: it is about the learner's own code).
    pub message: Option<String>,
}
