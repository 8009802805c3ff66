//! The wasmtime runner: learner WebAssembly (WASI preview 1 command modules) in-process.
//!
//! Limits, each mapped to its verdict:
//! - CPU: fuel (`cpu_ms` × `FUEL_PER_MS`); running out is `time_limit`.
//! - Wall time: a tokio timeout around the async call, which also stops a guest blocked in
//!   a host call (a WASI sleep). The epoch ticker makes compute loops yield so the timeout
//!   can fire.
//! - Memory: a `ResourceLimiter` that refuses growth past `memory_mb` and records the peak.
//! - Output: capped in-memory pipes; the epoch callback interrupts a guest whose output
//!   passed the cap, so an output flood ends in milliseconds as `output_limit`.
//! - Environment: no variables, only argv[0], and no preopened directory at all: the io
//!   kind needs none, and a writable one would let a program fill the host's disk.
//!
//! Compiled modules are cached by the SHA-256 of their bytes.

use super::{
    CaseObservation, CaseOutcome, Limits, RunReport, RunRequest, Runner, RunnerError, RuntimeInfo,
};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, ResourceLimiter, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

/// Fuel per millisecond of `cpu_ms`: one unit is about one wasm instruction, and
/// compiled wasm runs several hundred million simple instructions per second here.
pub const FUEL_PER_MS: u64 = 500_000;
/// How often the epoch advances; the granularity of output checks and yields.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Compiled modules kept in memory.
const MODULE_CACHE_ENTRIES: usize = 512;

/// Per-run state owned by the store.
struct RunState {
    wasi: WasiP1Ctx,
    memory: MemoryLimiter,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    output_cap: usize,
    output_exceeded: bool,
}

/// Refuses memory growth past the limit and records the peak.
struct MemoryLimiter {
    max_bytes: usize,
    peak_bytes: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.denied = true;
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.denied = true;
        Ok(())
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

/// The wasmtime engine, its epoch ticker and the module cache. Cheap to clone.
#[derive(Clone)]
pub struct WasmRunner {
    engine: Engine,
    modules: Arc<Mutex<HashMap<[u8; 32], InstancePre<RunState>>>>,
}

impl WasmRunner {
    /// Builds the engine and starts the epoch ticker (it stops when the engine is dropped).
    pub fn new(max_memory_mb: u64) -> anyhow::Result<WasmRunner> {
        let mut config = Config::new();
        config.consume_fuel(true).epoch_interruption(true);
        // Proposals learner programs do not need: less surface, and no memory outside
        // linear memory that `memory_mb` would not see.
        config
            .wasm_gc(false)
            .wasm_threads(false)
            .wasm_function_references(false);
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_core_instances(256)
            .total_memories(256)
            .total_tables(256)
            .total_stacks(256)
            .max_memory_size((max_memory_mb as usize) << 20);
        config.allocation_strategy(pool);
        let engine = Engine::new(&config).map_err(|error| anyhow::anyhow!("{error:#}"))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(WasmRunner {
            engine,
            modules: Arc::new(Mutex::new(HashMap::new())),
        })
    }

    /// How many compiled modules are cached.
    pub fn cached_modules(&self) -> usize {
        self.modules.lock().expect("module cache").len()
    }

    /// Compiles (or finds in the cache) a module; `Err` is a compile error for the learner.
    async fn prepare(
        &self,
        bytes: &[u8],
        digest: [u8; 32],
    ) -> Result<InstancePre<RunState>, String> {
        if let Some(pre) = self.modules.lock().expect("module cache").get(&digest) {
            return Ok(pre.clone());
        }
        let engine = self.engine.clone();
        let bytes = bytes.to_vec();
        let pre = tokio::task::spawn_blocking(move || -> Result<InstancePre<RunState>, String> {
            let module = Module::new(&engine, &bytes).map_err(|error| format!("{error:#}"))?;
            if module.get_export("_start").is_none() {
                return Err(
                    "the module has no `_start` export: it must be a WASI command module".into(),
                );
            }
            let mut linker: Linker<RunState> = Linker::new(&engine);
            p1::add_to_linker_async(&mut linker, |state| &mut state.wasi)
                .map_err(|error| format!("{error:#}"))?;
            linker
                .instantiate_pre(&module)
                .map_err(|error| format!("{error:#}"))
        })
        .await
        .map_err(|error| format!("the compiler failed: {error}"))??;
        let mut modules = self.modules.lock().expect("module cache");
        if modules.len() >= MODULE_CACHE_ENTRIES {
            modules.clear();
        }
        modules.insert(digest, pre.clone());
        Ok(pre)
    }

