//! The Docker runner: real Python and Node.js toolchains in hardened containers, for the
//! kinds wasm cannot grade (pytest and `node --test` suites, HTTP services).
//!
//! One fresh container per submission (`sandbox.rs`). Each case is its own exec, so the
//! host observes every program directly: its stdout and stderr (capped as they stream),
//! its exit status, and its wall time. A case that hits the wall limit, the output cap
//! or the memory limit takes the container with it; the next case gets a fresh one.
//! Results come back as observations; `grading` decides on the host.
//!
//! This file holds the runner itself, the kind dispatch and what its parts share. The
//! parts: `connect.rs` (start-up), `pool.rs` (containers and the upload), `cases.rs` (io
//! and function), `split.rs` (suites), `http.rs` (HTTP services).

mod cases;
mod cgroup;
mod connect;
mod engine;
mod http;
mod pool;
pub mod sandbox;
mod split;
pub mod upload;

use crate::domain::{Kind, Limits, RuntimeInfo, Value};
use crate::runner::{CaseObservation, CaseOutcome, RunReport, RunRequest, Runner, RunnerError};
use sandbox::Sandbox;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use connect::{DockerArgs, DockerMode, container_floor, image_tag};
pub use engine::{EngineFinding, RunnerImage, check_engine};
pub use sandbox::{
    Engine, KEEPER_USER, LABEL_OWNER, LABEL_SANDBOX, LEARNER_USER, PROBER_USER, TESTER_USER,
};

/// Harness files, compiled in; uploaded read-only to `/work/harness` of each container.
const HARNESS: [(&str, &str); 14] = [
    (
        "function.py",
        include_str!("../../../sandboxes/docker/harness/function.py"),
    ),
    (
        "function.mjs",
        include_str!("../../../sandboxes/docker/harness/function.mjs"),
    ),
    (
        "tester.py",
        include_str!("../../../sandboxes/docker/harness/tester.py"),
    ),
    (
        "serve.py",
        include_str!("../../../sandboxes/harness/python/serve.py"),
    ),
    (
        "proxy.py",
        include_str!("../../../sandboxes/harness/python/proxy.py"),
    ),
    (
        "frames.py",
        include_str!("../../../sandboxes/harness/python/frames.py"),
    ),
    (
        "tester.mjs",
        include_str!("../../../sandboxes/docker/harness/tester.mjs"),
    ),
    (
        "serve.mjs",
        include_str!("../../../sandboxes/docker/harness/serve.mjs"),
    ),
    (
        "proxy.mjs",
        include_str!("../../../sandboxes/docker/harness/proxy.mjs"),
    ),
    (
        "hooks.mjs",
        include_str!("../../../sandboxes/docker/harness/hooks.mjs"),
    ),
    (
        "node-test.mjs",
        include_str!("../../../sandboxes/docker/harness/node-test.mjs"),
    ),
    (
        "tester-state.mjs",
        include_str!("../../../sandboxes/docker/harness/tester-state.mjs"),
    ),
    (
        "probe.py",
        include_str!("../../../sandboxes/docker/harness/probe.py"),
    ),
    (
        "probe.mjs",
        include_str!("../../../sandboxes/docker/harness/probe.mjs"),
    ),
];

/// Started, empty containers by image and limits, ready for the next submission.
type Pool = Arc<std::sync::Mutex<HashMap<(String, Limits), Vec<Sandbox>>>>;

pub struct DockerRunner {
    engine: Engine,
    /// `docker <version>`, for the record.
    version: String,
    /// Image by recipe name (`python`, `node`).
    images: BTreeMap<String, RunnerImage>,
    /// At most `--concurrency` containers in use at once.
    slots: Arc<tokio::sync::Semaphore>,
    /// At most `--docker-warm` containers waiting in the pool.
    warm_slots: Arc<tokio::sync::Semaphore>,
    pool: Pool,
}

impl DockerRunner {
    /// This runner's owner label (see `LABEL_OWNER`).
    pub fn owner(&self) -> &str {
        &self.engine.owner
    }

    /// The most containers this runner has held at once.
    pub fn peak_containers(&self) -> usize {
        self.engine.peak.load(Ordering::SeqCst)
    }
}

/// An observation of a case that left no output of its own.
fn observation(outcome: CaseOutcome, value: Option<Value>, duration: Duration) -> CaseObservation {
    CaseObservation {
        value,
        duration,
        ..CaseObservation::new(outcome)
    }
}

/// The report, with the containers' CPU time and peak memory on the first case (as the
/// wasm runner records an instance's fuel).
fn report(mut observations: Vec<CaseObservation>, cpu: u64, memory: u64) -> RunReport {
    if let Some(first) = observations.first_mut() {
        first.cpu_used = cpu;
        first.peak_memory_bytes = memory;
    }
    RunReport::Cases(observations)
}

/// The time a whole run may take: every case at its wall limit, plus one more. The
/// worker's job timeout sits above it (see `worker.rs`).
pub fn budget(request: &RunRequest) -> Duration {
    request.limits.wall() * (request.cases.len() as u32 + 1)
}

/// Stops a spawned task when dropped (the learner's http server, a suite's stdin writers).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[async_trait::async_trait]
impl Runner for DockerRunner {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn run(&self, request: &RunRequest) -> Result<(RunReport, RuntimeInfo), RunnerError> {
        let image = self.image(request.language)?.clone();
        let report = match request.kind {
            Kind::Io | Kind::Function => self.run_cases(request).await?,
            Kind::Suite => self.run_split_suite(request).await?,
            Kind::Http => self.run_http(request).await?,
            Kind::Sql => {
                return Err(RunnerError(
                    "the Docker runner does not grade sql exercises".to_string(),
                ));
            }
        };
        Ok((
            report,
            RuntimeInfo {
                runtime: format!("{} {}", self.version, image.tag),
                digest: image.digest,
            },
        ))
    }
}
