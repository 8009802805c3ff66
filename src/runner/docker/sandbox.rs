//! One hardened container: created, filled through the archive API, used for execs, and
//! always removed. Every Docker call is bounded by a timeout, so a daemon that stops
//! answering becomes a `RunnerError` (retried), never a learner verdict.
//!
//! The container's main process is `sleep infinity` under `docker-init`, as the *keeper*
//! user (uid 10000). Learner programs run as execs under uid 10001, the HTTP prober under
//! uid 10002: without capabilities, no user can signal, trace or read another's
//! processes. The container has no network, a read-only root, and two size-capped
//! tmpfs: `/tmp` (scratch) and `/work` (a tmpfs *volume*, because the archive API cannot
//! write into a read-only root or into a plain tmpfs mount; it is filled after start,
//! root-owned, so learner code can read but not change the files).

use super::cgroup::Cgroup;
use crate::domain::Limits;
use crate::runner::RunnerError;
use bollard::Docker;
use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, HostConfig, HostConfigLogConfig, Mount, MountType, ResourcesUlimits,
    VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptions, RemoveContainerOptions, RemoveVolumeOptions, UploadToContainerOptions,
};
use futures::StreamExt;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;

/// Size of `/tmp`, the learner's scratch space (also charged to the memory limit).
pub const SCRATCH_MB: u64 = 16;
/// Size of `/work`, which holds the uploaded files.
pub const WORK_MB: u64 = 16;
/// Size of `/dev/shm` (the default is 64 MiB).
const SHM_BYTES: i64 = 4 * 1024 * 1024;
/// Open files per process.
const NOFILE: i64 = 256;
/// Processes the container needs besides the learner's: init, the keeper, one exec shim.
const OWN_PIDS: u64 = 3;

/// Wraps every learner exec: runs the program, then kills every other process of the
/// learner's user (daemons, orphans) so nothing outlives its case. A fixed script; the
/// program and its arguments are positional parameters, never part of the script.
/// Then it empties the scratch places, so that nothing a case wrote (a hidden test's
/// input, say) reaches a later case of the submission.
const CASE_WRAPPER: &str = r#"wipe() { chmod -R u+rwx /tmp /dev/shm 2>/dev/null; rm -rf /tmp/* /tmp/.[!.]* /tmp/..?* /dev/shm/* /dev/shm/.[!.]* 2>/dev/null; }; wipe; "$@"; status=$?; kill -KILL -1 2>/dev/null; wipe; exit $status"#;

/// The container's own processes (init, `sleep infinity`).
pub const KEEPER_USER: &str = "10000:10000";

/// Learner programs.
pub const LEARNER_USER: &str = "10001:10001";

/// The HTTP prober: out of the learner's reach.
pub const PROBER_USER: &str = "10002:10002";

/// A suite's tests, out of the learner's reach (`split`).
pub const TESTER_USER: &str = "10003:10003";

/// Every sandbox container and volume carries this label (the sweeper's filter).
pub const LABEL_SANDBOX: &str = "dev.verdict.sandbox";

/// Which runner made it: `host:pid:start-time:instance`.
pub const LABEL_OWNER: &str = "dev.verdict.owner";

/// What creating a container needs; cloned into the warm pool's refill tasks.
#[derive(Clone)]
pub struct Engine {
    pub(super) docker: Docker,
    pub(super) call_timeout: Duration,
    pub(super) nano_cpus: i64,
    pub(super) owner: String,
    /// Containers alive now (pooled ones included), and the most ever at once.
    pub(super) live: Arc<AtomicUsize>,
    pub(super) peak: Arc<AtomicUsize>,
}

/// How an exec ended, as the host saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    Exited(i64),
    /// The wall limit passed; the container must be discarded.
    TimedOut,
    /// A stream passed its byte cap; the container must be discarded.
    OutputCapped,
}

/// What one exec produced.
#[derive(Debug)]
pub struct ExecOutput {
    pub ended: Ended,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub duration: Duration,
}

