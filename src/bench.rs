//! `verdict bench`: drives a real server over HTTP and reports medians next to the floor
//! (a bare in-process wasmtime run of the same module) measured in the same run.

use crate::app::{self, ServeArgs};
use crate::config::{ApiArgs, DatabaseArgs, LimitArgs, WorkerArgs};
use crate::domain::{Role, RunnerKind};
use crate::exercise::package::{Package, PackageLimits};
use anyhow::Context;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// The exercise folder whose reference solution is submitted.
    #[arg(long, default_value = "./exercises/shout")]
    pub exercise: PathBuf,
    /// Submissions in the throughput phase.
    #[arg(long, default_value_t = 2000)]
    pub submissions: usize,
    /// Concurrent HTTP clients in the throughput phase.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// Sequential submissions in the latency phase.
    #[arg(long, default_value_t = 200)]
    pub sequential: usize,
    /// Gradings in flight in the server (default: the number of cores).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Idle time before the first-after-idle measurement.
    #[arg(long, default_value_t = 120)]
    pub idle_secs: u64,
    /// Put a certification policy in force. `evaluate`: one no grading can satisfy, so
    /// every completion recomputes the learner's progress and issues nothing; `issue`:
    /// one the exercise alone satisfies, so (every benchmark learner being new) every
    /// grading also signs and stores a certificate. Compare with `none`.
    #[arg(long, value_enum, default_value_t = Certify::None)]
    pub certify: Certify,
    /// Database: default a fresh SQLite in a temporary folder.
    #[arg(long)]
    pub database_url: Option<String>,
    /// SQLite durability for this run (`normal` shows what `full` costs).
    #[arg(long, value_enum, default_value_t = crate::store::Synchronous::Full)]
    pub sqlite_synchronous: crate::store::Synchronous,
    #[command(flatten)]
    pub runtimes: crate::runtimes::RuntimeArgs,
    #[command(flatten)]
    pub docker: crate::runner::docker::DockerArgs,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> String {
    format!("{:.2} ms", duration.as_secs_f64() * 1000.0)
}

