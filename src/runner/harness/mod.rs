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

use super::channel::{Collected, Ran};
use super::compiled;
pub use super::compiled::Source;
use super::wasm::{RunState, WasmRunner};
use super::{RunReport, RunRequest, RunnerError};
use crate::domain::{Language, RuntimeInfo};
use crate::runtimes::{Runtime, RuntimeStore};
use std::path::{Path, PathBuf};
use std::time::Duration;
use wasmtime::{InstancePre, Linker};
use wasmtime_wasi::p1;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

mod batch;

/// The harness files, compiled in and written to a private folder at start-up: the
/// Python harness and the suite kind's tester, learner server and proxy protocol, and
/// the JavaScript harness.
const HARNESS_FILES: [(&str, &str, &str); 6] = [
    (
        "python",
        "harness.py",
        include_str!("../../../sandboxes/wasm/harness/python/harness.py"),
    ),
    (
        "python",
        "tester.py",
        include_str!("../../../sandboxes/wasm/harness/python/tester.py"),
    ),
    (
        "python",
        "serve.py",
        include_str!("../../../sandboxes/harness/python/serve.py"),
    ),
    (
        "python",
        "proxy.py",
        include_str!("../../../sandboxes/harness/python/proxy.py"),
    ),
    (
        "python",
        "frames.py",
        include_str!("../../../sandboxes/harness/python/frames.py"),
    ),
    (
        "javascript",
        "harness.mjs",
        include_str!("../../../sandboxes/wasm/harness/javascript/harness.mjs"),
    ),
];

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
        for (folder, file, text) in HARNESS_FILES {
            let dir = harness.path().join(folder);
            std::fs::create_dir_all(&dir)?;
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
    let mut collected = Collected::new(request.cases.len());
    while !collected.done() {
        let batch = batch::Batch {
            runner,
            prepared,
            runtime,
            workspace: &workspace,
            request,
            start: collected.next(),
        };
        match batch.run().await? {
            Ran::CompileError(message) => return Ok((RunReport::CompileError { message }, info)),
            Ran::Observed(observed) => collected.add(observed)?,
        }
    }
    Ok((RunReport::Cases(collected.into_observations()?), info))
}

fn preopen(builder: &mut WasiCtxBuilder, host: &Path, guest: &str) -> Result<(), RunnerError> {
    builder
        .preopened_dir(host, guest, FsPerms::ReadOnly)
        .map(|_| ())
        .map_err(|error| RunnerError(format!("preopen {guest}: {error:#}")))
}
