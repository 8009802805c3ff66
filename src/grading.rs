//! Trusted, host-side grading: observations in, per-test results and a verdict out.
//!
//! Expected values live only here and in the store; the sandbox never sees them.

use crate::domain::{
    Compare, Grade, Kind, ResolvedExercise, ResolvedTest, SuiteOutcome, SuiteStatus, TestResult,
    TestStatus, Value, Verdict,
};
use crate::runner::{CaseObservation, CaseOutcome, RunReport};

/// The cap on the message and output text kept per test.
pub const MESSAGE_CAP: usize = 4096;

/// Caps text at `MESSAGE_CAP` bytes on a character boundary.
pub fn cap_text(text: &str) -> String {
    if text.len() <= MESSAGE_CAP {
        return text.to_string();
    }
    let mut end = MESSAGE_CAP;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… [truncated]", &text[..end])
}

/// Grades a run: compares each case's observation with the test's expectation.
pub fn grade(exercise: &ResolvedExercise, report: &RunReport) -> Grade {
    let (tests, points, kind) = (&exercise.tests, exercise.points, exercise.kind);
    let total_weight: f64 = tests.iter().map(|t| t.weight).sum();
    let scale = if total_weight > 0.0 {
        points / total_weight
    } else {
        0.0
    };
    let observations = match report {
        RunReport::CompileError { message } => {
            let tests = tests
                .iter()
                .map(|test| TestResult {
                    name: test.name.clone(),
                    status: TestStatus::Skipped,
                    score: 0.0,
                    max_score: test.weight * scale,
                    visibility: test.visibility,
                    duration_ms: Some(0),
                    message: None,
                    output: None,
                    expected: None,
                    actual: None,
                })
                .collect();
            return Grade {
                verdict: Verdict::CompileError,
                score: 0.0,
                max_score: points,
                tests,
                message: Some(cap_text(message)),
            };
        }
        RunReport::Cases(observations) => observations,
    };
    let results: Vec<TestResult> = tests
        .iter()
        .zip(observations)
        .map(|(test, observation)| grade_case(kind, test, observation, test.weight * scale))
        .collect();
    // Scaled once from the passed weight, so that passing everything scores exactly
    // `points` (a sum of per-test shares like 20/11 can fall short by a rounding error).
    let passed_weight: f64 = tests
        .iter()
        .zip(&results)
        .filter(|(_, result)| result.status == TestStatus::Passed)
        .map(|(test, _)| test.weight)
        // An empty f64 sum is -0.0: a score of nothing is 0.
        .fold(0.0, |sum, weight| sum + weight);
    let score = if total_weight > 0.0 {
        points * passed_weight / total_weight
    } else {
        0.0
    };
    let verdict = choose_verdict(&results, score);
    Grade {
        verdict,
        score,
        max_score: points,
        tests: results,
        message: None,
    }
}

/// PRODUCT.md's rule: all passed → accepted; else the first limit or error in manifest
/// order names the verdict; else partial when the score is above 0, wrong_answer if not.
pub fn choose_verdict(results: &[TestResult], score: f64) -> Verdict {
    if !results.is_empty() && results.iter().all(|r| r.status == TestStatus::Passed) {
        return Verdict::Accepted;
    }
    for result in results {
        match result.status {
            TestStatus::TimeLimit => return Verdict::TimeLimit,
            TestStatus::MemoryLimit => return Verdict::MemoryLimit,
            TestStatus::OutputLimit => return Verdict::OutputLimit,
            TestStatus::Error => return Verdict::RuntimeError,
            _ => {}
        }
    }
    if score > 0.0 {
        Verdict::Partial
    } else {
        Verdict::WrongAnswer
    }
}

