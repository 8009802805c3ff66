//! One guest run in a wasmtime store: fuel per phase, the epoch deadline raced against
//! the call, the memory limiter, and how a run ended. Both the plain-wasm runner
//! (`super`) and the language harnesses (`runner::harness`) run guests through here; it
//! names neither.

use crate::domain::Limits;
use crate::runner::channel::{Shared, Side, Tracker};
use crate::runner::{CaseOutcome, RunnerError};
use std::time::Duration;
use wasmtime::{Config, Engine, InstancePre, ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::I32Exit;
use wasmtime_wasi::p1::WasiP1Ctx;

/// Fuel per millisecond of `cpu_ms`: one unit is about one wasm instruction, and
/// compiled wasm runs several hundred million simple instructions per second here.
pub const FUEL_PER_MS: u64 = 500_000;
/// How often the epoch advances; the granularity of output checks and yields.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(5);
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

/// Runs `_start` of a fresh instance until it returns, traps, or the tracker's phase
/// deadline passes.
pub(crate) async fn execute(
    engine: &Engine,
    guest: Guest<'_>,
    tracker: &Shared,
    limits: &Limits,
) -> Result<Execution, RunnerError> {
    let pre = guest.pre;
    let mut store = store(engine, guest, tracker, limits)?;
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
    engine: &Engine,
    harness: Guest<'_>,
    learner: Guest<'_>,
    tracker: &Shared,
    limits: &Limits,
) -> Result<(Execution, Execution, Option<Side>), RunnerError> {
    let (harness_pre, learner_pre) = (harness.pre, learner.pre);
    let mut harness_store = store(engine, harness, tracker, limits)?;
    let mut learner_store = store(engine, learner, tracker, limits)?;
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
    engine: &Engine,
    guest: Guest<'_>,
    tracker: &Shared,
    limits: &Limits,
) -> Result<Store<RunState>, RunnerError> {
    let mut store = Store::new(
        engine,
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
        // The instance pool is full: the host's problem, retried, never charged.
        None if error
            .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
            .is_some() =>
        {
            return Err(RunnerError(format!("{error:#}")));
        }
        None => CaseOutcome::RuntimeError {
            message: format!("{:#}", error.root_cause()),
        },
    })
}

/// The wasmtime version compiled in.
pub fn wasmtime_version() -> &'static str {
    "48.0.8"
}
