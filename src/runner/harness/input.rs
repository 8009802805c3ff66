//! What a harness reads on stdin: the request line, then each case's input, released one
//! case at a time (`channel::Inbox`). Nothing here is an expected value.

use super::Runtime;
use crate::exercise::manifest::Kind;
use crate::runner::channel::Inbox;
use crate::runner::{CaseInput, RunRequest};
use crate::value::Value;

/// The request line. It holds no case: each case's input follows on its own line once
/// the case before it has ended.
#[derive(serde::Serialize)]
struct HarnessRequest<'a> {
    nonce: &'a str,
    kind: &'static str,
    entrypoint: String,
    function: &'a Option<String>,
    schema: &'a Option<String>,
    /// suite: the instructor's test files (in the tester's `/support`).
    suite: Vec<String>,
    /// suite: the learner's module names, which the tests import through the proxy.
    modules: Vec<String>,
    /// suite: the learner's files, parsed (never run) by the tester first.
    sources: Vec<String>,
    start: usize,
    count: usize,
}

/// One case's input as the harness reads it.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum HarnessCase<'a> {
    Stdin(String),
    Args(&'a [Value]),
    Seed(&'a str),
    Test(&'a str),
}

/// A JSON line, written as text directly so exact integers stay exact.
fn json_line(value: &impl serde::Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).expect("a harness message serializes");
    line.push(b'\n');
    line
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Io => "io",
        Kind::Function => "function",
        Kind::Sql => "sql",
        Kind::Suite => "suite",
        Kind::Http => "http",
    }
}

/// The learner's Python modules: the `.py` files of the submission, by stem.
fn learner_modules(request: &RunRequest) -> Vec<String> {
    request
        .files
        .keys()
        .filter_map(|name| name.strip_suffix(".py"))
        .map(str::to_string)
        .collect()
}

/// What the instance reads on stdin, from case `start`: the request line, then one line
/// per case, each released after the case before it ends. An ES module runs once, so a
/// QuickJS io instance runs one case, and reads its raw stdin after the request. A suite's
/// tester waits first for a `go` line, sent once the learner's interpreter is ready, reads
/// its first case after it has loaded the test files, and its stdin stays open for the
/// learner's answers.
pub(super) fn harness_input(
    request: &RunRequest,
    runtime: Runtime,
    nonce: &str,
    start: usize,
) -> Inbox {
    let suite = request.kind == Kind::Suite;
    let header = json_line(&HarnessRequest {
        nonce,
        kind: kind_name(request.kind),
        entrypoint: format!("/submission/{}", request.entrypoint),
        function: &request.function,
        schema: &request.schema,
        suite: request
            .support
            .keys()
            .filter(|name| name.ends_with(".py"))
            .map(|name| format!("/support/{name}"))
            .collect(),
        modules: if suite {
            learner_modules(request)
        } else {
            Vec::new()
        },
        sources: if suite {
            request
                .files
                .keys()
                .filter(|name| name.ends_with(".py"))
                .map(|name| format!("/submission/{name}"))
                .collect()
        } else {
            Vec::new()
        },
        start,
        count: request.cases.len(),
    });
    if runtime == Runtime::QuickJs && request.kind == Kind::Io {
        let mut first = header;
        if let Some(CaseInput::Stdin(bytes)) = request.cases.get(start) {
            first.extend_from_slice(bytes);
        }
        return Inbox::new(first, Vec::new());
    }
    let mut cases = request.cases[start..].iter().map(|case| {
        json_line(&match case {
            CaseInput::Stdin(bytes) => HarnessCase::Stdin(String::from_utf8_lossy(bytes).into()),
            CaseInput::Call(args) => HarnessCase::Args(args),
            CaseInput::Seed(seed) => HarnessCase::Seed(seed),
            CaseInput::Test(name) => HarnessCase::Test(name),
            // The http kind never reaches a language harness.
            CaseInput::Request(_) => HarnessCase::Seed(""),
        })
    });
    if suite {
        // `go` once the learner's interpreter is ready; the first case once the tester
        // has loaded the test files (until then it reads only the learner's answers).
        let go = json_line(&serde_json::json!({"go": true}));
        return Inbox::open(header, std::iter::once(go).chain(cases).collect());
    }
    let mut first = header;
    first.extend(cases.next().unwrap_or_default());
    Inbox::new(first, cases.collect())
}

/// The first line a suite's learner instance reads: the marker of its frames, where its
/// files are, and its module names.
pub(super) fn learner_request(request: &RunRequest, nonce: &str) -> Vec<u8> {
    json_line(&serde_json::json!({
        "nonce": nonce,
        "app": "/submission/",
        "modules": learner_modules(request),
    }))
}
