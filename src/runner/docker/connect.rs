//! Start-up: the settings, the engine checks (every limit enforced, else no runner), the
//! images, the sweep of what a dead process left, and a canary in each image. Also the
//! image lookup by language, and the bare container floor the benchmark measures.

use super::engine::{self, RunnerImage, check_engine};
use super::sandbox::{self, Engine};
use super::{DockerRunner, Pool};
use crate::domain::Language;
use crate::runner::RunnerError;
use bollard::Docker;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DockerMode {
    /// Use Docker when the engine answers and enforces every limit; otherwise run
    /// without it (exercises that need it are refused).
    Auto,
    /// Require Docker: start-up fails when it is missing or does not enforce a limit.
    On,
    /// Never use Docker.
    Off,
}

/// Docker runner settings.
#[derive(Debug, Clone, clap::Args)]
pub struct DockerArgs {
    /// Use the Docker runner (for suite and http exercises that need real toolchains).
    #[arg(
        long = "docker",
        env = "VERDICT_DOCKER",
        value_enum,
        default_value = "auto"
    )]
    pub mode: DockerMode,
    /// CPUs each container may use.
    #[arg(long, env = "VERDICT_DOCKER_CPUS", default_value_t = 1.0)]
    pub docker_cpus: f64,
    /// Bound on each Docker API call, in seconds: a daemon that stops answering fails
    /// the grading (which is retried) instead of hanging it.
    #[arg(long, env = "VERDICT_DOCKER_CALL_TIMEOUT", default_value_t = 30)]
    pub docker_call_timeout: u64,
    /// The engine's address (`unix:///var/run/docker.sock`, `tcp://…`); default
    /// `DOCKER_HOST`, else the local socket.
    #[arg(long, env = "DOCKER_HOST")]
    pub docker_host: Option<String>,
    /// Started, empty containers kept ready for the next submissions (each still gets a
    /// fresh one; these never ran code). They come on top of `--concurrency`.
    #[arg(long, env = "VERDICT_DOCKER_WARM", default_value_t = 0)]
    pub docker_warm: usize,
    /// Folder of image recipes; missing images are built from them at start.
    #[arg(
        long = "docker-recipes",
        env = "VERDICT_RECIPES",
        default_value = "./sandboxes/docker"
    )]
    pub recipes: PathBuf,
}

/// The recipe whose image runs `language`.
fn recipe(language: Language) -> Option<&'static str> {
    match language {
        Language::Python => Some("python"),
        Language::Javascript => Some("node"),
        _ => None,
    }
}

/// A client for the engine at `--docker-host`, else `DOCKER_HOST` or the local socket.
fn client(args: &DockerArgs) -> Result<Docker, bollard::errors::Error> {
    match &args.docker_host {
        Some(host) => Docker::connect_with_host(host),
        None => Docker::connect_with_defaults(),
    }
}

