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

use super::budget;
use super::channel::{Shared, Side, Tracker};
use super::{CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, Runner, RunnerError};
use crate::domain::{Language, Limits, RuntimeInfo};
use crate::runtimes::RuntimeStore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wasmtime::{
    Config, Engine, InstancePre, Linker, Module, ResourceLimiter, Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::p1::{self, WasiP1Ctx};
use wasmtime_wasi::p2::pipe::MemoryInputPipe;
use wasmtime_wasi::{I32Exit, WasiCtxBuilder};

/// Fuel per millisecond of `cpu_ms`: one unit is about one wasm instruction, and
/// compiled wasm runs several hundred million simple instructions per second here.
pub const FUEL_PER_MS: u64 = 500_000;
/// How often the epoch advances; the granularity of output checks and yields.
const EPOCH_TICK: Duration = Duration::from_millis(5);
/// Compiled modules kept in memory.
const MODULE_CACHE_ENTRIES: usize = 512;

/// Per-run state owned by the store.
pub(crate) struct RunState {
    wasi: WasiP1Ctx,
    memory: MemoryLimiter,
    tracker: Shared,
    /// Which guest of the tracker this store runs.
    side: Side,
    fuel: FuelMeter,
}

/// One guest to run: its module, its WASI context, which side of the tracker it is, and
/// its fuel (`fuel_start` until the first phase change, then `fuel_per_phase` a phase).
pub(crate) struct Guest<'a> {
    pub pre: &'a InstancePre<RunState>,
    pub wasi: WasiP1Ctx,
    pub side: Side,
    pub fuel_start: u64,
    pub fuel_per_phase: u64,
}

impl RunState {
    pub(crate) fn wasi(&mut self) -> &mut WasiP1Ctx {
        &mut self.wasi
    }
}

/// Fuel for the current phase, reset when the tracker's phase moves.
struct FuelMeter {
    per_phase: u64,
    seen_seq: u64,
    granted: u64,
    spent: u64,
}

/// Refuses memory growth past the limit, records the peak, and tells the tracker.
struct MemoryLimiter {
    max_bytes: usize,
    peak_bytes: usize,
    tracker: Shared,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.tracker.lock().deny_memory();
            return Ok(false);
        }
        self.peak_bytes = self.peak_bytes.max(desired);
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        self.tracker.lock().deny_memory();
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

/// How an instance ended, before it is mapped to outcomes.
pub(crate) struct Execution {
    /// `None`: the host stopped it (the phase deadline passed, or the other instance of
    /// a pair ended first).
    pub result: Option<wasmtime::Result<()>>,
    pub fuel_spent: u64,
    pub peak_memory_bytes: u64,
    /// The guest ran out of fuel in a phase that had not been granted its own fuel yet.
    pub stale_fuel: bool,
}

impl Execution {
    /// The outcome for the phase the guest was in when it stopped.
    pub fn outcome(&self, tracker: &Tracker) -> Result<CaseOutcome, RunnerError> {
        match &self.result {
            None => Ok(CaseOutcome::TimeLimit),
            Some(result) => classify(result, tracker.output_exceeded, tracker.memory_denied),
        }
    }
}

/// The engine's configuration, one for this process and for the child that compiles a
/// learner's module (`budget`): a compiled module loads only into an engine like it.
pub fn engine(max_memory_mb: u64) -> anyhow::Result<Engine> {
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
        // CPython's function table and instance metadata are larger than the defaults.
        .table_elements(65_536)
        .max_core_instance_size(4 << 20)
        // Reset reused slots by zeroing what the last instance touched instead of
        // returning the pages to the kernel: a warm QuickJS run is ~15% faster.
        .linear_memory_keep_resident(16 << 20)
        .table_keep_resident(1 << 20)
        .async_stack_keep_resident(1 << 20)
        .max_memory_size((max_memory_mb as usize) << 20);
    config.allocation_strategy(pool);
    Engine::new(&config).map_err(|error| anyhow::anyhow!("{error:#}"))
}

