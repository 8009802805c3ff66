//! Every limit and hostile program under sandboxes/wasm/test-programs, with the verdict
//! it must get (sandboxes/wasm/test-programs/expected.toml), through the real runner and
//! the host-side grader.

use crate::common::repo;
use std::collections::BTreeMap;
use verdict::exercise::manifest::{
    Compare, Kind, Language, LimitsSpec, RunnerKind, Tier, Visibility,
};
use verdict::exercise::resolved::{ResolvedExercise, ResolvedTest};
use verdict::runner::Limits;
use verdict::runner::wasm::WasmRunner;

#[derive(serde::Deserialize)]
struct Expectations {
    limits: LimitsSpec,
    verdicts: BTreeMap<String, String>,
}

fn exercise(limits: LimitsSpec) -> ResolvedExercise {
    ResolvedExercise {
        slug: "fixture".into(),
        title: "fixture".into(),
        tier: Tier::Hero,
        points: 1.0,
        language: Language::Wasm,
        kind: Kind::Io,
        runner: RunnerKind::Wasm,
        entrypoint: "main.wat".into(),
        extra_files: vec![],
        limits,
        tests: vec![ResolvedTest {
            name: "held".into(),
            weight: 1.0,
            visibility: Visibility::Visible,
            stdin: String::new(),
            expected_stdout: Some("sandbox held\n".into()),
            compare: Compare::Exact,
            tolerance: None,
            pattern: None,
        }],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_test_program_gets_its_expected_verdict() {
    let dir = repo().join("sandboxes/wasm/test-programs");
    let expectations: Expectations =
        toml::from_str(&std::fs::read_to_string(dir.join("expected.toml")).unwrap()).unwrap();
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
    let runner = WasmRunner::new(256).unwrap();
    let maxima = Limits {
        cpu_ms: 10_000,
        wall_ms: 20_000,
        memory_mb: 256,
        output_kb: 1024,
        pids: 256,
    };
    let exercise = exercise(expectations.limits);
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
    let runner = WasmRunner::new(256).unwrap();
    let limits = Limits {
        cpu_ms: 1000,
        wall_ms: 2000,
        memory_mb: 32,
        output_kb: 16,
        pids: 1,
    };
    let flood = std::fs::read(dir.join("output_limit.wat")).unwrap();
    let request = verdict::runner::RunRequest {
        files: BTreeMap::from([("main.wat".to_string(), flood)]),
        entrypoint: "main.wat".into(),
        cases: vec![vec![]],
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
