//! A suite in the Docker runner, split as in the wasm runner: the tester, which runs the
//! instructor's tests with the real framework as its own user (uid 10003), and the
//! learner's server, which runs the learner's code behind the proxy as the learner's user
//! (uid 10001), are two execs in one container. Neither can signal, trace or read the
//! other, and only the tester's group can read the test files. The host relays their
//! messages through the wasm runner's tracker (`channel`), one in each direction in turn,
//! and reads the tester's frames; each case has its own wall limit.
//!
//! A batch runs from a case to the end; when a case ends the batch (a limit, a crash),
//! the next batch starts at the next case in a fresh container.

use super::sandbox::{Attached, Ended, Exec, Sandbox};
use super::{DockerRunner, LEARNER_USER, TESTER_USER, budget};
use crate::domain::Language;
use crate::runner::channel::input::{self, run_tracker};
use crate::runner::channel::{CaseWindow, Collected, Ran, Shared, Side, Stopped, observe};
use crate::runner::{CaseOutcome, RunReport, RunRequest, RunnerError};
use crate::runtimes::Runtime;
use bollard::container::LogOutput;
use futures::StreamExt;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// A program's start-up (the interpreter, the test framework) on top of a phase's wall.
const STARTUP_SLACK: Duration = Duration::from_secs(10);

/// The two programs of a suite, by language.
fn commands(language: Language) -> (Vec<String>, Vec<String>) {
    let strings = |items: &[&str]| items.iter().map(|item| item.to_string()).collect();
    match language {
        Language::Python => (
            strings(&["python3", "-I", "-B", "/work/harness/tester.py"]),
            strings(&["python3", "/work/harness/serve.py"]),
        ),
        // The tester is also the run's reporter: one module under one URL.
        _ => (
            strings(&[
                "node",
                "--test-reporter=/work/harness/tester.mjs",
                "--test-reporter-destination=stdout",
                "/work/harness/tester.mjs",
            ]),
            strings(&["node", "/work/harness/serve.mjs"]),
        ),
    }
}

/// The cases of the batch from `start`. node:test runs the tests it finds in their
/// order, so visible and hidden tests run in batches of their own, each with a fresh
/// learner's process: nothing a hidden test passed to the learner's code can reach a
/// visible test's message. pytest and unittest run them in the host's order (visible
/// first), in one batch.
fn batch_cases(request: &RunRequest, start: usize) -> std::ops::Range<usize> {
    let total = request.cases.len();
    match request.language {
        Language::Javascript if start < request.hidden_from => start..request.hidden_from,
        _ => start..total,
    }
}

/// How the relay ended.
enum Relayed {
    /// This side's program ended (its streams closed).
    Exited(Side),
    Deadline,
    OutputCapped,
}

impl DockerRunner {
    /// Every case of a suite, in batches, within the whole run's budget.
    pub(super) async fn run_split_suite(
        &self,
        request: &RunRequest,
    ) -> Result<RunReport, RunnerError> {
        let budget_end = Instant::now() + budget(request);
        let mut collected = Collected::new(request.cases.len());
        let (mut cpu, mut memory) = (0, 0);
        while !collected.done() {
            if Instant::now() >= budget_end {
                collected.fill_rest(|| {
                    let mut late = super::observation(CaseOutcome::TimeLimit, None, Duration::ZERO);
                    late.stderr = b"not run: the submission used up its time".to_vec();
                    late
                });
                break;
            }
            let (ran, used) = self.split_batch(request, collected.next()).await?;
            (cpu, memory) = (cpu + used.0, memory.max(used.1));
            match ran {
                Ran::CompileError(message) => return Ok(RunReport::CompileError { message }),
                Ran::Observed(observed) => collected.add(observed)?,
            }
        }
        Ok(super::report(collected.into_observations()?, cpu, memory))
    }

