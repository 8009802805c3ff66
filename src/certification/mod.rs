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
pub mod verify;

use crate::domain::{CertificateStatus, Evidence, IssuerProfile, Policy, Tier};
use crate::store::Store;
use crate::store::certificates::{
    CatalogueItem, CertificateRecord, NewCertificate, certificates_of, graded_results,
    insert_certificate, lock_completions,
};
use keys::IssuerKey;
use serde::Serialize;
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

/// A tier's state for one learner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TierStatus {
    Locked,
    InProgress,
    Certified,
}

/// A required exercise and whether the learner passed it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RequiredProgress {
    pub exercise: String,
    pub passed: bool,
    pub best_score: Option<f64>,
    pub max_score: Option<f64>,
}

/// The certificate held for a tier.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CertificateRef {
    pub id: String,
    pub status: CertificateStatus,
    pub issued_at: String,
}

/// One tier of a learner's progress.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TierProgress {
    pub tier: Tier,
    pub title: String,
    pub status: TierStatus,
    /// Points from passed exercises of this tier: each best score, on the scale of the
    /// exercise's current version.
    pub points: f64,
    pub min_points: f64,
    pub pass_ratio: f64,
    pub requires: Vec<Tier>,
    pub required: Vec<RequiredProgress>,
    /// The best passing submission of each exercise that counts.
    pub counted: Vec<Evidence>,
    /// What is still missing, in words.
    pub missing: Vec<String>,
    pub certificate: Option<CertificateRef>,
}

impl TierProgress {
    /// Whether a certificate should be issued now.
    fn eligible(&self) -> bool {
        self.status == TierStatus::InProgress
            && self.missing.is_empty()
            && self.certificate.is_none()
    }
}

/// Each exercise's best result: the highest score ratio, the earliest on a tie.
fn best_results(results: &[Evidence]) -> BTreeMap<&str, &Evidence> {
    let mut best: BTreeMap<&str, &Evidence> = BTreeMap::new();
    for result in results {
        let ratio = |r: &Evidence| {
            if r.max_score > 0.0 {
                r.score / r.max_score
            } else {
                0.0
            }
        };
        match best.get(result.exercise.as_str()) {
            Some(current) if ratio(current) >= ratio(result) => {}
            _ => {
                best.insert(&result.exercise, result);
            }
        }
    }
    best
}

