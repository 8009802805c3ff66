//! The Docker runner on this machine's real engine: the hostile corpus with its expected
//! verdicts, every kind, the container cap, cleanup, and what happens when the daemon
//! stops answering or the worker is killed mid-grading.

use crate::common::*;
use serde::Deserialize;
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use verdict::domain::{
    Compare, Kind, Language, Limits, LimitsSpec, ResolvedExercise, ResolvedTest, RunnerKind, Tier,
    Visibility,
};
use verdict::exercise::package::{Package, PackageLimits};
use verdict::runner::docker::{DockerRunner, LABEL_OWNER, LABEL_SANDBOX};

/// The shared maxima, with room for a Docker image's own processes.
const MAXIMA: Limits = Limits {
    memory_mb: 512,
    ..crate::common::MAXIMA
};

async fn runner_with(args: DockerArgs, concurrency: usize) -> DockerRunner {
    DockerRunner::connect(&args, concurrency, &|line| eprintln!("{line}"))
        .await
        .unwrap()
        .expect("--docker on gives a runner")
}

async fn runner(concurrency: usize) -> DockerRunner {
    runner_with(docker_args(DockerMode::On), concurrency).await
}

/// Both runners, as a server has them (`docker: None` for a server without Docker).
fn sandboxes(docker: Option<DockerRunner>) -> verdict::runner::Sandboxes {
    verdict::runner::Sandboxes {
        wasm: verdict::runner::wasm::WasmRunner::new(
            256,
            verdict::runtimes::RuntimeArgs { runtimes_dir: None }.store(),
        )
        .unwrap(),
        docker,
    }
}

/// The engine, for the checks the tests make from outside the runner.
fn engine() -> bollard::Docker {
    bollard::Docker::connect_with_defaults().unwrap()
}

/// Sandbox containers whose owner label passes `owned`.
async fn containers_where(owned: impl Fn(&str) -> bool) -> Vec<String> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_SANDBOX.to_string()])]);
    engine()
        .list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| {
            c.labels
                .as_ref()
                .and_then(|l| l.get(LABEL_OWNER))
                .is_some_and(|owner| owned(owner))
        })
        .filter_map(|c| c.id)
        .collect()
}

/// Sandbox containers of process `pid`.
async fn containers_of(pid: u32) -> Vec<String> {
    containers_where(|owner| owner.split(':').nth(1) == Some(&pid.to_string())).await
}

