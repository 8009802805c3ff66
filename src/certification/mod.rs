//! Certification: Hero → Commando → Titan.
//!
//! - `policy`: `exercises/certification.toml`, checked at start-up.
//! - `keys`: the issuer's Ed25519 keys (data dir or `--signing-key`).
//! - `credential`: the Open Badges 3.0 credential, signed and verified as a VC-JWT.
//!
//! Progress is a pure function of the policy, the catalogue, a learner's best results and
//! the certificates they hold. Issuance runs inside the transaction that completes a
//! grading (see `worker`), after the results feed's row lock, so completions are
//! evaluated one at a time and each sees every earlier one; the unique (learner, tier)
//! key backs that up. Nothing is issued on read.

pub mod credential;
pub mod keys;
pub mod policy;
pub mod progress;
pub mod verify;

use crate::domain::{IssuerProfile, Policy, Tier};
use crate::store::Store;
use crate::store::certificates::{
    CatalogueItem, NewCertificate, certificates_of, graded_results, insert_certificate,
    lock_completions,
};
use keys::IssuerKey;
pub use progress::{CertificateRef, RequiredProgress, TierProgress, TierStatus, progress};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// How certificates name their issuer (`serve`, which stores it with the policy so that
/// every worker signs the same issuer URL into its certificates).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct IssuerArgs {
    /// The address learners and verifiers reach this service at: the issuer id in
    /// certificates and the base of their links (default: http://<bound address>, which
    /// must then be a specific address, not 0.0.0.0).
    #[arg(long, env = "VERDICT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// The issuer's name shown in certificates (default: verdict).
    #[arg(long, env = "VERDICT_ISSUER_NAME")]
    pub issuer_name: Option<String>,
}

impl IssuerArgs {
    /// The profile certificates carry; refuses to guess a public address from a wildcard
    /// bind, since the issuer URL is signed into every certificate for good.
    pub fn profile(&self, bound: std::net::SocketAddr) -> anyhow::Result<IssuerProfile> {
        let url = match &self.public_url {
            Some(url) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    anyhow::bail!("--public-url must start with http:// or https://, got {url:?}");
                }
                url.trim_end_matches('/').to_string()
            }
            None if bound.ip().is_unspecified() => anyhow::bail!(
                "listening on {bound}: set --public-url (VERDICT_PUBLIC_URL) to the address verifiers reach, such as https://grader.school.example; it is signed into every certificate"
            ),
            None => format!("http://{bound}"),
        };
        Ok(IssuerProfile {
            url,
            name: self.issuer_name.clone().unwrap_or_else(|| "verdict".into()),
        })
    }
}

/// The key a process signs with (`serve` and `worker`: every process that completes
/// gradings issues).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct KeyArgs {
    /// A private Ed25519 JWK file (owner-only) to sign certificates with, instead of the
    /// key created in `<data-dir>/keys`.
    #[arg(long, env = "VERDICT_SIGNING_KEY")]
    pub signing_key: Option<PathBuf>,
}

/// Loads (or creates) this process's signing key and lists every public key it holds in
/// the JWKS.
pub async fn open_key(
    args: &KeyArgs,
    data_dir: &std::path::Path,
    store: &Store,
) -> anyhow::Result<IssuerKey> {
    let (key, all) = keys::load_or_create(data_dir, args.signing_key.as_deref())?;
    for held in &all {
        store.register_key(&held.kid, &held.public_jwk()).await?;
    }
    if store.key_retired(&key.kid).await? {
        anyhow::bail!(
            "the signing key {} was retired; run `verdict keys rotate` (or name another --signing-key) before starting",
            key.kid
        );
    }
    Ok(key)
}

/// What issuance needs that does not change inside the completing transaction.
pub struct Snapshot {
    pub policy: Policy,
    pub profile: IssuerProfile,
    pub catalogue: BTreeMap<String, CatalogueItem>,
}

impl Snapshot {
    /// The policy and catalogue in force, or `None` when no policy is loaded.
    pub async fn load(store: &Store) -> anyhow::Result<Option<Snapshot>> {
        let Some((policy, profile)) = store.policy().await? else {
            return Ok(None);
        };
        Ok(Some(Snapshot {
            policy,
            profile,
            catalogue: store.catalogue().await?,
        }))
    }
}

/// How long a process reuses a snapshot. The policy changes only when `serve` starts and
/// the catalogue when an exercise is uploaded; seeing either a few seconds late is
/// harmless, and reading them for every completion costs throughput.
const SNAPSHOT_TTL: std::time::Duration = std::time::Duration::from_secs(2);

