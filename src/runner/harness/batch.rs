//! One run of a language runtime from case `start`: one instance, or for the suite kind
//! a pair (the tester, which runs the instructor's tests, and the learner's instance,
//! which runs the learner's code behind the proxy), and what it observed of each case.

use super::input::{harness_input, learner_request};
use super::{Prepared, STARTUP_FUEL, STARTUP_SLACK, Workspace, fuel_per_ms, preopen};
use crate::exercise::manifest::Kind;
use crate::runner::channel::{CaseRecord, Phase, Shared, Side, Tracker};
use crate::runner::wasm::{Execution, Guest, WasmRunner};
use crate::runner::{CaseObservation, CaseOutcome, RunRequest, RunnerError};
use crate::runtimes::Runtime;
use crate::value::Value;
use std::path::PathBuf;
use std::time::Duration;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;

/// What a batch found.
pub(super) enum Ran {
    CompileError(String),
    /// Observations by case index (the cases this batch reached).
    Observed(Vec<(usize, CaseObservation)>),
}

pub(super) struct Batch<'a> {
    pub runner: &'a WasmRunner,
    pub prepared: &'a Prepared,
    pub runtime: Runtime,
    pub workspace: &'a Workspace,
    pub request: &'a RunRequest,
    pub start: usize,
}

/// How the instances stopped (the outcome of the phase they were in), and what the
/// learner's code used.
struct Stopped {
    outcome: CaseOutcome,
    fuel_spent: u64,
    peak_memory_bytes: u64,
    /// Out of fuel in a phase that had not been granted its own fuel yet.
    stale_fuel: bool,
}

impl Stopped {
    fn of(execution: &Execution, outcome: CaseOutcome) -> Stopped {
        Stopped {
            outcome,
            fuel_spent: execution.fuel_spent,
            peak_memory_bytes: execution.peak_memory_bytes,
            stale_fuel: execution.stale_fuel,
        }
    }
}

fn marker(nonce: &str) -> Vec<u8> {
    format!("\n\x1e{nonce} ").into_bytes()
}

