//! The wasmtime runner: learner WebAssembly (WASI preview 1 command modules) in-process.
//!
//! Limits, each mapped to its verdict:
//! - CPU: fuel (`cpu_ms` × `FUEL_PER_MS`); running out is `time_limit`.
//! - Wall time: a deadline raced against the async call, which also stops a guest blocked
//!   in a host call (a WASI sleep). The epoch ticker makes compute loops yield so the
//!   deadline can fire.
//! - Memory: a `ResourceLimiter` that refuses growth past `memory_mb` and records the peak.
//! - Output: the guest's stdout and stderr go to a `channel::Tracker`; the write that
//!   passes the cap traps the guest, so an output flood ends at once as `output_limit`.
//! - Environment: no variables, only argv[0], and no preopened directory at all: the io
//!   kind needs none, and a writable one would let a program fill the host's disk.
//!
//! Learner modules are compiled once per SHA-256 and kept in memory. Python and
//! JavaScript run in pinned interpreter modules through a harness: `runner::harness`.

pub mod engine;

pub use engine::{FUEL_PER_MS, MAX_MODULE_BYTES, engine, wasmtime_version};

use super::budget;
use super::channel::{Shared, Side, Tracker};
use super::harness::Runtimes;
use super::{CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, Runner, RunnerError};
use crate::domain::{Language, Limits, RuntimeInfo};
use crate::runtimes::RuntimeStore;
use engine::{Guest, RunState};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use wasmtime::{Engine, InstancePre, Linker, Module};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1;
use wasmtime_wasi::p2::pipe::MemoryInputPipe;

/// Compiled modules kept in memory.
const MODULE_CACHE_ENTRIES: usize = 512;

/// The wasmtime engine, its epoch ticker, the module caches and the language runtimes.
/// Cheap to clone.
#[derive(Clone)]
pub struct WasmRunner {
    engine: Engine,
    max_memory_mb: u64,
    /// The program that compiles learner modules (`budget`), or why there is none.
    compiler: Arc<std::io::Result<std::path::PathBuf>>,
    modules: Arc<Mutex<HashMap<[u8; 32], InstancePre<RunState>>>>,
    /// Modules that are the learner's compile error, by hash: never compiled again.
    refused: Arc<Mutex<HashMap<[u8; 32], String>>>,
    runtimes: Arc<Runtimes>,
}

impl WasmRunner {
    /// Builds the engine and starts the epoch ticker (it stops when the engine is dropped).
    /// Language runtimes are read from `runtimes` when first needed (see `warm_up`).
    pub fn new(max_memory_mb: u64, runtimes: RuntimeStore) -> anyhow::Result<WasmRunner> {
        let engine = engine(max_memory_mb)?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(engine::EPOCH_TICK);
                }
            })?;
        Ok(WasmRunner {
            engine: engine.clone(),
            max_memory_mb,
            compiler: Arc::new(budget::compiler_program()),
            modules: Arc::new(Mutex::new(HashMap::new())),
            refused: Arc::new(Mutex::new(HashMap::new())),
            runtimes: Arc::new(Runtimes::new(runtimes, engine.clone())?),
        })
    }

    /// Loads (or compiles and caches) every language runtime now, so that no grading
    /// waits for a compile. `progress` hears one line per runtime.
    pub async fn warm_up(&self, progress: &(dyn Fn(&str) + Send + Sync)) -> anyhow::Result<()> {
        super::harness::warm_up(&self.runtimes, progress).await
    }

    /// How each language runtime was loaded so far (disk cache or compiled, and how long).
    pub fn runtime_loads(
        &self,
    ) -> Vec<(
        crate::runtimes::Runtime,
        super::compiled::Source,
        std::time::Duration,
    )> {
        self.runtimes.loads()
    }

    /// How many compiled modules are cached.
    pub fn cached_modules(&self) -> usize {
        self.modules.lock().expect("module cache").len()
    }

    /// Compiles (or finds in the caches) a module; `Err(Ok(message))` is a compile error
    /// for the learner, `Err(Err(fault))` an infrastructure fault.
    async fn prepare(
        &self,
        bytes: &[u8],
        digest: [u8; 32],
    ) -> Result<InstancePre<RunState>, Result<String, RunnerError>> {
        if let Some(pre) = self.modules.lock().expect("module cache").get(&digest) {
            return Ok(pre.clone());
        }
        if let Some(message) = self.refused.lock().expect("refusals").get(&digest) {
            return Err(Ok(message.clone()));
        }
        let program = match self.compiler.as_ref() {
            Ok(program) => program,
            Err(error) => return Err(Err(RunnerError(format!("{error}")))),
        };
        let compiled = budget::compile(program, self.max_memory_mb, bytes)
            .await
            .map_err(|fault| Err(RunnerError(fault)))?;
        let serialized = match compiled {
            budget::Compiled::Module(serialized) => serialized,
            budget::Compiled::Refused(message) => {
                let mut refused = self.refused.lock().expect("refusals");
                if refused.len() >= MODULE_CACHE_ENTRIES {
                    refused.clear();
                }
                refused.insert(digest, message.clone());
                return Err(Ok(message));
            }
        };
        let engine = self.engine.clone();
        let pre = tokio::task::spawn_blocking(move || -> Result<InstancePre<RunState>, String> {
            // SAFETY: the bytes are `Module::serialize` of an engine with this one's
            // configuration (`engine`), made by this binary in a child process, and
            // wasmtime checks their header and compatibility before it loads them.
            let module = unsafe { Module::deserialize(&engine, &serialized) }
                .map_err(|error| format!("{error:#}"))?;
            if module.get_export("_start").is_none() {
                return Err(
                    "the module has no `_start` export: it must be a WASI command module".into(),
                );
            }
            let mut linker: Linker<RunState> = Linker::new(&engine);
            p1::add_to_linker_async(&mut linker, |state| state.wasi())
                .map_err(|error| format!("{error:#}"))?;
            linker
                .instantiate_pre(&module)
                .map_err(|error| format!("{error:#}"))
        })
        .await
        .map_err(|error| {
            Err(RunnerError(format!(
                "the compiled module failed to load: {error}"
            )))
        })?
        .map_err(Ok)?;
        let mut modules = self.modules.lock().expect("module cache");
        if modules.len() >= MODULE_CACHE_ENTRIES {
            modules.clear();
        }
        modules.insert(digest, pre.clone());
        Ok(pre)
    }

    /// Runs one plain-wasm case in a fresh store: all output is the case's.
    async fn run_case(
        &self,
        pre: &InstancePre<RunState>,
        stdin: &[u8],
        limits: &Limits,
    ) -> Result<CaseObservation, RunnerError> {
        let output_cap = (limits.output_kb as usize) * 1024;
        let tracker = Shared::new(Tracker::new(
            None,
            output_cap,
            limits.wall(),
            limits.wall(),
            limits.wall(),
        ));
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdin(MemoryInputPipe::new(stdin.to_vec()))
            .stdout(tracker.stream(Side::Harness, false))
            .stderr(tracker.stream(Side::Harness, true))
            .arg("main");
        let fuel = limits.cpu_ms.saturating_mul(FUEL_PER_MS);
        let started = Instant::now();
        let guest = Guest {
            pre,
            wasi: builder.build_p1(),
            side: Side::Harness,
            fuel_start: fuel,
            fuel_per_phase: fuel,
        };
        let execution = engine::execute(&self.engine, guest, &tracker, limits).await?;
        let duration = started.elapsed();
        let mut tracker = tracker.lock();
        tracker.finish();
        let outcome = execution.outcome(&tracker)?;
        let case = tracker.cases.remove(&0).unwrap_or_default();
        Ok(CaseObservation {
            stdout: case.stdout,
            stderr: case.stderr,
            duration,
            cpu_used: execution.fuel_spent,
            peak_memory_bytes: execution.peak_memory_bytes,
            ..CaseObservation::new(outcome)
        })
    }
}