    /// Runs one case in a fresh store.
    async fn run_case(
        &self,
        pre: &InstancePre<RunState>,
        stdin: &[u8],
        limits: &Limits,
    ) -> Result<CaseObservation, RunnerError> {
        let output_cap = (limits.output_kb as usize) * 1024;
        let stdout = MemoryOutputPipe::new(output_cap + 1);
        let stderr = MemoryOutputPipe::new(output_cap + 1);
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdin(MemoryInputPipe::new(stdin.to_vec()))
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .arg("main");
        let mut store = Store::new(
            &self.engine,
            RunState {
                wasi: builder.build_p1(),
                memory: MemoryLimiter {
                    max_bytes: (limits.memory_mb as usize) << 20,
                    peak_bytes: 0,
                    denied: false,
                },
                stdout: stdout.clone(),
                stderr: stderr.clone(),
                output_cap,
                output_exceeded: false,
            },
        );
        store.limiter(|state| &mut state.memory);
        let fuel = limits.cpu_ms.saturating_mul(FUEL_PER_MS);
        let setup = store
            .set_fuel(fuel)
            .and_then(|()| store.fuel_async_yield_interval(Some(100_000)));
        setup.map_err(|error| RunnerError(format!("fuel setup: {error:#}")))?;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| {
            let state = context.data_mut();
            if state.stdout.contents().len() + state.stderr.contents().len() > state.output_cap {
                state.output_exceeded = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });

        let started = Instant::now();
        let run = async {
            let instance = pre.instantiate_async(&mut store).await?;
            let start = instance.get_typed_func::<(), ()>(&mut store, "_start")?;
            start.call_async(&mut store, ()).await
        };
        let ended = tokio::time::timeout(limits.wall(), run).await;
        let duration = started.elapsed();
        let cpu_used = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
        let state = store.into_data();
        let output_exceeded =
            state.output_exceeded || stdout.contents().len() + stderr.contents().len() > output_cap;
        let outcome = match ended {
            Err(_elapsed) => CaseOutcome::TimeLimit,
            Ok(result) => classify(result, output_exceeded, state.memory.denied)?,
        };
        let mut stdout = stdout.contents().to_vec();
        let mut stderr = stderr.contents().to_vec();
        stdout.truncate(output_cap);
        stderr.truncate(output_cap);
        Ok(CaseObservation {
            outcome,
            stdout,
            stderr,
            duration,
            cpu_used,
            peak_memory_bytes: state.memory.peak_bytes as u64,
        })
    }
}

/// Maps how the guest ended to an outcome. Limits come first: a guest that hit the
/// memory cap and then trapped ran out of memory, not into a bug.
fn classify(
    result: wasmtime::Result<()>,
    output_exceeded: bool,
    memory_denied: bool,
) -> Result<CaseOutcome, RunnerError> {
    let error = match result {
        Ok(()) if output_exceeded => return Ok(CaseOutcome::OutputLimit),
        Ok(()) => return Ok(CaseOutcome::Exited { code: 0 }),
        Err(error) => error,
    };
    if output_exceeded {
        return Ok(CaseOutcome::OutputLimit);
    }
    if let Some(I32Exit(code)) = error.downcast_ref::<I32Exit>() {
        return Ok(match (*code, memory_denied) {
            (0, _) => CaseOutcome::Exited { code: 0 },
            (_, true) => CaseOutcome::MemoryLimit,
            (code, false) => CaseOutcome::Exited { code },
        });
    }
    if memory_denied {
        return Ok(CaseOutcome::MemoryLimit);
    }
    Ok(match error.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) | Some(Trap::Interrupt) => CaseOutcome::TimeLimit,
        Some(trap) => CaseOutcome::RuntimeError {
            message: trap.to_string(),
        },
        None => {
            let message = format!("{:#}", error.root_cause());
            // The instance pool is full: the host's problem, retried, never charged.
            if message.contains("concurrent") || message.contains("pooling") {
                return Err(RunnerError(message));
            }
            CaseOutcome::RuntimeError { message }
        }
    })
}

#[async_trait::async_trait]
impl Runner for WasmRunner {
    fn name(&self) -> &'static str {
        "wasm"
    }

    async fn run(&self, request: &RunRequest) -> Result<(RunReport, RuntimeInfo), RunnerError> {
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
            // The pooling allocator refuses a module whose initial memory is over the cap
            // before it runs: that is the memory limit, not a broken program.
            Err(message) if message.contains("minimum byte size") => {
                let over = CaseObservation {
                    outcome: CaseOutcome::MemoryLimit,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    duration: Duration::ZERO,
                    cpu_used: 0,
                    peak_memory_bytes: 0,
                };
                return Ok((RunReport::Cases(vec![over; request.cases.len()]), info));
            }
            Err(message) => return Ok((RunReport::CompileError { message }, info)),
        };
        let mut observations = Vec::with_capacity(request.cases.len());
        for stdin in &request.cases {
            observations.push(self.run_case(&pre, stdin, &request.limits).await?);
        }
        Ok((RunReport::Cases(observations), info))
    }
}

/// The wasmtime version compiled in.
pub fn wasmtime_version() -> &'static str {
    "48.0.8"
}