/// A learner's progress through every tier of the policy, in dependency order.
pub fn progress(
    policy: &Policy,
    catalogue: &BTreeMap<String, CatalogueItem>,
    results: &[Evidence],
    held: &[CertificateRecord],
) -> Vec<TierProgress> {
    let best = best_results(results);
    let title = |tier: Tier| {
        policy
            .rules(tier)
            .map(|rules| rules.title.clone())
            .unwrap_or_else(|| tier.as_str().to_string())
    };
    let mut tiers: Vec<TierProgress> = Vec::new();
    for (tier, rules) in &policy.tiers {
        let passes = |result: &Evidence| {
            result.max_score > 0.0 && result.score + 1e-9 >= rules.pass_ratio * result.max_score
        };
        let counted: Vec<Evidence> = best
            .iter()
            .filter(|(slug, result)| {
                catalogue.get(**slug).is_some_and(|item| item.tier == *tier) && passes(result)
            })
            .map(|(_, result)| (*result).clone())
            .collect();
        // On the scale of each exercise's current version, so a version that changes
        // the points does not mix scales.
        let points: f64 = counted
            .iter()
            .map(|item| {
                let current = catalogue
                    .get(&item.exercise)
                    .map_or(item.max_score, |c| c.points);
                item.score / item.max_score * current
            })
            .sum();
        let mut missing = Vec::new();
        let mut locked = false;
        for required_tier in &rules.requires {
            let certified = tiers
                .iter()
                .any(|t| t.tier == *required_tier && t.status == TierStatus::Certified);
            if !certified {
                locked = true;
                missing.push(format!(
                    "requires the {} certificate first",
                    title(*required_tier)
                ));
            }
        }
        let mut required = Vec::new();
        for slug in &rules.required {
            let result = best.get(slug.as_str());
            let passed = result.is_some_and(|result| passes(result));
            match result {
                None => missing.push(format!("{slug}: no graded submission yet")),
                Some(result) if !passed => missing.push(format!(
                    "{slug}: best score {}/{}, needs {}",
                    credential::number(result.score),
                    credential::number(result.max_score),
                    credential::number(rules.pass_ratio * result.max_score)
                )),
                Some(_) => {}
            }
            required.push(RequiredProgress {
                exercise: slug.clone(),
                passed,
                best_score: result.map(|r| r.score),
                max_score: result.map(|r| r.max_score),
            });
        }
        if points + 1e-9 < rules.min_points {
            missing.push(format!(
                "points: {} of {} from passed {} exercises",
                credential::number(points),
                credential::number(rules.min_points),
                rules.title
            ));
        }
        let certificate = held.iter().find(|c| c.tier == *tier);
        if let Some(revoked) = certificate.filter(|c| !c.is_active()) {
            missing.push(format!(
                "the certificate {} was revoked ({}); a revocation is final for the tier",
                revoked.id,
                revoked
                    .revocation_reason
                    .as_deref()
                    .unwrap_or("no reason given")
            ));
        }
        let status = match certificate {
            Some(c) if c.is_active() => TierStatus::Certified,
            _ if locked => TierStatus::Locked,
            _ => TierStatus::InProgress,
        };
        tiers.push(TierProgress {
            tier: *tier,
            title: rules.title.clone(),
            status,
            points,
            min_points: rules.min_points,
            pass_ratio: rules.pass_ratio,
            requires: rules.requires.clone(),
            required,
            counted,
            missing: if status == TierStatus::Certified {
                Vec::new()
            } else {
                missing
            },
            certificate: certificate.map(|c| CertificateRef {
                id: c.id.clone(),
                status: c.status,
                issued_at: c.issued_at.clone(),
            }),
        });
    }
    tiers
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
            &id,
            learner,
            due.tier,
            rules,
            &due.counted,
            issued_at_ms,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Policy;
    use policy::CatalogueEntry;

    fn fixture() -> (Policy, BTreeMap<String, CatalogueItem>) {
        let items = [
            ("leap", Tier::Hero, 10.0),
            ("shout", Tier::Hero, 10.0),
            ("words", Tier::Hero, 10.0),
            ("payroll", Tier::Commando, 20.0),
        ];
        let catalogue: BTreeMap<String, CatalogueItem> = items
            .iter()
            .map(|(slug, tier, points)| {
                (
                    slug.to_string(),
                    CatalogueItem {
                        title: slug.to_string(),
                        tier: *tier,
                        points: *points,
                    },
                )
            })
            .collect();
        let entries = catalogue
            .iter()
            .map(|(slug, item)| {
                (
                    slug.clone(),
                    CatalogueEntry {
                        tier: item.tier,
                        points: item.points,
                        live: true,
                    },
                )
            })
            .collect();
        let (policy, _) = Policy::parse(
            r#"
            [tiers.hero]
            title = "Hero"
            required = ["leap"]
            min_points = 20
            pass_ratio = 0.8
            [tiers.commando]
            title = "Commando"
            requires = ["hero"]
            required = ["payroll"]
            min_points = 16
            pass_ratio = 0.8
            "#,
            &entries,
        )
        .unwrap();
        (policy, catalogue)
    }

    fn result(id: &str, exercise: &str, score: f64, max: f64) -> Evidence {
        Evidence {
            submission: id.into(),
            exercise: exercise.into(),
            version: "v1".into(),
            score,
            max_score: max,
            completed_at: format!("2026-01-01T00:00:0{}Z", id.len()),
        }
    }

    #[test]
    fn explains_what_is_missing_and_counts_the_best_passing_results() {
        let (policy, catalogue) = fixture();
        let results = vec![
            result("a", "leap", 6.0, 10.0),
            result("b", "shout", 10.0, 10.0),
            result("c", "payroll", 12.0, 20.0),
        ];
        let tiers = progress(&policy, &catalogue, &results, &[]);
        let hero = &tiers[0];
        assert_eq!(hero.status, TierStatus::InProgress);
        assert_eq!(hero.points, 10.0, "a failed exercise earns no points");
        assert!(
            hero.missing
                .contains(&"leap: best score 6/10, needs 8".to_string()),
            "{:?}",
            hero.missing
        );
        assert!(
            hero.missing
                .contains(&"points: 10 of 20 from passed Hero exercises".to_string())
        );
        let commando = &tiers[1];
        assert_eq!(commando.status, TierStatus::Locked);
        assert!(
            commando
                .missing
                .contains(&"payroll: best score 12/20, needs 16".to_string())
        );
        assert!(
            commando
                .missing
                .contains(&"requires the Hero certificate first".to_string())
        );

        // A better attempt counts; a worse one later does not take it back.
        let mut more = results.clone();
        more.push(result("dd", "leap", 9.0, 10.0));
        more.push(result("eee", "leap", 2.0, 10.0));
        let tiers = progress(&policy, &catalogue, &more, &[]);
        assert_eq!(tiers[0].points, 19.0);
        assert_eq!(
            tiers[0].missing,
            vec!["points: 19 of 20 from passed Hero exercises".to_string()]
        );
        assert!(!tiers[0].eligible());
        more.push(result("ffff", "words", 8.0, 10.0));
        let tiers = progress(&policy, &catalogue, &more, &[]);
        assert!(tiers[0].eligible(), "{:?}", tiers[0].missing);
        assert_eq!(tiers[0].points, 27.0);
        let counted: Vec<&str> = tiers[0]
            .counted
            .iter()
            .map(|e| e.submission.as_str())
            .collect();
        assert_eq!(counted, vec!["dd", "b", "ffff"]);
    }
}
