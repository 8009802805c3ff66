//! The stored form of an exercise version: the manifest with every test made concrete
//! (case files inlined, expected values computed from the reference solution).

use super::exercise::{
    Compare, HttpSpec, Kind, Language, LimitsSpec, Probe, RunnerKind, Tier, Visibility,
};
use super::ids::ExerciseSlug;
use super::value::Value;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A test with its input and expected output in hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedTest {
    pub name: String,
    pub weight: f64,
    pub visibility: Visibility,
    pub stdin: String,
    pub expected_stdout: Option<String>,
    pub compare: Compare,
    pub tolerance: Option<f64>,
    pub pattern: Option<String>,
    /// function: the call's arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<Value>>,
    /// function: the expected return value; sql: the expected rows (a list of lists);
    /// http: the `expect` table. Exact: an integer computed by the reference keeps every
    /// digit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// sql: the seed script (text), run after the schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<String>,
    /// sql: compare rows in order (else as a multiset).
    #[serde(default)]
    pub ordered: bool,
    /// http: the request to send, `{method, path, headers, body}` (`expected` holds the
    /// `expect` table).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Probe>,
}

impl ResolvedTest {
    /// The expectation as shown to a learner for a visible test.
    pub fn expected_display(&self) -> Option<Value> {
        if self.expected.is_some() {
            return self.expected.clone();
        }
        match self.compare {
            Compare::Regex => self.pattern.clone().map(Value::Str),
            _ => self.expected_stdout.clone().map(Value::Str),
        }
    }
}

/// Everything the grader needs about one exercise version, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolvedExercise {
    pub slug: ExerciseSlug,
    pub title: String,
    pub tier: Tier,
    pub points: f64,
    pub language: Language,
    pub kind: Kind,
    pub runner: RunnerKind,
    pub entrypoint: String,
    pub extra_files: Vec<String>,
    pub limits: LimitsSpec,
    pub tests: Vec<ResolvedTest>,
    /// function: the name called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<String>,
    /// sql: the schema script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// suite: the test files (by plain name) that run inside the sandbox.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub support: BTreeMap<String, String>,
    /// http: the server command, port and readiness path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSpec>,
}

impl ResolvedExercise {
    /// Whether `name` may be part of a submission.
    pub fn accepts_file(&self, name: &str) -> bool {
        name == self.entrypoint || self.extra_files.iter().any(|extra| extra == name)
    }
}

/// A stored version and when it was made.
#[derive(Debug, Clone)]
pub struct StoredVersion {
    pub version: String,
    pub exercise: ResolvedExercise,
    pub created_at: String,
}
