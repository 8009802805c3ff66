//! Stdout against an io test's expectation, by the test's `compare` mode: exact,
//! trimmed, tokens, floats within a tolerance, or a pattern.

use crate::domain::{Compare, ResolvedTest};

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
}
