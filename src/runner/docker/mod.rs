//! The Docker runner: real Python and Node.js toolchains in hardened containers, for the
//! kinds wasm cannot grade (pytest and `node --test` suites, HTTP services).
//!
//! One fresh container per submission (`sandbox.rs`). Each case is its own exec, so the
//! host observes every program directly: its stdout and stderr (capped as they stream),
//! its exit status, and its wall time. A case that hits the wall limit, the output cap
//! or the memory limit takes the container with it; the next case gets a fresh one.
//! Results come back as observations; `grading` decides on the host.

mod engine;
pub mod sandbox;
mod split;

use crate::domain::{Kind, Language, Limits, RuntimeInfo, Value};
use crate::runner::frame;
use crate::runner::{
    CaseInput, CaseObservation, CaseOutcome, RunReport, RunRequest, Runner, RunnerError,
};
use bollard::Docker;
use sandbox::{Ended, Exec, ExecOutput, Sandbox};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub use engine::{EngineFinding, RunnerImage, check_engine};
pub use sandbox::{
    Engine, KEEPER_USER, LABEL_OWNER, LABEL_SANDBOX, LEARNER_USER, PROBER_USER, TESTER_USER,
};

const TESTER_GROUP: u64 = 10003;
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

/// Compiles every learner Python file without running it (a fixed program; the file
/// names are arguments).
const PYTHON_CHECK: &str = "import sys\nfor path in sys.argv[1:]:\n    with open(path, 'rb') as f:\n        compile(f.read(), path, 'exec')\n";

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
    /// A fresh container for `image`, with `archive` uploaded to `/work`, holding one of
    /// the runner's slots.
    pub async fn create_sandbox(
        &self,
        image: &str,
        limits: &Limits,
        archive: Vec<u8>,
    ) -> Result<Sandbox, RunnerError> {
        Sandbox::create(&self.engine, &self.slots, image, limits, archive).await
    }
}

