//! Grading one submission: claim it, run it in the sandbox, grade on the host, and write
//! the result once. Infrastructure faults return `Err` so the queue retries them; the
//! attempt count in the submissions table ends a job that keeps failing (or keeps killing
//! its worker) as `failed` / `internal_error`.

use crate::certification::keys::IssuerKey;
use crate::certification::{Snapshots, issue_due};
use crate::domain::{Limits, Resources, RunnerKind, Status, StoredResult, Verdict, WorkerInfo};
use crate::exercise::grade_files;
use crate::queue::{self, GradingJob, Queue};
use crate::runner::{RunReport, Runner};
use crate::store::Store;
use crate::store::leases::{Claim, Completed, Completion};
use apalis::prelude::*;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// How long a grading attempt owns its submission without renewing. A worker killed
/// mid-grading frees it this long after its last renewal.
const LEASE_TTL: Duration = Duration::from_secs(10);
const LEASE_RENEW_EVERY: Duration = Duration::from_secs(2);

/// Stops the lease renewer however the grading ends, a panic included, so a dead
/// grading never keeps its submission.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Everything a grading needs; shared by all jobs of a worker.
#[derive(Clone)]
pub struct Grader {
    pub store: Store,
    pub runner: Arc<dyn Runner>,
    pub maxima: Limits,
    pub max_attempts: i64,
    /// Woken after every finished grading, for long polls in this process.
    pub completions: crate::completions::Completions,
    /// Signs the certificates a completion makes due.
    pub signer: Arc<IssuerKey>,
    /// The certification policy and catalogue, cached briefly.
    pub snapshots: Snapshots,
}

