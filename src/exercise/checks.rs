//! The manifest's semantic checks: what serde cannot express (names, weights, what each
//! kind needs), each refusal naming the field an instructor must change.

use super::manifest::{Manifest, ManifestError, TestSpec};
use crate::domain::{Compare, ExerciseSlug, FileName, Kind, Language, Probe, Visibility};

impl Manifest {
    /// The slug, parsed: the manifest's first check.
    pub fn slug(&self) -> Result<ExerciseSlug, ManifestError> {
        ExerciseSlug::parse(&self.slug).map_err(|problem| ManifestError::new("slug", problem.0))
    }

    /// Semantic checks that serde cannot express.
    pub fn check(&self) -> Result<(), ManifestError> {
        self.slug()?;
        if self.title.trim().is_empty() {
            return Err(ManifestError::new("title", "must not be empty"));
        }
        if !(self.points.is_finite() && self.points > 0.0) {
            return Err(ManifestError::new("points", "must be a positive number"));
        }
        for name in self.accepted_files() {
            FileName::parse(name).map_err(|problem| ManifestError::new("files", problem.0))?;
        }
        if self.tests.is_empty() {
            return Err(ManifestError::new(
                "tests",
                "at least one [[tests]] entry is required",
            ));
        }
        self.check_language()?;
        self.check_section()?;
        let mut seen = std::collections::HashSet::new();
        for (index, test) in self.tests.iter().enumerate() {
            self.check_test(index, test, &mut seen)?;
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

    /// One `[[tests]]` entry: its name, weight and tolerance, then what its kind needs.
    fn check_test<'a>(
        &self,
        index: usize,
        test: &'a TestSpec,
        seen: &mut std::collections::HashSet<&'a str>,
    ) -> Result<(), ManifestError> {
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
            Kind::Http => self.check_http_test(index, test)?,
            Kind::Io => check_io_test(test, field)?,
            _ => {}
        }
        Ok(())
    }

    /// An http test: its place among the probes, its request and its `expect`.
    fn check_http_test(&self, index: usize, test: &TestSpec) -> Result<(), ManifestError> {
        let field = |name: &str| format!("tests[{index}].{name}");
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
        Ok(())
    }

    /// The entrypoint fits the language, and the language the kind.
    fn check_language(&self) -> Result<(), ManifestError> {
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
        Ok(())
    }

    /// The section each kind needs (`[function]`, `[sql]`, `[suite]`, `[http]`).
    fn check_section(&self) -> Result<(), ManifestError> {
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

/// An io test: one source for stdin and for the expected output, and what its comparison
/// needs.
fn check_io_test(test: &TestSpec, field: impl Fn(&str) -> String) -> Result<(), ManifestError> {
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
        Compare::Float if test.tolerance.is_none_or(|t| !(t.is_finite() && t >= 0.0)) => {
            return Err(ManifestError::new(
                field("tolerance"),
                "compare = \"float\" needs a tolerance >= 0",
            ));
        }
        Compare::Regex => {
            let pattern = test.pattern.as_deref().ok_or_else(|| {
                ManifestError::new(field("pattern"), "compare = \"regex\" needs a pattern")
            })?;
            regex::Regex::new(pattern)
                .map_err(|error| ManifestError::new(field("pattern"), error.to_string()))?;
        }
        _ => {}
    }
    Ok(())
}

/// HTTP methods a probe may use.
const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];

/// An http test's `request` in the form the prober sends: `{method, path, headers,
/// body}`, where `json = …` became a JSON body with its content type.
pub fn http_request(request: Option<&serde_json::Value>) -> Result<Probe, String> {
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
    let mut headers = std::collections::BTreeMap::new();
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
            headers.insert(name.to_ascii_lowercase(), value.to_string());
        }
    }
    let body = match (request.get("json"), request.get("body")) {
        (Some(_), Some(_)) => return Err("give json or body, not both".to_string()),
        (Some(json), None) => {
            headers
                .entry("content-type".to_string())
                .or_insert_with(|| "application/json".into());
            Some(json.to_string())
        }
        (None, Some(body)) => Some(body.as_str().ok_or("body must be a string")?.to_string()),
        (None, None) => None,
    };
    Ok(Probe {
        method,
        path: path.to_string(),
        headers,
        body,
    })
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
