//! io and function exercises: one exec per case, after a syntax check of the learner's
//! files. Also how an exec's end maps to a case outcome, which suites share, and the
//! learner's stderr as messages show it.

use super::sandbox::{Ended, Exec, Sandbox};
use super::{DockerRunner, LEARNER_USER, budget, report};
use crate::domain::{Kind, Language, Value};
use crate::runner::frame;
use crate::runner::{CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, RunnerError};
use std::time::Duration;

/// Compiles every learner Python file without running it (a fixed program; the file
/// names are arguments).
const PYTHON_CHECK: &str = "import sys\nfor path in sys.argv[1:]:\n    with open(path, 'rb') as f:\n        compile(f.read(), path, 'exec')\n";

impl DockerRunner {
    /// Compiles the learner's files; `Some(message)` is a compile error.
    pub(super) async fn syntax_check(
        &self,
        sandbox: &Sandbox,
        request: &RunRequest,
    ) -> Result<Option<String>, RunnerError> {
        let mut files: Vec<&String> = request.files.keys().collect();
        files.retain(|name| {
            request
                .language
                .extensions()
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")))
        });
        let commands: Vec<Vec<String>> = match request.language {
            Language::Python => {
                let mut cmd = vec![
                    "python3".to_string(),
                    "-c".to_string(),
                    PYTHON_CHECK.to_string(),
                ];
                cmd.extend(files.iter().map(|name| name.to_string()));
                vec![cmd]
            }
            _ => files
                .iter()
                .map(|name| vec!["node".to_string(), "--check".to_string(), name.to_string()])
                .collect(),
        };
        for cmd in commands {
            let out = sandbox
                .exec(Exec {
                    cmd,
                    user: LEARNER_USER,
                    stdin: Vec::new(),
                    env: Vec::new(),
                    wall: request.limits.wall().max(Duration::from_secs(10)),
                    output_cap: 64 * 1024,
                    wrap: true,
                })
                .await?;
            sandbox.reap();
            match out.ended {
                Ended::Exited(0) => {}
                Ended::Exited(_) => {
                    return Ok(Some(learner_trace(&out.stderr)));
                }
                Ended::TimedOut | Ended::OutputCapped => {
                    return Ok(Some("the syntax check did not finish".to_string()));
                }
            }
        }
        Ok(None)
    }

    /// Maps how an exec ended to a case outcome; `true` means the container is spent.
    pub(super) async fn outcome(
        &self,
        sandbox: &Sandbox,
        ended: &Ended,
    ) -> Result<(CaseOutcome, bool), RunnerError> {
        // The OOM killer acted during the case (on the program or on one of its
        // processes): the limit held for the container as a whole.
        let failed = *ended != Ended::Exited(0);
        if sandbox.out_of_memory(failed).await? {
            return Ok((CaseOutcome::MemoryLimit, true));
        }
        Ok(match *ended {
            Ended::TimedOut => (CaseOutcome::TimeLimit, true),
            Ended::OutputCapped => (CaseOutcome::OutputLimit, true),
            Ended::Exited(0) => (CaseOutcome::Exited { code: 0 }, false),
            // 128 + SIGXCPU: the CPU-time rlimit.
            Ended::Exited(152) => (CaseOutcome::TimeLimit, true),
            Ended::Exited(code) if code > 128 && code < 160 => (
                CaseOutcome::RuntimeError {
                    message: format!("the program was killed by {}", signal_name(code - 128)),
                },
                false,
            ),
            Ended::Exited(code) => (CaseOutcome::Exited { code: code as i32 }, false),
        })
    }

