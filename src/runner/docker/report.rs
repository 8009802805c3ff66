//! What comes back out of a container, parsed on the host: the function harness's
//! result frame, pytest's JUnit XML, `node --test`'s TAP, and the prober's JSON lines.
//! Each parser only reads observations; verdicts are decided in `grading`.

use crate::value::Value;
use std::collections::BTreeMap;

/// One suite test as its framework reported it: `passed`, `failed`, `skipped` or
/// `error`, with the framework's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteResult {
    pub status: &'static str,
    pub message: String,
}

/// Splits the function harness's output into the learner's stdout and the one result
/// frame, which must be the last thing written: `"\n\x1e" nonce " " json "\n"`.
pub fn split_frame(stdout: &[u8], nonce: &str) -> Result<(Vec<u8>, Value), String> {
    let marker = format!("\n\x1e{nonce} ");
    let marker = marker.as_bytes();
    let positions: Vec<usize> = stdout
        .windows(marker.len())
        .enumerate()
        .filter(|(_, window)| *window == marker)
        .map(|(at, _)| at)
        .collect();
    let [at] = positions[..] else {
        return Err(match positions.len() {
            0 => "the function returned no value (the harness was stopped before it could report)"
                .to_string(),
            n => format!("{n} result frames were written; exactly one is allowed"),
        });
    };
    let rest = &stdout[at + marker.len()..];
    let Some(body) = rest.strip_suffix(b"\n") else {
        return Err("output followed the result frame".to_string());
    };
    if body.contains(&b'\n') {
        return Err("output followed the result frame".to_string());
    }
    let value =
        Value::parse(body).map_err(|error| format!("the result frame is not JSON: {error}"))?;
    Ok((stdout[..at].to_vec(), value))
}

