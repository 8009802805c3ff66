//! Which runner grades what: wasm always, Docker when this process has it.

use super::docker::DockerRunner;
use super::wasm::WasmRunner;
use super::{RunReport, RunRequest, Runner, RunnerError};
use crate::domain::{RunnerKind, RuntimeInfo};

/// Every sandbox this process has; each request goes to the one its exercise names.
pub struct Sandboxes {
    pub wasm: WasmRunner,
    /// `None` when Docker is off or cannot be used (see `super::docker::DockerMode`).
    pub docker: Option<DockerRunner>,
}

#[async_trait::async_trait]
impl Runner for Sandboxes {
    fn name(&self) -> &'static str {
        "sandboxes"
    }

    async fn run(&self, request: &RunRequest) -> Result<(RunReport, RuntimeInfo), RunnerError> {
        match (request.runner, &self.docker) {
            (RunnerKind::Wasm, _) => self.wasm.run(request).await,
            (RunnerKind::Docker, Some(docker)) => docker.run(request).await,
            (RunnerKind::Docker, None) => Err(RunnerError(
                "this exercise needs the Docker runner, which is off in this process".to_string(),
            )),
        }
    }

    fn supports(&self, runner: RunnerKind) -> bool {
        match runner {
            RunnerKind::Wasm => true,
            RunnerKind::Docker => self.docker.is_some(),
        }
    }
}
