//! http exercises: the learner's server runs as one exec, and the prober, as another
//! user, waits for it to be ready and sends the probes in order. The prober writes a
//! ready line, then one record per probe; each record becomes one observation.

use super::cases::learner_trace;
use super::sandbox::{Ended, Exec, ExecOutput, Sandbox};
use super::{AbortOnDrop, DockerRunner, LEARNER_USER, PROBER_USER, budget, observation, report};
use crate::domain::{HttpSpec, Language, Probe, Value};
use crate::runner::{CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, RunnerError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// In place of the server's output, in a visible test's message on an exercise with
/// hidden tests.
const HIDDEN_SERVER_LOG: &str =
    "\n(the server's own output is not shown: it was read after the hidden tests ran)";

/// The learner's server exec, running in the background.
type Server = JoinHandle<Result<ExecOutput, RunnerError>>;

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
        let ready_path = http.ready_path.as_deref().unwrap_or("/");
        let server = start_server(&sandbox, request, http);
        let stop_server = AbortOnDrop(server.abort_handle());
        let out = probe(&sandbox, request, http, ready_path).await?;
        // Past its own deadline the prober was stopped: the probes it did not finish
        // ran out of time.
        let prober_timed_out = out.ended != Ended::Exited(0);
        drop(stop_server);
        let oom = sandbox.out_of_memory(true).await?;
        let (cpu, memory) = sandbox.usage().await;
        let server_log = server_log(server).await?;
        drop_sandbox(sandbox).await?;
        let (not_ready, records) = read_prober(&out.stdout, ready_path);
        let probed = Probed {
            records,
            not_ready,
            oom,
            prober_timed_out,
            server_log,
        };
        let observations = (0..request.cases.len())
            .map(|index| probed.observation(request, index))
            .collect();
        Ok(report(observations, cpu, memory))
    }
}

/// Starts the learner's server as its own exec, on `PORT`, for the whole run's budget.
fn start_server(sandbox: &Arc<Sandbox>, request: &RunRequest, http: &HttpSpec) -> Server {
    let sandbox = sandbox.clone();
    let exec = Exec {
        cmd: http.command.clone(),
        user: LEARNER_USER,
        stdin: Vec::new(),
        env: vec![format!("PORT={}", http.port)],
        wall: budget(request),
        output_cap: (request.limits.output_kb * 1024) as usize,
        wrap: true,
    };
    tokio::spawn(async move { sandbox.exec(exec).await })
}

/// Runs the prober, which waits for the server to answer `ready_path` and then sends
/// the probes in order, each within the wall limit.
async fn probe(
    sandbox: &Sandbox,
    request: &RunRequest,
    http: &HttpSpec,
    ready_path: &str,
) -> Result<ExecOutput, RunnerError> {
    let wall = request.limits.wall();
    let probes: Vec<Option<&Probe>> = request
        .cases
        .iter()
        .map(|case| match case {
            CaseInput::Request(probe) => Some(probe),
            _ => None,
        })
        .collect();
    // The prober ignores the environment and anything learner code could have put in
    // a home folder (`python3 -I`, HOME elsewhere): it runs nothing of the learner's.
    let prober: Vec<String> = match request.language {
        Language::Python => vec!["python3", "-I", "/work/harness/probe.py"],
        _ => vec!["node", "/work/harness/probe.mjs"],
    }
    .into_iter()
    .map(String::from)
    .collect();
    let probe_request = ProberRequest {
        port: http.port,
        ready_path,
        ready_ms: wall.as_millis() as u64,
        probe_ms: wall.as_millis() as u64,
        probes,
    };
    sandbox
        .exec(Exec {
            cmd: prober,
            user: PROBER_USER,
            stdin: serde_json::to_vec(&probe_request).expect("the request serializes"),
            env: vec!["HOME=/nonexistent".to_string()],
            wall: budget(request),
            output_cap: 16 * 1024 * 1024,
            wrap: false,
        })
        .await
}

/// The server's own output, for the messages, once the probes are done: a summary of
/// how it ended, or nothing when it was still running (it is stopped).
async fn server_log(server: Server) -> Result<String, RunnerError> {
    if server.is_finished() {
        match server.await {
            Ok(Ok(out)) => Ok(server_summary(&out)),
            Ok(Err(error)) => Err(error),
            Err(_) => Ok(String::new()),
        }
    } else {
        server.abort();
        let _ = server.await;
        Ok(String::new())
    }
}

/// What the prober reads on stdin (`sandboxes/docker/harness/probe.py` says the same).
#[derive(serde::Serialize)]
struct ProberRequest<'a> {
    port: u16,
    ready_path: &'a str,
    ready_ms: u64,
    probe_ms: u64,
    /// One per case, in order (`None` for a case that is not a request).
    probes: Vec<Option<&'a Probe>>,
}

