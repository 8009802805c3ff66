//! Start-up: open the store and queue, load `./exercises`, start workers and the API.
//! `spawn` binds (port 0 in tests) and returns the address, so tests and the benchmark
//! drive the same server a user runs.

use crate::api::{self, AppState};
use crate::certification::keys::IssuerKey;
use crate::certification::policy::CatalogueEntry;
use crate::certification::{IssuerArgs, KeyArgs};
use crate::config::{ApiArgs, DatabaseArgs, LimitArgs, WorkerArgs};
use crate::domain::{IssuerProfile, Limits, Policy, Tier};
use crate::exercise::package::{Package, PackageLimits};
use crate::queue::{MAX_ATTEMPTS, Queue};
use crate::runner::docker::{DockerArgs, DockerRunner};
use crate::runner::wasm::WasmRunner;
use crate::runner::{Runner, Sandboxes};
use crate::runtimes::RuntimeArgs;
use crate::store::Store;
use crate::worker::Grader;
use anyhow::Context;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How long finished job rows stay in the queue before they are purged.
const FINISHED_JOBS_KEPT: Duration = Duration::from_secs(3600);
/// How often the outbox is swept for submissions whose push failed.
const OUTBOX_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// `verdict serve` settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub api: ApiArgs,
    #[command(flatten)]
    pub worker: WorkerArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Folder of exercise packages loaded at start.
    #[arg(long, env = "VERDICT_EXERCISES", default_value = "./exercises")]
    pub exercises: PathBuf,
    /// Run the API only; `verdict worker` processes grade.
    #[arg(long, env = "VERDICT_NO_WORKERS")]
    pub no_workers: bool,
    #[command(flatten)]
    pub runtimes: RuntimeArgs,
    #[command(flatten)]
    pub docker: DockerArgs,
    #[command(flatten)]
    pub issuer: IssuerArgs,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// The parts every process shares.
#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub queue: Queue,
    pub runner: Arc<dyn Runner>,
    /// The owner label of this process's Docker containers, when Docker is on.
    pub docker_owner: Option<String>,
    pub maxima: Limits,
    pub completions: crate::completions::Completions,
    /// Signs the certificates that completions in this process issue.
    pub signer: Arc<IssuerKey>,
    /// The certification policy and catalogue, shared by this process's graders.
    pub snapshots: crate::certification::Snapshots,
}

/// What opening the services needs: the command line's groups that `serve` and `worker`
/// share.
pub struct ServiceArgs<'a> {
    pub database: &'a DatabaseArgs,
    pub limits: &'a LimitArgs,
    pub runtimes: &'a RuntimeArgs,
    pub docker: &'a DockerArgs,
    pub key: &'a KeyArgs,
    /// Gradings at once.
    pub concurrency: usize,
}

impl Services {
    /// Opens the store and queue, and makes the sandbox ready: the pinned runtimes are
    /// fetched when missing and compiled (or loaded from the disk cache) before any
    /// grading, so none waits for a compile.
    pub async fn open(args: ServiceArgs<'_>) -> anyhow::Result<Services> {
        let ServiceArgs {
            database,
            limits,
            runtimes,
            docker,
            key,
            concurrency,
        } = args;
        let location = database.location()?;
        let store = Store::open(&location).await?;
        let signer = crate::certification::open_key(key, &database.data_dir, &store).await?;
        let queue = Queue::open(&location).await?;
        let maxima = limits.maxima();
        let sandboxes = ready_runner(
            maxima.memory_mb,
            runtimes,
            docker,
            concurrency,
            log_progress,
        )
        .await?;
        let docker_owner = sandboxes.docker.as_ref().map(|d| d.owner().to_string());
        let runner: Arc<dyn Runner> = Arc::new(sandboxes);
        Ok(Services {
            store,
            queue,
            runner,
            docker_owner,
            maxima,
            completions: crate::completions::Completions::default(),
            signer: Arc::new(signer),
            snapshots: Default::default(),
        })
    }

    pub fn grader(&self) -> Grader {
        Grader {
            store: self.store.clone(),
            runner: self.runner.clone(),
            maxima: self.maxima,
            max_attempts: MAX_ATTEMPTS as i64,
            completions: self.completions.clone(),
            signer: self.signer.clone(),
            snapshots: self.snapshots.clone(),
        }
    }

    /// Pushes the outbox again (see `Store::needing_push`); the queue drops the jobs it
    /// already holds, so only those a crash left unpushed are added.
    pub async fn sweep_outbox(&self, cutoff_ms: i64) -> anyhow::Result<usize> {
        let pending = self.store.needing_push(cutoff_ms).await?;
        for (id, attempts) in &pending {
            self.queue.push(id, *attempts).await?;
        }
        Ok(pending.len())
    }

