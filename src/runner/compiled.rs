//! Compiled runtime modules cached on disk, so compiling CPython (5–8 s here) happens
//! once per machine, not once per process, and never on the request path.
//!
//! The file name carries everything that decides whether a compiled module fits: the
//! module's SHA-256, the wasmtime version and a hash of the engine's compilation settings
//! (`Engine::precompile_compatibility_hash`). Wasmtime checks the header again when it
//! loads the file and refuses a mismatch; then we compile afresh and replace it.
//!
//! Loading a compiled module trusts its bytes (`Module::deserialize_file` is unsafe). The
//! cache folder belongs to the operator, like the binary; learner code never writes there.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::{Engine, Module};

/// The cache file for a module with this digest under this engine.
fn cache_path(engine: &Engine, dir: &Path, name: &str, digest_hex: &str) -> PathBuf {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    dir.join(format!(
        "{name}-{}-wasmtime{}-{:016x}.cwasm",
        &digest_hex[..16],
        super::wasm::engine::wasmtime_version(),
        hasher.finish()
    ))
}

/// How a module was obtained, for the log and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Compiled,
}

/// Loads the compiled module from `dir`, or compiles `bytes` and stores the result.
pub fn load_or_compile(
    engine: &Engine,
    dir: &Path,
    name: &str,
    digest_hex: &str,
    bytes: &[u8],
) -> anyhow::Result<(Module, Source)> {
    let path = cache_path(engine, dir, name, digest_hex);
    if path.is_file() {
        // SAFETY: the file was written by `Module::serialize` of this same engine
        // configuration (its name says so, and wasmtime checks the header), in a folder
        // only the operator writes.
        match unsafe { Module::deserialize_file(engine, &path) } {
            Ok(module) => return Ok((module, Source::Cache)),
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "compiled module unusable; compiling again");
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let module = Module::new(engine, bytes).map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let serialized = module
        .serialize()
        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
    std::fs::create_dir_all(dir)?;
    let staged = tempfile::NamedTempFile::new_in(dir)?;
    std::fs::write(staged.path(), &serialized)?;
    staged
        .persist(&path)
        .map_err(|error| anyhow::anyhow!("cannot store {}: {error}", path.display()))?;
    Ok((module, Source::Compiled))
}