/// A started program's streams: what it writes, and its stdin.
pub struct Attached {
    pub id: String,
    pub output: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<LogOutput, bollard::errors::Error>> + Send>,
    >,
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// One program to run in the sandbox.
pub struct Exec<'a> {
    pub cmd: Vec<String>,
    /// `uid:gid`.
    pub user: &'a str,
    pub stdin: Vec<u8>,
    pub env: Vec<String>,
    pub wall: Duration,
    /// Byte cap of each of stdout and stderr.
    pub output_cap: usize,
    /// Wrap in `CASE_WRAPPER` (learner programs); off for the long-lived HTTP server.
    pub wrap: bool,
}

pub struct Sandbox {
    docker: Docker,
    pub id: String,
    volume: String,
    call_timeout: Duration,
    /// A permit of the runner's container cap (or of its warm pool while pooled).
    pub(super) slot: tokio::sync::OwnedSemaphorePermit,
    live: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    removed: bool,
    /// The container's cgroup on this host, when the engine is local.
    cgroup: Option<Cgroup>,
    /// OOM kills already attributed to earlier cases.
    oom_seen: std::sync::atomic::AtomicU64,
}

/// Bounds one Docker API call; a timeout or an API error is an infrastructure fault.
pub async fn call<T, E: std::fmt::Display>(
    timeout: Duration,
    what: &str,
    future: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, RunnerError> {
    match tokio::time::timeout(timeout, future).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(RunnerError(format!("docker {what}: {error}"))),
        Err(_) => Err(RunnerError(format!(
            "docker {what}: the engine did not answer within {timeout:?}"
        ))),
    }
}

/// The container settings for `limits`: every limit the runner promises.
pub fn host_config(limits: &Limits, volume: &str, nano_cpus: i64) -> HostConfig {
    let memory = (limits.memory_mb * 1024 * 1024) as i64;
    let cpu_seconds = limits.cpu_ms.div_ceil(1000) as i64;
    let ulimit = |name: &str, soft: i64, hard: i64| ResourcesUlimits {
        name: Some(name.to_string()),
        soft: Some(soft),
        hard: Some(hard),
    };
    HostConfig {
        network_mode: Some("none".to_string()),
        readonly_rootfs: Some(true),
        cap_drop: Some(vec!["ALL".to_string()]),
        security_opt: Some(vec!["no-new-privileges".to_string()]),
        pids_limit: Some((limits.pids + OWN_PIDS) as i64),
        memory: Some(memory),
        memory_swap: Some(memory),
        nano_cpus: Some(nano_cpus),
        ulimits: Some(vec![
            ulimit("nofile", NOFILE, NOFILE),
            ulimit(
                "fsize",
                (SCRATCH_MB * 1024 * 1024) as i64,
                (SCRATCH_MB * 1024 * 1024) as i64,
            ),
            ulimit("cpu", cpu_seconds, cpu_seconds + 1),
            ulimit("core", 0, 0),
        ]),
        tmpfs: Some(HashMap::from([(
            "/tmp".to_string(),
            format!("rw,nosuid,nodev,noexec,size={SCRATCH_MB}m,mode=1777"),
        )])),
        mounts: Some(vec![Mount {
            target: Some("/work".to_string()),
            source: Some(volume.to_string()),
            typ: Some(MountType::VOLUME),
            read_only: Some(false),
            ..Default::default()
        }]),
        log_config: Some(HostConfigLogConfig {
            typ: Some("none".to_string()),
            config: None,
        }),
        ipc_mode: Some("private".to_string()),
        shm_size: Some(SHM_BYTES),
        init: Some(true),
        auto_remove: Some(false),
        ..Default::default()
    }
}

