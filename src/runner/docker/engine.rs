//! What the runner checks about the engine before it grades: that every limit it
//! promises is enforced (else it refuses to start), that each image passes a canary run
//! in the real hardened configuration, and that no container of a dead process is left.

use super::sandbox::{
    self, Ended, Engine, Exec, LABEL_OWNER, LABEL_SANDBOX, LEARNER_USER, Sandbox,
};
use super::upload;

use crate::domain::Limits;
use crate::runner::RunnerError;
use bollard::Docker;
use bollard::models::SystemInfo;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// A limit the engine reports it cannot enforce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineFinding {
    Memory,
    Swap,
    Pids,
    CpuQuota,
}

impl std::fmt::Display for EngineFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EngineFinding::Memory => "memory limits (cgroup memory controller)",
            EngineFinding::Swap => "memory+swap limits (swap accounting)",
            EngineFinding::Pids => "pids limits (cgroup pids controller)",
            EngineFinding::CpuQuota => "cpu quotas (CFS quota)",
        })
    }
}

/// The limits `info` says the engine does not enforce; empty when all are.
pub fn check_engine(info: &SystemInfo) -> Vec<EngineFinding> {
    let mut missing = Vec::new();
    for (enforced, finding) in [
        (info.memory_limit, EngineFinding::Memory),
        (info.swap_limit, EngineFinding::Swap),
        (info.pids_limit, EngineFinding::Pids),
        (info.cpu_cfs_quota, EngineFinding::CpuQuota),
    ] {
        if enforced != Some(true) {
            missing.push(finding);
        }
    }
    missing
}

/// A new runner's owner label: `host:pid:start-time:machine:instance`. The pid and start
/// time tell a live process from a dead one; `machine` (the boot id and the pid
/// namespace) says whether this process can see that pid at all; the instance tells
/// apart runners of one process.
pub fn owner() -> String {
    let pid = std::process::id();
    format!(
        "{}:{pid}:{}:{}:{:08x}",
        hostname(),
        start_time(pid).unwrap_or_default(),
        machine(),
        rand::random::<u32>()
    )
}

/// This boot and pid namespace: two processes with the same value see the same pids.
fn machine() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let namespace = std::fs::read_link("/proc/self/ns/pid")
        .map(|link| link.to_string_lossy().into_owned())
        .unwrap_or_default();
    let digest = sha2::Sha256::digest(format!("{}{namespace}", boot.trim()));
    hex::encode(&digest[..6])
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .unwrap_or_else(|_| "unknown".to_string())
}

/// A process's start time (clock ticks since boot), which tells a live process from a
/// dead one whose pid was reused.
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(19).map(str::to_string)
}

/// Whether the process an owner label names is gone: on this host, and no process with
/// that pid and start time exists. Other hosts' containers are theirs to sweep.
fn owner_is_dead(owner: &str) -> bool {
    let parts: Vec<&str> = owner.split(':').collect();
    let [host, pid, started, machine_id, _instance] = parts[..] else {
        return false;
    };
    // Another host, boot or pid namespace: not ours to judge.
    if host != hostname() || machine_id != machine() {
        return false;
    }
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    start_time(pid).as_deref() != Some(started)
}

/// Removes the sandbox containers and volumes of processes that died (a `kill -9`
/// mid-grading); returns how many were removed.
pub async fn sweep(docker: &Docker, timeout: Duration) -> anyhow::Result<usize> {
    let filters = HashMap::from([("label".to_string(), vec![LABEL_SANDBOX.to_string()])]);
    let containers = sandbox::call(
        timeout,
        "list",
        docker.list_containers(Some(bollard::query_parameters::ListContainersOptions {
            all: true,
            filters: Some(filters.clone()),
            ..Default::default()
        })),
    )
    .await
    .map_err(|error| anyhow::anyhow!(error.0))?;
    let mut removed = 0;
    for container in containers {
        let owner = container
            .labels
            .as_ref()
            .and_then(|labels| labels.get(LABEL_OWNER))
            .cloned()
            .unwrap_or_default();
        if !owner_is_dead(&owner) {
            continue;
        }
        let Some(id) = container.id else { continue };
        // The volume has the container's name.
        let name = container
            .names
            .and_then(|names| names.first().cloned())
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_string();
        sandbox::remove(docker, &id, &name, timeout).await;
        removed += 1;
    }
    let volumes = sandbox::call(
        timeout,
        "volume list",
        docker.list_volumes(Some(bollard::query_parameters::ListVolumesOptions {
            filters: Some(filters),
        })),
    )
    .await
    .map_err(|error| anyhow::anyhow!(error.0))?;
    for volume in volumes.volumes.unwrap_or_default() {
        let owner = volume.labels.get(LABEL_OWNER).cloned().unwrap_or_default();
        if owner_is_dead(&owner) {
            let _ = sandbox::call(
                timeout,
                "volume remove",
                docker.remove_volume(
                    &volume.name,
                    Some(bollard::query_parameters::RemoveVolumeOptions { force: true }),
                ),
            )
            .await;
        }
    }
    Ok(removed)
}