fn grade_case(
    kind: Kind,
    test: &ResolvedTest,
    observation: &CaseObservation,
    max_score: f64,
) -> TestResult {
    let stdout = String::from_utf8_lossy(&observation.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&observation.stderr).into_owned();
    let (status, message) = match &observation.outcome {
        CaseOutcome::Exited { code: 0 } => match judge(kind, test, observation, &stdout) {
            Ok(()) => (TestStatus::Passed, None),
            Err((status, why)) => (status, Some(why)),
        },
        CaseOutcome::Exited { code } => (
            TestStatus::Error,
            Some(format!("the program exited with code {code}")),
        ),
        CaseOutcome::TimeLimit => (
            TestStatus::TimeLimit,
            Some("time limit exceeded".to_string()),
        ),
        CaseOutcome::MemoryLimit => (
            TestStatus::MemoryLimit,
            Some("memory limit exceeded".to_string()),
        ),
        CaseOutcome::OutputLimit => (
            TestStatus::OutputLimit,
            Some("output limit exceeded".to_string()),
        ),
        CaseOutcome::RuntimeError { message } => (TestStatus::Error, Some(message.clone())),
    };
    let message = match (message, stderr.is_empty()) {
        (Some(message), false) => Some(format!("{message}\n--- stderr ---\n{stderr}")),
        (Some(message), true) => Some(message),
        (None, _) => None,
    };
    let actual = match kind {
        Kind::Function | Kind::Sql | Kind::Http => observation.value.clone(),
        Kind::Suite => None,
        Kind::Io => Some(Value::Str(cap_text(&stdout))),
    };
    TestResult {
        name: test.name.clone(),
        status,
        score: if status == TestStatus::Passed {
            max_score
        } else {
            0.0
        },
        max_score,
        visibility: test.visibility,
        duration_ms: Some(observation.duration.as_millis() as u64),
        message: message.map(|m| cap_text(&m)),
        output: (!stdout.is_empty() || kind == Kind::Io).then(|| cap_text(&stdout)),
        expected: if kind == Kind::Suite {
            None
        } else {
            test.expected_display()
        },
        actual: actual.map(cap_value),
    }
}

/// A value shown in a result, replaced by a note when its JSON is over the cap.
fn cap_value(value: Value) -> Value {
    let text = value.to_json();
    if text.len() <= MESSAGE_CAP {
        value
    } else {
        Value::Str(cap_text(&text))
    }
}

/// Judges a case that ran to completion, by kind; `Err` says how it fell short.
fn judge(
    kind: Kind,
    test: &ResolvedTest,
    observation: &CaseObservation,
    stdout: &str,
) -> Result<(), (TestStatus, String)> {
    let failed = |why: String| (TestStatus::Failed, why);
    let expected = test.expected.as_ref().unwrap_or(&Value::Null);
    let actual = observation.value.as_ref().unwrap_or(&Value::Null);
    match kind {
        Kind::Io => compare(test, stdout).map_err(failed),
        Kind::Http => http_matches(expected, actual, test.tolerance).map_err(failed),
        Kind::Function if values_equal(expected, actual, test.tolerance) => Ok(()),
        Kind::Function => Err(failed(format!(
            "expected {}, got {}",
            preview(expected),
            preview(actual)
        ))),
        Kind::Sql => compare_rows(expected, actual, test.ordered, test.tolerance).map_err(failed),
        Kind::Suite => match &observation.suite {
            Some(SuiteOutcome {
                status: SuiteStatus::Passed,
                ..
            }) => Ok(()),
            Some(SuiteOutcome { status, message }) => Err(match status {
                SuiteStatus::Failed => failed(message.clone()),
                SuiteStatus::Skipped => (TestStatus::Skipped, format!("skipped: {message}")),
                _ => (TestStatus::Error, message.clone()),
            }),
            None => Err((
                TestStatus::Error,
                "the tester reported no status".to_string(),
            )),
        },
    }
}

/// Checks an HTTP answer `{status, headers, body}` against an `expect` table: the
/// status, each named header (names case-insensitive, values exact), and the body as a
/// JSON subset (`json`) or exactly (`body`).
fn http_matches(expected: &Value, actual: &Value, tolerance: Option<f64>) -> Result<(), String> {
    let status = &actual["status"];
    if expected["status"] != *status {
        return Err(format!(
            "expected status {}, got {}",
            expected["status"],
            preview(status)
        ));
    }
    if let Some(headers) = expected["headers"].as_map() {
        for (name, want) in headers {
            let got = &actual["headers"][name.to_ascii_lowercase().as_str()];
            let matches = match (want.as_str(), got.as_str()) {
                // A media type matches with or without parameters (`; charset=utf-8`).
                (Some(want), Some(got)) if name.eq_ignore_ascii_case("content-type") => {
                    got == want || got.split(';').next().map(str::trim) == Some(want)
                }
                (Some(want), Some(got)) => want == got,
                _ => false,
            };
            if !matches {
                return Err(format!(
                    "expected header {name}: {}, got {}",
                    want.as_str().unwrap_or_default(),
                    got.as_str().unwrap_or("(absent)")
                ));
            }
        }
    }
    let body = actual["body"].as_str().unwrap_or_default();
    if let Some(want) = expected.get("json") {
        let Ok(got) = Value::parse(body.as_bytes()) else {
            return Err(format!(
                "expected a JSON body, got {}",
                preview(&Value::str(body))
            ));
        };
        if !json_subset(want, &got, tolerance) {
            return Err(format!(
                "expected the body to contain {}, got {}",
                preview(want),
                preview(&got)
            ));
        }
    }
    if let Some(want) = expected["body"].as_str()
        && want != body
    {
        return Err(format!(
            "expected the body {}, got {}",
            preview(&expected["body"]),
            preview(&Value::str(body))
        ));
    }
    Ok(())
}

