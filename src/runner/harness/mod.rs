//! Python and JavaScript in the wasmtime sandbox: a pinned interpreter module runs the
//! harness in `sandboxes/wasm/harness/`, which loads the learner's code and reports
//! observations over a channel learner code cannot forge (`channel`, and
//! `sandboxes/README.md`, "The result channel").
//!
//! One instance runs the cases of a submission in turn (CPython takes ~85 ms to start;
//! a case often takes microseconds). Each case still has its own limits: a harness frame
//! starts the case's deadline and fuel, and output is counted per case. When a case ends
//! the instance (a limit, a crash, an exit), the host records that case and starts a fresh
//! instance at the next one. The SQL kind runs the learner's query with CPython's
//! `sqlite3`, on a fresh in-memory database per case.
//!
//! Files reach the guest through read-only preopens: `/harness` (the harness, compiled
//! into this binary), `/submission` (the learner's files) and `/support` (the suite
//! kind's test files). Nothing else of the host is visible, and nothing is writable.

use super::channel::{Collected, Ran};
pub use super::compiled::Source;
use super::wasm::engine::wasmtime_version;
use super::{RunReport, RunRequest, RunnerError};
use crate::domain::{Language, RuntimeInfo};
use crate::runtimes::Runtime;

mod batch;
mod runtimes;
mod workspace;

pub use runtimes::{Runtimes, fuel_per_ms};
use workspace::Workspace;

/// Loads (or compiles and caches) every language runtime now, so that no grading waits
/// for a compile. `progress` hears one line per runtime.
pub async fn warm_up(
    runtimes: &Runtimes,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> anyhow::Result<()> {
    for runtime in Runtime::ALL {
        progress(&format!("preparing {}", runtime.label()));
        runtimes.prepared(runtime).await?;
        if let Some((_, source, took)) = runtimes
            .loads()
            .into_iter()
            .rfind(|(loaded, _, _)| *loaded == runtime)
        {
            let how = match source {
                Source::Cache => "loaded from the disk cache",
                Source::Compiled => "compiled and stored in the disk cache",
            };
            progress(&format!(
                "{} {how} in {} ms",
                runtime.label(),
                took.as_millis()
            ));
        }
    }
    Ok(())
}

fn runtime_for(language: Language) -> Result<Runtime, RunnerError> {
    match language {
        Language::Python | Language::Sql => Ok(Runtime::Python),
        Language::Javascript => Ok(Runtime::QuickJs),
        Language::Wasm => Err(RunnerError("plain wasm needs no harness".into())),
    }
}

/// Runs every case of `request` in the language's runtime.
pub async fn run(
    runtimes: &Runtimes,
    request: &RunRequest,
) -> Result<(RunReport, RuntimeInfo), RunnerError> {
    let runtime = runtime_for(request.language)?;
    let prepared = runtimes.prepared(runtime).await?;
    let info = RuntimeInfo {
        runtime: format!("wasmtime {} / {}", wasmtime_version(), runtime.label()),
        digest: format!("sha256:{}", prepared.digest),
    };
    let workspace = Workspace::new(request)?;
    let mut collected = Collected::new(request.cases.len());
    while !collected.done() {
        let batch = batch::Batch {
            runtimes,
            prepared,
            runtime,
            workspace: &workspace,
            request,
            start: collected.next(),
        };
        match batch.run().await? {
            Ran::CompileError(message) => return Ok((RunReport::CompileError { message }, info)),
            Ran::Observed(observed) => collected.add(observed)?,
        }
    }
    Ok((RunReport::Cases(collected.into_observations()?), info))
}
