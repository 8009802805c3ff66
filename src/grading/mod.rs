//! Trusted, host-side grading: observations in, per-test results and a verdict out.
//!
//! Expected values live only here and in the store; the sandbox never sees them. This
//! file turns observations into results and picks the verdict; the comparisons live
//! beside it: stdout in `io.rs`, values and rows in `values.rs`, answers in `http.rs`.

mod http;
mod io;
mod values;

pub use http::http_expectation;
pub use io::compare;
pub use values::{json_subset, values_equal};

use crate::domain::{
    Grade, Kind, ResolvedExercise, ResolvedTest, SuiteOutcome, SuiteStatus, TestResult, TestStatus,
    Value, Verdict,
};
use crate::runner::{CaseObservation, CaseOutcome, RunReport};
use http::http_matches;
use values::{compare_rows, preview};

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Visibility;

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
