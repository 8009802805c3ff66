//! The language runtimes of a wasm runner: the pinned interpreter modules, loaded from
//! the disk cache (or compiled) once and linked, and the harness files they run.

use crate::runner::RunnerError;
use crate::runner::compiled;
use crate::runner::wasm::engine::RunState;
use crate::runtimes::{Runtime, RuntimeStore};
use std::path::PathBuf;
use std::time::Duration;
use wasmtime::{Engine, InstancePre, Linker};
use wasmtime_wasi::p1;

/// The harness files, compiled in and written to a private folder at start-up: the
/// Python harness and the suite kind's tester, learner server and proxy protocol, and
/// the JavaScript harness.
pub(super) const HARNESS_FILES: [(&str, &str, &str); 6] = [
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
pub(super) const STARTUP_FUEL: u64 = 40_000_000_000;

/// Wall time for the interpreter's own start-up, on top of the exercise's wall limit.
pub(super) const STARTUP_SLACK: Duration = Duration::from_secs(20);

/// An interpreter compiled and linked, ready to instantiate.
pub(super) struct Prepared {
    pub(super) pre: InstancePre<RunState>,
    pub(super) digest: String,
}

/// The language runtimes of one runner: the pinned modules (compiled on first use or at
/// `warm_up`, cached on disk) and the harness files.
pub struct Runtimes {
    store: RuntimeStore,
    engine: Engine,
    harness: tempfile::TempDir,
    python: tokio::sync::OnceCell<Prepared>,
    quickjs: tokio::sync::OnceCell<Prepared>,
    /// How each runtime was loaded, in order: for the log, tests and the benchmark.
    loads: std::sync::Mutex<Vec<(Runtime, compiled::Source, Duration)>>,
}

impl Runtimes {
    pub fn new(store: RuntimeStore, engine: Engine) -> anyhow::Result<Runtimes> {
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
            engine,
            harness,
            python: tokio::sync::OnceCell::new(),
            quickjs: tokio::sync::OnceCell::new(),
            loads: std::sync::Mutex::new(Vec::new()),
        })
    }

    pub fn store(&self) -> &RuntimeStore {
        &self.store
    }

    /// The engine every runtime was compiled for.
    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Every load so far: which runtime, from the disk cache or compiled, how long.
    pub fn loads(&self) -> Vec<(Runtime, compiled::Source, Duration)> {
        self.loads.lock().expect("runtime loads").clone()
    }

    /// The runtime's prepared module; the first caller loads (or compiles) it and every
    /// concurrent caller waits for that one load.
    pub(super) async fn prepared(&self, runtime: Runtime) -> Result<&Prepared, RunnerError> {
        let cell = match runtime {
            Runtime::Python => &self.python,
            Runtime::QuickJs => &self.quickjs,
        };
        cell.get_or_try_init(|| async {
            let engine = self.engine.clone();
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

    pub(super) fn harness_dir(&self, runtime: Runtime) -> PathBuf {
        self.harness.path().join(match runtime {
            Runtime::Python => "python",
            Runtime::QuickJs => "javascript",
        })
    }
}
