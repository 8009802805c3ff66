//! Every limit and hostile program under sandboxes/wasm/test-programs, with the verdict
//! it must get (sandboxes/wasm/test-programs/expected.toml), through the real runner and
//! the host-side grader.

use crate::common::{MAXIMA, SECRET, learner_sees, repo, wasm_runner};
use std::collections::BTreeMap;
use verdict::domain::{
    Compare, Kind, Language, Limits, LimitsSpec, ResolvedExercise, ResolvedTest, RunnerKind, Tier,
    Value, Visibility,
};
use verdict::runner::wasm::WasmRunner;

#[derive(serde::Deserialize)]
struct Expectations {
    limits: LimitsSpec,
    verdicts: BTreeMap<String, String>,
    language_limits: LimitsSpec,
    programs: BTreeMap<String, LanguageProgram>,
}

#[derive(serde::Deserialize)]
struct LanguageProgram {
    kind: String,
    verdict: String,
    /// A hidden test with a secret input comes first in the manifest.
    #[serde(default)]
    hidden_input: bool,
    /// The expected value as JSON text, parsed exactly (else "sandbox held").
    expected_json: Option<String>,
}

/// Puts a hidden test before the exercise's one visible test, with `SECRET` as its
/// input (stdin for io, the one argument for function).
fn with_hidden_test_first(mut exercise: ResolvedExercise) -> ResolvedExercise {
    let visible = exercise.tests[0].clone();
    let hidden = ResolvedTest {
        name: "hidden".into(),
        visibility: Visibility::Hidden,
        stdin: format!("{SECRET}\n"),
        args: Some(vec![Value::str(SECRET)]),
        ..visible.clone()
    };
    exercise.tests = vec![hidden, visible];
    exercise
}

/// One test that passes only with the output (io) or value (function) "sandbox held".
fn exercise(
    language: Language,
    kind: Kind,
    entrypoint: &str,
    limits: LimitsSpec,
) -> ResolvedExercise {
    ResolvedExercise {
        slug: "fixture".parse().unwrap(),
        title: "fixture".into(),
        tier: Tier::Hero,
        points: 1.0,
        language,
        kind,
        runner: RunnerKind::Wasm,
        entrypoint: entrypoint.into(),
        extra_files: vec![],
        limits,
        tests: vec![ResolvedTest {
            request: None,
            name: "held".into(),
            weight: 1.0,
            visibility: Visibility::Visible,
            stdin: String::new(),
            expected_stdout: Some("sandbox held\n".into()),
            compare: Compare::Trim,
            tolerance: None,
            pattern: None,
            args: Some(vec![]),
            expected: Some(match kind {
                Kind::Sql => serde_json::json!([]).into(),
                _ => serde_json::json!("sandbox held").into(),
            }),
            seed: (kind == Kind::Sql).then(|| "INSERT INTO held VALUES ('sandbox held');".into()),
            ordered: false,
        }],
        function: (kind == Kind::Function).then(|| "solve".to_string()),
        schema: (kind == Kind::Sql).then(|| "CREATE TABLE held (x TEXT);".to_string()),
        support: BTreeMap::new(),
        http: None,
    }
}

fn runner() -> WasmRunner {
    wasm_runner()
}