/// Waits until `runner` holds no container (removal may finish in the background), and
/// fails if one is left.
async fn assert_no_containers_left(runner: &DockerRunner, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left = containers_where(|owner| owner == runner.owner()).await;
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "containers left behind: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// An io exercise graded in Docker whose every test expects "sandbox held".
fn io_exercise(
    language: Language,
    entrypoint: &str,
    cases: &[String],
    limits: LimitsSpec,
) -> ResolvedExercise {
    let cases: Vec<String> = if cases.is_empty() {
        vec![String::new()]
    } else {
        cases.to_vec()
    };
    ResolvedExercise {
        slug: "hostile".parse().unwrap(),
        title: "hostile".into(),
        tier: Tier::Hero,
        points: 1.0,
        language,
        kind: Kind::Io,
        runner: RunnerKind::Docker,
        entrypoint: entrypoint.into(),
        extra_files: vec![],
        limits,
        tests: cases
            .iter()
            .enumerate()
            .map(|(index, stdin)| ResolvedTest {
                name: format!("case {index}"),
                weight: 1.0,
                visibility: Visibility::Visible,
                stdin: stdin.clone(),
                expected_stdout: Some("sandbox held\n".into()),
                compare: Compare::Trim,
                tolerance: None,
                pattern: None,
                args: None,
                expected: None,
                seed: None,
                ordered: false,
                request: None,
            })
            .collect(),
        function: None,
        schema: None,
        support: BTreeMap::new(),
        http: None,
    }
}

#[derive(Deserialize)]
struct Corpus {
    limits: LimitsSpec,
    programs: BTreeMap<String, Program>,
}

#[derive(Deserialize)]
struct Program {
    verdict: String,
    #[serde(default)]
    cases: Vec<String>,
    #[serde(default)]
    runs: Option<usize>,
    #[allow(dead_code)]
    id: Option<String>,
    /// A hidden test whose stdin is `SECRET` comes first in the manifest.
    #[serde(default)]
    hidden: bool,
    /// `suite`: the program is the module `held` of the suite in `suite/`.
    kind: Option<String>,
    /// The score it must get too (out of 1), where the verdict alone does not tell.
    score: Option<f64>,
}

/// The table's suite exercise: the learner's module `held`, the hidden test `secret`
/// first in the manifest, then `held` (test_held.py, held.test.js).
fn suite_exercise(language: Language, limits: LimitsSpec) -> ResolvedExercise {
    let dir = repo().join("sandboxes/docker/test-programs/suite");
    let (entrypoint, file, names) = match language {
        Language::Python => ("held.py", "test_held.py", ["test_secret", "test_held"]),
        _ => ("held.js", "held.test.js", ["secret", "held"]),
    };
    let mut exercise = io_exercise(language, entrypoint, &[], limits);
    exercise.kind = Kind::Suite;
    exercise.support = BTreeMap::from([(
        file.to_string(),
        std::fs::read_to_string(dir.join(file)).unwrap(),
    )]);
    // A test framework and the learner's server in one container: more than a program.
    exercise.limits.memory_mb = Some(256);
    let template = exercise.tests[0].clone();
    exercise.tests = names
        .iter()
        .zip([Visibility::Hidden, Visibility::Visible])
        .map(|(name, visibility)| ResolvedTest {
            name: name.to_string(),
            visibility,
            expected_stdout: None,
            ..template.clone()
        })
        .collect();
    exercise
}

/// Every hostile program gets its expected verdict, within its limits, and leaves no
/// container behind (sandboxes/docker/test-programs/expected.toml).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_hostile_program_gets_its_expected_verdict() {
    crate::needs!(Docker);
    use futures::StreamExt;
    let dir = repo().join("sandboxes/docker/test-programs");
    let corpus: Corpus =
        toml::from_str(&std::fs::read_to_string(dir.join("expected.toml")).unwrap()).unwrap();
    let mut on_disk = Vec::new();
    for language in ["python", "javascript"] {
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
        corpus.programs.keys().cloned().collect::<Vec<_>>(),
        "every program has an expected verdict"
    );
    let runner = Arc::new(runner(2).await);
    let limits = corpus.limits;
    let failures: Vec<String> = futures::stream::iter(corpus.programs.iter())
        .map(|(path, program)| {
            let runner = runner.clone();
            let source = std::fs::read(dir.join(path)).unwrap();
            async move {
                let (language, entrypoint) = if path.ends_with(".py") {
                    (Language::Python, "main.py")
                } else {
                    (Language::Javascript, "main.js")
                };
                let runs: Vec<Vec<String>> = match program.runs {
                    Some(2) => vec![vec!["write".into()], vec!["check".into()]],
                    _ => vec![program.cases.clone()],
                };
                let mut problems = Vec::new();
                for cases in runs {
                    let mut exercise = io_exercise(language, entrypoint, &cases, limits);
                    if program.kind.as_deref() == Some("suite") {
                        exercise = suite_exercise(language, limits);
                    }
                    if program.hidden {
                        let mut hidden = exercise.tests[0].clone();
                        hidden.name = "hidden".into();
                        hidden.visibility = Visibility::Hidden;
                        hidden.stdin = format!("{SECRET}\n");
                        exercise.tests.insert(0, hidden);
                    }
                    let files = BTreeMap::from([(exercise.entrypoint.clone(), source.clone())]);
                    let started = Instant::now();
                    let (grade, info, _) =
                        verdict::exercise::grade_files(&exercise, files, runner.as_ref(), &MAXIMA)
                            .await
                            .unwrap_or_else(|error| panic!("{path}: {error}"));
                    let elapsed = started.elapsed();
                    assert!(info.digest.starts_with("sha256:"), "{info:?}");
                    let seen = learner_sees(&grade);
                    if seen.contains(SECRET) {
                        problems.push(format!("{path}: the learner sees the hidden input: {seen}"));
                    }
                    let score = grade.score / grade.max_score;
                    if program
                        .score
                        .is_some_and(|want| (want - score).abs() > 1e-9)
                    {
                        problems.push(format!(
                            "{path}: expected a score of {:?}, got {score} ({:?})",
                            program.score, grade.tests
                        ));
                    }
                    if grade.verdict.as_str() != program.verdict {
                        problems.push(format!(
                            "{path}: expected {}, got {} ({:?})",
                            program.verdict,
                            grade.verdict.as_str(),
                            grade.tests
                        ));
                    }
                    // A limit stops the program near its limit, not at the job timeout.
                    if elapsed > Duration::from_secs(20) {
                        problems.push(format!("{path}: took {elapsed:?}"));
                    }
                }
                problems
            }
        })
        .buffer_unordered(2)
        .flat_map(futures::stream::iter)
        .collect()
        .await;
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        runner.peak_containers() <= 2,
        "at most --concurrency containers"
    );
    assert_no_containers_left(&runner, Duration::from_secs(30)).await;
}