/// The largest learner module read (text or binary).
pub const MAX_MODULE_BYTES: usize = 16 << 20;

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
    pub(crate) runtimes: Arc<super::harness::Runtimes>,
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
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        Ok(WasmRunner {
            engine,
            max_memory_mb,
            compiler: Arc::new(budget::compiler_program()),
            modules: Arc::new(Mutex::new(HashMap::new())),
            refused: Arc::new(Mutex::new(HashMap::new())),
            runtimes: Arc::new(super::harness::Runtimes::new(runtimes)?),
        })
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
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
        let execution = self.execute(guest, &tracker, limits).await?;
        let duration = started.elapsed();
        let mut tracker = tracker.lock();
        tracker.finish();
        let outcome = execution.outcome(&tracker)?;
        let case = tracker.cases.remove(&0).unwrap_or_default();
        Ok(CaseObservation {
            outcome,
            value: None,
            stdout: case.stdout,
            stderr: case.stderr,
            duration,
            cpu_used: execution.fuel_spent,
            peak_memory_bytes: execution.peak_memory_bytes,
        })
    }

    /// Runs `_start` of a fresh instance until it returns, traps, or the tracker's phase
    /// deadline passes.
    pub(crate) async fn execute(
        &self,
        guest: Guest<'_>,
        tracker: &Shared,
        limits: &Limits,
    ) -> Result<Execution, RunnerError> {
        let pre = guest.pre;
        let mut store = self.store(guest, tracker, limits)?;
        let result = tokio::select! {
            result = run(pre, &mut store) => Some(result),
            () = tracker.deadline_passed() => None,
        };
        Ok(finish(store, result, tracker))
    }

    /// Runs a suite's two instances, the tester (`harness`) and the learner's, until
    /// either ends or the phase deadline passes; the other is stopped then. Says which
    /// ended (`None`: the deadline).
    pub(crate) async fn execute_pair(
        &self,
        harness: Guest<'_>,
        learner: Guest<'_>,
        tracker: &Shared,
        limits: &Limits,
    ) -> Result<(Execution, Execution, Option<Side>), RunnerError> {
        let (harness_pre, learner_pre) = (harness.pre, learner.pre);
        let mut harness_store = self.store(harness, tracker, limits)?;
        let mut learner_store = self.store(learner, tracker, limits)?;
        let (harness_result, learner_result, ended) = {
            let harness_run = run(harness_pre, &mut harness_store);
            let learner_run = run(learner_pre, &mut learner_store);
            tokio::select! {
                result = harness_run => (Some(result), None, Some(Side::Harness)),
                result = learner_run => (None, Some(result), Some(Side::Learner)),
                () = tracker.deadline_passed() => (None, None, None),
            }
        };
        Ok((
            finish(harness_store, harness_result, tracker),
            finish(learner_store, learner_result, tracker),
            ended,
        ))
    }

    /// A store for `guest`, with its limiter, fuel and epoch callback.
    fn store(
        &self,
        guest: Guest<'_>,
        tracker: &Shared,
        limits: &Limits,
    ) -> Result<Store<RunState>, RunnerError> {
        let mut store = Store::new(
            &self.engine,
            RunState {
                wasi: guest.wasi,
                memory: MemoryLimiter {
                    max_bytes: (limits.memory_mb as usize) << 20,
                    peak_bytes: 0,
                    tracker: tracker.clone(),
                },
                tracker: tracker.clone(),
                side: guest.side,
                fuel: FuelMeter {
                    per_phase: guest.fuel_per_phase,
                    seen_seq: 0,
                    granted: guest.fuel_start,
                    spent: 0,
                },
            },
        );
        store.limiter(|state| &mut state.memory);
        // No fuel-based yields: the epoch callback below yields every tick (5 ms), which
        // is all the deadline race needs. Yielding every few microseconds instead made a
        // CPython run 50% slower on a multi-threaded runtime (each yield wakes a worker).
        store
            .set_fuel(guest.fuel_start)
            .map_err(|error| RunnerError(format!("fuel setup: {error:#}")))?;
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut context| {
            let seq = context.data().tracker.lock().seq_for(context.data().side);
            if seq != context.data().fuel.seen_seq {
                let remaining = context.get_fuel()?;
                let meter = &mut context.data_mut().fuel;
                meter.spent += meter.granted.saturating_sub(remaining);
                meter.granted = meter.per_phase;
                meter.seen_seq = seq;
                let grant = meter.per_phase;
                context.set_fuel(grant)?;
            }
            Ok(UpdateDeadline::Yield(1))
        });
        Ok(store)
    }
}

/// Instantiates the module in `store` and runs its `_start`.
async fn run(pre: &InstancePre<RunState>, store: &mut Store<RunState>) -> wasmtime::Result<()> {
    let instance = pre.instantiate_async(&mut *store).await?;
    let start = instance.get_typed_func::<(), ()>(&mut *store, "_start")?;
    start.call_async(&mut *store, ()).await
}

/// What a store spent, once its guest has stopped.
fn finish(
    store: Store<RunState>,
    result: Option<wasmtime::Result<()>>,
    tracker: &Shared,
) -> Execution {
    let remaining = store.get_fuel().unwrap_or(0);
    let state = store.into_data();
    let out_of_fuel = matches!(
        &result,
        Some(Err(error)) if matches!(error.downcast_ref::<Trap>(), Some(Trap::OutOfFuel))
    );
    let stale_fuel = out_of_fuel && tracker.lock().seq_for(state.side) != state.fuel.seen_seq;
    Execution {
        result,
        fuel_spent: state.fuel.spent + state.fuel.granted.saturating_sub(remaining),
        peak_memory_bytes: state.memory.peak_bytes as u64,
        stale_fuel,
    }
}

/// Maps how the guest ended to an outcome. Limits come first: a guest that hit the
/// memory cap and then trapped ran out of memory, not into a bug.
fn classify(
    result: &wasmtime::Result<()>,
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
        if request.language != Language::Wasm {
            return super::harness::run(self, request).await;
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
            Err(Ok(message)) if message.contains("minimum byte size") => {
                let over = CaseObservation {
                    outcome: CaseOutcome::MemoryLimit,
                    value: None,
                    stdout: Vec::new(),
                    stderr: Vec::new(),
                    duration: Duration::ZERO,
                    cpu_used: 0,
                    peak_memory_bytes: 0,
                };
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

/// The wasmtime version compiled in.
pub fn wasmtime_version() -> &'static str {
    "48.0.8"
}