/// Submits once and waits for the verdict; returns submit-to-verdict time.
async fn submit_and_wait(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: &serde_json::Value,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let response = http
        .post(format!("{base}/v1/submissions"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await?;
    anyhow::ensure!(
        response.status() == 202,
        "submit answered {}",
        response.status()
    );
    let created: serde_json::Value = response.json().await?;
    let id = created["id"].as_str().context("no id")?.to_string();
    loop {
        let current: serde_json::Value = http
            .get(format!("{base}/v1/submissions/{id}?wait=30"))
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        match current["status"].as_str() {
            Some("completed") => {
                anyhow::ensure!(
                    current["verdict"] == "accepted",
                    "verdict {}",
                    current["verdict"]
                );
                return Ok(started.elapsed());
            }
            Some("failed") => anyhow::bail!("submission failed: {current}"),
            _ => {}
        }
    }
}

/// What certification work the benchmark adds to each grading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Certify {
    None,
    Evaluate,
    Issue,
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let package = Package::from_dir(&args.exercise, PackageLimits::default())
        .map_err(|error| anyhow::anyhow!("{}: {error}", args.exercise.display()))?;
    let solution = package.folder("solution");
    let entrypoint = package.manifest.files.entrypoint.clone();
    let data = tempfile::tempdir()?;
    let exercises = tempfile::tempdir()?;
    stage_exercise(&args, &package, exercises.path())?;
    eprintln!("bench: starting a server on a fresh database");
    let server = app::spawn(serve_args(&args, data.path(), exercises.path())).await?;
    let base = format!("http://{}", server.address);
    let token = server
        .services
        .store
        .create_token(Role::Integration, None, "bench")
        .await?;
    let files: serde_json::Map<String, serde_json::Value> = solution
        .iter()
        .map(|(name, bytes)| {
            (
                name.clone(),
                serde_json::Value::String(String::from_utf8_lossy(bytes).into_owned()),
            )
        })
        .collect();
    let floor = measure_floor(&args, &server, &package.manifest.slug, &solution).await?;
    eprintln!(
        "bench: floor measured ({} cases per grading, entrypoint {entrypoint})",
        floor.cases
    );
    let target = Target {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(256)
            .build()?,
        base,
        token,
        slug: package.manifest.slug.clone(),
        files,
    };
    let sequential = measure_sequential(&target, args.sequential).await?;
    eprintln!("bench: sequential latency measured");
    let (loaded, throughput) = measure_throughput(&target, &args).await?;
    eprintln!("bench: throughput measured; idling {} s", args.idle_secs);
    tokio::time::sleep(Duration::from_secs(args.idle_secs)).await;
    let after_idle = target.submit(&target.body(usize::MAX / 2)).await?;
    let issued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM certificates")
        .fetch_one(&server.services.store.pool)
        .await?;
    let measured = Measured {
        floor,
        sequential,
        loaded,
        throughput,
        after_idle,
    };
    print_report(&args, &package.manifest.slug, issued, &measured);
    server.stop().await;
    Ok(())
}

/// Copies the exercise into the server's exercise folder, with the certification policy
/// `--certify` asks for.
fn stage_exercise(
    args: &BenchArgs,
    package: &Package,
    exercises: &std::path::Path,
) -> anyhow::Result<()> {
    copy_dir(&args.exercise, &exercises.join(&package.manifest.slug))?;
    if args.certify != Certify::None {
        let tier = package.manifest.tier.as_str();
        // Out of reach for `evaluate`: twice the exercise's points.
        let min_points = match args.certify {
            Certify::Evaluate => package.manifest.points * 2.0,
            _ => 0.0,
        };
        std::fs::write(
            exercises.join(crate::certification::policy::POLICY_FILE),
            format!(
                "[tiers.{tier}]\ntitle = \"Bench\"\nrequired = [\"{}\"]\nmin_points = {min_points}\npass_ratio = 0.8\n",
                package.manifest.slug
            ),
        )?;
    }
    Ok(())
}

/// The server's settings: limits and rate limits far above what the benchmark sends.
fn serve_args(args: &BenchArgs, data: &std::path::Path, exercises: &std::path::Path) -> ServeArgs {
    ServeArgs {
        database: DatabaseArgs {
            data_dir: data.to_path_buf(),
            database_url: args.database_url.clone(),
            sqlite_synchronous: args.sqlite_synchronous,
        },
        api: ApiArgs {
            bind: "127.0.0.1:0".into(),
            rate_per_minute: 1_000_000,
            max_in_flight: 1_000_000,
            queue_cap: 1_000_000,
            max_submission_kb: 256,
            max_package_kb: 16 * 1024,
            max_connections: 4096,
            max_connections_per_client: 4096,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
        },
        worker: WorkerArgs {
            concurrency: args.concurrency,
        },
        limits: LimitArgs {
            max_cpu_ms: 10_000,
            max_wall_ms: 20_000,
            max_memory_mb: 512,
            max_output_kb: 1024,
        },
        exercises: exercises.to_path_buf(),
        no_workers: false,
        runtimes: args.runtimes.clone(),
        issuer: crate::certification::IssuerArgs::default(),
        key: crate::certification::KeyArgs::default(),
        docker: args.docker.clone(),
    }
}

/// The floor, measured in the same run.
struct Floor {
    /// In-process runs of the reference, p50.
    p50: Duration,
    /// The cases' own run time in each of those runs, sorted.
    case_time: Vec<Duration>,
    /// Docker only: the bare container floor, p50.
    container: Option<Duration>,
    /// Cases per grading.
    cases: usize,
}

/// Floor: the same module and cases, in process, no HTTP, queue or database.
async fn measure_floor(
    args: &BenchArgs,
    server: &app::RunningServer,
    slug: &str,
    solution: &std::collections::BTreeMap<String, Vec<u8>>,
) -> anyhow::Result<Floor> {
    let stored = server
        .services
        .store
        .current_version(slug)
        .await?
        .context("the exercise did not load")?;
    let request =
        crate::exercise::run_request(&stored.exercise, solution.clone(), &server.services.maxima);
    let runner = server.services.runner.clone();
    runner.run(&request).await?;
    let in_docker = request.runner == RunnerKind::Docker;
    let mut floor = Vec::new();
    let mut case_time = Vec::new();
    for _ in 0..if in_docker { 30 } else { 200 } {
        let started = Instant::now();
        let (report, _) = runner.run(&request).await?;
        floor.push(started.elapsed());
        if let crate::runner::RunReport::Cases(cases) = report {
            case_time.push(cases.iter().map(|case| case.duration).sum::<Duration>());
        }
    }
    floor.sort();
    case_time.sort();
    // Docker: the bare container floor, `docker run --rm --network none <image> true`
    // through the same engine, in the same run.
    let container = if in_docker {
        let image = crate::runner::docker::image_tag(&args.docker, request.language)?;
        let mut runs = Vec::new();
        for _ in 0..30 {
            runs.push(crate::runner::docker::container_floor(&args.docker, &image).await?);
        }
        runs.sort();
        Some(percentile(&runs, 0.5))
    } else {
        None
    };
    Ok(Floor {
        p50: percentile(&floor, 0.5),
        case_time,
        container,
        cases: request.cases.len(),
    })
}

/// The running server as the benchmark's clients see it.
struct Target {
    http: reqwest::Client,
    base: String,
    token: String,
    slug: String,
    files: serde_json::Map<String, serde_json::Value>,
}

impl Target {
    /// A submission of the reference solution for learner `bench-<learner>`.
    fn body(&self, learner: usize) -> serde_json::Value {
        serde_json::json!({"exercise": self.slug, "files": self.files, "learner": format!("bench-{learner}")})
    }

    /// Submits `body` and waits for its verdict; the submit-to-verdict time.
    async fn submit(&self, body: &serde_json::Value) -> anyhow::Result<Duration> {
        submit_and_wait(&self.http, &self.base, &self.token, body).await
    }
}

/// Latency: one warm-up submission, then `count` in a row; sorted.
async fn measure_sequential(target: &Target, count: usize) -> anyhow::Result<Vec<Duration>> {
    target.submit(&target.body(0)).await?;
    let mut sequential = Vec::new();
    for index in 0..count {
        sequential.push(target.submit(&target.body(index)).await?);
    }
    sequential.sort();
    Ok(sequential)
}

/// Throughput: `--submissions` sent by `--clients` concurrent clients; the sorted
/// latencies and the gradings per second.
async fn measure_throughput(
    target: &Target,
    args: &BenchArgs,
) -> anyhow::Result<(Vec<Duration>, f64)> {
    let started = Instant::now();
    let latencies = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..args.clients {
        let (http, base, token, latencies, next) = (
            target.http.clone(),
            target.base.clone(),
            target.token.clone(),
            latencies.clone(),
            next.clone(),
        );
        let bodies: Vec<serde_json::Value> = (0..args.submissions)
            .map(|index| target.body(index))
            .collect();
        clients.push(tokio::spawn(async move {
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(index) else {
                    return Ok::<(), anyhow::Error>(());
                };
                let latency = submit_and_wait(&http, &base, &token, body).await?;
                latencies.lock().await.push(latency);
            }
        }));
    }
    for client in clients {
        client.await??;
    }
    let elapsed = started.elapsed();
    let mut loaded = latencies.lock().await.clone();
    loaded.sort();
    let throughput = loaded.len() as f64 / elapsed.as_secs_f64();
    Ok((loaded, throughput))
}