/// Output is read with a byte cap: a flood is cut at the cap, and the case is an
/// output_limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_cut_at_the_cap_and_usage_is_recorded() {
    crate::needs!(Docker);
    let runner = runner(1).await;
    let limits = LimitsSpec {
        output_kb: Some(16),
        ..Default::default()
    };
    let exercise = io_exercise(Language::Python, "main.py", &[], limits);
    let flood = b"import sys\nwhile True:\n    sys.stdout.write('x' * 4096)\n".to_vec();
    let request = verdict::exercise::run_request(
        &exercise,
        BTreeMap::from([("main.py".to_string(), flood)]),
        &MAXIMA,
    );
    let (report, _) = verdict::runner::Runner::run(&runner, &request)
        .await
        .unwrap();
    let verdict::runner::RunReport::Cases(cases) = report else {
        panic!("ran")
    };
    assert_eq!(cases[0].outcome, verdict::runner::CaseOutcome::OutputLimit);
    assert_eq!(cases[0].stdout.len(), 16 * 1024, "stdout is cut at the cap");
    assert!(cases[0].cpu_used > 0, "CPU time is recorded");
    assert!(cases[0].peak_memory_bytes > 0, "peak memory is recorded");
}

/// Each worker holds at most `--concurrency` containers, however many gradings wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_are_capped_at_the_concurrency() {
    crate::needs!(Docker);
    use futures::StreamExt;
    let runner = Arc::new(runner(2).await);
    let exercise = io_exercise(Language::Python, "main.py", &[], LimitsSpec::default());
    let program = b"import time\ntime.sleep(0.5)\nprint('sandbox held')\n".to_vec();
    let verdicts: Vec<String> = futures::stream::iter(0..6)
        .map(|_| {
            let (runner, exercise, program) = (runner.clone(), exercise.clone(), program.clone());
            async move {
                let files = BTreeMap::from([("main.py".to_string(), program)]);
                let (grade, _, _) =
                    verdict::exercise::grade_files(&exercise, files, runner.as_ref(), &MAXIMA)
                        .await
                        .unwrap();
                grade.verdict.as_str().to_string()
            }
        })
        .buffer_unordered(6)
        .collect()
        .await;
    assert!(verdicts.iter().all(|v| v == "accepted"), "{verdicts:?}");
    assert_eq!(
        runner.peak_containers(),
        2,
        "six gradings, two containers at a time"
    );
}

/// A package whose manifest is switched to the Docker runner.
fn in_docker(slug: &str) -> Package {
    let mut package = Package::from_dir(
        &repo().join("exercises").join(slug),
        PackageLimits::default(),
    )
    .unwrap();
    package.manifest.runner = Some(RunnerKind::Docker);
    package
}

/// The function kind (Python and JavaScript) and unittest suites under pytest run in
/// Docker with the same packages the wasm runner grades: each reference passes, each
/// starter does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn function_and_unittest_exercises_grade_in_docker() {
    crate::needs!(Docker);
    let runner = sandboxes(Some(runner(2).await));
    for slug in [
        "python-leap",
        "js-fizzbuzz",
        "python-stack-suite",
        "python-word-count",
    ] {
        let package = in_docker(slug);
        let (exercise, report) =
            verdict::exercise::validate(&package, &runner, &MAXIMA, &|line| eprintln!("{line}"))
                .await
                .unwrap_or_else(|error| panic!("{slug}: {error:?}"));
        assert!(report.valid, "{slug}: {report:?}");
        assert_eq!(exercise.runner, RunnerKind::Docker);
    }
}