    /// io and function: one exec per case.
    pub(super) async fn run_cases(&self, request: &RunRequest) -> Result<RunReport, RunnerError> {
        let mut current = Some(self.sandbox(request).await?);
        if let Some(message) = self
            .syntax_check(current.as_ref().expect("created"), request)
            .await?
        {
            current.take().expect("created").remove().await?;
            return Ok(RunReport::CompileError { message });
        }
        let output_cap = (request.limits.output_kb * 1024) as usize;
        let mut observations = Vec::with_capacity(request.cases.len());
        let (mut cpu, mut memory) = (0, 0);
        // The whole run's budget, inside the worker's job timeout: cases that each cost a
        // fresh container cannot push the grading past it into an infrastructure retry.
        let deadline = std::time::Instant::now() + budget(request);
        for case in &request.cases {
            if std::time::Instant::now() >= deadline {
                observations.push(CaseObservation {
                    stderr: b"not run: the submission used up its time".to_vec(),
                    ..CaseObservation::new(CaseOutcome::TimeLimit)
                });
                continue;
            }
            if current.is_none() {
                current = Some(self.sandbox(request).await?);
            }
            let sandbox = current.as_ref().expect("present");
            let nonce = format!("{:032x}", rand::random::<u128>());
            let (cmd, stdin) = self.case_command(request, case, &nonce)?;
            let out = sandbox
                .exec(Exec {
                    cmd,
                    user: LEARNER_USER,
                    stdin,
                    env: Vec::new(),
                    wall: request.limits.wall(),
                    output_cap,
                    wrap: true,
                })
                .await?;
            let (mut outcome, spent) = self.outcome(sandbox, &out.ended).await?;
            // Nothing of this case runs on into the next one.
            sandbox.reap();
            let (mut stdout, mut value) = (out.stdout, None);
            if request.kind == Kind::Function && outcome == (CaseOutcome::Exited { code: 0 }) {
                match frame::split_last(&stdout, &nonce) {
                    Ok((learner, end)) if end.ok => {
                        stdout = learner;
                        value = Some(end.value);
                    }
                    Ok((_, end)) => {
                        let error = end.error.unwrap_or_default();
                        outcome = CaseOutcome::RuntimeError {
                            message: error.text(),
                        }
                    }
                    Err(problem) => outcome = CaseOutcome::RuntimeError { message: problem },
                }
            }
            observations.push(CaseObservation {
                value,
                stdout,
                stderr: learner_trace(&out.stderr).into_bytes(),
                duration: out.duration,
                ..CaseObservation::new(outcome)
            });
            if spent {
                let sandbox = current.take().expect("present");
                let (c, m) = sandbox.usage().await;
                (cpu, memory) = (cpu + c, memory.max(m));
                sandbox.remove().await?;
            }
        }
        if let Some(sandbox) = current.take() {
            let (c, m) = sandbox.usage().await;
            (cpu, memory) = (cpu + c, memory.max(m));
            sandbox.remove().await?;
        }
        Ok(report(observations, cpu, memory))
    }

    /// The command and stdin of one io or function case.
    fn case_command(
        &self,
        request: &RunRequest,
        case: &CaseInput,
        nonce: &str,
    ) -> Result<(Vec<String>, Vec<u8>), RunnerError> {
        let interpreter = match request.language {
            Language::Python => "python3",
            _ => "node",
        };
        Ok(match case {
            CaseInput::Stdin(stdin) => (
                vec![interpreter.to_string(), request.entrypoint.clone()],
                stdin.clone(),
            ),
            CaseInput::Call(args) => {
                let harness = match request.language {
                    Language::Python => "/work/harness/function.py",
                    _ => "/work/harness/function.mjs",
                };
                #[derive(serde::Serialize)]
                struct FunctionRequest<'a> {
                    nonce: &'a str,
                    entrypoint: &'a str,
                    function: &'a str,
                    args: &'a [Value],
                }
                // Written as text directly, so exact integers stay exact.
                let stdin = serde_json::to_vec(&FunctionRequest {
                    nonce,
                    entrypoint: &request.entrypoint,
                    function: request.function.as_deref().unwrap_or_default(),
                    args,
                })
                .map_err(|error| RunnerError(format!("the function request: {error}")))?;
                (vec![interpreter.to_string(), harness.to_string()], stdin)
            }
            other => {
                return Err(RunnerError(format!(
                    "the Docker runner cannot run {other:?} as an io or function case"
                )));
            }
        })
    }
}

/// A signal's name, for messages.
fn signal_name(signal: i64) -> String {
    let name = match signal {
        4 => "SIGILL (an illegal instruction)",
        6 => "SIGABRT (an abort)",
        7 => "SIGBUS (a bus error)",
        8 => "SIGFPE (an arithmetic error)",
        9 => "SIGKILL",
        11 => "SIGSEGV (a crash, often a stack overflow)",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => return format!("signal {signal}"),
    };
    name.to_string()
}

/// A learner's stderr, capped at 4 KiB from the end (where tracebacks end).
pub(super) fn learner_trace(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let text = text.trim_end();
    if text.len() > 4096 {
        let cut = text.len() - 4096;
        let cut = (cut..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(cut);
        format!("…{}", &text[cut..])
    } else {
        text.to_string()
    }
}
