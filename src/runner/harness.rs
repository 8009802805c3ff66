//! Python and JavaScript in the wasmtime sandbox: a pinned interpreter module runs the
//! harness in `sandboxes/wasm/harness/`, which loads the learner's code and reports
//! observations over a channel learner code cannot forge (`channel`, and
//! `sandboxes/README.md`, "The result channel").
//!
//! One instance runs the cases of a submission in turn (CPython takes ~85 ms to start;
//! a case often takes microseconds). Each case still has its own limits: a harness frame
//! starts the case's deadline and fuel, and output is counted per case. When a case ends
//! the instance (a limit, a crash, an exit), the host records that case and starts a fresh
//! instance at the next one. The SQL kind runs the learner's query with CPython's
//! `sqlite3`, on a fresh in-memory database per case.
//!
//! Files reach the guest through read-only preopens: `/harness` (the harness, compiled
//! into this binary), `/submission` (the learner's files) and `/support` (the suite
//! kind's test files). Nothing else of the host is visible, and nothing is writable.

use super::channel::{CaseRecord, Inbox, Shared, Tracker};
use super::compiled;
pub use super::compiled::Source;
use super::wasm::{RunState, WasmRunner};
use super::{
    CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, RunnerError, RuntimeInfo,
};
use crate::exercise::manifest::{Kind, Language};
use crate::runtimes::{Runtime, RuntimeStore};
use crate::value::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::{InstancePre, Linker};
use wasmtime_wasi::p1;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

const PYTHON_HARNESS: &str = include_str!("../../sandboxes/wasm/harness/python/harness.py");
const JAVASCRIPT_HARNESS: &str =
    include_str!("../../sandboxes/wasm/harness/javascript/harness.mjs");

/// Fuel per millisecond of `cpu_ms` in an interpreter: how many wasm instructions each
/// runs per millisecond of CPU on this class of machine (a busy loop, measured with fuel
/// on; docs/BENCHMARKS.md), so `cpu_ms` reads as CPU milliseconds.
pub fn fuel_per_ms(runtime: Runtime) -> u64 {
    match runtime {
        Runtime::Python => 6_000_000,
        Runtime::QuickJs => 8_500_000,
    }
}
/// Fuel for the interpreter's own start-up, before any learner code runs.
const STARTUP_FUEL: u64 = 40_000_000_000;
/// Wall time for the interpreter's own start-up, on top of the exercise's wall limit.
const STARTUP_SLACK: Duration = Duration::from_secs(20);

/// An interpreter compiled and linked, ready to instantiate.
struct Prepared {
    pre: InstancePre<RunState>,
    digest: String,
}

/// The language runtimes of one runner: the pinned modules (compiled on first use or at
/// `warm_up`, cached on disk) and the harness files.
pub struct Runtimes {
    store: RuntimeStore,
    harness: tempfile::TempDir,
    python: tokio::sync::OnceCell<Prepared>,
    quickjs: tokio::sync::OnceCell<Prepared>,
    /// How each runtime was loaded, in order: for the log, tests and the benchmark.
    loads: std::sync::Mutex<Vec<(Runtime, compiled::Source, Duration)>>,
}

