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

    /// Semantic checks that serde cannot express.
    pub fn check(&self) -> Result<(), ManifestError> {
        let slug_ok = !self.slug.is_empty()
            && self.slug.len() <= 64
            && self
                .slug
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !slug_ok {
            return Err(ManifestError::new(
                "slug",
                format!(
                    "must match [a-z0-9-]+ and be at most 64 characters, got {:?}",
                    self.slug
                ),
            ));
        }
        if self.title.trim().is_empty() {
            return Err(ManifestError::new("title", "must not be empty"));
        }
        if !(self.points.is_finite() && self.points > 0.0) {
            return Err(ManifestError::new("points", "must be a positive number"));
        }
        for name in self.accepted_files() {
            check_learner_file_name(name)
                .map_err(|problem| ManifestError::new("files", problem))?;
        }
        if self.tests.is_empty() {
            return Err(ManifestError::new(
                "tests",
                "at least one [[tests]] entry is required",
            ));
        }
        self.check_kind()?;
        let mut seen = std::collections::HashSet::new();
        for (index, test) in self.tests.iter().enumerate() {
            let field = |name: &str| format!("tests[{index}].{name}");
            if test.name.trim().is_empty() {
                return Err(ManifestError::new(field("name"), "must not be empty"));
            }
            if !seen.insert(test.name.as_str()) {
                return Err(ManifestError::new(
                    field("name"),
                    format!("duplicate test name {:?}", test.name),
                ));
            }
            if !(test.weight.is_finite() && test.weight >= 0.0) {
                return Err(ManifestError::new(field("weight"), "must be a number >= 0"));
            }
            if let Some(tolerance) = test.tolerance
                && !(tolerance.is_finite() && tolerance >= 0.0)
            {
                return Err(ManifestError::new(
                    field("tolerance"),
                    "must be a number >= 0",
                ));
            }
            match self.kind {
                Kind::Function if test.args.is_none() => {
                    return Err(ManifestError::new(
                        field("args"),
                        "kind = \"function\" needs args (a list, [] for none)",
                    ));
                }
                Kind::Sql => {
                    if let Some(rows) = &test.expected_rows
                        && rows
                            .iter()
                            .any(|row| row.iter().any(|v| v.is_array() || v.is_object()))
                    {
                        return Err(ManifestError::new(
                            field("expected_rows"),
                            "each row is a list of plain values (text, number, boolean or null)",
                        ));
                    }
                }
                Kind::Http => {
                    // Probes run in order against one server, so a visible probe after a
                    // hidden one could show what the hidden one sent (other kinds run
                    // their visible tests first, whatever the manifest's order).
                    if test.visibility == Visibility::Visible
                        && self.tests[..index]
                            .iter()
                            .any(|earlier| earlier.visibility == Visibility::Hidden)
                    {
                        return Err(ManifestError::new(
                            field("visibility"),
                            "an http exercise's probes run in order against one server: \
                             list the hidden tests after every visible one, so that no \
                             visible answer can carry what a hidden probe sent",
                        ));
                    }
                    http_request(test.request.as_ref())
                        .map_err(|problem| ManifestError::new(field("request"), problem))?;
                    if let Some(expect) = &test.expect {
                        check_http_expect(expect)
                            .map_err(|problem| ManifestError::new(field("expect"), problem))?;
                    }
                }
                _ => {}
            }
            if self.kind == Kind::Io {
                if test.stdin.is_some() && test.stdin_file.is_some() {
                    return Err(ManifestError::new(
                        field("stdin"),
                        "give stdin or stdin_file, not both",
                    ));
                }
                if test.expected_stdout.is_some() && test.expected_stdout_file.is_some() {
                    return Err(ManifestError::new(
                        field("expected_stdout"),
                        "give expected_stdout or expected_stdout_file, not both",
                    ));
                }
                match test.compare {
                    Compare::Float
                        if test.tolerance.is_none_or(|t| !(t.is_finite() && t >= 0.0)) =>
                    {
                        return Err(ManifestError::new(
                            field("tolerance"),
                            "compare = \"float\" needs a tolerance >= 0",
                        ));
                    }
                    Compare::Regex => {
                        let pattern = test.pattern.as_deref().ok_or_else(|| {
                            ManifestError::new(
                                field("pattern"),
                                "compare = \"regex\" needs a pattern",
                            )
                        })?;
                        regex::Regex::new(pattern).map_err(|error| {
                            ManifestError::new(field("pattern"), error.to_string())
                        })?;
                    }
                    _ => {}
                }
            }
        }
        let weights: f64 = self.tests.iter().map(|t| t.weight).sum();
        if weights <= 0.0 {
            return Err(ManifestError::new(
                "tests",
                "the weights must add up to more than 0",
            ));
        }
        Ok(())
    }
}