/// A Docker exercise is refused, with a message that says why, by a server without the
/// Docker runner; and `--docker on` refuses to start without a working engine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_docker_the_runner_refuses_clearly() {
    let runner = sandboxes(None);
    let error = verdict::exercise::validate(&in_docker("flask-todo"), &runner, &MAXIMA, &|_| {})
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("needs the docker runner"), "{error}");

    let mut args = docker_args(DockerMode::On);
    args.docker_host = Some("unix:///nonexistent/docker.sock".into());
    let error = DockerRunner::connect(&args, 1, &|_| {})
        .await
        .err()
        .expect("no engine, no start")
        .to_string();
    assert!(error.contains("Docker runner cannot start"), "{error}");
    args.mode = DockerMode::Auto;
    assert!(
        DockerRunner::connect(&args, 1, &|_| {})
            .await
            .unwrap()
            .is_none()
    );
}

/// A Unix-socket proxy in front of the Docker socket that can stop answering: bytes
/// are held, in both directions, while it is frozen.
struct FreezableProxy {
    path: std::path::PathBuf,
    frozen: Arc<AtomicBool>,
    /// Set when a request to start an exec went through (grading is under way).
    saw_exec: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl FreezableProxy {
    async fn start() -> FreezableProxy {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&path).unwrap();
        let frozen = Arc::new(AtomicBool::new(false));
        let saw_exec = Arc::new(AtomicBool::new(false));
        let (f, s) = (frozen.clone(), saw_exec.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = tokio::net::UnixStream::connect("/var/run/docker.sock").await
                else {
                    continue;
                };
                let (client_read, client_write) = client.into_split();
                let (up_read, up_write) = upstream.into_split();
                tokio::spawn(pipe(client_read, up_write, f.clone(), Some(s.clone())));
                tokio::spawn(pipe(up_read, client_write, f.clone(), None));
            }
        });
        FreezableProxy {
            path,
            frozen,
            saw_exec,
            _dir: dir,
        }
    }
}

async fn pipe(
    mut from: tokio::net::unix::OwnedReadHalf,
    mut to: tokio::net::unix::OwnedWriteHalf,
    frozen: Arc<AtomicBool>,
    saw_exec: Option<Arc<AtomicBool>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let Ok(n) = from.read(&mut buffer).await else {
            return;
        };
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        // A daemon that stopped answering: nothing moves until it is thawed.
        while frozen.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Some(saw) = &saw_exec {
            let text = String::from_utf8_lossy(&buffer[..n]);
            if text.contains("/exec/") && text.contains("/start") {
                saw.store(true, Ordering::SeqCst);
            }
        }
        if to.write_all(&buffer[..n]).await.is_err() {
            return;
        }
    }
}

