//! http exercises: the learner's server runs as one exec, and the prober, as another
//! user, waits for it to be ready and sends the probes in order. The prober writes a
//! ready line, then one record per probe; each record becomes one observation.

use super::cases::learner_trace;
use super::sandbox::{Ended, Exec, ExecOutput, Sandbox};
use super::{AbortOnDrop, DockerRunner, LEARNER_USER, PROBER_USER, budget, observation, report};
use crate::domain::{Language, Value};
use crate::runner::{CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, RunnerError};
use std::sync::Arc;
use std::time::Duration;

/// In place of the server's output, in a visible test's message on an exercise with
/// hidden tests.
const HIDDEN_SERVER_LOG: &str =
    "\n(the server's own output is not shown: it was read after the hidden tests ran)";

impl DockerRunner {
    /// http: the learner's server runs as one exec; the prober, as another user, waits
    /// for `ready_path` and sends the probes in order; each answer is one observation.
    pub(super) async fn run_http(&self, request: &RunRequest) -> Result<RunReport, RunnerError> {
        let http = request
            .http
            .as_ref()
            .ok_or_else(|| RunnerError("an http request without [http]".to_string()))?;
        let sandbox = Arc::new(self.sandbox(request).await?);
        if let Some(message) = self.syntax_check(&sandbox, request).await? {
            drop_sandbox(sandbox).await?;
            return Ok(RunReport::CompileError { message });
        }
        let wall = request.limits.wall();
        let probes: Vec<serde_json::Value> = request
            .cases
            .iter()
            .map(|case| match case {
                CaseInput::Request(probe) => probe.clone(),
                _ => serde_json::Value::Null,
            })
            .collect();
        let server_wall = budget(request);
        let output_cap = (request.limits.output_kb * 1024) as usize;
        let server = {
            let sandbox = sandbox.clone();
            let exec = Exec {
                cmd: http.command.clone(),
                user: LEARNER_USER,
                stdin: Vec::new(),
                env: vec![format!("PORT={}", http.port)],
                wall: server_wall,
                output_cap,
                wrap: true,
            };
            tokio::spawn(async move { sandbox.exec(exec).await })
        };
        let stop_server = AbortOnDrop(server.abort_handle());
        // The prober ignores the environment and anything learner code could have put in
        // a home folder (`python3 -I`, HOME elsewhere): it runs nothing of the learner's.
        let prober: Vec<String> = match request.language {
            Language::Python => vec!["python3", "-I", "/work/harness/probe.py"],
            _ => vec!["node", "/work/harness/probe.mjs"],
        }
        .into_iter()
        .map(String::from)
        .collect();
        let probe_request = serde_json::json!({
            "port": http.port,
            "ready_path": http.ready_path.clone().unwrap_or_else(|| "/".to_string()),
            "ready_ms": wall.as_millis() as u64,
            "probe_ms": wall.as_millis() as u64,
            "probes": probes,
        });
        let out = sandbox
            .exec(Exec {
                cmd: prober,
                user: PROBER_USER,
                stdin: probe_request.to_string().into_bytes(),
                env: vec!["HOME=/nonexistent".to_string()],
                wall: server_wall,
                output_cap: 16 * 1024 * 1024,
                wrap: false,
            })
            .await?;
        // Past its own deadline the prober was stopped: the probes it did not finish
        // ran out of time.
        let prober_timed_out = out.ended != Ended::Exited(0);
        drop(stop_server);
        let oom = sandbox.out_of_memory(true).await?;
        let (cpu, memory) = sandbox.usage().await;
        // The server's own output, for the messages (it is still running: stop it).
        let server_log = if server.is_finished() {
            match server.await {
                Ok(Ok(out)) => server_summary(&out),
                Ok(Err(error)) => return Err(error),
                Err(_) => String::new(),
            }
        } else {
            server.abort();
            let _ = server.await;
            String::new()
        };
        drop_sandbox(sandbox).await?;
        let lines: Vec<Value> = out
            .stdout
            .split(|&byte| byte == b'\n')
            .filter_map(|line| Value::parse(line).ok())
            .collect();
        let ready = lines.first().cloned().unwrap_or_default();
        let not_ready = if ready["ready"].as_bool() == Some(true) {
            None
        } else {
            Some(format!(
                "the server never answered GET {} with a 2xx status: {}",
                probe_request["ready_path"].as_str().unwrap_or("/"),
                ready["error"].as_str().unwrap_or("the prober stopped"),
            ))
        };
        let observations: Vec<CaseObservation> = (0..request.cases.len())
            .map(|index| {
                let record = lines.get(index + 1);
                // The server's output is read once every probe has run, hidden ones
                // included: what it wrote may carry a hidden probe (the second review's
                // W2), so a visible test's message never shows it.
                let server_log = match index < request.hidden_from {
                    true if request.hidden_from < request.cases.len() => HIDDEN_SERVER_LOG,
                    _ => server_log.as_str(),
                };
                let not_ready = not_ready
                    .as_ref()
                    .map(|message| format!("{message}{server_log}"));
                let (outcome, value) = match (&not_ready, record) {
                    (Some(_), _) if oom => (CaseOutcome::MemoryLimit, None),
                    (Some(message), _) => (
                        CaseOutcome::RuntimeError {
                            message: message.clone(),
                        },
                        None,
                    ),
                    (None, Some(record)) if record.get("status").is_some() => (
                        CaseOutcome::Exited { code: 0 },
                        Some(Value::object([
                            ("status", record["status"].clone()),
                            ("headers", record["headers"].clone()),
                            ("body", record["body"].clone()),
                        ])),
                    ),
                    (None, Some(record)) if record["timeout"].as_bool() == Some(true) => {
                        (CaseOutcome::TimeLimit, None)
                    }
                    (None, _) if oom => (CaseOutcome::MemoryLimit, None),
                    (None, None) if prober_timed_out => (CaseOutcome::TimeLimit, None),
                    (None, record) => (
                        CaseOutcome::RuntimeError {
                            message: format!(
                                "no answer: {}{}",
                                record
                                    .and_then(|r| r["error"].as_str())
                                    .unwrap_or("the prober stopped"),
                                server_log
                            ),
                        },
                        None,
                    ),
                };
                let ms = record.and_then(|r| r["ms"].as_u64()).unwrap_or(0);
                observation(outcome, value, Duration::from_millis(ms))
            })
            .collect();
        Ok(report(observations, cpu, memory))
    }
}

/// Removes a sandbox once the server task has let go of it.
async fn drop_sandbox(sandbox: Arc<Sandbox>) -> Result<(), RunnerError> {
    match Arc::try_unwrap(sandbox) {
        Ok(sandbox) => sandbox.remove().await,
        // Still shared: the last holder's drop removes the container in the background.
        Err(_) => Ok(()),
    }
}

/// How the server exec ended, for messages, with the end of its stderr.
fn server_summary(out: &ExecOutput) -> String {
    let how = match out.ended {
        Ended::Exited(code) => format!("the server exited with code {code}"),
        Ended::TimedOut => "the server ran past its time".to_string(),
        Ended::OutputCapped => "the server wrote more than the output limit".to_string(),
    };
    let stderr = learner_trace(&out.stderr);
    if stderr.is_empty() {
        format!("\n{how}")
    } else {
        format!("\n{how}:\n{stderr}")
    }
}