fn expectations() -> Expectations {
    let dir = repo().join("sandboxes/wasm/test-programs");
    toml::from_str(&std::fs::read_to_string(dir.join("expected.toml")).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_python_javascript_and_sql_program_gets_its_expected_verdict() {
    use futures::StreamExt;
    let dir = repo().join("sandboxes/wasm/test-programs");
    let expectations = expectations();
    let mut on_disk = Vec::new();
    for language in ["python", "javascript", "sql"] {
        for entry in std::fs::read_dir(dir.join(language)).unwrap() {
            on_disk.push(format!(
                "{language}/{}",
                entry.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    on_disk.sort();
    assert_eq!(
        on_disk,
        expectations.programs.keys().cloned().collect::<Vec<_>>(),
        "every program has an expected verdict"
    );
    let runner = runner();
    let limits = expectations.language_limits;
    let results: Vec<Option<String>> = futures::stream::iter(expectations.programs.iter())
        .map(|(path, program)| {
            let runner = runner.clone();
            let source = std::fs::read(dir.join(path)).unwrap();
            let suite_tests = std::fs::read_to_string(dir.join("suite/test_held.py")).unwrap();
            async move {
                let kind = match program.kind.as_str() {
                    "io" => Kind::Io,
                    "sql" => Kind::Sql,
                    "suite" => Kind::Suite,
                    _ => Kind::Function,
                };
                let (language, entrypoint) = match (path.rsplit('.').next(), kind) {
                    (Some("py"), Kind::Suite) => (Language::Python, "held.py"),
                    (Some("py"), _) => (Language::Python, "main.py"),
                    (Some("sql"), _) => (Language::Sql, "query.sql"),
                    _ => (Language::Javascript, "main.js"),
                };
                let mut exercise = exercise(language, kind, entrypoint, limits);
                if kind == Kind::Suite {
                    exercise.tests[0].name = "HeldTest.test_held".into();
                    exercise.support = BTreeMap::from([("test_held.py".to_string(), suite_tests)]);
                }
                if let Some(expected) = &program.expected_json {
                    exercise.tests[0].expected = Some(Value::parse(expected.as_bytes()).unwrap());
                }
                if program.hidden_input {
                    exercise = with_hidden_test_first(exercise);
                }
                let files = BTreeMap::from([(entrypoint.to_string(), source)]);
                let (grade, info, _) =
                    verdict::exercise::grade_files(&exercise, files, &runner, &MAXIMA)
                        .await
                        .unwrap();
                assert!(info.runtime.contains("WASI"), "{}", info.runtime);
                let seen = learner_sees(&grade);
                if seen.contains(SECRET) {
                    return Some(format!("{path}: the learner sees the hidden input: {seen}"));
                }
                (grade.verdict.as_str() != program.verdict).then(|| {
                    format!(
                        "{path}: expected {}, got {} ({:?} {:?})",
                        program.verdict,
                        grade.verdict.as_str(),
                        grade.message,
                        grade.tests
                    )
                })
            }
        })
        // Two at a time, on two cores: a limit verdict must not depend on the load.
        .buffer_unordered(2)
        .collect()
        .await;
    let failures: Vec<String> = results.into_iter().flatten().collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_program_gets_its_expected_verdict() {
    let dir = repo().join("sandboxes/wasm/test-programs");
    let expectations = expectations();
    let programs: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".wat"))
        .collect();
    assert_eq!(
        programs.len(),
        expectations.verdicts.len(),
        "every program has an expected verdict"
    );
    let runner = runner();
    let maxima = MAXIMA;
    let exercise = exercise(Language::Wasm, Kind::Io, "main.wat", expectations.limits);
    let mut failures = Vec::new();
    for (program, expected) in &expectations.verdicts {
        let source = std::fs::read(dir.join(program)).unwrap();
        let files = BTreeMap::from([("main.wat".to_string(), source)]);
        let started = std::time::Instant::now();
        let (grade, _, _) = verdict::exercise::grade_files(&exercise, files, &runner, &maxima)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        if grade.verdict.as_str() != expected {
            failures.push(format!(
                "{program}: expected {expected}, got {} ({:?})",
                grade.verdict.as_str(),
                grade.tests
            ));
        }
        // Generous bound: a limit must stop the program near its limit, not at the job timeout.
        assert!(elapsed.as_secs() < 10, "{program} ran {elapsed:?}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_capped_and_peak_memory_recorded() {
    let dir = repo().join("sandboxes/wasm/test-programs");
    let runner = runner();
    let limits = Limits {
        cpu_ms: 1000,
        wall_ms: 2000,
        memory_mb: 32,
        output_kb: 16,
        pids: 1,
    };
    let flood = std::fs::read(dir.join("output_limit.wat")).unwrap();
    let request = verdict::runner::RunRequest {
        runner: verdict::domain::RunnerKind::Wasm,
        http: None,
        language: Language::Wasm,
        kind: Kind::Io,
        files: BTreeMap::from([("main.wat".to_string(), flood)]),
        entrypoint: "main.wat".into(),
        support: BTreeMap::new(),
        function: None,
        schema: None,
        cases: vec![verdict::runner::CaseInput::Stdin(vec![])],
        hidden_from: 1,
        limits,
    };
    let (report, info) = verdict::runner::Runner::run(&runner, &request)
        .await
        .unwrap();
    let verdict::runner::RunReport::Cases(cases) = report else {
        panic!("compiled")
    };
    assert_eq!(cases[0].outcome, verdict::runner::CaseOutcome::OutputLimit);
    assert_eq!(cases[0].stdout.len(), 16 * 1024, "stdout is cut at the cap");
    assert!(info.digest.starts_with("sha256:"));
    verdict::runner::Runner::run(&runner, &request)
        .await
        .unwrap();
    assert_eq!(
        runner.cached_modules(),
        1,
        "the same module is compiled once"
    );

    let hog = std::fs::read(dir.join("memory_limit.wat")).unwrap();
    let request = verdict::runner::RunRequest {
        files: BTreeMap::from([("main.wat".to_string(), hog)]),
        ..request
    };
    let (report, _) = verdict::runner::Runner::run(&runner, &request)
        .await
        .unwrap();
    let verdict::runner::RunReport::Cases(cases) = report else {
        panic!("compiled")
    };
    assert_eq!(cases[0].outcome, verdict::runner::CaseOutcome::MemoryLimit);
    assert!(
        cases[0].peak_memory_bytes <= 32 << 20 && cases[0].peak_memory_bytes >= 16 << 20,
        "{}",
        cases[0].peak_memory_bytes
    );
}

/// Every test of this submission sleeps far past its wall limit (and past the
/// interpreter's start-up allowance): each must end as `time_limit` at its own limit, and
/// the grading must be final in about tests × wall, not after job timeouts and retries.
/// The third program also sleeps just under the wall limit while it is imported (the
/// second review's W4): each fresh instance imports it again, and that import shares the
/// wall limit of the case it is for instead of doubling it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_whose_every_test_sleeps_is_time_limited_test_by_test() {
    let runner = runner();
    let limits = LimitsSpec {
        wall_ms: Some(1000),
        ..LimitsSpec::default()
    };
    for (language, entrypoint, source) in [
        (
            Language::Python,
            "main.py",
            "import time\n\ndef solve(n):\n    time.sleep(30)\n    return n\n",
        ),
        (
            Language::Javascript,
            "main.js",
            "export function solve(n) {\n  os.sleep(30000);\n  return n;\n}\n",
        ),
        (
            Language::Python,
            "main.py",
            "import time\ntime.sleep(0.9)\n\ndef solve(n):\n    time.sleep(30)\n    return n\n",
        ),
    ] {
        let mut exercise = exercise(language, Kind::Function, entrypoint, limits);
        let template = exercise.tests[0].clone();
        let tests = 10;
        exercise.tests = (0..tests)
            .map(|n| ResolvedTest {
                name: format!("sleeps {n}"),
                args: Some(vec![serde_json::json!(n).into()]),
                expected: Some(serde_json::json!(n).into()),
                ..template.clone()
            })
            .collect();
        let files = BTreeMap::from([(entrypoint.to_string(), source.as_bytes().to_vec())]);
        let started = std::time::Instant::now();
        let (grade, _, _) = verdict::exercise::grade_files(&exercise, files, &runner, &MAXIMA)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(grade.verdict.as_str(), "time_limit", "{language:?}");
        for test in &grade.tests {
            assert_eq!(
                test.status,
                verdict::domain::TestStatus::TimeLimit,
                "{language:?} {test:?}"
            );
        }
        // 10 tests × 1 s, one import, and an interpreter start per test (well under
        // half a second each); a doubled wall per test would take 19 s or more.
        let bound = std::time::Duration::from_millis(tests * 1000 + 900 + tests * 500);
        assert!(elapsed < bound, "{language:?} took {elapsed:?}");
    }
}

/// The peak resident memory of this process, in KiB.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// The review's costly modules: 8,000 nested loops (33 s and 500 MB to compile in
/// process), and 85 nests of 256 loops in one function (55 s here). The first is refused
/// by its shape at once; the second is compiled in a child process and stopped at the
/// budget. Both are `compile_error`, this process's memory does not grow, and a second
/// grading of the same module does not compile it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn costly_modules_are_compile_errors_within_the_budget() {
    let runner = runner();
    let nest = |depth: usize| format!("{}{}", "(loop ".repeat(depth), ")".repeat(depth));
    let deep = format!(
        "(module (memory (export \"memory\") 1) (func (export \"_start\") {}))",
        nest(8000)
    );
    let wide = format!(
        "(module (memory (export \"memory\") 1) (func $wide {}) (func (export \"_start\")))",
        nest(256).repeat(85)
    );
    let exercise = exercise(Language::Wasm, Kind::Io, "main.wat", LimitsSpec::default());
    let before = peak_rss_kib();
    for (name, module, within) in [("deep", deep, 5), ("wide", wide, 5 + 4)] {
        for attempt in ["first", "again"] {
            let files = BTreeMap::from([("main.wat".to_string(), module.clone().into_bytes())]);
            let started = std::time::Instant::now();
            let (grade, _, _) = verdict::exercise::grade_files(&exercise, files, &runner, &MAXIMA)
                .await
                .unwrap();
            let elapsed = started.elapsed();
            assert_eq!(grade.verdict.as_str(), "compile_error", "{name} {attempt}");
            let message = grade.message.unwrap_or_default();
            assert!(
                message.contains("nested more than") || message.contains("too costly to compile"),
                "{name}: {message}"
            );
            let bound = if attempt == "again" { 1 } else { within };
            assert!(
                elapsed.as_secs() < bound,
                "{name} {attempt} took {elapsed:?}"
            );
        }
    }
    let grew_mib = (peak_rss_kib() - before) / 1024;
    assert!(grew_mib < 100, "this process grew by {grew_mib} MiB");
}