    /// Starts the grading workers; they stop when `shutdown` turns true.
    pub fn start_workers(
        &self,
        concurrency: usize,
        mut shutdown: watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let monitor = crate::worker::monitor(&self.queue, self.grader(), concurrency);
        tokio::spawn(async move {
            let signal = async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
                Ok(())
            };
            if let Err(error) = monitor.run_with_signal(signal).await {
                tracing::error!(error = %error, "workers stopped");
            }
        })
    }
}

/// The sandboxes, ready to grade: the wasm runner, whose language runtimes are fetched
/// (when missing) and compiled (or loaded from the disk cache), and the Docker runner
/// when `docker` allows it (engine checked, images built, orphans swept, canaries run).
/// `progress` hears each step; `concurrency` caps the containers held at once.
pub async fn ready_runner(
    max_memory_mb: u64,
    runtimes: &RuntimeArgs,
    docker: &DockerArgs,
    concurrency: usize,
    progress: fn(&str),
) -> anyhow::Result<Sandboxes> {
    let store = runtimes.store();
    let fetch_store = store.clone();
    tokio::task::spawn_blocking(move || fetch_store.ensure(&|line| progress(line))).await??;
    let wasm = WasmRunner::new(max_memory_mb, store)?;
    wasm.warm_up(&|line| progress(line)).await?;
    let docker = DockerRunner::connect(docker, concurrency, &|line| progress(line)).await?;
    Ok(Sandboxes { wasm, docker })
}

/// Progress of start-up steps, in the log.
pub fn log_progress(line: &str) {
    tracing::info!("runtimes: {line}");
}

/// What loading the exercises folder found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Packages refused (unreadable, or failing their checks).
    pub failed: usize,
    /// Every package in the folder that could be read, live or not: slug → (tier, points).
    pub packages: BTreeMap<String, (Tier, f64)>,
}

/// Validates and stores every package under `dir`; a package whose content is already
/// live is skipped.
pub async fn load_exercises(services: &Services, dir: &Path) -> anyhow::Result<Loaded> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(dir = %dir.display(), "no exercises folder; starting with none");
            return Ok(Loaded::default());
        }
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut folders: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_dir()))
        .map(|entry| entry.path())
        .filter(|path| path.join("exercise.toml").is_file())
        .collect();
    folders.sort();
    let mut loaded = Loaded::default();
    for (index, folder) in folders.iter().enumerate() {
        let name = folder
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        tracing::info!("exercises [{}/{}] {name}", index + 1, folders.len());
        let package = match Package::from_dir(folder, PackageLimits::default()) {
            Ok(package) => package,
            Err(error) => {
                tracing::error!("exercise {name} refused: {error}");
                loaded.failed += 1;
                continue;
            }
        };
        loaded.packages.insert(
            package.manifest.slug.clone(),
            (package.manifest.tier, package.manifest.points),
        );
        let current = services
            .store
            .current_version(&package.manifest.slug)
            .await?;
        if current.is_some_and(|current| current.version == package.content_hash()) {
            continue;
        }
        match crate::exercise::validate(
            &package,
            services.runner.as_ref(),
            &services.maxima,
            &|line| tracing::info!("{line}"),
        )
        .await
        {
            Ok((exercise, report)) => {
                services
                    .store
                    .save_version(&package.content_hash(), &package.files, &exercise, &report)
                    .await?;
            }
            Err(error) => {
                let detail = match &error {
                    crate::exercise::ValidationError::Failed(report) => {
                        serde_json::to_string(report)?
                    }
                    other => other.to_string(),
                };
                tracing::error!("exercise {name} refused: {detail}");
                loaded.failed += 1;
            }
        }
    }
    Ok(loaded)
}

