//! One run of a language runtime from case `start`: one instance, or for the suite kind
//! a pair (the tester, which runs the instructor's tests, and the learner's instance,
//! which runs the learner's code behind the proxy), and what it observed of each case.

use super::runtimes::{Prepared, Runtimes, STARTUP_FUEL, STARTUP_SLACK, fuel_per_ms};
use super::workspace::{Workspace, preopen};
use crate::domain::Kind;
use crate::runner::channel::input::{self, run_tracker};
use crate::runner::channel::{CaseWindow, Ran, Shared, Side, Stopped, Tracker, observe};
use crate::runner::wasm::engine::{self, Execution, Guest};
use crate::runner::{CaseOutcome, RunRequest, RunnerError};
use crate::runtimes::Runtime;
use std::path::PathBuf;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

pub(super) struct Batch<'a> {
    pub runtimes: &'a Runtimes,
    pub prepared: &'a Prepared,
    pub runtime: Runtime,
    pub workspace: &'a Workspace,
    pub request: &'a RunRequest,
    pub start: usize,
}

impl Batch<'_> {
    pub async fn run(&self) -> Result<Ran, RunnerError> {
        let tracker = Shared::new(self.tracker());
        let stopped = match self.request.kind {
            Kind::Suite => self.run_pair(&tracker).await?,
            _ => self.run_single(&tracker).await?,
        };
        let mut tracker = tracker.lock();
        tracker.finish();
        let window = CaseWindow {
            kind: self.request.kind,
            start: self.start,
            total: self.request.cases.len(),
            runtime: self.runtime.label(),
        };
        observe(&mut tracker, window, stopped)
    }

    /// The tracker, with the harness's stdin (and a suite's learner instance).
    fn tracker(&self) -> Tracker {
        let cases = self.start..self.request.cases.len();
        run_tracker(
            self.request,
            self.runtime,
            &input::WASM,
            cases,
            STARTUP_SLACK,
        )
    }

    /// A WASI context for `side`: fixed argv, no environment, read-only preopens.
    fn context(
        &self,
        tracker: &Shared,
        side: Side,
        argv: &[&str],
        folders: &[(&str, &str)],
    ) -> Result<WasiP1Ctx, RunnerError> {
        let mut builder = WasiCtxBuilder::new();
        builder
            .stdin(tracker.input(side))
            .stdout(tracker.stream(side, false))
            .stderr(tracker.stream(side, true))
            .args(argv);
        for (folder, guest) in folders {
            let host: PathBuf = match *folder {
                "harness" => self.runtimes.harness_dir(self.runtime),
                other => self.workspace.path(other),
            };
            preopen(&mut builder, &host, guest)?;
        }
        Ok(builder.build_p1())
    }

    fn guest(&self, wasi: WasiP1Ctx, side: Side) -> Guest<'_> {
        Guest {
            pre: &self.prepared.pre,
            wasi,
            side,
            fuel_start: STARTUP_FUEL,
            fuel_per_phase: self
                .request
                .limits
                .cpu_ms
                .saturating_mul(fuel_per_ms(self.runtime)),
        }
    }

    async fn run_single(&self, tracker: &Shared) -> Result<Stopped, RunnerError> {
        let argv: &[&str] = match self.runtime {
            Runtime::Python => &["python", "-I", "-S", "-B", "-u", "/harness/harness.py"],
            Runtime::QuickJs => &["qjs", "--std", "-m", "/harness/harness.mjs"],
        };
        let folders = [("harness", "/harness"), ("submission", "/submission")];
        let wasi = self.context(tracker, Side::Harness, argv, &folders)?;
        let execution = engine::execute(
            self.runtimes.engine(),
            self.guest(wasi, Side::Harness),
            tracker,
            &self.request.limits,
        )
        .await?;
        let outcome = execution.outcome(&tracker.lock())?;
        Ok(stopped(&execution, outcome))
    }

    /// A suite: the tester sees the instructor's tests (`/support`) and the learner's
    /// files, which it parses but never runs; the learner's instance sees only the
    /// learner's files, so no hidden test enters it.
    async fn run_pair(&self, tracker: &Shared) -> Result<Stopped, RunnerError> {
        let tester = self.context(
            tracker,
            Side::Harness,
            &["python", "-I", "-S", "-B", "-u", "/harness/tester.py"],
            &[
                ("harness", "/harness"),
                ("support", "/support"),
                ("submission", "/submission"),
            ],
        )?;
        let learner = self.context(
            tracker,
            Side::Learner,
            &["python", "-I", "-S", "-B", "-u", "/harness/serve.py"],
            &[("harness", "/harness"), ("submission", "/submission")],
        )?;
        let (tester, learner, ended) = engine::execute_pair(
            self.runtimes.engine(),
            self.guest(tester, Side::Harness),
            self.guest(learner, Side::Learner),
            tracker,
            &self.request.limits,
        )
        .await?;
        // The phase the pair stopped in ends as the instance that stopped first did.
        let outcome = match ended {
            None => CaseOutcome::TimeLimit,
            Some(Side::Learner) => learner.outcome(&tracker.lock())?,
            Some(Side::Harness) => tester.outcome(&tracker.lock())?,
        };
        Ok(stopped(&learner, outcome))
    }
}

/// How a run stopped, with what the learner's instance used.
fn stopped(execution: &Execution, outcome: CaseOutcome) -> Stopped {
    Stopped {
        outcome,
        fuel_spent: execution.fuel_spent,
        peak_memory_bytes: execution.peak_memory_bytes,
        stale_fuel: execution.stale_fuel,
    }
}