/// What the phases measured.
struct Measured {
    floor: Floor,
    /// Sequential submit-to-verdict times, sorted.
    sequential: Vec<Duration>,
    /// Submit-to-verdict times under load, sorted.
    loaded: Vec<Duration>,
    /// Gradings per second under load.
    throughput: f64,
    /// The first submission after the idle time.
    after_idle: Duration,
}

/// The report: a Markdown table on stdout.
fn print_report(args: &BenchArgs, slug: &str, issued: i64, measured: &Measured) {
    let database = match &args.database_url {
        Some(_) => "Postgres".to_string(),
        None => format!("SQLite, synchronous={:?}", args.sqlite_synchronous),
    };
    let certified = match args.certify {
        Certify::None => String::new(),
        Certify::Evaluate => format!(", progress recomputed per grading: {issued} issued"),
        Certify::Issue => format!(", a certificate issued per grading: {issued} issued"),
    };
    println!("## verdict bench ({slug}, {database}{certified})");
    println!();
    println!("| measure | value |");
    println!("|---|---|");
    print_floor(&measured.floor, &measured.sequential);
    print_latencies(args, measured);
}

/// The floor rows: the container floor and the tests' own time (Docker), or the
/// in-process wasmtime floor.
fn print_floor(floor: &Floor, sequential: &[Duration]) {
    match floor.container {
        Some(container) => {
            let tests = percentile(&floor.case_time, 0.5);
            println!(
                "| floor: `docker run --rm --network none <image> true`, p50 | {} |",
                ms(container)
            );
            println!(
                "| the tests' own run time (every case's exec, as the host timed it), p50 | {} |",
                ms(tests)
            );
            println!(
                "| in-process Docker runner run of the reference (no HTTP, queue or database), p50 | {} |",
                ms(floor.p50)
            );
            println!(
                "| idle p50 / (container floor + tests) | {:.2}× (aim < 1.3×) |",
                percentile(sequential, 0.5).as_secs_f64() / (container + tests).as_secs_f64()
            );
        }
        None => println!(
            "| floor: in-process wasmtime run of the reference (same runner, harness and cases), p50 | {} |",
            ms(floor.p50)
        ),
    }
}

/// The submit-to-verdict rows: idle, loaded, and first after idle.
fn print_latencies(args: &BenchArgs, measured: &Measured) {
    let (sequential, loaded) = (&measured.sequential, &measured.loaded);
    let idle_p50 = percentile(sequential, 0.5);
    println!(
        "| idle submit-to-verdict p50 ({} sequential) | {} |",
        args.sequential,
        ms(idle_p50)
    );
    println!(
        "| idle submit-to-verdict p99 | {} |",
        ms(percentile(sequential, 0.99))
    );
    println!(
        "| idle p50 / floor p50 | {:.1}× |",
        idle_p50.as_secs_f64() / measured.floor.p50.as_secs_f64().max(1e-9)
    );
    println!(
        "| throughput ({} submissions, {} clients) | {:.1} gradings/s |",
        loaded.len(),
        args.clients,
        measured.throughput
    );
    println!(
        "| loaded submit-to-verdict p50 | {} |",
        ms(percentile(loaded, 0.5))
    );
    println!(
        "| loaded submit-to-verdict p99 | {} |",
        ms(percentile(loaded, 0.99))
    );
    println!(
        "| first submission after {} s idle | {} |",
        args.idle_secs,
        ms(measured.after_idle)
    );
    println!(
        "| first-after-idle / idle p50 | {:.2}× |",
        measured.after_idle.as_secs_f64() / idle_p50.as_secs_f64().max(1e-9)
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
