//! A run's files: the learner's and the suite's, written by the host into a fresh folder
//! that the guest sees read-only.

use crate::runner::{RunRequest, RunnerError};
use std::path::{Path, PathBuf};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// The learner's files and the support files, written by the host into a fresh folder
/// that the guest sees read-only. The host never reads anything back from it.
pub(super) struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    pub(super) fn new(request: &RunRequest) -> Result<Workspace, RunnerError> {
        let fault = |error: std::io::Error| RunnerError(format!("workspace: {error}"));
        let dir = tempfile::Builder::new()
            .prefix("verdict-run-")
            .tempdir()
            .map_err(fault)?;
        for (folder, files) in [
            ("submission", &request.files),
            ("support", &request.support),
        ] {
            let path = dir.path().join(folder);
            std::fs::create_dir(&path).map_err(fault)?;
            for (name, content) in files {
                // Names are plain file names (checked at upload and submission).
                std::fs::write(path.join(name), content).map_err(fault)?;
            }
        }
        Ok(Workspace { dir })
    }

    pub(super) fn path(&self, folder: &str) -> PathBuf {
        self.dir.path().join(folder)
    }
}

pub(super) fn preopen(
    builder: &mut WasiCtxBuilder,
    host: &Path,
    guest: &str,
) -> Result<(), RunnerError> {
    builder
        .preopened_dir(host, guest, FsPerms::ReadOnly)
        .map(|_| ())
        .map_err(|error| RunnerError(format!("preopen {guest}: {error:#}")))
}