impl Runtimes {
    pub fn new(store: RuntimeStore) -> anyhow::Result<Runtimes> {
        let harness = tempfile::Builder::new()
            .prefix("verdict-harness-")
            .tempdir()?;
        for (folder, file, text) in [
            ("python", "harness.py", PYTHON_HARNESS),
            ("javascript", "harness.mjs", JAVASCRIPT_HARNESS),
        ] {
            let dir = harness.path().join(folder);
            std::fs::create_dir(&dir)?;
            std::fs::write(dir.join(file), text)?;
        }
        Ok(Runtimes {
            store,
            harness,
            python: tokio::sync::OnceCell::new(),
            quickjs: tokio::sync::OnceCell::new(),
            loads: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn store(&self) -> &RuntimeStore {
        &self.store
    }

    /// Every load so far: which runtime, from the disk cache or compiled, how long.
    pub fn loads(&self) -> Vec<(Runtime, compiled::Source, Duration)> {
        self.loads.lock().expect("runtime loads").clone()
    }

    /// The runtime's prepared module; the first caller loads (or compiles) it and every
    /// concurrent caller waits for that one load.
    async fn prepared(
        &self,
        runner: &WasmRunner,
        runtime: Runtime,
    ) -> Result<&Prepared, RunnerError> {
        let cell = match runtime {
            Runtime::Python => &self.python,
            Runtime::QuickJs => &self.quickjs,
        };
        cell.get_or_try_init(|| async {
            let engine = runner.engine().clone();
            let store = self.store.clone();
            let loaded = tokio::task::spawn_blocking(
                move || -> anyhow::Result<(Prepared, compiled::Source, Duration)> {
                    let bytes = store.load(runtime)?;
                    let digest = runtime.sha256().to_string();
                    let started = std::time::Instant::now();
                    let (module, source) = compiled::load_or_compile(
                        &engine,
                        &store.compiled_dir(),
                        runtime.file_name().trim_end_matches(".wasm"),
                        &digest,
                        &bytes,
                    )?;
                    let took = started.elapsed();
                    tracing::info!(
                        runtime = runtime.label(),
                        ?source,
                        ms = took.as_millis() as u64,
                        "runtime ready"
                    );
                    let mut linker: Linker<RunState> = Linker::new(&engine);
                    p1::add_to_linker_async(&mut linker, |state| state.wasi())
                        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
                    let pre = linker
                        .instantiate_pre(&module)
                        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
                    Ok((Prepared { pre, digest }, source, took))
                },
            )
            .await
            .map_err(|error| RunnerError(format!("loading {}: {error}", runtime.label())))?
            .map_err(|error| RunnerError(format!("{error:#}")));
            let (prepared, source, took) = loaded?;
            self.loads
                .lock()
                .expect("runtime loads")
                .push((runtime, source, took));
            Ok(prepared)
        })
        .await
    }

    fn harness_dir(&self, runtime: Runtime) -> PathBuf {
        self.harness.path().join(match runtime {
            Runtime::Python => "python",
            Runtime::QuickJs => "javascript",
        })
    }
}

/// Loads (or compiles and caches) every language runtime now, so that no grading waits
/// for a compile. `progress` hears one line per runtime.
pub async fn warm_up(
    runner: &WasmRunner,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> anyhow::Result<()> {
    for runtime in Runtime::ALL {
        progress(&format!("preparing {}", runtime.label()));
        runner.runtimes.prepared(runner, runtime).await?;
        if let Some((_, source, took)) = runner
            .runtimes
            .loads()
            .into_iter()
            .rfind(|(loaded, _, _)| *loaded == runtime)
        {
            let how = match source {
                Source::Cache => "loaded from the disk cache",
                Source::Compiled => "compiled and stored in the disk cache",
            };
            progress(&format!(
                "{} {how} in {} ms",
                runtime.label(),
                took.as_millis()
            ));
        }
    }
    Ok(())
}

fn runtime_for(language: Language) -> Result<Runtime, RunnerError> {
    match language {
        Language::Python | Language::Sql => Ok(Runtime::Python),
        Language::Javascript => Ok(Runtime::QuickJs),
        Language::Wasm => Err(RunnerError("plain wasm needs no harness".into())),
    }
}

/// The learner's files and the support files, written by the host into a fresh folder
/// that the guest sees read-only. The host never reads anything back from it.
struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    fn new(request: &RunRequest) -> Result<Workspace, RunnerError> {
        let fault = |error: std::io::Error| RunnerError(format!("workspace: {error}"));
        let dir = tempfile::Builder::new()
            .prefix("verdict-run-")
            .tempdir()
            .map_err(fault)?;
        for (folder, files) in [
            ("submission", &request.files),
            ("support", &request.support),
        ] {
            let path = dir.path().join(folder);
            std::fs::create_dir(&path).map_err(fault)?;
            for (name, content) in files {
                // Names are plain file names (checked at upload and submission).
                std::fs::write(path.join(name), content).map_err(fault)?;
            }
        }
        Ok(Workspace { dir })
    }

    fn path(&self, folder: &str) -> PathBuf {
        self.dir.path().join(folder)
    }
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

/// The request line the harness reads first on stdin. It holds no case: each case's
/// input follows on its own line once the case before it has ended (`channel::Inbox`).
/// Nothing here is an expected value.
#[derive(serde::Serialize)]
struct HarnessRequest<'a> {
    nonce: &'a str,
    kind: &'static str,
    entrypoint: String,
    function: &'a Option<String>,
    schema: &'a Option<String>,
    suite: Vec<String>,
    start: usize,
    count: usize,
}

/// One case's input as the harness reads it.
#[derive(serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum HarnessCase<'a> {
    Stdin(String),
    Args(&'a [crate::value::Value]),
    Seed(&'a str),
    Test(&'a str),
}

/// A JSON line, written as text directly so exact integers stay exact.
fn json_line(value: &impl serde::Serialize) -> Vec<u8> {
    let mut line = serde_json::to_vec(value).expect("a harness message serializes");
    line.push(b'\n');
    line
}

/// What the instance reads on stdin, from case `start`: the request line, then one line
/// per case, each released after the case before it ends. An ES module runs once, so a
/// QuickJS io instance runs one case, and reads its raw stdin after the request.
fn harness_input(request: &RunRequest, runtime: Runtime, nonce: &str, start: usize) -> Inbox {
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
    let cases = request.cases[start..]
        .iter()
        .map(|case| {
            json_line(&match case {
                CaseInput::Stdin(bytes) => {
                    HarnessCase::Stdin(String::from_utf8_lossy(bytes).into())
                }
                CaseInput::Call(args) => HarnessCase::Args(args),
                CaseInput::Seed(seed) => HarnessCase::Seed(seed),
                CaseInput::Test(name) => HarnessCase::Test(name),
                // The http kind never reaches a language harness.
                CaseInput::Request(_) => HarnessCase::Seed(""),
            })
        })
        .collect::<Vec<_>>();
    let mut cases = cases.into_iter();
    let mut first = header;
    first.extend(cases.next().unwrap_or_default());
    Inbox::new(first, cases.collect())
}

/// Runs every case of `request` in the language's runtime.
pub async fn run(
    runner: &WasmRunner,
    request: &RunRequest,
) -> Result<(RunReport, RuntimeInfo), RunnerError> {
    let runtime = runtime_for(request.language)?;
    let prepared = runner.runtimes.prepared(runner, runtime).await?;
    let info = RuntimeInfo {
        runtime: format!(
            "wasmtime {} / {}",
            super::wasm::wasmtime_version(),
            runtime.label()
        ),
        digest: format!("sha256:{}", prepared.digest),
    };
    let workspace = Workspace::new(request)?;
    let total = request.cases.len();
    let mut observations: Vec<Option<CaseObservation>> = vec![None; total];
    let mut next = 0;
    while next < total {
        match run_batch(runner, prepared, runtime, &workspace, request, next).await? {
            Batch::CompileError(message) => {
                return Ok((RunReport::CompileError { message }, info));
            }
            Batch::Observed(observed) => {
                let before = next;
                for (index, observation) in observed {
                    if index < total && observations[index].is_none() {
                        next = next.max(index + 1);
                        observations[index] = Some(observation);
                    }
                }
                if next == before {
                    return Err(RunnerError(format!(
                        "the harness made no progress at case {next}"
                    )));
                }
            }
        }
    }
    let observations = observations
        .into_iter()
        .map(|observation| observation.ok_or_else(|| RunnerError("a case was skipped".into())))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((RunReport::Cases(observations), info))
}

enum Batch {
    CompileError(String),
    /// Observations by case index (the cases this instance reached).
    Observed(Vec<(usize, CaseObservation)>),
}

fn observation(outcome: CaseOutcome, record: CaseRecord) -> CaseObservation {
    let duration = match (record.started, record.finished) {
        (Some(started), Some(finished)) => finished.saturating_duration_since(started),
        (Some(started), None) => started.elapsed(),
        _ => Duration::ZERO,
    };
    CaseObservation {
        outcome,
        value: None,
        stdout: record.stdout,
        stderr: record.stderr,
        duration,
        cpu_used: 0,
        peak_memory_bytes: 0,
    }
}

/// The traceback (or message) of a harness error object.
fn error_text(error: &Value) -> String {
    error["traceback"]
        .as_str()
        .filter(|text| !text.is_empty())
        .or_else(|| error["message"].as_str())
        .unwrap_or("the program raised an error")
        .to_string()
}

/// The observation of a case the harness finished (`end` frame).
fn finished_case(kind: Kind, end: &Value, mut record: CaseRecord) -> CaseObservation {
    let memory_denied = record.memory_denied;
    let ok = end["ok"].as_bool() == Some(true);
    let value = if ok {
        match kind {
            Kind::Suite => Some(Value::object([
                ("status", end["status"].clone()),
                ("message", end["message"].clone()),
            ])),
            Kind::Io => None,
            _ => Some(end["value"].clone()),
        }
    } else {
        None
    };
    let outcome = if !ok {
        if memory_denied {
            CaseOutcome::MemoryLimit
        } else {
            CaseOutcome::RuntimeError {
                message: error_text(&end["error"]),
            }
        }
    } else if kind == Kind::Io {
        CaseOutcome::Exited {
            code: end["exit"].as_i64().unwrap_or(0) as i32,
        }
    } else {
        CaseOutcome::Exited { code: 0 }
    };
    record.memory_denied = memory_denied;
    let mut observation = observation(outcome, record);
    observation.value = value;
    observation
}

/// The outcome of a case the instance stopped in. An exit is the program's answer for
/// io; for the other kinds the harness had not reported, so it is an error.
fn stopped_case(kind: Kind, outcome: CaseOutcome) -> CaseOutcome {
    match (kind, outcome) {
        (Kind::Io, outcome) => outcome,
        (_, CaseOutcome::Exited { code }) => CaseOutcome::RuntimeError {
            message: format!("the program exited (code {code}) before the test finished"),
        },
        (_, outcome) => outcome,
    }
}

/// Runs one instance from case `start` and says what it observed.
async fn run_batch(
    runner: &WasmRunner,
    prepared: &Prepared,
    runtime: Runtime,
    workspace: &Workspace,
    request: &RunRequest,
    start: usize,
) -> Result<Batch, RunnerError> {
    let limits = &request.limits;
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    let marker = format!("\n\x1e{nonce} ").into_bytes();
    // However the frames go, one instance never runs longer than its start-up plus every
    // remaining case (and the loading) at the wall limit.
    let phases = (request.cases.len() - start) as u32 + 1;
    let mut tracker = Tracker::new(
        Some(marker),
        (limits.output_kb as usize) * 1024,
        limits.wall() + STARTUP_SLACK,
        limits.wall(),
        limits.wall() * phases + STARTUP_SLACK,
    );
    tracker.expect_case(start);
    tracker.inbox = harness_input(request, runtime, &nonce, start);
    let tracker = Shared::new(tracker);
    let argv: &[&str] = match runtime {
        Runtime::Python => &["python", "-I", "-S", "-B", "-u", "/harness/harness.py"],
        Runtime::QuickJs => &["qjs", "--std", "-m", "/harness/harness.mjs"],
    };
    let mut builder = WasiCtxBuilder::new();
    builder
        .stdin(tracker.input())
        .stdout(tracker.stream(false))
        .stderr(tracker.stream(true))
        .args(argv);
    let preopens: [(PathBuf, &str); 3] = [
        (runner.runtimes.harness_dir(runtime), "/harness"),
        (workspace.path("submission"), "/submission"),
        (workspace.path("support"), "/support"),
    ];
    for (host, guest) in &preopens {
        preopen(&mut builder, host, guest)?;
    }
    let execution = runner
        .execute(
            &prepared.pre,
            builder.build_p1(),
            &tracker,
            limits,
            STARTUP_FUEL,
            limits.cpu_ms.saturating_mul(fuel_per_ms(runtime)),
        )
        .await?;

    let mut tracker = tracker.lock();
    tracker.finish();
    if let Some(event) = tracker.event("compile_error") {
        let message = event["message"]
            .as_str()
            .unwrap_or("the code does not compile");
        return Ok(Batch::CompileError(message.to_string()));
    }
    if let Some(event) = tracker.event("fault") {
        return Err(RunnerError(format!(
            "the harness reported a fault: {}",
            event["message"].as_str().unwrap_or("?")
        )));
    }
    if let Some(violation) = tracker.violation.clone() {
        // Only learner code that reached the nonce can break the protocol, and then no
        // frame of this instance can be believed: every case from here is an error.
        let message = format!("the submission interfered with the grader's channel ({violation})");
        let observed = (start..request.cases.len())
            .map(|index| {
                let failed = CaseOutcome::RuntimeError {
                    message: message.clone(),
                };
                (index, fixed(failed))
            })
            .collect();
        return Ok(Batch::Observed(observed));
    }
    let stopped = execution.outcome(&tracker)?;
    let started_any = !tracker.cases.is_empty();
    let in_start_phase = tracker.phase == super::channel::Phase::Start;
    let tampered = tracker.event("tampered").cloned();
    let load_error = tracker.event("load_error").cloned();
    // A MemoryError while loading, after a refused growth, is the memory limit.
    let load_memory_denied = tracker.memory_denied;
    let loading_output = std::mem::take(&mut tracker.loading_output);
    let cases = std::mem::take(&mut tracker.cases);
    drop(tracker);

    let mut observed = Vec::new();
    for (index, record) in cases {
        let observation = match record.end.clone() {
            Some(end) => finished_case(request.kind, &end, record),
            None if tampered.is_some() => continue,
            // The case ran out of fuel before the epoch callback had granted it its own
            // (it began less than a tick after the previous phase): not its fault. A
            // fresh instance starts at it (not for the instance's first case, so each
            // instance still makes progress).
            None if execution.stale_fuel && index > start => continue,
            None => observation(stopped_case(request.kind, stopped.clone()), record),
        };
        observed.push((index, observation));
    }
    let reached = observed.last().map_or(start, |(index, _)| index + 1);
    let rest = reached..request.cases.len();
    if let Some(event) = tampered {
        let what: Vec<&str> = event["what"]
            .as_list()
            .map(|items| items.iter().filter_map(|item| item.as_str()).collect())
            .unwrap_or_default();
        let message = format!(
            "the submission changed the test framework ({}); tests that are tampered with cannot pass",
            what.join(", ")
        );
        for index in rest {
            observed.push((
                index,
                fixed(CaseOutcome::RuntimeError {
                    message: message.clone(),
                }),
            ));
        }
    } else if let Some(event) = load_error {
        let outcome = if load_memory_denied {
            CaseOutcome::MemoryLimit
        } else {
            CaseOutcome::RuntimeError {
                message: error_text(&event["error"]),
            }
        };
        for index in rest {
            let mut failed = fixed(outcome.clone());
            failed.stdout = loading_output.clone();
            observed.push((index, failed));
        }
    } else if !started_any {
        if in_start_phase {
            // Only the interpreter and the harness ran: whatever stopped them (an
            // overloaded host, a memory limit too small for the interpreter itself) is not
            // the learner's doing. The queue retries; validation shows the message.
            return Err(RunnerError(format!(
                "the {} runtime stopped before its harness was ready: {stopped:?}; {}",
                runtime.label(),
                String::from_utf8_lossy(&loading_output)
            )));
        }
        // The program stopped while loading (an import that loops, eats memory, prints
        // without end or exits): every remaining test has that outcome.
        let outcome = match stopped {
            CaseOutcome::Exited { code } => CaseOutcome::RuntimeError {
                message: format!("the program exited (code {code}) while it was being loaded"),
            },
            other => other,
        };
        for index in rest {
            let mut failed = fixed(outcome.clone());
            failed.stdout = loading_output.clone();
            observed.push((index, failed));
        }
    }
    if let Some((_, first)) = observed.first_mut() {
        first.cpu_used = execution.fuel_spent;
    }
    for (_, observation) in &mut observed {
        observation.peak_memory_bytes = execution.peak_memory_bytes;
    }
    Ok(Batch::Observed(observed))
}

fn fixed(outcome: CaseOutcome) -> CaseObservation {
    observation(outcome, CaseRecord::default())
}

fn preopen(builder: &mut WasiCtxBuilder, host: &Path, guest: &str) -> Result<(), RunnerError> {
    builder
        .preopened_dir(host, guest, FsPerms::ReadOnly)
        .map(|_| ())
        .map_err(|error| RunnerError(format!("preopen {guest}: {error:#}")))
}
