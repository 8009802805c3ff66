//! `exercise.toml`: the typed manifest of an exercise package.
//!
//! Parsing is strict (`deny_unknown_fields`), so a typo is an error that names the field
//! instead of a silently ignored setting. Semantic checks (`Manifest::check`) name the
//! field and the problem too.

use crate::domain::{Compare, HttpSpec, Kind, Language, LimitsSpec, RunnerKind, Tier, Visibility};
use serde::{Deserialize, Serialize};

/// A manifest or package problem, phrased for the instructor who wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct ManifestError {
    pub field: String,
    pub problem: String,
}

impl ManifestError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesSpec {
    /// The file the learner must submit.
    pub entrypoint: String,
    /// Further file names a submission may carry.
    #[serde(default)]
    pub extra: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionSpec {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlSpec {
    pub schema: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    pub files: Vec<String>,
}

fn default_weight() -> f64 {
    1.0
}

/// One `[[tests]]` entry. Kind-specific fields are optional here and required by `check`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    #[serde(default = "default_weight")]
    pub weight: f64,
    #[serde(default)]
    pub visibility: Visibility,
    // kind = "io"
    pub stdin: Option<String>,
    /// Path of a file under `tests/` holding the stdin (large cases).
    pub stdin_file: Option<String>,
    pub expected_stdout: Option<String>,
    pub expected_stdout_file: Option<String>,
    #[serde(default)]
    pub compare: Compare,
    pub tolerance: Option<f64>,
    /// The pattern for `compare = "regex"` (the whole stdout must match).
    pub pattern: Option<String>,
    // kind = "function" (`tolerance` also applies: numbers may differ by it)
    pub args: Option<Vec<serde_json::Value>>,
    pub expected: Option<serde_json::Value>,
    // kind = "sql"
    pub seed: Option<String>,
    pub ordered: Option<bool>,
    pub expected_rows: Option<Vec<Vec<serde_json::Value>>>,
    // kind = "http"
    pub request: Option<serde_json::Value>,
    pub expect: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub slug: String,
    pub title: String,
    pub tier: Tier,
    pub points: f64,
    pub language: Language,
    pub kind: Kind,
    pub runner: Option<RunnerKind>,
    pub files: FilesSpec,
    #[serde(default)]
    pub limits: LimitsSpec,
    pub function: Option<FunctionSpec>,
    pub sql: Option<SqlSpec>,
    pub suite: Option<SuiteSpec>,
    pub http: Option<HttpSpec>,
    #[serde(default)]
    pub tests: Vec<TestSpec>,
}

impl Manifest {
    /// Parses `exercise.toml` text; the error names the field and the line.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text).map_err(|error| {
            ManifestError::new("exercise.toml", error.to_string().trim_end().to_string())
        })?;
        manifest.check()?;
        Ok(manifest)
    }

    /// The runner that grades this exercise: the manifest's choice, else wasm.
    pub fn runner(&self) -> RunnerKind {
        self.runner.unwrap_or(match self.kind {
            Kind::Http => RunnerKind::Docker,
            _ => RunnerKind::Wasm,
        })
    }

    /// Every file name a submission may carry.
    pub fn accepted_files(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.files.entrypoint.as_str())
            .chain(self.files.extra.iter().map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
slug = "shout"
title = "Shout"
tier = "hero"
points = 10
language = "wasm"
kind = "io"
[files]
entrypoint = "shout.wat"
[[tests]]
name = "one"
stdin = "a"
"#;

    #[test]
    fn minimal_manifest_parses_with_defaults() {
        let manifest = Manifest::parse(MINIMAL).unwrap();
        assert_eq!(manifest.runner(), RunnerKind::Wasm);
        assert_eq!(manifest.tests[0].weight, 1.0);
        assert_eq!(manifest.tests[0].visibility, Visibility::Visible);
        assert_eq!(manifest.tests[0].compare, Compare::Trim);
    }

    #[test]
    fn unknown_field_is_named() {
        let error = Manifest::parse(&MINIMAL.replace("tier =", "tire =")).unwrap_err();
        assert!(error.problem.contains("tire"), "{error}");
    }

    #[test]
    fn bad_enum_value_is_named() {
        let error = Manifest::parse(&MINIMAL.replace("\"hero\"", "\"god\"")).unwrap_err();
        assert!(
            error.problem.contains("god") && error.problem.contains("tier"),
            "{error}"
        );
    }

    #[test]
    fn bad_slug_names_the_field() {
        let error = Manifest::parse(&MINIMAL.replace("\"shout\"", "\"Shout!\"")).unwrap_err();
        assert_eq!(error.field, "slug");
    }

    #[test]
    fn float_compare_needs_tolerance() {
        let error = Manifest::parse(&format!("{MINIMAL}compare = \"float\"\n")).unwrap_err();
        assert_eq!(error.field, "tests[0].tolerance");
    }

    #[test]
    fn entrypoint_must_be_a_plain_name() {
        let error = Manifest::parse(&MINIMAL.replace("shout.wat", "../x.wat")).unwrap_err();
        assert_eq!(error.field, "files");
    }
}
