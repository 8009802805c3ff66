//! The issuer's Ed25519 signing keys.
//!
//! A key is a private JWK (RFC 8037) in a file only its owner can read: created on first
//! start in `<data-dir>/keys/` (a folder only the owner can enter), or named by
//! `--signing-key`. Rotation adds a newer file; the newest signs, and every key that
//! ever signed stays in the database's JWKS, so old certificates stay verifiable after
//! the old private key is gone.

use anyhow::{Context, bail};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A private key file's content.
#[derive(Serialize, Deserialize)]
struct PrivateJwk {
    kty: String,
    crv: String,
    x: String,
    d: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The key this process signs with.
#[derive(Clone)]
pub struct IssuerKey {
    pub signing: SigningKey,
    pub kid: String,
}

impl std::fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerKey").field("kid", &self.kid).finish()
    }
}

impl IssuerKey {
    pub fn from_signing(signing: SigningKey) -> IssuerKey {
        let kid = thumbprint(&signing.verifying_key());
        IssuerKey { signing, kid }
    }

    /// The public JWK listed in `/.well-known/jwks.json`.
    pub fn public_jwk(&self) -> serde_json::Value {
        public_jwk(&self.signing.verifying_key(), &self.kid)
    }
}

/// The public JWK of `key`.
pub fn public_jwk(key: &VerifyingKey, kid: &str) -> serde_json::Value {
    serde_json::json!({
        "kty": "OKP",
        "crv": "Ed25519",
        "x": URL_SAFE_NO_PAD.encode(key.as_bytes()),
        "kid": kid,
        "alg": "EdDSA",
        "use": "sig",
    })
}

/// The RFC 7638 thumbprint: base64url(SHA-256 of the required members in order).
pub fn thumbprint(key: &VerifyingKey) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(key.as_bytes())
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The keys folder inside the data dir.
pub fn keys_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("keys")
}

/// Every key this process holds, newest last, and the one it signs with: the configured
/// file, or the newest in the data dir, created when there is none.
pub fn load_or_create(
    data_dir: &Path,
    configured: Option<&Path>,
) -> anyhow::Result<(IssuerKey, Vec<IssuerKey>)> {
    if let Some(path) = configured {
        let key = read_key(path)?;
        return Ok((key.clone(), vec![key]));
    }
    let dir = keys_dir(data_dir);
    let mut keys = read_dir_keys(&dir)?;
    if keys.is_empty() {
        create_key(&dir)?;
        keys = read_dir_keys(&dir)?;
    }
    let active = keys
        .last()
        .cloned()
        .context("no signing key after creating one")?;
    Ok((active, keys))
}

/// Writes a new key into the data dir; it signs from the next start of each process.
pub fn rotate(data_dir: &Path) -> anyhow::Result<IssuerKey> {
    let path = create_key(&keys_dir(data_dir))?;
    read_key(&path)
}

fn read_dir_keys(dir: &Path) -> anyhow::Result<Vec<IssuerKey>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error).with_context(|| format!("cannot read {}", dir.display())),
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "jwk"))
        .collect();
    // Names start with the creation time in fixed-width milliseconds: sorted is oldest
    // first.
    paths.sort();
    paths.iter().map(|path| read_key(path)).collect()
}

fn create_key(dir: &Path) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict {}", dir.display()))?;
    let signing = SigningKey::from_bytes(&rand::random::<[u8; 32]>());
    let key = IssuerKey::from_signing(signing);
    let jwk = PrivateJwk {
        kty: "OKP".into(),
        crv: "Ed25519".into(),
        x: URL_SAFE_NO_PAD.encode(key.signing.verifying_key().as_bytes()),
        d: URL_SAFE_NO_PAD.encode(key.signing.to_bytes()),
        kid: Some(key.kid.clone()),
    };
    let path = dir.join(format!(
        "signing-{:016}-{}.jwk",
        crate::store::now_ms(),
        &key.kid[..8]
    ));
    // Created owner-only from the first byte (never readable by others, even briefly),
    // under a name no reader picks up, then renamed: a process starting at the same time
    // never reads half a key.
    let partial = path.with_extension("partial");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    file.write_all(serde_json::to_string_pretty(&jwk)?.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&partial, &path)
        .with_context(|| format!("cannot rename {} to {}", partial.display(), path.display()))?;
    tracing::info!(kid = key.kid, path = %path.display(), "created a certificate signing key");
    Ok(path)
}