impl DockerRunner {
    /// Connects to the engine (`DOCKER_HOST`, else the local socket), refuses an engine
    /// that does not enforce every limit, builds missing images, removes containers a
    /// dead process left behind, and runs a canary in each image. `None` when the mode
    /// is `off`, or `auto` and Docker cannot be used (the reason is logged).
    pub async fn connect(
        args: &DockerArgs,
        concurrency: usize,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> anyhow::Result<Option<DockerRunner>> {
        if args.mode == DockerMode::Off {
            return Ok(None);
        }
        match Self::connect_inner(args, concurrency, progress).await {
            Ok(runner) => Ok(Some(runner)),
            Err(error) if args.mode == DockerMode::Auto => {
                progress(&format!(
                    "docker: the Docker runner is off ({error:#}); exercises that need it are refused"
                ));
                tracing::warn!(error = format!("{error:#}"), "the Docker runner is off");
                Ok(None)
            }
            Err(error) => Err(error.context("the Docker runner cannot start (--docker on)")),
        }
    }

    async fn connect_inner(
        args: &DockerArgs,
        concurrency: usize,
        progress: &(dyn Fn(&str) + Send + Sync),
    ) -> anyhow::Result<DockerRunner> {
        let call_timeout = Duration::from_secs(args.docker_call_timeout.max(1));
        let (docker, version) = checked_engine(args, call_timeout, progress).await?;
        let images = build_images(args, progress).await?;
        let runner = DockerRunner {
            engine: Engine {
                docker,
                call_timeout,
                nano_cpus: (args.docker_cpus.clamp(0.01, 64.0) * 1e9) as i64,
                owner: engine::owner(),
                live: Arc::new(AtomicUsize::new(0)),
                peak: Arc::new(AtomicUsize::new(0)),
            },
            version,
            images,
            slots: Arc::new(tokio::sync::Semaphore::new(concurrency.max(1))),
            warm_slots: Arc::new(tokio::sync::Semaphore::new(args.docker_warm)),
            pool: Pool::default(),
        };
        let swept = engine::sweep(&runner.engine.docker, call_timeout).await?;
        if swept > 0 {
            progress(&format!(
                "docker: removed {swept} containers and volumes left by a process that died"
            ));
        }
        for (recipe, image) in &runner.images {
            engine::canary(&runner.engine, &runner.slots, image)
                .await
                .map_err(|error| {
                    anyhow::anyhow!("the {recipe} image failed its canary: {}", error.0)
                })?;
        }
        progress(
            "docker: canaries passed (user, capabilities, no-new-privileges, seccomp, no network, read-only root)",
        );
        Ok(runner)
    }

    /// The image that runs `language`.
    pub(super) fn image(&self, language: Language) -> Result<&RunnerImage, RunnerError> {
        recipe(language)
            .and_then(|name| self.images.get(name))
            .ok_or_else(|| RunnerError(format!("no Docker image runs {language:?}")))
    }
}

/// The engine, once it answers and enforces every limit, and its `docker <version>`.
async fn checked_engine(
    args: &DockerArgs,
    call_timeout: Duration,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> anyhow::Result<(Docker, String)> {
    let docker = sandbox::call(
        Duration::from_secs(10),
        "version",
        client(args)?.negotiate_version(),
    )
    .await
    .map_err(|error| anyhow::anyhow!("{}", error.0))?;
    let info = sandbox::call(call_timeout, "info", docker.info())
        .await
        .map_err(|error| anyhow::anyhow!("{}", error.0))?;
    let missing = check_engine(&info);
    anyhow::ensure!(
        missing.is_empty(),
        "the Docker engine does not enforce {}; the Docker runner refuses to run without them",
        missing
            .iter()
            .map(|finding| finding.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let version = format!(
        "docker {}",
        info.server_version.as_deref().unwrap_or("unknown")
    );
    progress(&format!("docker: {version}; every limit is enforced"));
    Ok((docker, version))
}

/// Builds the images that are missing or stale from the recipes, passing on the
/// builder's lines; each image by recipe name.
async fn build_images(
    args: &DockerArgs,
    progress: &(dyn Fn(&str) + Send + Sync),
) -> anyhow::Result<BTreeMap<String, RunnerImage>> {
    let image_args = crate::images::ImageArgs {
        recipes: args.recipes.clone(),
        only: None,
    };
    let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
    let task = tokio::task::spawn_blocking(move || {
        crate::images::build(&image_args, &|line| {
            let _ = sender.send(line.to_string());
        })
    });
    while let Some(line) = receiver.recv().await {
        progress(&format!("docker images: {line}"));
    }
    let built = task.await??;
    Ok(built
        .into_iter()
        .map(|image| {
            (
                image.language,
                RunnerImage {
                    tag: image.tag,
                    digest: image.digest,
                },
            )
        })
        .collect())
}

/// The floor of any container sandbox: `docker run --rm --network none <image> true`
/// through the same engine (create, start, wait, remove), for the benchmark.
pub async fn container_floor(args: &DockerArgs, image: &str) -> anyhow::Result<Duration> {
    let docker = client(args)?.negotiate_version().await?;
    let started = std::time::Instant::now();
    let created = docker
        .create_container(
            None::<bollard::query_parameters::CreateContainerOptions>,
            bollard::models::ContainerCreateBody {
                image: Some(image.to_string()),
                cmd: Some(vec!["true".to_string()]),
                host_config: Some(bollard::models::HostConfig {
                    network_mode: Some("none".to_string()),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await?;
    docker.start_container(&created.id, None).await?;
    let mut wait = docker.wait_container(&created.id, None);
    while let Some(status) = futures::StreamExt::next(&mut wait).await {
        status?;
    }
    docker
        .remove_container(
            &created.id,
            Some(bollard::query_parameters::RemoveContainerOptions {
                force: true,
                ..Default::default()
            }),
        )
        .await?;
    Ok(started.elapsed())
}

/// The image tag that runs `language`, from the recipes (building it when missing).
pub fn image_tag(args: &DockerArgs, language: Language) -> anyhow::Result<String> {
    let recipe =
        recipe(language).ok_or_else(|| anyhow::anyhow!("no Docker image runs {language:?}"))?;
    let images = crate::images::build(
        &crate::images::ImageArgs {
            recipes: args.recipes.clone(),
            only: Some(recipe.to_string()),
        },
        &|_| {},
    )?;
    images
        .into_iter()
        .next()
        .map(|image| image.tag)
        .ok_or_else(|| anyhow::anyhow!("no image for {recipe}"))
}