#[async_trait::async_trait]
impl Runner for WasmRunner {
    fn name(&self) -> &'static str {
        "wasm"
    }

    async fn run(&self, request: &RunRequest) -> Result<(RunReport, RuntimeInfo), RunnerError> {
        if request.language != Language::Wasm {
            return super::harness::run(&self.runtimes, request).await;
        }
        let bytes = request.files.get(&request.entrypoint).ok_or_else(|| {
            RunnerError(format!("the entrypoint {} is missing", request.entrypoint))
        })?;
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        let info = RuntimeInfo {
            runtime: format!("wasmtime {}", wasmtime_version()),
            digest: format!("sha256:{}", hex::encode(digest)),
        };
        let pre = match self.prepare(bytes, digest).await {
            Ok(pre) => pre,
            Err(Err(fault)) => return Err(fault),
            // The pooling allocator refuses a module whose initial memory is over the cap
            // before it runs: that is the memory limit, not a broken program.
            Err(Ok(message)) if initial_memory_over_the_cap(&message) => {
                let over = CaseObservation::new(CaseOutcome::MemoryLimit);
                return Ok((RunReport::Cases(vec![over; request.cases.len()]), info));
            }
            Err(Ok(message)) => return Ok((RunReport::CompileError { message }, info)),
        };
        let mut observations = Vec::with_capacity(request.cases.len());
        for case in &request.cases {
            let CaseInput::Stdin(stdin) = case else {
                return Err(RunnerError(
                    "plain wasm runs io cases only (stdin in, stdout out)".into(),
                ));
            };
            observations.push(self.run_case(&pre, stdin, &request.limits).await?);
        }
        Ok((RunReport::Cases(observations), info))
    }
}

/// Whether a module was refused because its initial memory is larger than the memory
/// cap (wasmtime's pooling allocator says so only in words; the test below pins them).
fn initial_memory_over_the_cap(message: &str) -> bool {
    message.contains("minimum byte size")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_over_the_memory_cap_is_told_apart_by_its_message() {
        let engine = engine::engine(1).unwrap();
        // 64 pages (4 MiB) of initial memory under a 1 MiB cap.
        let message = match Module::new(&engine, "(module (memory 64))") {
            Err(error) => format!("{error:#}"),
            Ok(module) => {
                let mut store = wasmtime::Store::new(&engine, ());
                match wasmtime::Instance::new(&mut store, &module, &[]) {
                    Err(error) => format!("{error:#}"),
                    Ok(_) => panic!("a module over the memory cap was instantiated"),
                }
            }
        };
        assert!(initial_memory_over_the_cap(&message), "{message}");
    }
}