fn read_key(path: &Path) -> anyhow::Result<IssuerKey> {
    let metadata =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        bail!(
            "{} can be read by other users; a signing key must be owner-only (chmod 600 {})",
            path.display(),
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let jwk: PrivateJwk = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a private JWK", path.display()))?;
    if jwk.kty != "OKP" || jwk.crv != "Ed25519" {
        bail!(
            "{}: only Ed25519 keys (kty OKP, crv Ed25519) sign certificates",
            path.display()
        );
    }
    let seed: [u8; 32] = URL_SAFE_NO_PAD
        .decode(jwk.d.trim_end_matches('='))
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .with_context(|| format!("{}: `d` is not a 32-byte base64url key", path.display()))?;
    let key = IssuerKey::from_signing(SigningKey::from_bytes(&seed));
    if URL_SAFE_NO_PAD.encode(key.signing.verifying_key().as_bytes()) != jwk.x.trim_end_matches('=')
    {
        bail!("{}: `x` is not the public half of `d`", path.display());
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_owner_only_and_rotates_to_the_newest() {
        let data = tempfile::tempdir().unwrap();
        let (first, all) = load_or_create(data.path(), None).unwrap();
        assert_eq!(all.len(), 1);
        let dir_mode = std::fs::metadata(keys_dir(data.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        for entry in std::fs::read_dir(keys_dir(data.path())).unwrap() {
            let mode = entry.unwrap().metadata().unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (again, _) = load_or_create(data.path(), None).unwrap();
        assert_eq!(again.kid, first.kid, "a restart keeps the key");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let rotated = rotate(data.path()).unwrap();
        let (active, all) = load_or_create(data.path(), None).unwrap();
        assert_eq!(active.kid, rotated.kid);
        assert_ne!(active.kid, first.kid);
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn a_configured_key_file_signs_instead_of_the_data_dir() {
        let elsewhere = tempfile::tempdir().unwrap();
        let configured = rotate(elsewhere.path()).unwrap();
        let file = std::fs::read_dir(keys_dir(elsewhere.path()))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let data = tempfile::tempdir().unwrap();
        let (active, all) = load_or_create(data.path(), Some(&file)).unwrap();
        assert_eq!(active.kid, configured.kid);
        assert_eq!(all.len(), 1);
        assert!(
            !keys_dir(data.path()).exists(),
            "no key is created in the data dir"
        );
        std::fs::write(&file, r#"{"kty":"EC","crv":"P-256","x":"a","d":"b"}"#).unwrap();
        let error = load_or_create(data.path(), Some(&file))
            .unwrap_err()
            .to_string();
        assert!(error.contains("only Ed25519"), "{error}");
    }

    #[test]
    fn refuses_a_key_others_can_read() {
        let data = tempfile::tempdir().unwrap();
        load_or_create(data.path(), None).unwrap();
        let file = std::fs::read_dir(keys_dir(data.path()))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = load_or_create(data.path(), None).unwrap_err().to_string();
        assert!(error.contains("chmod 600"), "{error}");
    }

    #[test]
    fn thumbprint_matches_rfc_8037_example() {
        // RFC 8037 appendix A.3: the thumbprint of the example Ed25519 key.
        let x = URL_SAFE_NO_PAD
            .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
            .unwrap();
        let key = VerifyingKey::from_bytes(&x.try_into().unwrap()).unwrap();
        assert_eq!(
            thumbprint(&key),
            "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
        );
    }
}