/// A daemon that stops answering mid-grading: every call is bounded, the attempt ends
/// as an infrastructure failure (never a learner verdict), the job is retried, and the
/// retry grades normally once the daemon answers again. No container is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_that_stops_answering_means_a_retry_not_a_verdict() {
    crate::needs!(Docker);
    verdict::telemetry::init_tracing();
    let proxy = FreezableProxy::start().await;
    let host = format!("unix://{}", proxy.path.display());
    let exercises = tempfile::tempdir().unwrap();
    copy_dir(
        &repo().join("exercises/python-csv-report"),
        &exercises.path().join("python-csv-report"),
    );
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.exercises = exercises.path().to_path_buf();
        args.docker = docker_args(DockerMode::On);
        args.docker.docker_host = Some(host);
        args.docker.docker_call_timeout = 8;
    })
    .await;
    let learner = app.learner("ada").await;
    proxy.saw_exec.store(false, Ordering::SeqCst);
    let created = app
        .submit(
            &learner,
            json!({"exercise": "python-csv-report", "files": {"report.py": solution("python-csv-report", "report.py")}}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !proxy.saw_exec.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the grading never reached an exec"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    proxy.frozen.store(true, Ordering::SeqCst);
    // The first attempt fails on a bounded call and is released for a retry.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let record = app.store().submission(&id).await.unwrap().unwrap();
        assert_ne!(
            record.status,
            verdict::domain::Status::Completed,
            "no verdict while the daemon is gone: {record:?}"
        );
        // Released, or already claimed again (the retry can follow within milliseconds).
        let released = record.attempts >= 1 && record.status != verdict::domain::Status::Running;
        if released || record.attempts >= 2 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first attempt never failed: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    proxy.frozen.store(false, Ordering::SeqCst);
    let done = app.wait_final(&id, &learner).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["verdict"], "accepted", "{done}");
    assert!(
        done["attempts"].as_i64().unwrap() >= 2,
        "graded again: {done}"
    );
    let owner = app.server.as_ref().unwrap().services.docker_owner.clone();
    app.stop().await;
    let deadline = Instant::now() + Duration::from_secs(90);
    while !containers_where(|o| Some(o) == owner.as_deref())
        .await
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the frozen attempt's container was never removed"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A fixture exercise whose reference takes `seconds` to answer.
fn slow_exercise(dir: &Path, seconds: u32) {
    let root = dir.join("slow-docker");
    std::fs::create_dir_all(root.join("solution")).unwrap();
    std::fs::write(
        root.join("exercise.toml"),
        r#"slug = "slow-docker"
title = "Slow"
tier = "hero"
points = 1
language = "python"
kind = "io"
runner = "docker"
[files]
entrypoint = "slow.py"
[limits]
wall_ms = 20000
[[tests]]
name = "slow"
expected_stdout = "done\n"
"#,
    )
    .unwrap();
    std::fs::write(
        root.join("solution/slow.py"),
        format!("import time\ntime.sleep({seconds})\nprint('done')\n"),
    )
    .unwrap();
}

fn worker_process(database: &TestDatabase) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(["worker", "--docker", "on", "--concurrency", "1"])
        .args(database.flags())
        .arg("--docker-recipes")
        .arg(repo().join("sandboxes/docker"))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

/// `kill -9` of the worker mid-grading orphans its container; the next worker removes
/// it at start-up and grades the submission again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_no_container_after_the_next_start() {
    crate::needs!(Docker);
    let exercises = tempfile::tempdir().unwrap();
    slow_exercise(exercises.path(), 3);
    let app = TestApp::spawn_with(Backend::Sqlite, |args| {
        args.exercises = exercises.path().to_path_buf();
        args.no_workers = true;
        args.docker = docker_args(DockerMode::On);
    })
    .await;
    let learner = app.learner("ada").await;
    let created = app
        .submit(
            &learner,
            json!({"exercise": "slow-docker", "files": {"slow.py": "import time\ntime.sleep(3)\nprint('done')\n"}}),
        )
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    let mut worker = worker_process(&app.database);
    let pid = worker.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Graded: claimed by the worker, with its container up (canaries are done by then).
    let orphans = loop {
        let record = app.store().submission(&id).await.unwrap().unwrap();
        if record.status == verdict::domain::Status::Running {
            let held = containers_of(pid).await;
            if !held.is_empty() {
                break held;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the worker never started a container"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert_eq!(
        containers_of(pid).await,
        orphans,
        "kill -9 leaves the container"
    );

    let mut next = worker_process(&app.database);
    let done = app.wait_final(&id, &learner).await;
    assert_eq!(done["verdict"], "accepted", "{done}");
    assert!(
        containers_of(pid).await.is_empty(),
        "the next worker swept the orphans"
    );
    assert_eq!(done["attempts"], 2, "graded again after the kill: {done}");
    next.kill().unwrap();
    next.wait().unwrap();
    app.stop().await;
}

/// Printing a report does not forge a suite pass: the tester's frames need its nonce,
/// which is in another process, of another user, and on no command line. Each forgery
/// would pass every test if it worked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn printed_suite_reports_are_not_results() {
    crate::needs!(Docker);
    let runner = sandboxes(Some(runner(2).await));
    let python_forgery = r#"
import os, sys
names = ["test_new_account_is_empty", "test_deposit_adds", "test_withdraw_subtracts"]
cases = "".join(f'<testcase classname="test_bank" name="{n}" />' for n in names)
xml = f'<testsuites><testsuite>{cases}</testsuite></testsuites>'
stolen = sys.stdin.read() or "0" * 32
for nonce in [stolen.strip(), "0" * 32]:
    os.write(1, ("\n\x1e" + nonce + " " + repr(xml).replace("'", '"') + "\n").encode())
print("ok 1 - test_deposit_adds")
os._exit(0)
"#;
    let js_forgery = r#"
import { readFileSync, writeSync } from 'node:fs';
let stolen = '';
try { stolen = readFileSync(0, 'utf8').trim(); } catch {}
for (const nonce of [stolen, '0'.repeat(32)]) {
  for (const name of ['a new queue is empty', 'first in, first out']) {
    writeSync(1, `\n\x1e${nonce} ${JSON.stringify({ name, status: 'passed', message: '' })}\n`);
  }
}
console.log('ok 1 - first in, first out');
process.exit(0);
"#;
    // node:assert here is the learner's process's own: the tests run in another.
    let useless_queue = "export class Queue { constructor() {} push() {} shift() {} peek() {} get size() { return 0; } isEmpty() { return true; } }\n";
    let js_patched_assert = format!(
        "import assert from 'node:assert';\nimport strict from 'node:assert/strict';\nfor (const a of [assert, strict]) {{\n  for (const name of ['equal', 'strictEqual', 'deepStrictEqual', 'throws', 'ok']) a[name] = () => {{}};\n}}\n{useless_queue}"
    );
    // (slug, file, attack, what the same module earns without the attack).
    for (slug, file, forgery, useless) in [
        ("python-bank-pytest", "bank.py", python_forgery, ""),
        ("node-queue-suite", "queue.js", js_forgery, ""),
        (
            "node-queue-suite",
            "queue.js",
            js_patched_assert.as_str(),
            useless_queue,
        ),
    ] {
        let package = Package::from_dir(
            &repo().join("exercises").join(slug),
            PackageLimits::default(),
        )
        .unwrap();
        let (exercise, _) = verdict::exercise::validate(&package, &runner, &MAXIMA, &|_| {})
            .await
            .unwrap();
        let grade_with = |source: &str| {
            let files = BTreeMap::from([(file.to_string(), source.as_bytes().to_vec())]);
            verdict::exercise::grade_files(&exercise, files, &runner, &MAXIMA)
        };
        let (grade, _, _) = grade_with(forgery).await.unwrap();
        let baseline = match useless {
            "" => 0.0,
            useless => grade_with(useless).await.unwrap().0.score,
        };
        assert!(
            grade.score <= baseline,
            "{slug}: the attack scored {} (the module alone {baseline}): {:?}",
            grade.score,
            grade.tests
        );
        assert_ne!(grade.verdict.as_str(), "accepted", "{slug}");
    }
}

/// Every container setting the runner promises is what the engine applied: read back
/// with `docker inspect` from a live sandbox (the behaviour behind each one is checked
/// by the hostile corpus).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_container_setting_is_applied() {
    crate::needs!(Docker);
    let runner = runner(1).await;
    let limits = Limits {
        cpu_ms: 1500,
        wall_ms: 2000,
        memory_mb: 96,
        output_kb: 16,
        pids: 20,
    };
    let image =
        verdict::runner::docker::image_tag(&docker_args(DockerMode::On), Language::Python).unwrap();
    let empty = BTreeMap::new();
    let upload =
        verdict::runner::docker::upload::archive(&[verdict::runner::docker::upload::Folder {
            name: "app",
            files: &empty,
            group: 0,
            private: false,
        }])
        .unwrap();
    let sandbox = runner
        .create_sandbox(&image, &limits, upload)
        .await
        .unwrap();
    let inspect = engine().inspect_container(&sandbox.id, None).await.unwrap();
    let host = inspect.host_config.clone().unwrap();
    let config = inspect.config.clone().unwrap();
    assert_eq!(host.network_mode.as_deref(), Some("none"));
    assert_eq!(host.readonly_rootfs, Some(true));
    assert_eq!(host.cap_drop, Some(vec!["ALL".to_string()]));
    assert_eq!(
        host.security_opt,
        Some(vec!["no-new-privileges".to_string()])
    );
    assert_eq!(
        host.pids_limit,
        Some(23),
        "the exercise's pids plus init, keeper, exec shim"
    );
    assert_eq!(host.memory, Some(96 << 20));
    assert_eq!(host.memory_swap, host.memory, "no swap");
    assert_eq!(host.nano_cpus, Some(1_000_000_000), "--docker-cpus 1.0");
    assert_eq!(host.init, Some(true));
    assert_eq!(host.ipc_mode.as_deref(), Some("private"));
    assert_eq!(host.shm_size, Some(4 << 20));
    assert_eq!(host.log_config.and_then(|l| l.typ).as_deref(), Some("none"));
    let ulimits: HashMap<String, (i64, i64)> = host
        .ulimits
        .unwrap_or_default()
        .into_iter()
        .map(|u| (u.name.unwrap(), (u.soft.unwrap(), u.hard.unwrap())))
        .collect();
    assert_eq!(ulimits["nofile"], (256, 256));
    assert_eq!(ulimits["fsize"], (16 << 20, 16 << 20));
    assert_eq!(
        ulimits["cpu"],
        (2, 3),
        "⌈1500 ms⌉ = 2 s, hard one second later"
    );
    assert_eq!(ulimits["core"], (0, 0));
    let tmpfs = host.tmpfs.unwrap_or_default();
    assert!(
        tmpfs["/tmp"].contains("size=16m") && tmpfs["/tmp"].contains("noexec"),
        "{tmpfs:?}"
    );
    assert!(host.binds.unwrap_or_default().is_empty(), "no bind mounts");
    let mounts = inspect.mounts.unwrap_or_default();
    assert_eq!(mounts.len(), 1, "only the /work volume: {mounts:?}");
    assert_eq!(mounts[0].destination.as_deref(), Some("/work"));
    assert_eq!(
        mounts[0].typ.as_deref(),
        Some("volume"),
        "a Docker-managed volume, not a host path"
    );
    assert_eq!(
        config.user.as_deref(),
        Some("10000:10000"),
        "the keeper, not root"
    );
    assert_eq!(
        config
            .labels
            .unwrap_or_default()
            .get(LABEL_OWNER)
            .map(String::as_str),
        Some(runner.owner())
    );
    sandbox.remove().await.unwrap();
    assert_no_containers_left(&runner, Duration::from_secs(10)).await;
}

