//! What comes back out of a container, parsed on the host: the function harness's
//! result frame, pytest's JUnit XML, `node --test`'s TAP, and the prober's JSON lines.
//! Each parser only reads observations; verdicts are decided in `grading`.

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
pub fn split_frame(stdout: &[u8], nonce: &str) -> Result<(Vec<u8>, serde_json::Value), String> {
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
    let value = serde_json::from_slice(body)
        .map_err(|error| format!("the result frame is not JSON: {error}"))?;
    Ok((stdout[..at].to_vec(), value))
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
            Ok(event @ (Event::Start(_) | Event::Empty(_)))
                if matches!(&event, Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"testcase") =>
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
                if matches!(
                    element.name().as_ref(),
                    b"failure" | b"error" | b"skipped"
                ) =>
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

/// `node --test --test-reporter=tap` output, by test name. A nested test is named by
/// its path below the file (`describe name > test name`). With several test files,
/// node wraps each file's tests in a subtest named after the file; that level is
/// dropped when it names one of `files`.
pub fn parse_tap(tap: &str, files: &[String]) -> BTreeMap<String, SuiteResult> {
    let mut results = BTreeMap::new();
    // The open subtests, by depth.
    let mut open: Vec<String> = Vec::new();
    // 1 while inside a top-level subtest that stands for a test file, else 0.
    let mut skip = 0;
    let mut last: Option<String> = None;
    let mut in_yaml = false;
    let mut block_key: Option<usize> = None;
    for line in tap.lines() {
        let indent = line.len() - line.trim_start().len();
        let depth = indent / 4;
        let text = line.trim_start();
        if in_yaml {
            if text == "..." {
                in_yaml = false;
                block_key = None;
                continue;
            }
            let Some(name) = &last else { continue };
            let Some(result) = results.get_mut(name) else {
                continue;
            };
            let result: &mut SuiteResult = result;
            if let Some(key_indent) = block_key {
                if indent > key_indent {
                    result.message.push_str(text);
                    result.message.push('\n');
                    continue;
                }
                block_key = None;
            }
            if let Some(value) = text.strip_prefix("error:") {
                let value = value.trim();
                if value == "|-" || value == "|" || value == ">-" {
                    block_key = Some(indent);
                } else {
                    result.message = value.trim_matches('\'').replace("''", "'");
                    result.message.push('\n');
                }
            } else if let Some(kind) = text.strip_prefix("failureType:") {
                let kind = kind.trim().trim_matches('\'');
                if kind != "testCodeFailure" && result.status == "failed" {
                    result.status = "error";
                }
            }
            continue;
        }
        if let Some(name) = text.strip_prefix("# Subtest: ") {
            open.truncate(depth);
            open.push(name.to_string());
            if depth == 0 {
                let is_file = files
                    .iter()
                    .any(|file| name == file || name.ends_with(&format!("/{file}")));
                skip = usize::from(is_file);
            }
            continue;
        }
        if text == "---" {
            in_yaml = last.is_some();
            continue;
        }
        let (ok, rest) = if let Some(rest) = text.strip_prefix("not ok ") {
            (false, rest)
        } else if let Some(rest) = text.strip_prefix("ok ") {
            (true, rest)
        } else {
            continue;
        };
        let rest = rest.split_once(' ').map(|(_, r)| r).unwrap_or("");
        let rest = rest.strip_prefix("- ").unwrap_or(rest);
        let (name, directive) = match rest.split_once(" # ") {
            Some((name, directive)) => (name, directive.to_ascii_uppercase()),
            None => (rest, String::new()),
        };
        let status = if directive.starts_with("SKIP") || directive.starts_with("TODO") {
            "skipped"
        } else if ok {
            "passed"
        } else {
            "failed"
        };
        open.truncate(depth + 1);
        if depth < skip {
            last = None;
            continue;
        }
        let mut path: Vec<&str> = open
            .iter()
            .take(depth)
            .skip(skip)
            .map(String::as_str)
            .collect();
        path.push(name);
        let id = path.join(" > ");
        results.insert(
            id.clone(),
            SuiteResult {
                status,
                message: String::new(),
            },
        );
        last = Some(id);
    }
    for result in results.values_mut() {
        result.message = result.message.trim_end().to_string();
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_must_be_single_and_last() {
        let (out, value) = split_frame(b"hello\n\n\x1eabc [1,2]\n", "abc").unwrap();
        assert_eq!(out, b"hello\n");
        assert_eq!(value, serde_json::json!([1, 2]));
        assert!(split_frame(b"\n\x1eabc 1\n\n\x1eabc 2\n", "abc").is_err());
        assert!(split_frame(b"\n\x1eabc 1\nmore", "abc").is_err());
        assert!(split_frame(b"no frame", "abc").is_err());
        assert!(split_frame(b"\n\x1ezzz 1\n", "abc").is_err());
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
        assert!(parse_junit("<testsuite><testcase").is_err() || parse_junit("<testsuite><testcase").unwrap().is_empty());
    }

    #[test]
    fn tap_from_node_test() {
        let tap = "TAP version 13
# Subtest: /work/app/stack.test.mjs
    # Subtest: push then pop
    ok 1 - push then pop
      ---
      duration_ms: 1.2
      ...
    # Subtest: stack
        # Subtest: pop on empty throws
        not ok 1 - pop on empty throws
          ---
          duration_ms: 0.5
          failureType: 'testCodeFailure'
          error: |-
            Expected values to be strictly equal:
            1 !== 2
          code: 'ERR_ASSERTION'
          ...
        1..1
    not ok 2 - stack
      ---
      failureType: 'subtestsFailed'
      error: '1 subtest failed'
      ...
    # Subtest: later
    ok 3 - later # SKIP not yet
    1..3
not ok 1 - /work/app/stack.test.mjs
";
        let results = parse_tap(tap, &["stack.test.mjs".to_string()]);
        assert_eq!(results["push then pop"].status, "passed");
        assert_eq!(results["stack > pop on empty throws"].status, "failed");
        assert!(results["stack > pop on empty throws"].message.contains("1 !== 2"), "{results:?}");
        assert_eq!(results["stack"].status, "error");
        assert_eq!(results["later"].status, "skipped");
        assert!(!results.contains_key("/work/app/stack.test.mjs"));
        // One file: node lists its tests at the top level.
        let single = "TAP version 13\n# Subtest: alone\nnot ok 1 - alone\n  ---\n  error: 'boom'\n  ...\n1..1\n";
        let results = parse_tap(single, &["stack.test.mjs".to_string()]);
        assert_eq!(results["alone"].status, "failed");
        assert_eq!(results["alone"].message, "boom");
    }
}