/// A runner image in the engine.
#[derive(Debug, Clone)]
pub struct RunnerImage {
    pub tag: String,
    /// The image id (`sha256:…`), recorded with every result.
    pub digest: String,
}

/// Runs `cat` and `touch` in the real hardened configuration and checks what the kernel
/// says about the process: the learner's uid, no capabilities, no-new-privileges, a
/// seccomp filter, only a loopback interface, and a read-only root.
pub async fn canary(
    engine: &Engine,
    slots: &std::sync::Arc<tokio::sync::Semaphore>,
    image: &RunnerImage,
) -> Result<(), RunnerError> {
    let empty = BTreeMap::new();
    let upload = upload::archive(&[upload::Folder {
        name: "app",
        files: &empty,
        group: 0,
        private: false,
    }])?;
    let sandbox = Sandbox::create(engine, slots, &image.tag, &Limits::DEFAULT, upload).await?;
    let result = canary_checks(&sandbox).await;
    sandbox.remove().await?;
    result
}

async fn canary_checks(sandbox: &Sandbox) -> Result<(), RunnerError> {
    let run = |cmd: &[&str]| Exec {
        cmd: cmd.iter().map(|s| s.to_string()).collect(),
        user: LEARNER_USER,
        stdin: Vec::new(),
        env: Vec::new(),
        wall: Duration::from_secs(10),
        output_cap: 64 * 1024,
        wrap: false,
    };
    let status = sandbox.exec(run(&["cat", "/proc/self/status"])).await?;
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    if field("Uid:") != "10001 10001 10001 10001" {
        problems.push(format!("runs as uid {:?}, not 10001", field("Uid:")));
    }
    for cap in ["CapEff:", "CapPrm:", "CapBnd:"] {
        if !field(cap).trim_start_matches('0').is_empty() {
            problems.push(format!("{cap} {} (capabilities remain)", field(cap)));
        }
    }
    if field("NoNewPrivs:") != "1" {
        problems.push("no-new-privileges is off".to_string());
    }
    if field("Seccomp:") != "2" {
        problems.push("no seccomp filter".to_string());
    }
    let net = sandbox.exec(run(&["cat", "/proc/net/dev"])).await?;
    let interfaces: Vec<String> = String::from_utf8_lossy(&net.stdout)
        .lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .collect();
    if interfaces.iter().any(|name| *name != "lo") {
        problems.push(format!("network interfaces besides lo: {interfaces:?}"));
    }
    let write = sandbox.exec(run(&["touch", "/canary"])).await?;
    if write.ended == Ended::Exited(0) {
        problems.push("the root filesystem is writable".to_string());
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunnerError(problems.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_without_swap_accounting_is_refused() {
        let info = SystemInfo {
            memory_limit: Some(true),
            swap_limit: Some(false),
            pids_limit: Some(true),
            cpu_cfs_quota: Some(true),
            ..Default::default()
        };
        assert_eq!(check_engine(&info), [EngineFinding::Swap]);
        let all = SystemInfo {
            swap_limit: Some(true),
            ..info
        };
        assert!(check_engine(&all).is_empty());
        assert_eq!(check_engine(&SystemInfo::default()).len(), 4);
    }

    #[test]
    fn only_dead_local_owners_are_swept() {
        assert!(!owner_is_dead(&owner()), "this process is alive");
        let (me, here, machine) = (std::process::id(), hostname(), machine());
        assert!(
            owner_is_dead(&format!("{here}:{me}:1:{machine}:0")),
            "pid reused"
        );
        assert!(owner_is_dead(&format!("{here}:4194303:1:{machine}:0")));
        assert!(
            !owner_is_dead(&format!("{here}:4194303:1:elsewhere:0")),
            "another pid namespace or boot"
        );
        assert!(!owner_is_dead(&format!("another-host:1:1:{machine}:0")));
        assert!(!owner_is_dead("garbage"));
    }
}
