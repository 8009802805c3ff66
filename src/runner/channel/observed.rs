//! What a run's frames say happened to each case: the tracker's record, and how the
//! guests stopped, turned into observations. One reading for every runner that speaks
//! the frame protocol (the wasm runner's harnesses, the Docker runner's suites).

use super::{CaseRecord, Phase, Tracker};
use crate::domain::{Kind, SuiteOutcome, SuiteStatus};
use crate::runner::frame::CaseEnd;
use crate::runner::{CaseObservation, CaseOutcome, RunnerError};
use std::time::Duration;

/// What a batch found.
pub enum Ran {
    CompileError(String),
    /// Observations by case index (the cases this batch reached).
    Observed(Vec<(usize, CaseObservation)>),
}

/// The observations of a run's batches, merged by case: each batch starts at the first
/// case no batch has observed yet, and must observe at least that one.
pub struct Collected {
    slots: Vec<Option<CaseObservation>>,
    next: usize,
}

impl Collected {
    pub fn new(total: usize) -> Collected {
        Collected {
            slots: vec![None; total],
            next: 0,
        }
    }

    /// The case the next batch starts at.
    pub fn next(&self) -> usize {
        self.next
    }

    pub fn done(&self) -> bool {
        self.next >= self.slots.len()
    }

    /// A batch's observations (a case already observed keeps its first observation).
    pub fn add(&mut self, observed: Vec<(usize, CaseObservation)>) -> Result<(), RunnerError> {
        let before = self.next;
        for (index, observation) in observed {
            if index < self.slots.len() && self.slots[index].is_none() {
                self.next = self.next.max(index + 1);
                self.slots[index] = Some(observation);
            }
        }
        if self.next == before {
            return Err(RunnerError(format!(
                "the harness made no progress at case {before}"
            )));
        }
        Ok(())
    }

    /// Every case not observed yet, as `fill` says.
    pub fn fill_rest(&mut self, fill: impl Fn() -> CaseObservation) {
        for slot in self.slots.iter_mut().filter(|slot| slot.is_none()) {
            *slot = Some(fill());
        }
        self.next = self.slots.len();
    }

    pub fn into_observations(self) -> Result<Vec<CaseObservation>, RunnerError> {
        self.slots
            .into_iter()
            .map(|slot| slot.ok_or_else(|| RunnerError("a case was skipped".into())))
            .collect()
    }
}

/// How the instances stopped (the outcome of the phase they were in), and what the
/// learner's code used.
pub struct Stopped {
    pub outcome: CaseOutcome,
    pub fuel_spent: u64,
    pub peak_memory_bytes: u64,
    /// Out of fuel in a phase that had not been granted its own fuel yet.
    pub stale_fuel: bool,
}

/// Which cases one harness run was given: those from `start` of `total`, of `kind`, on
/// the interpreter `runtime` names (for an infrastructure fault's message).
#[derive(Debug, Clone, Copy)]
pub struct CaseWindow<'a> {
    pub kind: Kind,
    pub start: usize,
    pub total: usize,
    pub runtime: &'a str,
}

/// What the tracker saw of a window's cases, as observations by case.
pub fn observe(
    tracker: &mut Tracker,
    window: CaseWindow<'_>,
    stopped: Stopped,
) -> Result<Ran, RunnerError> {
    let CaseWindow {
        kind,
        start,
        total,
        runtime,
    } = window;
    if let Some(message) = tracker.compile_error() {
        return Ok(Ran::CompileError(message.to_string()));
    }
    if let Some(message) = tracker.fault() {
        return Err(RunnerError(format!(
            "the harness reported a fault: {message}"
        )));
    }
    if let Some(violation) = tracker.violation.clone() {
        // Only learner code that reached the nonce can break the protocol, and then no
        // frame of this instance can be believed: every case from here is an error.
        let message = format!("the submission interfered with the grader's channel ({violation})");
        let failed = CaseOutcome::RuntimeError { message };
        let observed = (start..total)
            .map(|index| (index, fixed(failed.clone())))
            .collect();
        return Ok(Ran::Observed(observed));
    }
    let started_any = !tracker.cases.is_empty();
    let in_start_phase = tracker.phase == Phase::Start;
    let load_error = tracker.load_error().cloned();
    // A MemoryError while loading, after a refused growth, is the memory limit.
    let load_memory_denied = tracker.memory_denied;
    let loading_output = std::mem::take(&mut tracker.loading_output);
    let mut observed = Vec::new();
    for (index, mut record) in std::mem::take(&mut tracker.cases) {
        let observation = match record.end.take() {
            Some(end) => finished_case(kind, end, record),
            // The case ran out of fuel before the epoch callback had granted it its
            // own (it began less than a tick after the previous phase): not its fault.
            // A fresh instance starts at it (not for the batch's first case, so each
            // batch still makes progress).
            None if stopped.stale_fuel && index > start => continue,
            None => observation(stopped_case(kind, stopped.outcome.clone()), record),
        };
        observed.push((index, observation));
    }
    let reached = observed.last().map_or(start, |(index, _)| index + 1);
    let rest = reached..total;
    let rest_outcome = if let Some(error) = load_error {
        Some(match load_memory_denied {
            true => CaseOutcome::MemoryLimit,
            false => CaseOutcome::RuntimeError {
                message: error.text(),
            },
        })
    } else if !started_any {
        if in_start_phase {
            // Only the interpreter and the harness ran: whatever stopped them (an
            // overloaded host, a memory limit too small for the interpreter itself) is
            // not the learner's doing. The queue retries; validation shows the message.
            return Err(RunnerError(format!(
                "the {} runtime stopped before its harness was ready: {:?}; {}",
                runtime,
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

fn observation(outcome: CaseOutcome, record: CaseRecord) -> CaseObservation {
    let duration = match (record.started, record.finished) {
        (Some(started), Some(finished)) => finished.saturating_duration_since(started),
        (Some(started), None) => started.elapsed(),
        _ => Duration::ZERO,
    };
    CaseObservation {
        stdout: record.stdout,
        stderr: record.stderr,
        duration,
        ..CaseObservation::new(outcome)
    }
}

fn fixed(outcome: CaseOutcome) -> CaseObservation {
    observation(outcome, CaseRecord::default())
}

/// The observation of a case the harness finished (`end` frame). A refused memory
/// growth during a case that did not pass is the memory limit (a `MemoryError` the
/// program or, in a suite, the proxy turned into an error).
fn finished_case(kind: Kind, end: CaseEnd, record: CaseRecord) -> CaseObservation {
    let suite = match (end.ok, kind) {
        (true, Kind::Suite) => Some(SuiteOutcome {
            // A tester that reported no status reported nothing that passes.
            status: end.status.unwrap_or(SuiteStatus::Error),
            message: end.message.unwrap_or_default(),
        }),
        _ => None,
    };
    let passed = end.ok
        && suite
            .as_ref()
            .is_none_or(|s| s.status == SuiteStatus::Passed);
    let value = match (end.ok, kind) {
        (false, _) | (true, Kind::Io | Kind::Suite) => None,
        (true, _) => Some(end.value),
    };
    let outcome = if record.memory_denied && !passed {
        CaseOutcome::MemoryLimit
    } else if !end.ok {
        CaseOutcome::RuntimeError {
            message: end.error.unwrap_or_default().text(),
        }
    } else if kind == Kind::Io {
        CaseOutcome::Exited {
            code: end.exit.unwrap_or(0),
        }
    } else {
        CaseOutcome::Exited { code: 0 }
    };
    CaseObservation {
        value,
        suite,
        ..observation(outcome, record)
    }
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
