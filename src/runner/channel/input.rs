//! What a harness reads on stdin: the request line, then each case's input, released one
//! case at a time (`channel::Inbox`). Nothing here is an expected value.

use super::{Inbox, Tracker};
use crate::domain::{Kind, Language, Value};
use crate::runner::{CaseInput, RunRequest};
use crate::runtimes::Runtime;
use std::time::Duration;

/// Where a runner's guests find the files: the learner's, and a suite's tests.
pub struct Places {
    pub submission: &'static str,
    pub support: &'static str,
}

/// The wasm runner's preopens.
pub const WASM: Places = Places {
    submission: "/submission/",
    support: "/support/",
};

/// The Docker runner's folders (`/work/tests` is the tester's group's only).
pub const DOCKER: Places = Places {
    submission: "/work/app/",
    support: "/work/tests/",
};

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
    /// suite: the names of the tests of this batch, for a tester whose framework runs
    /// every test it finds (node:test).
    tests: Vec<&'a str>,
    start: usize,
    /// The case after this batch's last.
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

/// Whether `name` is a source file of `language`.
fn is_source(language: Language, name: &str) -> bool {
    match language {
        Language::Python => name.ends_with(".py"),
        _ => name.ends_with(".js") || name.ends_with(".mjs"),
    }
}

/// The learner's modules, as the test files import them: Python's by stem, JavaScript's
/// by file name.
fn learner_modules(request: &RunRequest) -> Vec<String> {
    let sources = request
        .files
        .keys()
        .filter(|name| is_source(request.language, name));
    match request.language {
        Language::Python => sources
            .filter_map(|name| name.strip_suffix(".py"))
            .map(str::to_string)
            .collect(),
        _ => sources.cloned().collect(),
    }
}

/// What the instance reads on stdin, from case `start`: the request line, then one line
/// per case, each released after the case before it ends. An ES module runs once, so a
/// QuickJS io instance runs one case, and reads its raw stdin after the request. A suite's
/// tester waits first for a `go` line, sent once the learner's interpreter is ready, reads
/// its first case after it has loaded the test files, and its stdin stays open for the
/// learner's answers.
fn harness_input(
    request: &RunRequest,
    runtime: Runtime,
    places: &Places,
    nonce: &str,
    cases: std::ops::Range<usize>,
) -> Inbox {
    let suite = request.kind == Kind::Suite;
    let (start, end) = (cases.start, cases.end);
    let header = json_line(&HarnessRequest {
        nonce,
        kind: kind_name(request.kind),
        entrypoint: format!("{}{}", places.submission, request.entrypoint),
        function: &request.function,
        schema: &request.schema,
        suite: request
            .support
            .keys()
            .filter(|name| is_source(request.language, name))
            .map(|name| format!("{}{name}", places.support))
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
                .filter(|name| is_source(request.language, name))
                .map(|name| format!("{}{name}", places.submission))
                .collect()
        } else {
            Vec::new()
        },
        tests: request.cases[start..end]
            .iter()
            .filter_map(|case| match case {
                CaseInput::Test(name) if suite => Some(name.as_str()),
                _ => None,
            })
            .collect(),
        start,
        count: end,
    });
    if runtime == Runtime::QuickJs && request.kind == Kind::Io {
        let mut first = header;
        if let Some(CaseInput::Stdin(bytes)) = request.cases.get(start) {
            first.extend_from_slice(bytes);
        }
        return Inbox::new(first, Vec::new());
    }
    let mut cases = request.cases[start..end].iter().map(|case| {
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
fn learner_request(request: &RunRequest, places: &Places, nonce: &str) -> Vec<u8> {
    json_line(&serde_json::json!({
        "nonce": nonce,
        "app": places.submission,
        "modules": learner_modules(request),
    }))
}

fn marker(nonce: &str) -> Vec<u8> {
    format!("\n\x1e{nonce} ").into_bytes()
}

fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The tracker of a run of `cases`, with the harness's stdin and, for a suite, the
/// learner's side. Each phase gets the wall limit, the start-up `slack` more; however
/// the frames go, the run never lasts longer than its start-up plus every case (and the
/// loading) at the wall limit.
pub fn run_tracker(
    request: &RunRequest,
    runtime: Runtime,
    places: &Places,
    cases: std::ops::Range<usize>,
    slack: Duration,
) -> Tracker {
    let limits = &request.limits;
    let harness_nonce = nonce();
    let start = cases.start;
    let phases = cases.len() as u32 + 1;
    let mut tracker = Tracker::new(
        Some(marker(&harness_nonce)),
        (limits.output_kb as usize) * 1024,
        limits.wall() + slack,
        limits.wall(),
        limits.wall() * phases + slack,
    );
    // A batch starts at 0, at the hidden tests (a runner that runs them apart), or after
    // a case stopped the instance before it.
    let restart = start > 0 && start != request.hidden_from;
    tracker.expect_case(start, restart);
    tracker.set_input(harness_input(
        request,
        runtime,
        places,
        &harness_nonce,
        cases,
    ));
    if request.kind == Kind::Suite {
        // A nonce of its own: the learner's side can forge its answers (they are the
        // learner's to give), never the tester's frames.
        let learner_nonce = nonce();
        tracker.add_learner(
            marker(&learner_nonce),
            learner_request(request, places, &learner_nonce),
        );
    }
    tracker
}
