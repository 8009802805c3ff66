//! HTTP answers against an `expect` table (status, headers, body), and the table a
//! reference's answer sets when a manifest leaves it out.

use super::values::{json_subset, preview};
use crate::domain::Value;

/// Checks an HTTP answer `{status, headers, body}` against an `expect` table: the
/// status, each named header (names case-insensitive, values exact), and the body as a
/// JSON subset (`json`) or exactly (`body`).
pub(super) fn http_matches(
    expected: &Value,
    actual: &Value,
    tolerance: Option<f64>,
) -> Result<(), String> {
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