/// Checks `<exercises>/certification.toml` against every exercise (live in the database,
/// or in the folder but refused) and puts it in force for every process; refuses to
/// start on a policy that names an unknown exercise or has a cycle.
pub async fn load_policy(
    services: &Services,
    dir: &Path,
    loaded: &Loaded,
    profile: &IssuerProfile,
) -> anyhow::Result<()> {
    let mut catalogue: BTreeMap<String, CatalogueEntry> = loaded
        .packages
        .iter()
        .map(|(slug, (tier, points))| {
            let entry = CatalogueEntry {
                tier: *tier,
                points: *points,
                live: false,
            };
            (slug.clone(), entry)
        })
        .collect();
    for (slug, item) in services.store.catalogue().await? {
        catalogue.insert(
            slug,
            CatalogueEntry {
                tier: item.tier,
                points: item.points,
                live: true,
            },
        );
    }
    match Policy::load(dir, &catalogue)? {
        Some((policy, warnings)) => {
            for warning in warnings {
                tracing::warn!("certification: {warning}");
            }
            tracing::info!(tiers = policy.tiers.len(), "certification policy in force");
            services.store.save_policy(Some((&policy, profile))).await
        }
        None => {
            tracing::warn!(
                dir = %dir.display(),
                "no certification.toml: no certificates are issued"
            );
            services.store.save_policy(None).await
        }
    }
}

/// A running server.
pub struct RunningServer {
    pub address: SocketAddr,
    pub services: Services,
    shutdown: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting requests, lets in-flight gradings finish, and waits.
    pub async fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Opens everything, loads exercises, binds, and starts serving in the background.
pub async fn spawn(args: ServeArgs) -> anyhow::Result<RunningServer> {
    // Bound first, so certificates name the real address when no public URL is set.
    let listener = tokio::net::TcpListener::bind(&args.api.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.api.bind))?;
    let address = listener.local_addr()?;
    let profile = args.issuer.profile(address)?;
    let services = Services::open(ServiceArgs {
        database: &args.database,
        limits: &args.limits,
        runtimes: &args.runtimes,
        docker: &args.docker,
        key: &args.key,
        concurrency: args.worker.concurrency(),
    })
    .await?;
    let loaded = load_exercises(&services, &args.exercises).await?;
    load_policy(&services, &args.exercises, &loaded, &profile).await?;
    tokio::spawn({
        let (store, signer) = (services.store.clone(), services.signer.clone());
        async move {
            match crate::certification::catch_up(&store, &signer).await {
                Ok(0) => {}
                Ok(issued) => tracing::info!(issued, "certification: issued what was due"),
                Err(error) => {
                    tracing::error!(
                        error = format!("{error:#}"),
                        "certification catch-up failed"
                    )
                }
            }
        }
    });
    let (shutdown, stop) = watch::channel(false);
    let mut tasks = Vec::new();
    services.sweep_outbox(crate::store::now_ms()).await?;
    if !args.no_workers {
        tasks.push(services.start_workers(args.worker.concurrency(), stop.clone()));
    }
    tasks.push(tokio::spawn(sweep_periodically(
        services.clone(),
        stop.clone(),
    )));
    let state = AppState {
        store: services.store.clone(),
        queue: services.queue.clone(),
        runner: services.runner.clone(),
        maxima: services.maxima,
        api: Arc::new(args.api.clone()),
        completions: services.completions.clone(),
        rate: Arc::new(api::rate_limit::RateLimiter::new(args.api.rate_per_minute)),
        metrics: crate::telemetry::metrics_handle(),
        profile: Arc::new(profile),
    };
    let router = api::router(state);
    let limits = api::listener::ConnectionLimits::new(
        args.api.max_connections,
        args.api.max_connections_per_client,
        std::time::Duration::from_secs(args.api.header_timeout_secs.max(1)),
        std::time::Duration::from_secs(args.api.body_timeout_secs.max(1)),
    );
    tracing::info!(?limits, "connection limits");
    let mut stop_http = stop.clone();
    tasks.push(tokio::spawn(async move {
        let graceful = async move {
            let _ = stop_http.wait_for(|stop| *stop).await;
        };
        api::listener::serve(listener, router, limits, graceful).await;
    }));
    tracing::info!(%address, workers = !args.no_workers, "verdict is serving");
    Ok(RunningServer {
        address,
        services,
        shutdown,
        tasks,
    })
}

async fn sweep_periodically(services: Services, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = async { let _ = stop.wait_for(|stop| *stop).await; } => return,
            _ = tokio::time::sleep(OUTBOX_SWEEP_EVERY) => {
                let cutoff = crate::store::now_ms() - OUTBOX_SWEEP_EVERY.as_millis() as i64;
                if let Err(error) = services.sweep_outbox(cutoff).await {
                    tracing::warn!(error = format!("{error:#}"), "outbox sweep failed");
                }
                if let Err(error) = services.queue.purge_finished(FINISHED_JOBS_KEPT).await {
                    tracing::warn!(error = format!("{error:#}"), "queue purge failed");
                }
            }
        }
    }
}

/// Resolves when the process is asked to stop (Ctrl-C or SIGTERM).
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