impl Sandbox {
    /// Creates and starts a fresh container for `image`, and uploads `archive` to /work.
    pub async fn create(
        engine: &Engine,
        slots: &Arc<tokio::sync::Semaphore>,
        image: &str,
        limits: &Limits,
        archive: Vec<u8>,
    ) -> Result<Sandbox, RunnerError> {
        let slot = slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| RunnerError("the docker runner is closed".to_string()))?;
        let sandbox = Sandbox::start(engine, image, limits, slot).await?;
        sandbox.upload(archive).await?;
        Ok(sandbox)
    }

    /// Creates and starts an empty container for `image` (no file of any submission).
    pub async fn start(
        engine: &Engine,
        image: &str,
        limits: &Limits,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<Sandbox, RunnerError> {
        let docker = engine.docker.clone();
        let timeout = engine.call_timeout;
        let name = format!("verdict-{}", uuid::Uuid::new_v4().simple());
        let labels = HashMap::from([
            (LABEL_SANDBOX.to_string(), "1".to_string()),
            (LABEL_OWNER.to_string(), engine.owner.clone()),
        ]);
        call(
            timeout,
            "volume create",
            docker.create_volume(VolumeCreateRequest {
                name: Some(name.clone()),
                driver: Some("local".to_string()),
                driver_opts: Some(HashMap::from([
                    ("type".to_string(), "tmpfs".to_string()),
                    ("device".to_string(), "tmpfs".to_string()),
                    (
                        "o".to_string(),
                        format!("size={WORK_MB}m,uid=0,gid=0,mode=0755,nosuid,nodev"),
                    ),
                ])),
                labels: Some(labels.clone()),
                ..Default::default()
            }),
        )
        .await?;
        let live = engine
            .live
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        engine
            .peak
            .fetch_max(live, std::sync::atomic::Ordering::SeqCst);
        let mut sandbox = Sandbox {
            docker: docker.clone(),
            id: name.clone(),
            volume: name.clone(),
            call_timeout: timeout,
            slot,
            live: engine.live.clone(),
            removed: false,
            cgroup: None,
            oom_seen: std::sync::atomic::AtomicU64::new(0),
        };
        let body = ContainerCreateBody {
            image: Some(image.to_string()),
            cmd: Some(vec!["sleep".to_string(), "infinity".to_string()]),
            user: Some(KEEPER_USER.to_string()),
            working_dir: Some("/".to_string()),
            env: Some(vec![
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ]),
            hostname: Some("sandbox".to_string()),
            labels: Some(labels),
            network_disabled: Some(true),
            host_config: Some(host_config(limits, &name, engine.nano_cpus)),
            ..Default::default()
        };
        call(
            timeout,
            "create",
            docker.create_container(
                Some(CreateContainerOptions {
                    name: Some(name.clone()),
                    ..Default::default()
                }),
                body,
            ),
        )
        .await?;
        call(timeout, "start", docker.start_container(&name, None)).await?;
        let inspect = call(timeout, "inspect", docker.inspect_container(&name, None)).await?;
        let id = inspect.id.unwrap_or_default();
        sandbox.cgroup = match Cgroup::locate(&id) {
            Some(cgroup) => Some(cgroup.settle().await),
            None => None,
        };
        Ok(sandbox)
    }

    /// Uploads a tar archive to `/work` (the container must be running: see the module
    /// doc).
    pub async fn upload(&self, archive: Vec<u8>) -> Result<(), RunnerError> {
        call(
            self.call_timeout,
            "upload",
            self.docker.upload_to_container(
                &self.id,
                Some(UploadToContainerOptions {
                    path: "/work".to_string(),
                    ..Default::default()
                }),
                bollard::body_full(archive.into()),
            ),
        )
        .await
    }

    /// Starts one program with its streams attached (for `exec`, and for a suite's two
    /// sides, whose streams the caller drives). `exec.stdin` and `exec.wall` are the
    /// caller's to use.
    pub async fn attach(&self, exec: &Exec<'_>) -> Result<Attached, RunnerError> {
        let timeout = self.call_timeout;
        let mut cmd = exec.cmd.clone();
        if exec.wrap {
            let mut wrapped = vec![
                "sh".to_string(),
                "-c".to_string(),
                CASE_WRAPPER.to_string(),
                "verdict-case".to_string(),
            ];
            wrapped.append(&mut cmd);
            cmd = wrapped;
        }
        let mut env = vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            "HOME=/tmp".to_string(),
            "LANG=C.UTF-8".to_string(),
            "PYTHONDONTWRITEBYTECODE=1".to_string(),
        ];
        // A variable the exec sets replaces the default (getenv takes the first).
        let key = |entry: &String| entry.split('=').next().unwrap_or_default().to_string();
        let overridden: Vec<String> = exec.env.iter().map(key).collect();
        env.retain(|entry| !overridden.contains(&key(entry)));
        env.extend(exec.env.iter().cloned());
        let created = call(
            timeout,
            "exec create",
            self.docker.create_exec(
                &self.id,
                CreateExecOptions {
                    cmd: Some(cmd),
                    user: Some(exec.user.to_string()),
                    working_dir: Some("/work/app".to_string()),
                    env: Some(env),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            ),
        )
        .await?;
        let StartExecResults::Attached { output, input } = call(
            timeout,
            "exec start",
            self.docker.start_exec(&created.id, None),
        )
        .await?
        else {
            return Err(RunnerError("docker exec start: not attached".to_string()));
        };
        Ok(Attached {
            id: created.id,
            output,
            input,
        })
    }

    /// How an attached program ended: its exit code once it has stopped (`None` while it
    /// runs). A daemon that does not answer is an infrastructure fault.
    pub async fn exit_code(&self, id: &str) -> Result<Option<i64>, RunnerError> {
        let inspect = call(
            self.call_timeout,
            "exec inspect",
            self.docker.inspect_exec(id),
        )
        .await?;
        Ok(match inspect.running {
            Some(true) => None,
            _ => Some(inspect.exit_code.unwrap_or(-1)),
        })
    }

    /// Runs one program to completion, the wall limit, or the output cap.
    pub async fn exec(&self, exec: Exec<'_>) -> Result<ExecOutput, RunnerError> {
        let timeout = self.call_timeout;
        let Attached {
            id,
            mut output,
            mut input,
        } = self.attach(&exec).await?;
        let started = Instant::now();
        let deadline = started + exec.wall;
        let stdin = exec.stdin;
        let writer = tokio::spawn(async move {
            let _ = input.write_all(&stdin).await;
            let _ = input.shutdown().await;
        });
        let _abort_writer = AbortOnDrop(writer);
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        let read = async {
            while let Some(item) = output.next().await {
                let target = match item {
                    Ok(LogOutput::StdOut { message }) => (&mut stdout, message),
                    Ok(LogOutput::StdErr { message }) => (&mut stderr, message),
                    Ok(_) => continue,
                    Err(error) => {
                        return Err(RunnerError(format!("docker exec stream: {error}")));
                    }
                };
                let (buffer, message) = target;
                buffer.extend_from_slice(&message);
                if buffer.len() > exec.output_cap {
                    buffer.truncate(exec.output_cap);
                    return Ok(false);
                }
            }
            Ok(true)
        };
        let finished = match tokio::time::timeout_at(deadline.into(), read).await {
            Err(_) => Some(Ended::TimedOut),
            Ok(Err(error)) => return Err(error),
            Ok(Ok(false)) => Some(Ended::OutputCapped),
            Ok(Ok(true)) => None,
        };
        let ended = match finished {
            // A stalled stream is the learner's only if the daemon still answers: a
            // daemon that stopped is an infrastructure fault, never a time limit.
            Some(ended) => {
                call(timeout, "exec inspect", self.docker.inspect_exec(&id)).await?;
                ended
            }
            // The streams closed; the process may still run (it closed them itself).
            None => loop {
                let inspect = call(timeout, "exec inspect", self.docker.inspect_exec(&id)).await?;
                if inspect.running != Some(true) {
                    break Ended::Exited(inspect.exit_code.unwrap_or(-1));
                }
                if Instant::now() >= deadline {
                    break Ended::TimedOut;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            },
        };
        Ok(ExecOutput {
            ended,
            stdout,
            stderr,
            duration: started.elapsed(),
        })
    }

    /// Leaves only the container's first process running: nothing a case started (a
    /// daemon, a process that killed its wrapper) survives into the next case. On a
    /// remote engine, where the host has no cgroup files, the wrapper's own clean-up is
    /// all there is.
    pub fn reap(&self) {
        if let Some(cgroup) = &self.cgroup {
            cgroup.reap();
        }
    }

    /// Whether the OOM killer acted since the last call (so, during the case that just
    /// ended). This engine (cgroup v1, Docker 20.10) sets `State.OOMKilled` only when the
    /// container's main process dies, so the kernel's own counter is read instead. On a
    /// remote engine, where the host has no cgroup files, the stats API's peak stands in
    /// (sticky for the container's life, and answered on a one-second tick).
    pub async fn out_of_memory(&self, failed: bool) -> Result<bool, RunnerError> {
        if let Some(kills) = self.cgroup.as_ref().and_then(Cgroup::oom_kills) {
            let seen = self
                .oom_seen
                .swap(kills, std::sync::atomic::Ordering::SeqCst);
            return Ok(kills > seen);
        }
        if !failed {
            return Ok(false);
        }
        let stats = self.stats().await?;
        let memory = stats.memory_stats.unwrap_or_default();
        let (peak, limit) = (
            memory.max_usage.unwrap_or(0),
            memory.limit.unwrap_or(u64::MAX),
        );
        Ok(peak + 256 * 1024 >= limit)
    }

    async fn stats(&self) -> Result<bollard::models::ContainerStatsResponse, RunnerError> {
        let stats = self.docker.stats(
            &self.id,
            Some(bollard::query_parameters::StatsOptions {
                stream: false,
                one_shot: true,
            }),
        );
        match tokio::time::timeout(self.call_timeout, Box::pin(stats).next()).await {
            Ok(Some(Ok(stats))) => Ok(stats),
            Ok(Some(Err(error))) => Err(RunnerError(format!("docker stats: {error}"))),
            Ok(None) => Err(RunnerError("docker stats: no answer".to_string())),
            Err(_) => Err(RunnerError(format!(
                "docker stats: the engine did not answer within {:?}",
                self.call_timeout
            ))),
        }
    }

    /// CPU time (µs) and peak memory (bytes) the container has used so far.
    pub async fn usage(&self) -> (u64, u64) {
        if let Some(usage) = self.cgroup.as_ref().and_then(Cgroup::usage) {
            return usage;
        }
        let Ok(stats) = self.stats().await else {
            return (0, 0);
        };
        let cpu = stats
            .cpu_stats
            .and_then(|c| c.cpu_usage)
            .and_then(|u| u.total_usage)
            .unwrap_or(0)
            / 1000;
        let memory = stats
            .memory_stats
            .and_then(|m| m.max_usage.or(m.usage))
            .unwrap_or(0);
        (cpu, memory)
    }

    /// Removes the container and its volume. When the engine does not answer, removal
    /// goes on in the background, retried with a growing delay.
    pub async fn remove(mut self) -> Result<(), RunnerError> {
        self.removed = true;
        if remove(&self.docker, &self.id, &self.volume, self.call_timeout).await {
            self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        } else {
            self.remove_in_background();
        }
        Ok(())
    }

    fn remove_in_background(&self) {
        let (docker, id, volume, timeout) = (
            self.docker.clone(),
            self.id.clone(),
            self.volume.clone(),
            self.call_timeout,
        );
        let live = self.live.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let mut delay = Duration::from_secs(1);
                for _ in 0..8 {
                    if remove(&docker, &id, &volume, timeout).await {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(60));
                }
                live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            });
        }
    }
}

/// Force-removes a container and its volume; returns whether both are gone. Failures
/// are logged; the caller retries, and the start-up sweeper catches the rest.
pub async fn remove(docker: &Docker, id: &str, volume: &str, timeout: Duration) -> bool {
    let container = call(
        timeout,
        "remove",
        docker.remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        ),
    )
    .await;
    let volume = call(
        timeout,
        "volume remove",
        docker.remove_volume(volume, Some(RemoveVolumeOptions { force: true })),
    )
    .await;
    let mut gone = true;
    for result in [container, volume] {
        if let Err(error) = result
            && !error.0.contains("No such")
        {
            tracing::warn!(container = id, error = %error.0, "sandbox removal failed; retrying");
            gone = false;
        }
    }
    gone
}

impl Drop for Sandbox {
    /// A sandbox dropped without `remove` (a cancelled grading, a panic) is removed in
    /// the background.
    fn drop(&mut self) {
        if !self.removed {
            self.remove_in_background();
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