impl Manifest {
    /// The section each kind needs, and the language it runs in.
    fn check_kind(&self) -> Result<(), ManifestError> {
        let entrypoint = &self.files.entrypoint;
        let extension = entrypoint
            .rsplit_once('.')
            .map(|(_, ext)| ext)
            .unwrap_or("");
        if !self.language.extensions().contains(&extension) {
            return Err(ManifestError::new(
                "files.entrypoint",
                format!(
                    "{entrypoint:?} does not fit language {:?}: use a .{} file",
                    self.language,
                    self.language.extensions().join(" or .")
                ),
            ));
        }
        let languages: &[Language] = match self.kind {
            Kind::Io => &[Language::Python, Language::Javascript, Language::Wasm],
            Kind::Function => &[Language::Python, Language::Javascript],
            Kind::Sql => &[Language::Sql],
            Kind::Suite => &[Language::Python, Language::Javascript],
            Kind::Http => &[Language::Python, Language::Javascript],
        };
        if !languages.contains(&self.language) {
            return Err(ManifestError::new(
                "language",
                format!(
                    "kind {:?} takes language {}",
                    self.kind,
                    languages
                        .iter()
                        .map(|l| format!("{l:?}").to_lowercase())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        let missing = |section: &str, example: &str| {
            ManifestError::new(
                section,
                format!(
                    "kind {:?} needs a [{section}] section ({example})",
                    self.kind
                ),
            )
        };
        match self.kind {
            Kind::Function => {
                let function = self
                    .function
                    .as_ref()
                    .ok_or_else(|| missing("function", "name = \"leap_year\""))?;
                let ok = !function.name.is_empty()
                    && function.name.len() <= 100
                    && function
                        .name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
                    && !function.name.as_bytes()[0].is_ascii_digit();
                if !ok {
                    return Err(ManifestError::new(
                        "function.name",
                        format!("{:?} is not a function name", function.name),
                    ));
                }
            }
            Kind::Sql => {
                self.sql
                    .as_ref()
                    .ok_or_else(|| missing("sql", "schema = \"tests/schema.sql\""))?;
            }
            Kind::Suite => {
                let suite = self
                    .suite
                    .as_ref()
                    .ok_or_else(|| missing("suite", "files = [\"tests/test_stack.py\"]"))?;
                if suite.files.is_empty() {
                    return Err(ManifestError::new(
                        "suite.files",
                        "name at least one test file",
                    ));
                }
            }
            Kind::Http => {
                let http = self.http.as_ref().ok_or_else(|| {
                    missing(
                        "http",
                        "command = [\"python3\", \"app.py\"], port, ready_path",
                    )
                })?;
                if http.command.is_empty() || http.command.iter().any(|part| part.is_empty()) {
                    return Err(ManifestError::new(
                        "http.command",
                        "give the program and its arguments as a non-empty list of words",
                    ));
                }
                if http.port < 1024 {
                    return Err(ManifestError::new(
                        "http.port",
                        "use a port from 1024 up (the server runs without privileges)",
                    ));
                }
                if let Some(path) = &http.ready_path
                    && !path.starts_with('/')
                {
                    return Err(ManifestError::new("http.ready_path", "must start with /"));
                }
            }
            Kind::Io => {}
        }
        Ok(())
    }
}

/// HTTP methods a probe may use.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// An http test's `request` in the form the prober sends: `{method, path, headers,
/// body}`, where `json = …` became a JSON body with its content type.
pub fn http_request(request: Option<&serde_json::Value>) -> Result<serde_json::Value, String> {
    let request = request
        .and_then(|r| r.as_object())
        .ok_or("kind \"http\" needs request = { method = \"GET\", path = \"/todos\" }")?;
    for key in request.keys() {
        if !["method", "path", "headers", "json", "body"].contains(&key.as_str()) {
            return Err(format!(
                "unknown field {key:?} (use method, path, headers, json or body)"
            ));
        }
    }
    let method = request
        .get("method")
        .and_then(|m| m.as_str())
        .unwrap_or("GET")
        .to_ascii_uppercase();
    if !METHODS.contains(&method.as_str()) {
        return Err(format!(
            "method {method:?} is not one of {}",
            METHODS.join(", ")
        ));
    }
    let path = request
        .get("path")
        .and_then(|p| p.as_str())
        .ok_or("needs a path, such as \"/todos\"")?;
    if !path.starts_with('/') || path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "path {path:?} must start with / and hold no spaces"
        ));
    }
    let mut headers = serde_json::Map::new();
    if let Some(given) = request.get("headers") {
        let given = given
            .as_object()
            .ok_or("headers must be a table of strings")?;
        for (name, value) in given {
            let value = value.as_str().ok_or("headers must be a table of strings")?;
            let ok = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !value.chars().any(|c| c.is_control());
            if !ok {
                return Err(format!("header {name:?} is not a valid header"));
            }
            headers.insert(name.to_ascii_lowercase(), value.into());
        }
    }
    let body = match (request.get("json"), request.get("body")) {
        (Some(_), Some(_)) => return Err("give json or body, not both".to_string()),
        (Some(json), None) => {
            headers
                .entry("content-type")
                .or_insert_with(|| "application/json".into());
            Some(json.to_string())
        }
        (None, Some(body)) => Some(body.as_str().ok_or("body must be a string")?.to_string()),
        (None, None) => None,
    };
    Ok(serde_json::json!({
        "method": method,
        "path": path,
        "headers": headers,
        "body": body,
    }))
}

/// An http test's `expect`: `status`, and optionally `headers`, `json` (a subset) or
/// `body` (exact).
fn check_http_expect(expect: &serde_json::Value) -> Result<(), String> {
    let expect = expect
        .as_object()
        .ok_or("expect must be a table, such as { status = 200, json = [] }")?;
    for key in expect.keys() {
        if !["status", "headers", "json", "body"].contains(&key.as_str()) {
            return Err(format!(
                "unknown field {key:?} (use status, headers, json or body)"
            ));
        }
    }
    match expect.get("status").and_then(|s| s.as_u64()) {
        Some(100..=599) => {}
        _ => return Err("needs a status from 100 to 599".to_string()),
    }
    if expect.contains_key("json") && expect.contains_key("body") {
        return Err("give json or body, not both".to_string());
    }
    if let Some(headers) = expect.get("headers")
        && !headers
            .as_object()
            .is_some_and(|h| h.values().all(|v| v.is_string()))
    {
        return Err("headers must be a table of strings".to_string());
    }
    if let Some(body) = expect.get("body")
        && !body.is_string()
    {
        return Err("body must be a string".to_string());
    }
    Ok(())
}

/// A learner file name is one plain path component: no folders, no dot files.
pub fn check_learner_file_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{name:?} is not a valid file name (letters, digits, '.', '_' and '-' only, not starting with '.')"
        ))
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
