//! Exercise packages: a folder or an uploaded tar.gz/zip, read into memory.
//!
//! Archives are never unpacked onto disk: entries are read into a map with caps on the
//! entry count, each file and the total, so an oversize or hostile upload leaves nothing
//! behind. Absolute paths, `..`, symlinks, hard links and special files are refused.

use super::manifest::{Manifest, ManifestError};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path};

/// Caps on what one package may hold once unpacked.
#[derive(Debug, Clone, Copy)]
pub struct PackageLimits {
    pub max_entries: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
}

impl Default for PackageLimits {
    fn default() -> Self {
        Self {
            max_entries: 1000,
            max_file_bytes: 8 * 1024 * 1024,
            max_total_bytes: 32 * 1024 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// Over a size or count cap (HTTP 413).
    #[error("{0}")]
    TooLarge(String),
    /// Malformed package or manifest (HTTP 422).
    #[error("{0}")]
    Invalid(#[from] ManifestError),
}

fn invalid(field: &str, problem: impl Into<String>) -> PackageError {
    PackageError::Invalid(ManifestError::new(field, problem))
}

/// A parsed package: its manifest and every file, keyed by relative path.
#[derive(Debug, Clone)]
pub struct Package {
    pub manifest: Manifest,
    pub files: BTreeMap<String, Vec<u8>>,
}

impl Package {
    /// Builds a package from files relative to its root (which must hold `exercise.toml`).
    pub fn from_files(files: BTreeMap<String, Vec<u8>>) -> Result<Package, PackageError> {
        let manifest_bytes = files
            .get("exercise.toml")
            .ok_or_else(|| invalid("exercise.toml", "missing at the package root"))?;
        let text = std::str::from_utf8(manifest_bytes)
            .map_err(|_| invalid("exercise.toml", "is not UTF-8 text"))?;
        let manifest = Manifest::parse(text)?;
        Ok(Package { manifest, files })
    }

    /// Reads a package folder. Symlinks are refused, never followed.
    pub fn from_dir(dir: &Path, limits: PackageLimits) -> Result<Package, PackageError> {
        let mut files = BTreeMap::new();
        let mut budget = Budget::new(limits);
        read_dir_into(dir, "", &mut files, &mut budget)?;
        Package::from_files(files)
    }

    /// Reads an uploaded archive (tar.gz or zip, detected by its magic bytes).
    pub fn from_archive(bytes: &[u8], limits: PackageLimits) -> Result<Package, PackageError> {
        let entries = if bytes.starts_with(&[0x1f, 0x8b]) {
            read_tar_gz(bytes, limits)?
        } else if bytes.starts_with(b"PK\x03\x04") {
            read_zip(bytes, limits)?
        } else {
            return Err(invalid(
                "package",
                "the body is neither a tar.gz nor a zip archive",
            ));
        };
        Package::from_files(strip_single_top_folder(entries)?)
    }

    /// The version id: a SHA-256 over every path and its content, in path order.
    pub fn content_hash(&self) -> String {
        let mut hasher = Sha256::new();
        for (path, content) in &self.files {
            hasher.update((path.len() as u64).to_le_bytes());
            hasher.update(path.as_bytes());
            hasher.update((content.len() as u64).to_le_bytes());
            hasher.update(content);
        }
        hex::encode(hasher.finalize())
    }

    /// Files under `folder/`, with the folder prefix removed.
    pub fn folder(&self, folder: &str) -> BTreeMap<String, Vec<u8>> {
        let prefix = format!("{folder}/");
        self.files
            .iter()
            .filter_map(|(path, content)| {
                path.strip_prefix(&prefix)
                    .map(|rest| (rest.to_string(), content.clone()))
            })
            .collect()
    }

    /// The statement shown to learners.
    pub fn statement(&self) -> String {
        self.files
            .get("README.md")
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
            .unwrap_or_default()
    }

    /// A file under `tests/` (or anywhere in the package) named by the manifest.
    pub fn text_file(&self, field: &str, path: &str) -> Result<String, PackageError> {
        let normal = normalize_entry_path(path).map_err(|problem| invalid(field, problem))?;
        let bytes = self
            .files
            .get(&normal)
            .ok_or_else(|| invalid(field, format!("{path:?} is not in the package")))?;
        String::from_utf8(bytes.clone())
            .map_err(|_| invalid(field, format!("{path:?} is not UTF-8 text")))
    }
}

/// Running totals against the caps.
struct Budget {
    limits: PackageLimits,
    entries: usize,
    total: u64,
}

impl Budget {
    fn new(limits: PackageLimits) -> Self {
        Self {
            limits,
            entries: 0,
            total: 0,
        }
    }

    fn entry(&mut self) -> Result<(), PackageError> {
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(PackageError::TooLarge(format!(
                "the package has more than {} entries",
                self.limits.max_entries
            )));
        }
        Ok(())
    }

    /// Reads one file through the caps; the reader is never trusted for its declared size.
    fn read(&mut self, path: &str, reader: impl Read) -> Result<Vec<u8>, PackageError> {
        let mut content = Vec::new();
        reader
            .take(self.limits.max_file_bytes + 1)
            .read_to_end(&mut content)
            .map_err(|error| invalid(path, format!("cannot be read: {error}")))?;
        if content.len() as u64 > self.limits.max_file_bytes {
            return Err(PackageError::TooLarge(format!(
                "{path} is larger than {} bytes",
                self.limits.max_file_bytes
            )));
        }
        self.total += content.len() as u64;
        if self.total > self.limits.max_total_bytes {
            return Err(PackageError::TooLarge(format!(
                "the package unpacks to more than {} bytes",
                self.limits.max_total_bytes
            )));
        }
        Ok(content)
    }
}

/// Turns an archive entry path into a clean relative path, or says why it is refused.
pub fn normalize_entry_path(raw: &str) -> Result<String, String> {
    if raw.contains('\\') || raw.contains('\0') {
        return Err(format!(
            "{raw:?}: backslashes and NUL are not allowed in paths"
        ));
    }
    let mut parts = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Normal(part) => parts.push(
                part.to_str()
                    .ok_or_else(|| format!("{raw:?}: path is not UTF-8"))?
                    .to_string(),
            ),
            Component::CurDir => {}
            Component::ParentDir => return Err(format!("{raw:?}: '..' is not allowed in paths")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!("{raw:?}: absolute paths are not allowed"));
            }
        }
    }
    if parts.is_empty() {
        return Err(format!("{raw:?}: empty path"));
    }
    Ok(parts.join("/"))
}