/// Builds a monitor running one worker with `concurrency` gradings in flight on `queue`.
pub fn monitor(queue: &Queue, grader: Grader, concurrency: usize) -> Monitor {
    let name = format!(
        "grader-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let monitor = Monitor::new().shutdown_timeout(Duration::from_secs(30));
    match queue.clone() {
        Queue::Sqlite { storage, wake, .. } => monitor.register(move |restarts| {
            WorkerBuilder::new(format!("{name}-{restarts}"))
                .backend(
                    storage
                        .clone()
                        .with_config(queue::sqlite_config().batch_size(concurrency))
                        .poll_with_interval(queue::POLL_INTERVAL)
                        .poll_with_stream(wake.clone()),
                )
                .concurrency(concurrency)
                .data(grader.clone())
                .build(grade_job)
        }),
        Queue::Postgres { storage, .. } => monitor.register(move |restarts| {
            WorkerBuilder::new(format!("{name}-{restarts}"))
                .backend(
                    storage
                        .clone()
                        .with_config(queue::postgres_config().batch_size(concurrency))
                        .with_pubsub()
                        .poll_with_interval(queue::POLL_INTERVAL),
                )
                .concurrency(concurrency)
                .data(grader.clone())
                .build(grade_job)
        }),
    }
}

/// The apalis handler. Grading runs on its own task so that gradings use every core.
pub async fn grade_job(job: GradingJob, grader: Data<Grader>) -> Result<(), BoxDynError> {
    let grader: Grader = (*grader).clone();
    let span = tracing::info_span!("grading", submission_id = %job.submission_id);
    tokio::spawn(async move { grader.grade(&job.submission_id).await }.instrument(span))
        .await
        .map_err(|error| -> BoxDynError { format!("grading task failed: {error}").into() })?
        .map_err(|error| -> BoxDynError { format!("{error:#}").into() })
}

impl Grader {
    /// Grades a submission; returns `Ok` once it is final (or was already final).
    pub async fn grade(&self, submission_id: &str) -> anyhow::Result<()> {
        let (lease, attempt) = loop {
            match self
                .store
                .claim(
                    submission_id,
                    self.max_attempts,
                    LEASE_TTL.as_millis() as i64,
                )
                .await?
            {
                Claim::Granted { lease, attempt } => break (lease, attempt),
                Claim::Finished | Claim::Missing => return Ok(()),
                Claim::Busy { until_ms } => {
                    // A duplicate delivery: wait for the owner to finish, or for its lease
                    // to lapse if it died.
                    let wait =
                        (until_ms - crate::store::now_ms()).clamp(50, LEASE_TTL.as_millis() as i64);
                    tokio::time::sleep(Duration::from_millis(wait as u64)).await;
                }
                Claim::Exhausted => {
                    tracing::warn!("attempts exhausted: marked internal_error");
                    metrics::counter!("verdict_gradings_total", "verdict" => "internal_error", "runner" => "none")
                        .increment(1);
                    self.completions.finished(submission_id);
                    return Ok(());
                }
            }
        };
        let renewer = AbortOnDrop(tokio::spawn({
            let (store, id, lease) = (self.store.clone(), submission_id.to_string(), lease.clone());
            async move {
                loop {
                    tokio::time::sleep(LEASE_RENEW_EVERY).await;
                    if !matches!(
                        store.renew(&id, &lease, LEASE_TTL.as_millis() as i64).await,
                        Ok(true)
                    ) {
                        return;
                    }
                }
            }
        }));
        let outcome = self.run(submission_id, &lease, attempt).await;
        drop(renewer);
        match outcome {
            Ok(()) => {
                self.completions.finished(submission_id);
                Ok(())
            }
            Err(error) if attempt >= self.max_attempts => {
                // The queue will not deliver this job again: end it here.
                tracing::error!(
                    error = format!("{error:#}"),
                    attempt,
                    "grading failed on its last attempt"
                );
                self.store
                    .give_up(submission_id, &lease, self.max_attempts)
                    .await?;
                self.completions.finished(submission_id);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    attempt,
                    "grading failed; releasing for retry"
                );
                self.store.release(submission_id, &lease).await?;
                Err(error)
            }
        }
    }

    async fn run(&self, submission_id: &str, lease: &str, attempt: i64) -> anyhow::Result<()> {
        let (submission, files) = self
            .store
            .submission_with_files(submission_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("submission vanished"))?;
        let version = self
            .store
            .version(&submission.exercise_version)
            .await?
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "exercise version {} is missing",
                    submission.exercise_version
                )
            })?;
        let exercise = version.exercise;
        let limits = Limits::resolve(&exercise.limits, &self.maxima);
        // Above the sandbox's own wall limits: every case at its limit, plus compile time,
        // plus a fresh container per case (the Docker runner's worst case).
        let tests = exercise.tests.len() as u32;
        let job_timeout =
            limits.wall() * (tests + 1) + Duration::from_secs(30) + Duration::from_secs(2) * tests;
        let started = Instant::now();
        let (grade, runtime, report) = tokio::time::timeout(
            job_timeout,
            grade_files(&exercise, files, self.runner.as_ref(), &self.maxima),
        )
        .await
        .map_err(|_| anyhow::anyhow!("the job timeout of {job_timeout:?} passed"))??;
        let (cpu, peak_memory) = match &report {
            RunReport::Cases(observations) => (
                observations.iter().map(|o| o.cpu_used).sum::<u64>(),
                observations
                    .iter()
                    .map(|o| o.peak_memory_bytes)
                    .max()
                    .unwrap_or(0),
            ),
            RunReport::CompileError { .. } => (0, 0),
        };
        let elapsed = started.elapsed();
        let result = StoredResult {
            tests: grade.tests,
            message: grade.message,
            runner: Some(exercise.runner.as_str().to_string()),
            runtime: Some(runtime),
            limits: Some(limits),
            // CPU in the runner's unit: wasm fuel, or Docker's CPU microseconds.
            resources: Some(Resources {
                cpu_fuel: (exercise.runner == RunnerKind::Wasm).then_some(cpu),
                cpu_us: (exercise.runner == RunnerKind::Docker).then_some(cpu),
                wall_ms: elapsed.as_millis() as u64,
                peak_memory_bytes: peak_memory,
            }),
            attempt: Some(attempt),
            worker: Some(WorkerInfo {
                pid: std::process::id(),
            }),
        };
        // Read before the completing transaction (neither changes during a grading); a
        // failure here is certification's, never the grading's.
        let snapshot = match self.snapshots.get(&self.store).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                certification_failed(&error, &submission.learner);
                None
            }
        };
        let completion = Completion {
            id: submission_id,
            lease,
            status: Status::Completed,
            verdict: grade.verdict,
            score: Some(grade.score),
            result: &result,
        };
        let learner = submission.learner.as_str();
        let certify = async |connection: &mut sqlx::AnyConnection| match &snapshot {
            Some(snapshot) => issue_due(connection, snapshot, &self.signer, learner)
                .await
                .map(|_| ()),
            None => Ok(()),
        };
        let written = match self.store.complete(&completion, certify).await? {
            Completed::Written { also } => {
                if let Err(error) = also {
                    certification_failed(&error, learner);
                }
                true
            }
            Completed::Fenced => false,
        };
        if written {
            record_metrics(grade.verdict, exercise.runner.as_str(), elapsed);
            tracing::info!(
                verdict = grade.verdict.as_str(),
                score = grade.score,
                "graded"
            );
        } else {
            tracing::info!("a newer attempt owns this submission; result discarded");
        }
        Ok(())
    }
}

/// Logs and counts a certification failure; the learner's next completion (or the next
/// start-up's catch-up) evaluates again.
fn certification_failed(error: &anyhow::Error, learner: &str) {
    tracing::error!(
        error = format!("{error:#}"),
        learner,
        "certification failed; the grading result is kept"
    );
    metrics::counter!("verdict_certification_errors_total").increment(1);
}

fn record_metrics(verdict: Verdict, runner: &'static str, elapsed: Duration) {
    metrics::counter!("verdict_gradings_total", "verdict" => verdict.as_str(), "runner" => runner)
        .increment(1);
    metrics::histogram!("verdict_grading_duration_seconds", "runner" => runner)
        .record(elapsed.as_secs_f64());
}