fn nonce() -> String {
    hex::encode(rand::random::<[u8; 16]>())
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
        self.observe(&mut tracker, stopped)
    }

    /// The tracker, with the harness's stdin (and a suite's learner instance).
    fn tracker(&self) -> Tracker {
        let limits = &self.request.limits;
        let harness_nonce = nonce();
        // However the frames go, a batch never runs longer than its start-up plus every
        // remaining case (and the loading) at the wall limit.
        let phases = (self.request.cases.len() - self.start) as u32 + 1;
        let mut tracker = Tracker::new(
            Some(marker(&harness_nonce)),
            (limits.output_kb as usize) * 1024,
            limits.wall() + STARTUP_SLACK,
            limits.wall(),
            limits.wall() * phases + STARTUP_SLACK,
        );
        tracker.expect_case(self.start);
        tracker.set_input(harness_input(
            self.request,
            self.runtime,
            &harness_nonce,
            self.start,
        ));
        if self.request.kind == Kind::Suite {
            // A nonce of its own: the learner's side can forge its answers (they are the
            // learner's to give), never the tester's frames.
            let learner_nonce = nonce();
            tracker.add_learner(
                marker(&learner_nonce),
                learner_request(self.request, &learner_nonce),
            );
        }
        tracker
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
                "harness" => self.runner.runtimes.harness_dir(self.runtime),
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
        let folders = [
            ("harness", "/harness"),
            ("submission", "/submission"),
            ("support", "/support"),
        ];
        let wasi = self.context(tracker, Side::Harness, argv, &folders)?;
        let execution = self
            .runner
            .execute(
                self.guest(wasi, Side::Harness),
                tracker,
                &self.request.limits,
            )
            .await?;
        let outcome = execution.outcome(&tracker.lock())?;
        Ok(Stopped::of(&execution, outcome))
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
        let (tester, learner, ended) = self
            .runner
            .execute_pair(
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
        Ok(Stopped::of(&learner, outcome))
    }

    /// What the tracker saw, as observations by case.
    fn observe(&self, tracker: &mut Tracker, stopped: Stopped) -> Result<Ran, RunnerError> {
        let (request, start) = (self.request, self.start);
        if let Some(event) = tracker.event("compile_error") {
            let message = event["message"]
                .as_str()
                .unwrap_or("the code does not compile");
            return Ok(Ran::CompileError(message.to_string()));
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
            let message =
                format!("the submission interfered with the grader's channel ({violation})");
            let failed = CaseOutcome::RuntimeError { message };
            let observed = (start..request.cases.len())
                .map(|index| (index, fixed(failed.clone())))
                .collect();
            return Ok(Ran::Observed(observed));
        }
        let started_any = !tracker.cases.is_empty();
        let in_start_phase = tracker.phase == Phase::Start;
        let load_error = tracker.event("load_error").cloned();
        // A MemoryError while loading, after a refused growth, is the memory limit.
        let load_memory_denied = tracker.memory_denied;
        let loading_output = std::mem::take(&mut tracker.loading_output);
        let mut observed = Vec::new();
        for (index, record) in std::mem::take(&mut tracker.cases) {
            let observation = match record.end.clone() {
                Some(end) => finished_case(request.kind, &end, record),
                // The case ran out of fuel before the epoch callback had granted it its
                // own (it began less than a tick after the previous phase): not its fault.
                // A fresh instance starts at it (not for the batch's first case, so each
                // batch still makes progress).
                None if stopped.stale_fuel && index > start => continue,
                None => observation(stopped_case(request.kind, stopped.outcome.clone()), record),
            };
            observed.push((index, observation));
        }
        let reached = observed.last().map_or(start, |(index, _)| index + 1);
        let rest = reached..request.cases.len();
        let rest_outcome = if let Some(event) = load_error {
            Some(match load_memory_denied {
                true => CaseOutcome::MemoryLimit,
                false => CaseOutcome::RuntimeError {
                    message: error_text(&event["error"]),
                },
            })
        } else if !started_any {
            if in_start_phase {
                // Only the interpreter and the harness ran: whatever stopped them (an
                // overloaded host, a memory limit too small for the interpreter itself) is
                // not the learner's doing. The queue retries; validation shows the message.
                return Err(RunnerError(format!(
                    "the {} runtime stopped before its harness was ready: {:?}; {}",
                    self.runtime.label(),
                    stopped.outcome,
                    String::from_utf8_lossy(&loading_output)
                )));
            }
            // The program stopped while loading (an import that loops, eats memory, prints
            // without end or exits): every remaining test has that outcome.
            Some(match stopped.outcome {
                CaseOutcome::Exited { code } => CaseOutcome::RuntimeError {
                    message: format!("the program exited (code {code}) while it was being loaded"),
                },
                other => other,
            })
        } else {
            None
        };
        if let Some(outcome) = rest_outcome {
            for index in rest {
                let mut failed = fixed(outcome.clone());
                failed.stdout = loading_output.clone();
                observed.push((index, failed));
            }
        }
        if let Some((_, first)) = observed.first_mut() {
            first.cpu_used = stopped.fuel_spent;
        }
        for (_, observation) in &mut observed {
            observation.peak_memory_bytes = stopped.peak_memory_bytes;
        }
        Ok(Ran::Observed(observed))
    }
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

fn fixed(outcome: CaseOutcome) -> CaseObservation {
    observation(outcome, CaseRecord::default())
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

/// The observation of a case the harness finished (`end` frame). A refused memory
/// growth during a case that did not pass is the memory limit (a `MemoryError` the
/// program or, in a suite, the proxy turned into an error).
fn finished_case(kind: Kind, end: &Value, record: CaseRecord) -> CaseObservation {
    let ok = end["ok"].as_bool() == Some(true);
    let passed = ok && (kind != Kind::Suite || end["status"].as_str() == Some("passed"));
    let value = match (ok, kind) {
        (false, _) | (true, Kind::Io) => None,
        (true, Kind::Suite) => Some(Value::object([
            ("status", end["status"].clone()),
            ("message", end["message"].clone()),
        ])),
        (true, _) => Some(end["value"].clone()),
    };
    let outcome = if record.memory_denied && !passed {
        CaseOutcome::MemoryLimit
    } else if !ok {
        CaseOutcome::RuntimeError {
            message: error_text(&end["error"]),
        }
    } else if kind == Kind::Io {
        CaseOutcome::Exited {
            code: end["exit"].as_i64().unwrap_or(0) as i32,
        }
    } else {
        CaseOutcome::Exited { code: 0 }
    };
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
