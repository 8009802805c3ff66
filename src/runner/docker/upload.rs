//! What is uploaded into a sandbox: folders of files in one tar archive, every entry
//! owned by root, so no user inside can change them.

use crate::runner::RunnerError;
use std::collections::BTreeMap;

/// A folder of an upload. Everything is owned by root, so no user of the sandbox can
/// change it; `group` (with `private`) says who else may read it.
pub struct Folder<'a> {
    pub name: &'a str,
    pub files: &'a BTreeMap<String, Vec<u8>>,
    /// The group that owns the folder and its files (0: root).
    pub group: u64,
    /// Readable by root and `group` only (0750 and 0640); else by everyone (0755, 0644).
    pub private: bool,
}

/// A tar archive of each folder's files under `name/`.
pub fn archive(folders: &[Folder<'_>]) -> Result<Vec<u8>, RunnerError> {
    let mut builder = tar::Builder::new(Vec::new());
    let fail = |error: std::io::Error| RunnerError(format!("cannot build the upload: {error}"));
    for folder in folders {
        let (dir_mode, file_mode) = match folder.private {
            true => (0o750, 0o640),
            false => (0o755, 0o644),
        };
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_mode(dir_mode);
        header.set_uid(0);
        header.set_gid(folder.group);
        header.set_size(0);
        builder
            .append_data(&mut header, format!("{}/", folder.name), std::io::empty())
            .map_err(fail)?;
        for (name, bytes) in folder.files.iter() {
            let mut header = tar::Header::new_gnu();
            header.set_mode(file_mode);
            header.set_uid(0);
            header.set_gid(folder.group);
            header.set_size(bytes.len() as u64);
            builder
                .append_data(
                    &mut header,
                    format!("{}/{name}", folder.name),
                    bytes.as_slice(),
                )
                .map_err(fail)?;
        }
    }
    builder.into_inner().map_err(fail)
}