fn read_dir_into(
    dir: &Path,
    prefix: &str,
    files: &mut BTreeMap<String, Vec<u8>>,
    budget: &mut Budget,
) -> Result<(), PackageError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|error| invalid("package", format!("cannot read {}: {error}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(|error| invalid("package", error.to_string()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let relative = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}/{name}")
        };
        budget.entry()?;
        let file_type = entry
            .file_type()
            .map_err(|error| invalid(&relative, error.to_string()))?;
        if file_type.is_symlink() {
            return Err(invalid(&relative, "symlinks are not allowed in a package"));
        } else if file_type.is_dir() {
            read_dir_into(&entry.path(), &relative, files, budget)?;
        } else if file_type.is_file() {
            let file = std::fs::File::open(entry.path())
                .map_err(|error| invalid(&relative, error.to_string()))?;
            let content = budget.read(&relative, file)?;
            files.insert(relative, content);
        } else {
            return Err(invalid(
                &relative,
                "only regular files and folders are allowed",
            ));
        }
    }
    Ok(())
}

fn read_tar_gz(
    bytes: &[u8],
    limits: PackageLimits,
) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    // Everything tar reads (headers, long names, skipped data) comes through this cap,
    // so no header trick can inflate past it.
    let stream_cap = limits.max_total_bytes + limits.max_entries as u64 * 4096 + 1024 * 1024;
    let decoder = CappedReader {
        inner: flate2::read::GzDecoder::new(bytes),
        left: stream_cap,
    };
    let mut archive = tar::Archive::new(decoder);
    let mut budget = Budget::new(limits);
    let mut files = BTreeMap::new();
    let entries = archive
        .entries()
        .map_err(|error| tar_error(error, stream_cap))?;
    for entry in entries {
        let entry = entry.map_err(|error| tar_error(error, stream_cap))?;
        budget.entry()?;
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = normalize_entry_path(&raw).map_err(|problem| invalid("package", problem))?;
        let kind = entry.header().entry_type();
        if kind.is_symlink() || kind.is_hard_link() {
            return Err(invalid(
                &path,
                "symlinks and hard links are not allowed in a package",
            ));
        }
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() {
            continue;
        }
        if !kind.is_file() {
            return Err(invalid(&path, "only regular files and folders are allowed"));
        }
        let content = budget.read(&path, entry)?;
        if files.insert(path.clone(), content).is_some() {
            return Err(invalid(&path, "appears twice in the archive"));
        }
    }
    Ok(files)
}