/// The second review's W2: a learner's server that answers no visible probe, logs every
/// probe it gets to stderr (the hidden ones too) and then ends its own run. Its output is
/// read after every probe has run, so no visible test's message may show it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_servers_output_never_carries_a_hidden_probe_to_a_visible_message() {
    crate::needs!(Docker);
    let runner = sandboxes(Some(runner(1).await));
    let server = r#"
import os, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        sys.stderr.write(f"probe {self.path}\n")
        sys.stderr.flush()
        if self.path.startswith("/visible"):
            self.close_connection = True
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")
        if self.path.startswith("/hidden"):
            os.kill(os.getppid(), signal.SIGKILL)
            os._exit(0)

HTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
"#;
    let probe = |name: &str, path: &str, visibility: Visibility| ResolvedTest {
        visibility,
        request: Some(verdict::domain::Probe {
            method: "GET".into(),
            path: path.into(),
            ..Default::default()
        }),
        expected: Some(serde_json::json!({"status": 200}).into()),
        ..resolved_test(name)
    };
    let mut exercise = resolved_exercise(
        Language::Python,
        Kind::Http,
        RunnerKind::Docker,
        "app.py",
        vec![
            probe("visible", "/visible", Visibility::Visible),
            probe("hidden", "/hidden-SECRET-1234", Visibility::Hidden),
        ],
    );
    exercise.http = Some(verdict::domain::HttpSpec {
        command: vec!["python3".into(), "app.py".into()],
        port: 8000,
        ready_path: Some("/ready".into()),
    });
    let files = BTreeMap::from([("app.py".to_string(), server.as_bytes().to_vec())]);
    let (grade, _, _) = verdict::exercise::grade_files(&exercise, files, &runner, &MAXIMA)
        .await
        .unwrap();
    let visible = &grade.tests[0];
    assert_eq!(
        visible.status,
        verdict::domain::TestStatus::Error,
        "{grade:?}"
    );
    let shown = serde_json::to_string(&visible.learner_view()).unwrap();
    assert!(
        !shown.contains("SECRET"),
        "a visible message shows a hidden probe: {shown}"
    );
    assert_eq!(
        grade.tests[1].status,
        verdict::domain::TestStatus::Passed,
        "{grade:?}"
    );
}