    /// One batch from case `start`, in a fresh container; also what it used (CPU µs,
    /// peak memory).
    async fn split_batch(
        &self,
        request: &RunRequest,
        start: usize,
    ) -> Result<(Ran, (u64, u64)), RunnerError> {
        let sandbox = self.sandbox(request).await?;
        if start == 0
            && let Some(message) = self.syntax_check(&sandbox, request).await?
        {
            sandbox.remove().await?;
            return Ok((Ran::CompileError(message), (0, 0)));
        }
        let tracker = Shared::new(run_tracker(
            request,
            Runtime::Python,
            &input::DOCKER,
            batch_cases(request, start),
            STARTUP_SLACK,
        ));
        let (tester_cmd, learner_cmd) = commands(request.language);
        let exec = |cmd: Vec<String>, user| Exec {
            cmd,
            user,
            stdin: Vec::new(),
            env: vec!["HOME=/nonexistent".to_string()],
            wall: Duration::ZERO,
            output_cap: 0,
            wrap: true,
        };
        let tester = sandbox.attach(&exec(tester_cmd, TESTER_USER)).await?;
        let learner = sandbox.attach(&exec(learner_cmd, LEARNER_USER)).await?;
        let (tester_id, learner_id) = (tester.id.clone(), learner.id.clone());
        let relayed = relay(&tracker, tester, learner).await?;
        let outcome = match relayed {
            Relayed::Deadline => CaseOutcome::TimeLimit,
            Relayed::OutputCapped => CaseOutcome::OutputLimit,
            Relayed::Exited(side) => {
                let id = match side {
                    Side::Harness => &tester_id,
                    Side::Learner => &learner_id,
                };
                let code = exit_code(&sandbox, id).await?;
                self.outcome(&sandbox, &Ended::Exited(code)).await?.0
            }
        };
        let (cpu, memory) = sandbox.usage().await;
        sandbox.remove().await?;
        let stopped = Stopped {
            outcome,
            fuel_spent: 0,
            peak_memory_bytes: 0,
            stale_fuel: false,
        };
        let mut tracker = tracker.lock();
        tracker.finish();
        let label = match request.language {
            Language::Python => "Python suite",
            _ => "Node.js suite",
        };
        let window = CaseWindow {
            kind: request.kind,
            start,
            total: request.cases.len(),
            runtime: label,
        };
        let ran = observe(&mut tracker, window, stopped)?;
        Ok((ran, (cpu, memory)))
    }
}

/// The exit code of a program whose streams closed (it may take a moment to be reaped).
async fn exit_code(sandbox: &Sandbox, id: &str) -> Result<i64, RunnerError> {
    for _ in 0..200 {
        if let Some(code) = sandbox.exit_code(id).await? {
            return Ok(code);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(-1)
}

/// Writes what `side`'s inbox has released to its program's stdin, without waiting for
/// the program to read it.
fn pump(tracker: &Shared, side: Side, to: &tokio::sync::mpsc::UnboundedSender<Vec<u8>>) {
    let bytes = tracker.lock().inbox(side).take();
    if !bytes.is_empty() {
        let _ = to.send(bytes);
    }
}

/// A task that writes what it is sent to a program's stdin.
fn writer(
    mut input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
) -> (
    tokio::sync::mpsc::UnboundedSender<Vec<u8>>,
    super::AbortOnDrop,
) {
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let task = tokio::spawn(async move {
        while let Some(bytes) = receiver.recv().await {
            if input.write_all(&bytes).await.is_err() || input.flush().await.is_err() {
                return;
            }
        }
    });
    (sender, super::AbortOnDrop(task.abort_handle()))
}

/// Feeds both programs' output to the tracker and their inboxes to their stdin, until
/// one program ends, a phase's deadline passes, or the output cap is passed.
async fn relay(
    tracker: &Shared,
    tester: Attached,
    learner: Attached,
) -> Result<Relayed, RunnerError> {
    let (to_tester, _tester_writer) = writer(tester.input);
    let (to_learner, _learner_writer) = writer(learner.input);
    let (mut tester_out, mut learner_out) = (tester.output, learner.output);
    loop {
        pump(tracker, Side::Harness, &to_tester);
        pump(tracker, Side::Learner, &to_learner);
        let (side, item) = tokio::select! {
            item = tester_out.next() => (Side::Harness, item),
            item = learner_out.next() => (Side::Learner, item),
            () = tracker.deadline_passed() => return Ok(Relayed::Deadline),
        };
        let (stderr, bytes) = match item {
            None => return Ok(Relayed::Exited(side)),
            Some(Err(error)) => return Err(RunnerError(format!("docker exec stream: {error}"))),
            Some(Ok(LogOutput::StdOut { message })) => (false, message),
            Some(Ok(LogOutput::StdErr { message })) => (true, message),
            Some(Ok(_)) => continue,
        };
        if tracker.write(side, stderr, &bytes).is_err() {
            return Ok(Relayed::OutputCapped);
        }
    }
}