/// Every frame in `stdout` (`"\n\x1e" nonce " " json "\n"`, anywhere), in order, and
/// the output around them. A frame that is not JSON is an error.
pub fn frames(stdout: &[u8], nonce: &str) -> Result<(Vec<Value>, Vec<u8>), String> {
    let marker = format!("\n\x1e{nonce} ");
    let marker = marker.as_bytes();
    let (mut values, mut rest) = (Vec::new(), Vec::new());
    let mut at = 0;
    while at < stdout.len() {
        match stdout[at..]
            .windows(marker.len())
            .position(|window| window == marker)
        {
            Some(offset) => {
                rest.extend_from_slice(&stdout[at..at + offset]);
                let body_start = at + offset + marker.len();
                let end = stdout[body_start..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map(|n| body_start + n)
                    .ok_or("a result frame was cut off")?;
                values.push(
                    Value::parse(&stdout[body_start..end])
                        .map_err(|error| format!("a result frame is not JSON: {error}"))?,
                );
                at = end + 1;
            }
            None => {
                rest.extend_from_slice(&stdout[at..]);
                break;
            }
        }
    }
    Ok((values, rest))
}

/// node:test results as verdict's reporter framed them (`reporter.mjs`), by name. A
/// name reported twice is an error: a test's result must come from one run.
pub fn reporter_results(frames: &[Value]) -> BTreeMap<String, SuiteResult> {
    let mut results: BTreeMap<String, SuiteResult> = BTreeMap::new();
    for frame in frames {
        let name = frame["name"].as_str().unwrap_or_default().to_string();
        let status = match frame["status"].as_str() {
            Some("passed") => "passed",
            Some("failed") => "failed",
            Some("skipped") => "skipped",
            _ => "error",
        };
        let message = frame["message"].as_str().unwrap_or_default().to_string();
        let duplicate = SuiteResult {
            status: "error",
            message: "the test was reported more than once".to_string(),
        };
        results
            .entry(name)
            .and_modify(|result| *result = duplicate)
            .or_insert(SuiteResult { status, message });
    }
    results
}

/// pytest's `--junitxml` report, by test id. Each test is listed under its full id
/// (`module.Class.test` or `module.test`) and under the id without the module
/// (`Class.test` or `test`), the names a manifest uses.
pub fn parse_junit(xml: &str) -> Result<BTreeMap<String, SuiteResult>, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut results = BTreeMap::new();
    let mut current: Option<(String, SuiteResult)> = None;
    let mut in_outcome = false;
    let mut body = String::new();
    let attribute = |element: &quick_xml::events::BytesStart, name: &[u8]| -> String {
        element
            .attributes()
            .flatten()
            .find(|a| a.key.as_ref() == name)
            .and_then(|a| a.unescape_value().ok().map(|v| v.into_owned()))
            .unwrap_or_default()
    };
    loop {
        match reader.read_event() {
            Err(error) => return Err(format!("the JUnit report is not valid XML: {error}")),
            Ok(Event::Eof) => break,
            Ok(event @ (Event::Start(_) | Event::Empty(_))) if matches!(&event, Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase") =>
            {
                let (Event::Start(element) | Event::Empty(element)) = &event else {
                    unreachable!()
                };
                let classname = attribute(element, b"classname");
                let name = attribute(element, b"name");
                let id = if classname.is_empty() {
                    name
                } else {
                    format!("{classname}.{name}")
                };
                let passed = SuiteResult {
                    status: "passed",
                    message: String::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    insert_junit(&mut results, id, passed);
                } else {
                    current = Some((id, passed));
                }
            }
            Ok(Event::Start(element)) | Ok(Event::Empty(element))
                if matches!(element.name().as_ref(), b"failure" | b"error" | b"skipped") =>
            {
                if let Some((_, result)) = current.as_mut() {
                    let status = match element.name().as_ref() {
                        b"failure" => "failed",
                        b"skipped" => "skipped",
                        _ => "error",
                    };
                    // A failure in teardown after a pass is still a failure; keep the worst.
                    if result.status == "passed" || status == "error" {
                        result.status = status;
                    }
                    result.message = attribute(&element, b"message");
                    in_outcome = true;
                }
            }
            Ok(Event::Text(text)) if in_outcome => {
                body.push_str(&text.decode().unwrap_or_default());
            }
            Ok(Event::CData(text)) if in_outcome => {
                body.push_str(&text.decode().unwrap_or_default());
            }
            Ok(Event::GeneralRef(reference)) if in_outcome => {
                let name = reference.decode().unwrap_or_default();
                if let Ok(Some(ch)) = reference.resolve_char_ref() {
                    body.push(ch);
                } else if let Some(text) = quick_xml::escape::resolve_predefined_entity(&name) {
                    body.push_str(text);
                }
            }
            Ok(Event::End(element)) => match element.name().as_ref() {
                b"failure" | b"error" | b"skipped" => {
                    in_outcome = false;
                    if let Some((_, result)) = current.as_mut()
                        && !body.trim().is_empty()
                    {
                        if !result.message.is_empty() {
                            result.message.push('\n');
                        }
                        result.message.push_str(body.trim());
                    }
                    body.clear();
                }
                b"testcase" => {
                    if let Some((id, result)) = current.take() {
                        insert_junit(&mut results, id, result);
                    }
                }
                _ => {}
            },
            Ok(_) => {}
        }
    }
    if let Some((id, result)) = current.take() {
        insert_junit(&mut results, id, result);
    }
    Ok(results)
}

fn insert_junit(results: &mut BTreeMap<String, SuiteResult>, id: String, result: SuiteResult) {
    if let Some((_, short)) = id.split_once('.') {
        results.insert(short.to_string(), result.clone());
    }
    results.insert(id, result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_must_be_single_and_last() {
        let (out, value) = split_frame(b"hello\n\n\x1eabc [1,2]\n", "abc").unwrap();
        assert_eq!(out, b"hello\n");
        assert_eq!(value, Value::from(serde_json::json!([1, 2])));
        assert!(split_frame(b"\n\x1eabc 1\n\n\x1eabc 2\n", "abc").is_err());
        assert!(split_frame(b"\n\x1eabc 1\nmore", "abc").is_err());
        assert!(split_frame(b"no frame", "abc").is_err());
        assert!(split_frame(b"\n\x1ezzz 1\n", "abc").is_err());
    }

    #[test]
    fn frames_anywhere_and_duplicates_are_errors() {
        let out = b"hi\n\x1en {\"name\":\"a\",\"status\":\"passed\"}\nmid\n\x1en {\"name\":\"a\",\"status\":\"passed\"}\nend";
        let (values, rest) = frames(out, "n").unwrap();
        assert_eq!(values.len(), 2);
        assert_eq!(rest, b"himidend");
        assert_eq!(reporter_results(&values)["a"].status, "error");
        assert!(frames(b"\n\x1en {\"cut", "n").is_err());
    }

    #[test]
    fn junit_from_pytest() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4">
<testcase classname="test_stack.StackTest" name="test_push" time="0.001" />
<testcase classname="test_stack.StackTest" name="test_pop" time="0.001"><failure message="AssertionError: 1 != 2">self.assertEqual(1, 2)
E   AssertionError: 1 != 2</failure></testcase>
<testcase classname="test_bank" name="test_skip" time="0"><skipped type="pytest.skip" message="later">skipped</skipped></testcase>
<testcase classname="test_bank" name="test_fixture" time="0"><error message="failed on setup">boom</error></testcase>
</testsuite></testsuites>"#;
        let results = parse_junit(xml).unwrap();
        assert_eq!(results["StackTest.test_push"].status, "passed");
        assert_eq!(results["test_stack.StackTest.test_push"].status, "passed");
        assert_eq!(results["StackTest.test_pop"].status, "failed");
        assert!(results["StackTest.test_pop"].message.contains("1 != 2"));
        assert_eq!(results["test_skip"].status, "skipped");
        assert_eq!(results["test_fixture"].status, "error");
        assert!(
            parse_junit("<testsuite><testcase").is_err()
                || parse_junit("<testsuite><testcase").unwrap().is_empty()
        );
    }
}