/// A process's cached snapshot (shared by its graders).
#[derive(Clone, Default)]
pub struct Snapshots(Arc<Mutex<Option<CachedSnapshot>>>);

/// When it was read, and what (`None`: no policy in force).
type CachedSnapshot = (Instant, Option<Arc<Snapshot>>);

impl Snapshots {
    /// The snapshot in force, read again when the cached one is older than its TTL.
    pub async fn get(&self, store: &Store) -> anyhow::Result<Option<Arc<Snapshot>>> {
        if let Some((read_at, snapshot)) = &*self.0.lock().expect("snapshot cache")
            && read_at.elapsed() < SNAPSHOT_TTL
        {
            return Ok(snapshot.clone());
        }
        let snapshot = Snapshot::load(store).await?.map(Arc::new);
        *self.0.lock().expect("snapshot cache") = Some((Instant::now(), snapshot.clone()));
        Ok(snapshot)
    }
}

/// A learner's progress, read outside any grading.
pub async fn learner_progress(store: &Store, learner: &str) -> anyhow::Result<Vec<TierProgress>> {
    let Some(snapshot) = Snapshot::load(store).await? else {
        return Ok(Vec::new());
    };
    let results = graded_results(&store.pool, learner).await?;
    let held = certificates_of(&store.pool, learner).await?;
    Ok(progress(
        &snapshot.policy,
        &snapshot.catalogue,
        &results,
        &held,
    ))
}

/// Recomputes a learner's progress on `connection` (inside the completing transaction)
/// and issues every certificate that became due, tier after tier. Returns the issued ids.
pub async fn issue_due(
    connection: &mut sqlx::AnyConnection,
    snapshot: &Snapshot,
    key: &IssuerKey,
    learner: &str,
) -> anyhow::Result<Vec<(Tier, String)>> {
    // A learner who holds (or held) a certificate of every tier has nothing due: the
    // common case, answered with one indexed read.
    let held = certificates_of(&mut *connection, learner).await?;
    if snapshot
        .policy
        .tiers
        .iter()
        .all(|(tier, _)| held.iter().any(|c| c.tier == *tier))
    {
        return Ok(Vec::new());
    }
    let results = graded_results(&mut *connection, learner).await?;
    let mut issued = Vec::new();
    let mut held = held;
    loop {
        let tiers = progress(&snapshot.policy, &snapshot.catalogue, &results, &held);
        let Some(due) = tiers.into_iter().find(TierProgress::eligible) else {
            return Ok(issued);
        };
        let rules = snapshot
            .policy
            .rules(due.tier)
            .expect("progress only lists policy tiers");
        let id = uuid::Uuid::now_v7().to_string();
        let issued_at_ms = crate::store::now_ms();
        let payload = credential::build(
            &snapshot.profile,
            credential::Award {
                certificate_id: &id,
                learner,
                tier: due.tier,
                rules,
                evidence: &due.counted,
                issued_at_ms,
            },
        );
        let jws = credential::sign(
            &payload,
            key,
            &credential::key_uri(&snapshot.profile.url, &key.kid),
        );
        let inserted = insert_certificate(
            &mut *connection,
            &NewCertificate {
                id: &id,
                learner,
                tier: due.tier,
                credential: &jws,
                kid: &key.kid,
                evidence: &due.counted,
                issued_at_ms,
            },
        )
        .await?;
        // Each issue can unlock the next tier; a lost race means another completion
        // issued this one: either way, evaluate again with what is held now.
        held = certificates_of(&mut *connection, learner).await?;
        if !inserted {
            continue;
        }
        tracing::info!(
            learner,
            tier = due.tier.as_str(),
            certificate = id,
            "certificate issued"
        );
        metrics::counter!("verdict_certificates_issued_total", "tier" => due.tier.as_str())
            .increment(1);
        issued.push((due.tier, id));
    }
}

/// Issues what became due while no grading completed: after a policy was put in force
/// or relaxed, or after an issuance failed. `serve` runs it in the background at start-up;
/// each learner is evaluated in a transaction that takes the completions' row lock, so
/// it cannot race a grading. Returns how many certificates it issued.
pub async fn catch_up(store: &Store, key: &IssuerKey) -> anyhow::Result<usize> {
    let Some(snapshot) = Snapshot::load(store).await? else {
        return Ok(0);
    };
    let mut issued = 0;
    for learner in store.learners_with_results().await? {
        let mut transaction = store.writer.begin().await?;
        lock_completions(&mut *transaction).await?;
        issued += issue_due(&mut transaction, &snapshot, key, &learner)
            .await?
            .len();
        transaction.commit().await?;
    }
    Ok(issued)
}