/// The recipe whose image runs `language`.
fn recipe(language: Language) -> Option<&'static str> {
    match language {
        Language::Python => Some("python"),
        Language::Javascript => Some("node"),
        _ => None,
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
        let docker = match &args.docker_host {
            Some(host) => Docker::connect_with_host(host)?,
            None => Docker::connect_with_defaults()?,
        };
        let docker = sandbox::call(
            Duration::from_secs(10),
            "version",
            docker.negotiate_version(),
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
        let engine = format!(
            "docker {}",
            info.server_version.as_deref().unwrap_or("unknown")
        );
        progress(&format!("docker: {engine}; every limit is enforced"));
        let image_args = crate::images::ImageArgs {
            recipes: args.recipes.clone(),
            only: None,
        };
        let built = {
            let (sender, mut receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
            let task = tokio::task::spawn_blocking(move || {
                crate::images::build(&image_args, &|line| {
                    let _ = sender.send(line.to_string());
                })
            });
            while let Some(line) = receiver.recv().await {
                progress(&format!("docker images: {line}"));
            }
            task.await??
        };
        let images = built
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
            .collect();
        let runner = DockerRunner {
            engine: Engine {
                docker,
                call_timeout,
                nano_cpus: (args.docker_cpus.clamp(0.01, 64.0) * 1e9) as i64,
                owner: engine::owner(),
                live: Arc::new(AtomicUsize::new(0)),
                peak: Arc::new(AtomicUsize::new(0)),
            },
            version: engine,
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

    /// This runner's owner label (see `LABEL_OWNER`).
    pub fn owner(&self) -> &str {
        &self.engine.owner
    }

    /// The most containers this runner has held at once.
    pub fn peak_containers(&self) -> usize {
        self.engine.peak.load(Ordering::SeqCst)
    }

    /// The image that runs `language`.
    fn image(&self, language: Language) -> Result<&RunnerImage, RunnerError> {
        recipe(language)
            .and_then(|name| self.images.get(name))
            .ok_or_else(|| RunnerError(format!("no Docker image runs {language:?}")))
    }

    /// The upload: the learner's files in `/work/app`, the harness in `/work/harness`,
    /// and a suite's test files in `/work/tests`, which only the tester's group can read:
    /// hidden tests never reach the learner's processes.
    fn upload(request: &RunRequest) -> Result<Vec<u8>, RunnerError> {
        let mut app = request.files.clone();
        let mut tests = request.support.clone();
        if request.language == Language::Javascript {
            // JavaScript files are ES modules, as in the wasm runner.
            for folder in [&mut app, &mut tests] {
                folder
                    .entry("package.json".to_string())
                    .or_insert_with(|| br#"{"type":"module"}"#.to_vec());
            }
        }
        let harness: BTreeMap<String, Vec<u8>> = HARNESS
            .iter()
            .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
            .collect();
        let folder = |name, files, group, private| sandbox::Folder {
            name,
            files,
            group,
            private,
        };
        sandbox::archive(&[
            folder("app", &app, 0, false),
            folder("harness", &harness, 0, false),
            folder("tests", &tests, TESTER_GROUP, true),
        ])
    }

    /// A fresh container holding the request's files: a started, empty one from the warm
    /// pool when there is one (a refill starts behind it), else a new one.
    async fn sandbox(&self, request: &RunRequest) -> Result<Sandbox, RunnerError> {
        let image = self.image(request.language)?.tag.clone();
        let archive = Self::upload(request)?;
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RunnerError("the docker runner is closed".to_string()))?;
        let key = (image.clone(), request.limits);
        let pooled = self
            .pool
            .lock()
            .expect("pool lock")
            .get_mut(&key)
            .and_then(Vec::pop);
        self.refill(key);
        let sandbox = match pooled {
            Some(mut sandbox) => {
                // The pool's permit goes back (letting the refill start); this one counts.
                sandbox.slot = slot;
                sandbox
            }
            None => Sandbox::start(&self.engine, &image, &request.limits, slot).await?,
        };
        sandbox.upload(archive).await?;
        Ok(sandbox)
    }

    /// Starts one empty container for `key` in the background, if the pool has room.
    fn refill(&self, key: (String, Limits)) {
        let Ok(permit) = self.warm_slots.clone().try_acquire_owned() else {
            return;
        };
        let (engine, pool) = (self.engine.clone(), self.pool.clone());
        tokio::spawn(async move {
            match Sandbox::start(&engine, &key.0, &key.1, permit).await {
                Ok(sandbox) => pool
                    .lock()
                    .expect("pool lock")
                    .entry(key)
                    .or_default()
                    .push(sandbox),
                Err(error) => tracing::warn!(error = %error.0, "warm pool refill failed"),
            }
        });
    }

    /// Compiles the learner's files; `Some(message)` is a compile error.
    async fn syntax_check(
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
    async fn outcome(
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
    async fn run_cases(&self, request: &RunRequest) -> Result<RunReport, RunnerError> {
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

    /// http: the learner's server runs as one exec; the prober, as another user, waits
    /// for `ready_path` and sends the probes in order; each answer is one observation.
    async fn run_http(&self, request: &RunRequest) -> Result<RunReport, RunnerError> {
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

/// The floor of any container sandbox: `docker run --rm --network none <image> true`
/// through the same engine (create, start, wait, remove), for the benchmark.
pub async fn container_floor(args: &DockerArgs, image: &str) -> anyhow::Result<Duration> {
    let docker = match &args.docker_host {
        Some(host) => Docker::connect_with_host(host)?,
        None => Docker::connect_with_defaults()?,
    }
    .negotiate_version()
    .await?;
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

/// Removes a sandbox once the server task has let go of it.
async fn drop_sandbox(sandbox: Arc<Sandbox>) -> Result<(), RunnerError> {
    match Arc::try_unwrap(sandbox) {
        Ok(sandbox) => sandbox.remove().await,
        // Still shared: the last holder's drop removes the container in the background.
        Err(_) => Ok(()),
    }
}

/// How the server exec ended, for messages.
/// In place of the server's output, in a visible test's message on an exercise with
/// hidden tests.
const HIDDEN_SERVER_LOG: &str =
    "\n(the server's own output is not shown: it was read after the hidden tests ran)";

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
fn learner_trace(stderr: &[u8]) -> String {
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