/// `want` is found in `got`: objects may hold more keys, arrays match item by item with
/// the same length, and scalars compare as in `values_equal`.
pub fn json_subset(want: &Value, got: &Value, tolerance: Option<f64>) -> bool {
    match (want, got) {
        (Value::Map(want), Value::Map(got)) => want
            .iter()
            .all(|(key, w)| got.get(key).is_some_and(|g| json_subset(w, g, tolerance))),
        (Value::List(want), Value::List(got)) => {
            want.len() == got.len()
                && want
                    .iter()
                    .zip(got)
                    .all(|(w, g)| json_subset(w, g, tolerance))
        }
        _ => values_equal(want, got, tolerance),
    }
}

/// The `expect` table a reference's answer sets when a manifest leaves it out: its
/// status, and its body as JSON (a subset check) or as text.
pub fn http_expectation(answer: &Value) -> Value {
    let body = answer["body"].as_str().unwrap_or_default();
    let (key, expected_body) = match Value::parse(body.as_bytes()) {
        Ok(json) => ("json", json),
        Err(_) => ("body", Value::str(body)),
    };
    Value::object([("status", answer["status"].clone()), (key, expected_body)])
}

/// A short rendering of a value for a message.
fn preview(value: &Value) -> String {
    let text = value.to_json();
    if text.len() > 300 {
        format!("{}…", &text[..text.floor_char_boundary(300)])
    } else {
        text
    }
}

/// Equality of JSON values for grading. Integers compare exactly, at any size; floats
/// compare exactly, or within `tolerance` when the test sets one. An integer and a float
/// are never equal unless the test sets a tolerance (then they compare as numbers): a
/// float cannot pass for an exact integer. Booleans are not numbers, and object keys
/// must match exactly.
pub fn values_equal(expected: &Value, actual: &Value, tolerance: Option<f64>) -> bool {
    match (expected, actual) {
        (Value::Int(_) | Value::BigInt(_), Value::Int(_) | Value::BigInt(_))
            if tolerance.is_none() =>
        {
            expected == actual
        }
        (Value::Float(want), Value::Float(got)) if tolerance.is_none() => want == got,
        (want, got) if want.is_number() && got.is_number() => match tolerance {
            None => false,
            Some(tolerance) => {
                let (want, got) = (
                    want.as_f64().unwrap_or(f64::NAN),
                    got.as_f64().unwrap_or(f64::NAN),
                );
                want == got || (want - got).abs() <= tolerance
            }
        },
        (Value::List(want), Value::List(got)) => {
            want.len() == got.len()
                && want
                    .iter()
                    .zip(got)
                    .all(|(w, g)| values_equal(w, g, tolerance))
        }
        (Value::Map(want), Value::Map(got)) => {
            want.len() == got.len()
                && want
                    .iter()
                    .all(|(key, w)| got.get(key).is_some_and(|g| values_equal(w, g, tolerance)))
        }
        _ => expected == actual,
    }
}

/// Compares query results: in order, or as a multiset of rows.
fn compare_rows(
    expected: &Value,
    actual: &Value,
    ordered: bool,
    tolerance: Option<f64>,
) -> Result<(), String> {
    let (Some(want), Some(got)) = (expected.as_list(), actual.as_list()) else {
        return Err("the query returned no rows".to_string());
    };
    if want.len() != got.len() {
        return Err(format!("expected {} rows, got {}", want.len(), got.len()));
    }
    if ordered {
        for (index, (w, g)) in want.iter().zip(got).enumerate() {
            if !values_equal(w, g, tolerance) {
                return Err(format!(
                    "row {}: expected {}, got {} (rows are compared in order)",
                    index + 1,
                    preview(w),
                    preview(g)
                ));
            }
        }
        return Ok(());
    }
    let mut unmatched: Vec<&Value> = got.iter().collect();
    for w in want {
        match unmatched.iter().position(|g| values_equal(w, g, tolerance)) {
            Some(at) => {
                unmatched.swap_remove(at);
            }
            None => {
                return Err(format!(
                    "the row {} is missing from the result (rows are compared in any order)",
                    preview(w)
                ));
            }
        }
    }
    Ok(())
}