/// A reader that fails once `left` bytes have been read.
struct CappedReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::Error::other(STREAM_CAP_HIT));
        }
        let room = buffer.len().min(self.left.min(usize::MAX as u64) as usize);
        let read = self.inner.read(&mut buffer[..room])?;
        self.left -= read as u64;
        Ok(read)
    }
}

const STREAM_CAP_HIT: &str = "the archive unpacks to more than the package caps allow";

fn tar_error(error: std::io::Error, stream_cap: u64) -> PackageError {
    if error.to_string().contains(STREAM_CAP_HIT) {
        PackageError::TooLarge(format!(
            "the archive unpacks to more than {stream_cap} bytes"
        ))
    } else {
        invalid("package", format!("not a readable tar.gz: {error}"))
    }
}

fn read_zip(
    bytes: &[u8],
    limits: PackageLimits,
) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|error| invalid("package", format!("not a readable zip: {error}")))?;
    let mut budget = Budget::new(limits);
    let mut files = BTreeMap::new();
    for index in 0..archive.len() {
        budget.entry()?;
        let entry = archive
            .by_index(index)
            .map_err(|error| invalid("package", format!("not a readable zip: {error}")))?;
        let path =
            normalize_entry_path(entry.name()).map_err(|problem| invalid("package", problem))?;
        if entry.is_symlink() {
            return Err(invalid(&path, "symlinks are not allowed in a package"));
        }
        if entry.is_dir() {
            continue;
        }
        let content = budget.read(&path, entry)?;
        if files.insert(path.clone(), content).is_some() {
            return Err(invalid(&path, "appears twice in the archive"));
        }
    }
    Ok(files)
}

/// Accepts a package at the archive root or inside exactly one top-level folder.
fn strip_single_top_folder(
    files: BTreeMap<String, Vec<u8>>,
) -> Result<BTreeMap<String, Vec<u8>>, PackageError> {
    if files.contains_key("exercise.toml") {
        return Ok(files);
    }
    let tops: std::collections::BTreeSet<&str> = files
        .keys()
        .map(|path| path.split('/').next().unwrap_or_default())
        .collect();
    match tops.into_iter().collect::<Vec<_>>().as_slice() {
        [top] if files.contains_key(&format!("{top}/exercise.toml")) => {
            let prefix = format!("{top}/");
            Ok(files
                .into_iter()
                .filter_map(|(path, content)| {
                    path.strip_prefix(&prefix)
                        .map(|rest| (rest.to_string(), content))
                })
                .collect())
        }
        _ => Err(invalid(
            "exercise.toml",
            "not found at the archive root or inside one top-level folder",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_are_normalized_or_refused() {
        assert_eq!(normalize_entry_path("./a/b.txt").unwrap(), "a/b.txt");
        assert!(normalize_entry_path("/etc/passwd").is_err());
        assert!(normalize_entry_path("a/../../b").is_err());
        assert!(normalize_entry_path("a\\b").is_err());
        assert!(normalize_entry_path(".").is_err());
    }
}
