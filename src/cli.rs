//! The `verdict` command line.

use crate::app::{self, ServeArgs, ServiceArgs, Services};
use crate::config::{DatabaseArgs, LimitArgs, WorkerArgs};
use crate::domain::{LearnerId, Role};
use crate::exercise::package::{Package, PackageLimits};
use crate::runner::docker::DockerArgs;
use crate::runtimes::RuntimeArgs;
use crate::store::Store;
use anyhow::Context;
use base64::Engine as _;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "verdict", version, about = "Automated grading of code exercises", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and the grading workers in one process (the embedded default).
    Serve(Box<ServeArgs>),
    /// Run grading workers only.
    Worker {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        worker: WorkerArgs,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        runtimes: RuntimeArgs,
        #[command(flatten)]
        docker: DockerArgs,
        #[command(flatten)]
        key: crate::certification::KeyArgs,
    },
    /// Create or update the database schema and the queue tables.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check and publish exercise packages.
    #[command(subcommand)]
    Exercise(ExerciseCommand),
    /// Submit files for grading and (with --wait) print the verdict.
    Submit {
        /// The exercise slug.
        slug: String,
        /// The files to submit (their base names are used).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        client: ClientArgs,
        /// Submit for this learner (integration and instructor tokens).
        #[arg(long)]
        learner: Option<String>,
        /// Wait for the verdict.
        #[arg(long)]
        wait: bool,
    },
    /// Measure throughput and latency against a real server (see docs/BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// Manage the pinned WASI language runtimes (CPython, QuickJS-NG).
    #[command(subcommand)]
    Runtimes(RuntimesCommand),
    /// Build the Docker runner images from Debian packages.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// Check certificates.
    #[command(subcommand)]
    Certificate(CertificateCommand),
    /// Manage the keys that sign certificates.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Compiles a learner's WebAssembly module read on stdin and writes it compiled on
    /// stdout: the wasm runner runs this in a child process, under its compile budget.
    #[command(hide = true, name = "compile-wasm")]
    CompileWasm {
        #[arg(long)]
        max_memory_mb: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum CertificateCommand {
    /// Verify a certificate as an outside verifier would: its Ed25519 signature against
    /// the issuer's JWKS, its claims, and the issuer's revocation list. Exits 0 only for a
    /// valid certificate that is not revoked.
    Verify {
        /// A file holding the signed credential (or a certificate's JSON), or the URL of
        /// a certificate (its page or its JSON).
        source: String,
        /// Read the issuer's keys from this file or URL instead of
        /// `<issuer>/.well-known/jwks.json`.
        #[arg(long)]
        jwks: Option<String>,
        /// Refuse a credential from any other issuer (its `iss`, the service's public URL).
        #[arg(long)]
        issuer: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a new signing key in the data dir. Each process signs with it from its next
    /// start; certificates signed by older keys stay verifiable, as every key stays in
    /// the JWKS.
    Rotate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Take a key out of the JWKS for good, after it leaked or was lost: every
    /// certificate it signed stops verifying, and no process starts with it. Rotate first.
    Retire {
        /// The key id (as in the JWKS and in certificates' `kid`).
        kid: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build each recipe's image (skipping images that are current) and record their
    /// digests in `<cache>/verdict/images.json`.
    Build(crate::images::ImageArgs),
}

#[derive(Debug, Subcommand)]
pub enum RuntimesCommand {
    /// Download the pinned runtimes with pip, check their SHA-256, and compile them into
    /// the on-disk cache.
    Fetch {
        #[command(flatten)]
        runtimes: RuntimeArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; it is printed alone on the last line of stdout.
    Create {
        #[arg(long, value_enum)]
        role: Role,
        /// The learner a learner token is bound to.
        #[arg(long)]
        learner: Option<String>,
        /// A label for the token.
        #[arg(long, default_value = "cli")]
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExerciseCommand {
    /// Check a package folder and run its reference solution and starter.
    Validate {
        dir: PathBuf,
        #[command(flatten)]
        limits: LimitArgs,
        #[command(flatten)]
        runtimes: RuntimeArgs,
        #[command(flatten)]
        docker: DockerArgs,
    },
    /// Upload a package folder to a server.
    Push {
        dir: PathBuf,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct ClientArgs {
    /// The verdict server.
    #[arg(long, env = "VERDICT_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An API token.
    #[arg(long, env = "VERDICT_TOKEN", hide_env_values = true)]
    pub token: String,
}

pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        // main() runs it before any runtime starts.
        Command::CompileWasm { .. } => anyhow::bail!("compile-wasm runs as a process of its own"),
        Command::Serve(args) => serve(*args).await,
        Command::Worker {
            database,
            worker,
            limits,
            runtimes,
            docker,
            key,
        } => {
            let services = Services::open(ServiceArgs {
                database: &database,
                limits: &limits,
                runtimes: &runtimes,
                docker: &docker,
                key: &key,
                concurrency: worker.concurrency(),
            })
            .await?;
            work(services, &worker).await
        }
        Command::Migrate { database } => migrate(&database).await,
        Command::Token(TokenCommand::Create {
            role,
            learner,
            name,
            database,
        }) => create_token(role, learner.as_deref(), &name, &database).await,
        Command::Exercise(ExerciseCommand::Validate {
            dir,
            limits,
            runtimes,
            docker,
        }) => validate(&dir, &limits, &runtimes, &docker).await,
        Command::Certificate(CertificateCommand::Verify {
            source,
            jwks,
            issuer,
        }) => verify_certificate(&source, jwks.as_deref(), issuer.as_deref()).await,
        Command::Keys(KeysCommand::Rotate { database }) => rotate_key(&database).await,
        Command::Keys(KeysCommand::Retire { kid, database }) => retire_key(&kid, &database).await,
        Command::Images(ImagesCommand::Build(args)) => build_images(args).await,
        Command::Runtimes(RuntimesCommand::Fetch { runtimes }) => fetch_runtimes(&runtimes).await,
        Command::Exercise(ExerciseCommand::Push { dir, client }) => push(&dir, &client).await,
        Command::Submit {
            slug,
            files,
            client,
            learner,
            wait,
        } => submit(&slug, &files, &client, learner.as_deref(), wait).await,
        Command::Bench(args) => crate::bench::run(args).await.map(|()| 0),
    }
}

/// `verdict serve`: the API and the workers, until a shutdown signal.
async fn serve(args: ServeArgs) -> anyhow::Result<i32> {
    let server = app::spawn(args).await?;
    eprintln!("verdict is serving on http://{}", server.address);
    app::shutdown_signal().await;
    eprintln!("stopping: finishing gradings in flight");
    server.stop().await;
    Ok(0)
}

/// `verdict worker`: grading workers only, until a shutdown signal.
async fn work(services: Services, worker: &WorkerArgs) -> anyhow::Result<i32> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = services.start_workers(worker.concurrency(), stopped);
    eprintln!(
        "verdict worker: grading with concurrency {}",
        worker.concurrency()
    );
    app::shutdown_signal().await;
    let _ = stop.send(true);
    let _ = workers.await;
    Ok(0)
}

/// `verdict migrate`: the database and queue schema.
async fn migrate(database: &DatabaseArgs) -> anyhow::Result<i32> {
    let location = database.location()?;
    Store::open(&location).await?;
    crate::queue::Queue::open(&location).await?;
    eprintln!("the database and queue schema are up to date");
    Ok(0)
}

/// `verdict token create`: the token alone on stdout's last line.
async fn create_token(
    role: Role,
    learner: Option<&str>,
    name: &str,
    database: &DatabaseArgs,
) -> anyhow::Result<i32> {
    let store = Store::open(&database.location()?).await?;
    // Parsed here, not by clap, so a bad id is an error (exit 1) like every other refusal.
    let learner = learner.map(LearnerId::parse).transpose()?;
    let token = store.create_token(role, learner.as_ref(), name).await?;
    eprintln!(
        "created a {} token; it is shown once, store it now",
        role.as_str()
    );
    println!("{token}");
    Ok(0)
}

/// `verdict certificate verify`: exits 0 only for a valid certificate not revoked.
async fn verify_certificate(
    source: &str,
    jwks: Option<&str>,
    issuer: Option<&str>,
) -> anyhow::Result<i32> {
    let report = match crate::certification::verify::verify(source, jwks, issuer).await {
        Ok(report) => report,
        Err(error) => {
            println!("INVALID: {error:#}");
            return Ok(1);
        }
    };
    println!("signature: valid (EdDSA, key {})", report.kid);
    println!("issuer:    {}", report.issuer);
    println!("learner:   {}", report.learner);
    println!("tier:      {}", report.achievement);
    println!("issued:    {}", report.valid_from);
    for item in &report.evidence {
        println!("evidence:  {item}");
    }
    match report.revoked {
        Some(reason) => {
            println!("REVOKED: {reason}");
            Ok(1)
        }
        None => {
            println!("VALID: not revoked");
            Ok(0)
        }
    }
}

/// `verdict keys rotate`: a new signing key, registered in the JWKS.
async fn rotate_key(database: &DatabaseArgs) -> anyhow::Result<i32> {
    let store = Store::open(&database.location()?).await?;
    let key = crate::certification::keys::rotate(&database.data_dir)?;
    store.register_key(&key.kid, &key.public_jwk()).await?;
    eprintln!(
        "created signing key {}; restart each verdict process to sign with it",
        key.kid
    );
    println!("{}", key.kid);
    Ok(0)
}

/// `verdict keys retire`: a key out of the JWKS for good.
async fn retire_key(kid: &str, database: &DatabaseArgs) -> anyhow::Result<i32> {
    let store = Store::open(&database.location()?).await?;
    if !store.retire_key(kid).await? {
        anyhow::bail!("no signing key {kid}; the JWKS lists the known ones");
    }
    eprintln!(
        "retired {kid}: certificates it signed no longer verify; processes holding it refuse to start"
    );
    Ok(0)
}

/// `verdict images build`: the images, and their digests recorded in the cache.
async fn build_images(args: crate::images::ImageArgs) -> anyhow::Result<i32> {
    let images = tokio::task::spawn_blocking(move || {
        crate::images::build(&args, &|line| eprintln!("{line}"))
    })
    .await??;
    let record = crate::runtimes::default_dir()
        .parent()
        .map(|dir| dir.join("images.json"))
        .context("no cache folder")?;
    std::fs::create_dir_all(record.parent().unwrap_or(std::path::Path::new(".")))?;
    let text = serde_json::to_string_pretty(&images)?;
    std::fs::write(&record, &text)?;
    println!("{text}");
    eprintln!("image digests recorded in {}", record.display());
    Ok(0)
}

/// `verdict runtimes fetch`: the pinned runtimes, fetched when missing and compiled.
async fn fetch_runtimes(runtimes: &RuntimeArgs) -> anyhow::Result<i32> {
    let store = runtimes.store();
    let missing = store.missing();
    if missing.is_empty() {
        eprintln!(
            "the pinned runtimes are present and verified in {}",
            store.dir().display()
        );
    } else {
        store.fetch(&missing, &|line| eprintln!("{line}"))?;
    }
    let runner = crate::runner::wasm::WasmRunner::new(512, store)?;
    runner.warm_up(&|line| eprintln!("{line}")).await?;
    Ok(0)
}

async fn validate(
    dir: &std::path::Path,
    limits: &LimitArgs,
    runtimes: &RuntimeArgs,
    docker: &DockerArgs,
) -> anyhow::Result<i32> {
    eprintln!("reading {}", dir.display());
    let package = Package::from_dir(dir, PackageLimits::default())
        .map_err(|error| anyhow::anyhow!("{}: {error}", dir.display()))?;
    // Docker is started only for a package that asks for it.
    let mut docker = docker.clone();
    if package.manifest.runner() == crate::domain::RunnerKind::Wasm {
        docker.mode = crate::runner::docker::DockerMode::Off;
    }
    let runner = app::ready_runner(limits.max_memory_mb, runtimes, &docker, 1, |line| {
        eprintln!("{line}")
    })
    .await?;
    let progress = |line: &str| eprintln!("{line}");
    match crate::exercise::validate(&package, &runner, &limits.maxima(), &progress).await {
        Ok((exercise, report)) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!(
                "{}: valid, version {}, {} tests",
                exercise.slug,
                report.version,
                exercise.tests.len()
            );
            Ok(0)
        }
        Err(crate::exercise::ValidationError::Failed(report)) => {
            println!("{}", serde_json::to_string_pretty(&report)?);
            eprintln!("{}: INVALID; fix the problems listed above", report.slug);
            Ok(1)
        }
        Err(error) => {
            eprintln!("{}: {error}", dir.display());
            Ok(1)
        }
    }
}

/// Packs a folder as tar.gz in memory (links are refused while reading it).
fn pack(dir: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    let package = Package::from_dir(dir, PackageLimits::default())
        .map_err(|error| anyhow::anyhow!("{}: {error}", dir.display()))?;
    let encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(encoder);
    for (path, content) in &package.files {
        let mut header = tar::Header::new_gnu();
        header.set_size(content.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, path, content.as_slice())?;
    }
    Ok(builder.into_inner()?.finish()?)
}

async fn push(dir: &std::path::Path, client: &ClientArgs) -> anyhow::Result<i32> {
    let body = pack(dir)?;
    eprintln!(
        "uploading {} ({} bytes); the server runs the reference and starter first",
        dir.display(),
        body.len()
    );
    let response = reqwest::Client::new()
        .post(format!(
            "{}/v1/exercises",
            client.server.trim_end_matches('/')
        ))
        .bearer_auth(&client.token)
        .header("content-type", "application/gzip")
        .body(body)
        .send()
        .await
        .with_context(|| format!("cannot reach {}", client.server))?;
    let status = response.status();
    let text = response.text().await?;
    println!("{text}");
    if status.is_success() {
        eprintln!("published ({status})");
        Ok(0)
    } else {
        eprintln!("refused ({status})");
        Ok(1)
    }
}

async fn submit(
    slug: &str,
    paths: &[PathBuf],
    client: &ClientArgs,
    learner: Option<&str>,
    wait: bool,
) -> anyhow::Result<i32> {
    let mut files = serde_json::Map::new();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .with_context(|| format!("{} has no usable file name", path.display()))?;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let content = match String::from_utf8(bytes) {
            Ok(text) => serde_json::Value::String(text),
            Err(error) => {
                serde_json::json!({"base64": base64::engine::general_purpose::STANDARD.encode(error.into_bytes())})
            }
        };
        files.insert(name.to_string(), content);
    }
    let mut body = serde_json::json!({"exercise": slug, "files": files});
    if let Some(learner) = learner {
        body["learner"] = serde_json::Value::String(learner.to_string());
    }
    let http = reqwest::Client::new();
    let base = client.server.trim_end_matches('/');
    let response = http
        .post(format!("{base}/v1/submissions"))
        .bearer_auth(&client.token)
        .json(&body)
        .send()
        .await
        .with_context(|| format!("cannot reach {base}"))?;
    let status = response.status();
    let mut submission: serde_json::Value = response.json().await?;
    if !status.is_success() {
        println!("{submission}");
        eprintln!("refused ({status})");
        return Ok(1);
    }
    let id = submission["id"].as_str().unwrap_or_default().to_string();
    eprintln!("submitted {id}");
    while wait && !matches!(submission["status"].as_str(), Some("completed" | "failed")) {
        eprintln!("status: {}", submission["status"].as_str().unwrap_or("?"));
        submission = http
            .get(format!("{base}/v1/submissions/{id}?wait=30"))
            .bearer_auth(&client.token)
            .timeout(Duration::from_secs(45))
            .send()
            .await?
            .json()
            .await?;
    }
    println!("{}", serde_json::to_string_pretty(&submission)?);
    if wait {
        eprintln!(
            "verdict: {} ({} / {})",
            submission["verdict"].as_str().unwrap_or("?"),
            submission["score"],
            submission["max_score"]
        );
    }
    Ok(0)
}