/// Compares stdout with a test's expectation; `Err` says how it differs.
pub fn compare(test: &ResolvedTest, actual: &str) -> Result<(), String> {
    let expected = test.expected_stdout.as_deref().unwrap_or_default();
    match test.compare {
        Compare::Exact => equal_or(
            actual == expected,
            "the output differs from the expected output",
        ),
        Compare::Trim => equal_or(
            trim_lines(actual) == trim_lines(expected),
            "the output differs from the expected output (trailing whitespace ignored)",
        ),
        Compare::Tokens => equal_or(
            actual.split_whitespace().eq(expected.split_whitespace()),
            "the output's tokens differ from the expected tokens",
        ),
        Compare::Float => compare_floats(expected, actual, test.tolerance.unwrap_or(0.0)),
        Compare::Regex => {
            let pattern = test.pattern.as_deref().unwrap_or_default();
            let anchored = format!("^(?:{pattern})$");
            match regex::Regex::new(&anchored) {
                Ok(re) => equal_or(
                    re.is_match(actual.trim_end()),
                    "the output does not match the expected pattern",
                ),
                Err(error) => Err(format!("the test's pattern is invalid: {error}")),
            }
        }
    }
}

fn equal_or(equal: bool, why: &str) -> Result<(), String> {
    if equal { Ok(()) } else { Err(why.to_string()) }
}

/// Removes trailing whitespace on each line and trailing blank lines.
fn trim_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n").trim_end_matches('\n').to_string()
}