/// The prober's first line: whether the server answered `ready_path` with a 2xx.
#[derive(Debug, Default, serde::Deserialize)]
struct ReadyLine {
    #[serde(default)]
    ready: bool,
    error: Option<String>,
}

/// The prober's line for one probe: the answer (`status`, `headers`, `body`, the body cut
/// at its cap), or why there was none.
#[derive(Debug, serde::Deserialize)]
struct ProbeRecord {
    status: Option<u16>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    timeout: bool,
    error: Option<String>,
    /// Signed: the Node prober times with the wall clock, which can step back.
    #[serde(default)]
    ms: i64,
}

impl ProbeRecord {
    /// The answer, when there was one, as the value an `expect` table is compared with.
    fn answer(&self) -> Option<Value> {
        let status = self.status?;
        let headers: BTreeMap<String, Value> = (self.headers.iter())
            .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
            .collect();
        Some(Value::object([
            ("status", Value::from(i64::from(status))),
            ("headers", Value::from(headers)),
            ("body", Value::from(self.body.as_str())),
        ]))
    }
}

/// Reads the prober's output: its ready line (`None` when the server became ready,
/// else why not), then one record per probe. A line that is not a record ends the
/// records: the probes after it count as unanswered.
fn read_prober(stdout: &[u8], ready_path: &str) -> (Option<String>, Vec<ProbeRecord>) {
    let mut lines = stdout.split(|&byte| byte == b'\n');
    let ready: ReadyLine = (lines.next())
        .and_then(|line| serde_json::from_slice(line).ok())
        .unwrap_or_default();
    let not_ready = match ready.ready {
        true => None,
        false => Some(format!(
            "the server never answered GET {ready_path} with a 2xx status: {}",
            ready.error.as_deref().unwrap_or("the prober stopped"),
        )),
    };
    let records = lines
        .map_while(|line| serde_json::from_slice(line).ok())
        .collect();
    (not_ready, records)
}

/// What one run of the prober left: its records and how the run ended.
struct Probed {
    /// One record per probe that got this far, in order.
    records: Vec<ProbeRecord>,
    /// Why the server never became ready, when it did not.
    not_ready: Option<String>,
    /// The OOM killer acted during the run.
    oom: bool,
    /// The prober ran past its own deadline and was stopped.
    prober_timed_out: bool,
    /// The server's own output (see `server_log`).
    server_log: String,
}

impl Probed {
    /// The observation of probe `index`.
    fn observation(&self, request: &RunRequest, index: usize) -> CaseObservation {
        let record = self.records.get(index);
        // The server's output is read once every probe has run, hidden ones
        // included: what it wrote may carry a hidden probe (the second review's
        // W2), so a visible test's message never shows it.
        let server_log = match index < request.hidden_from {
            true if request.hidden_from < request.cases.len() => HIDDEN_SERVER_LOG,
            _ => self.server_log.as_str(),
        };
        let (outcome, value) = self.outcome(record, server_log);
        let ms = record.map_or(0, |record| record.ms.max(0) as u64);
        observation(outcome, value, Duration::from_millis(ms))
    }

    /// The outcome of one probe, and the answer `{status, headers, body}` when there
    /// was one.
    fn outcome(
        &self,
        record: Option<&ProbeRecord>,
        server_log: &str,
    ) -> (CaseOutcome, Option<Value>) {
        let not_ready = self
            .not_ready
            .as_ref()
            .map(|message| format!("{message}{server_log}"));
        match (&not_ready, record) {
            (Some(_), _) if self.oom => (CaseOutcome::MemoryLimit, None),
            (Some(message), _) => (
                CaseOutcome::RuntimeError {
                    message: message.clone(),
                },
                None,
            ),
            (None, Some(record)) if record.status.is_some() => {
                (CaseOutcome::Exited { code: 0 }, record.answer())
            }
            (None, Some(record)) if record.timeout => (CaseOutcome::TimeLimit, None),
            (None, _) if self.oom => (CaseOutcome::MemoryLimit, None),
            (None, None) if self.prober_timed_out => (CaseOutcome::TimeLimit, None),
            (None, record) => (
                CaseOutcome::RuntimeError {
                    message: format!(
                        "no answer: {}{}",
                        record
                            .and_then(|record| record.error.as_deref())
                            .unwrap_or("the prober stopped"),
                        server_log
                    ),
                },
                None,
            ),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_with_a_negative_time_still_counts() {
        let out = b"{\"ready\": true}\n{\"status\": 200, \"headers\": {}, \"body\": \"ok\", \"ms\": -3}\n{\"error\": \"refused\"}\n";
        let (not_ready, records) = read_prober(out, "/");
        assert_eq!(not_ready, None);
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].status, Some(200));
        assert_eq!(records[0].ms, -3);
        assert_eq!(records[1].error.as_deref(), Some("refused"));
    }
}