/// Token-wise comparison where numeric tokens may differ by `tolerance`.
fn compare_floats(expected: &str, actual: &str, tolerance: f64) -> Result<(), String> {
    let expected: Vec<&str> = expected.split_whitespace().collect();
    let actual: Vec<&str> = actual.split_whitespace().collect();
    if expected.len() != actual.len() {
        return Err(format!(
            "expected {} values, got {}",
            expected.len(),
            actual.len()
        ));
    }
    for (index, (want, got)) in expected.iter().zip(&actual).enumerate() {
        match (want.parse::<f64>(), got.parse::<f64>()) {
            (Ok(want_number), Ok(got_number)) => {
                let close = (want_number - got_number).abs() <= tolerance
                    || (want_number.is_nan() && got_number.is_nan());
                if !close {
                    return Err(format!(
                        "value {}: expected {want}, got {got} (tolerance {tolerance})",
                        index + 1
                    ));
                }
            }
            _ if want == got => {}
            _ => return Err(format!("value {}: expected {want}, got {got}", index + 1)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Visibility;

    fn io_test(expected: &str, compare: Compare) -> ResolvedTest {
        ResolvedTest {
            request: None,
            name: "t".into(),
            weight: 1.0,
            visibility: Visibility::Visible,
            stdin: String::new(),
            expected_stdout: Some(expected.into()),
            compare,
            tolerance: Some(1e-6),
            pattern: Some("h.llo\\s+w.*".into()),
            args: None,
            expected: None,
            seed: None,
            ordered: false,
        }
    }

    #[test]
    fn comparators_follow_the_product_contract() {
        assert!(compare(&io_test("a\nb\n", Compare::Exact), "a\nb\n").is_ok());
        assert!(compare(&io_test("a\nb\n", Compare::Exact), "a \nb\n").is_err());
        assert!(compare(&io_test("a\nb\n", Compare::Trim), "a  \nb\n\n").is_ok());
        assert!(compare(&io_test("a\nb", Compare::Trim), " a\nb").is_err());
        assert!(compare(&io_test("1 2\n3", Compare::Tokens), "1\n2 3 ").is_ok());
        assert!(compare(&io_test("0.3333333", Compare::Float), "0.33333334").is_ok());
        assert!(compare(&io_test("0.33", Compare::Float), "0.34").is_err());
        assert!(compare(&io_test("", Compare::Regex), "hello world\n").is_ok());
        assert!(compare(&io_test("", Compare::Regex), "say hello world").is_err());
    }

    fn result(status: TestStatus, score: f64) -> TestResult {
        TestResult {
            name: "t".into(),
            status,
            score,
            max_score: 1.0,
            visibility: Visibility::Visible,
            duration_ms: Some(0),
            message: None,
            output: None,
            expected: None,
            actual: None,
        }
    }

    #[test]
    fn first_limit_in_manifest_order_names_the_verdict() {
        let results = [
            result(TestStatus::Passed, 1.0),
            result(TestStatus::Failed, 0.0),
            result(TestStatus::MemoryLimit, 0.0),
            result(TestStatus::TimeLimit, 0.0),
        ];
        assert_eq!(choose_verdict(&results, 1.0), Verdict::MemoryLimit);
        assert_eq!(
            choose_verdict(
                &[
                    result(TestStatus::Passed, 1.0),
                    result(TestStatus::Failed, 0.0)
                ],
                1.0
            ),
            Verdict::Partial
        );
        assert_eq!(
            choose_verdict(&[result(TestStatus::Failed, 0.0)], 0.0),
            Verdict::WrongAnswer
        );
        assert_eq!(
            choose_verdict(&[result(TestStatus::Passed, 1.0)], 1.0),
            Verdict::Accepted
        );
    }

    fn v(value: serde_json::Value) -> Value {
        Value::from(value)
    }

    fn exact(text: &str) -> Value {
        Value::parse(text.as_bytes()).unwrap()
    }

    #[test]
    fn values_compare_as_json_with_exact_integers() {
        use serde_json::json;
        assert!(values_equal(&v(json!([1, 2.0])), &v(json!([1, 2.0])), None));
        assert!(
            !values_equal(&v(json!([1, 2.0])), &v(json!([1.0, 2])), None),
            "an integer is not a float without a tolerance"
        );
        assert!(
            values_equal(&v(json!([1, 2.0])), &v(json!([1.0, 2])), Some(0.0)),
            "with a tolerance they compare as numbers"
        );
        assert!(!values_equal(&v(json!(true)), &v(json!(1)), None));
        assert!(!values_equal(
            &v(json!({"a": 1})),
            &v(json!({"a": 1, "b": 2})),
            None
        ));
        assert!(values_equal(
            &v(json!(0.1)),
            &v(json!(0.1000001)),
            Some(1e-6)
        ));
        assert!(!values_equal(&v(json!(0.1)), &v(json!(0.2)), Some(1e-6)));
        assert!(
            compare_rows(
                &v(json!([["a", 1], ["b", 2]])),
                &v(json!([["b", 2], ["a", 1]])),
                false,
                None
            )
            .is_ok()
        );
        assert!(
            compare_rows(
                &v(json!([["a", 1], ["b", 2]])),
                &v(json!([["b", 2], ["a", 1]])),
                true,
                None
            )
            .is_err()
        );
        assert!(
            compare_rows(
                &v(json!([["a", 1], ["a", 1]])),
                &v(json!([["a", 1], ["b", 1]])),
                false,
                None
            )
            .is_err()
        );
    }

    /// The review's findings: n! + 1 scored as n!, float(n!) passed for n!, and a float
    /// sum passed for an exact integer above 2^53.
    #[test]
    fn integers_beyond_64_bits_compare_exactly() {
        let factorial_25 = "15511210043330985984000000";
        let plus_one = "15511210043330985984000001";
        assert!(values_equal(
            &exact(factorial_25),
            &exact(factorial_25),
            None
        ));
        assert!(!values_equal(&exact(factorial_25), &exact(plus_one), None));
        assert!(
            !values_equal(&exact(factorial_25), &exact("1.5511210043330986e+25"), None),
            "float(25!) is not 25!"
        );
        assert!(
            !values_equal(
                &exact("9007199254740993"),
                &exact("9007199254740992.0"),
                None
            ),
            "a float sum is not the integer above 2^53"
        );
        assert!(!values_equal(
            &exact("9007199254740993"),
            &exact("9007199254740992"),
            None
        ));
        assert!(values_equal(
            &exact("[-170141183460469231731687303715884105728]"),
            &exact("[-170141183460469231731687303715884105728]"),
            None
        ));
    }

    #[test]
    fn hidden_tests_lose_their_data_in_the_learner_view() {
        let mut hidden = result(TestStatus::Failed, 0.0);
        hidden.visibility = Visibility::Hidden;
        hidden.message = Some("secret".into());
        hidden.expected = Some(Value::str("secret"));
        let view = hidden.learner_view();
        assert_eq!(
            (view.message, view.expected, view.output, view.actual),
            (None, None, None, None)
        );
        assert_eq!(view.status, TestStatus::Failed);
    }
}
